#!/usr/bin/env bash
# `make wheel-check`: the wheel `make wheel` built (the newest dist/fastload-*.whl), installed as another machine
# would install it: for each Python in WHEEL_PYTHONS (default: the build venv's), a fresh venv with only torch and
# numpy, `--no-deps`, no compiler on PATH, no LD_LIBRARY_PATH, imported from another folder. Prints what the wheel is
# (size, tags, the manylinux policy auditwheel finds, the libraries each module needs, the GPU architectures its CUDA
# code carries) and runs scripts/wheel_smoke.py in each venv, once as it is and once as a CPU-only torch would load
# it. Fails on the first thing that does not hold: a module that needs libjpeg, a CPU module that needs a CUDA
# library, CUDA code missing an architecture torch targets, an op not compiled on the CPU, a decode that differs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="${PY:-$root/.venv/bin/python}"
case "$py" in /*) ;; *) py="$root/$py" ;; esac
wheel="$(ls -t "$root"/dist/fastload-*.whl 2>/dev/null | head -n 1 || true)"
[[ -n "$wheel" ]] || { echo "wheel-check: no dist/fastload-*.whl; run make wheel first"; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "wheel-check: $*"; exit 1; }
needed() { readelf -d "$1" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' '; }

echo "== $(basename "$wheel"): $(du -h "$wheel" | cut -f1)"
mkdir "$work/unpacked"
"$py" -m zipfile -e "$wheel" "$work/unpacked"
cpu="$(ls "$work"/unpacked/fastload/_C.*so)"
echo "-- $(basename "$cpu") needs: $(needed "$cpu")"
[[ "$(needed "$cpu")" != *libjpeg* ]] || fail "the CPU module needs a system libjpeg"
[[ ! "$(needed "$cpu")" =~ (cudart|c10_cuda|torch_cuda) ]] || fail "the CPU module needs a CUDA library"
if "$py" -m auditwheel --version > /dev/null 2>&1; then
    # torch's libraries (and the libgomp it loads) come with torch, not with this wheel: not to be grafted in.
    "$py" -m auditwheel show "$wheel" > "$work/auditwheel.txt" 2>&1 || true
    sed -n 's/.*\(This constrains the platform tag to "[^"]*"\).*/-- auditwheel: \1/p' "$work/auditwheel.txt"
fi
cuda="$(ls "$work"/unpacked/fastload/_C_cuda.*so 2>/dev/null || true)"
if [[ -n "$cuda" ]]; then
    echo "-- $(basename "$cuda") ($(du -h "$cuda" | cut -f1)) needs: $(needed "$cuda")"
    cuobjdump="$(command -v cuobjdump || ls "$root"/.venv/lib/python3*/site-packages/triton/backends/nvidia/bin/cuobjdump 2>/dev/null | head -n 1 || true)"
    [[ -n "$cuobjdump" ]] || fail "no cuobjdump to read the CUDA module (pip install nvidia-cuda-cuobjdump)"
    elfs="$("$cuobjdump" --list-elf "$cuda" | sed -n 's/.*\.\(sm_[0-9a-z]*\)\.cubin/\1/p' | sort -u | tr '\n' ' ')"
    ptx="$("$cuobjdump" --list-ptx "$cuda" | sed -n 's/.*\.\(sm_[0-9a-z]*\)\.ptx/\1/p' | sort -u | tr '\n' ' ')"
    echo "-- CUDA code: SASS for ${elfs:-none}; PTX for ${ptx:-none}"
    # Unless the wheel was built for chosen architectures, every one torch's CUDA build targets, and PTX of the newest.
    if ! grep -q "^ARCH_LIST = None" "$work"/unpacked/fastload/_build_info.py && [[ -z "${WHEEL_CUDA_ARCH_LIST:-}" ]]; then
        want="$("$py" -c 'import torch; print(" ".join(sorted(set(a for a in torch.cuda.get_arch_list() if a.startswith("sm_")))))')"
        for arch in $want; do [[ " $elfs" == *" $arch "* ]] || fail "no SASS for $arch (torch targets: $want)"; done
        newest="$(echo "$want" | tr ' ' '\n' | sort -t_ -k2 -n | tail -n 1)"
        [[ " $ptx" == *" $newest "* ]] || fail "no PTX for $newest, the newest architecture torch targets"
    fi
fi

# The expected pixels come from OpenCV in the build venv; the clean venvs have no OpenCV.
mkdir "$work/jpegs"
"$py" - "$work/jpegs" <<'PYEOF'
import os, sys
import cv2, numpy as np
from fastload.photos import bundled_photos
out = sys.argv[1]
for i, img in enumerate(bundled_photos()):
    path = os.path.join(out, f"{i}.jpg")
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] + ([cv2.IMWRITE_JPEG_PROGRESSIVE, 1] if i % 2 else [])
    cv2.imwrite(path, img[: 97 + 13 * i, : 131 + 7 * i], params)
    np.save(path + ".npy", cv2.imread(path, cv2.IMREAD_COLOR))
PYEOF

torch_version="$("$py" -c 'import torch; print(torch.__version__.split("+")[0])')"
pythons="${WHEEL_PYTHONS:-$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}"
for version in $pythons; do
    # pyenv's interpreter of that version (its shims answer only for the selected one), else python$version on PATH.
    interpreter="$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$version".*/bin/"python$version" 2>/dev/null | tail -n 1 || true)"
    [[ -n "$interpreter" ]] || interpreter="$(command -v "python$version" || true)"
    [[ -n "$interpreter" ]] || fail "no python$version (pyenv install $version)"
    venv="$work/venv$version"
    "$interpreter" -m venv "$venv"
    start=$SECONDS
    "$venv/bin/python" -m pip --disable-pip-version-check install -q "torch==$torch_version" numpy
    "$venv/bin/python" -m pip --disable-pip-version-check install -q --no-deps "$wheel"
    echo "-- Python $("$venv/bin/python" -c 'import platform; print(platform.python_version())'): torch and the wheel installed in $((SECONDS - start)) s"
    # A PATH with the venv alone: no compiler, no nvcc; no LD_LIBRARY_PATH. Run from a folder with no source tree.
    (cd "$work" && env -i HOME="$HOME" PATH="$venv/bin" "$venv/bin/python" "$root/scripts/wheel_smoke.py" "$work/jpegs")
    (cd "$work" && env -i HOME="$HOME" PATH="$venv/bin" "$venv/bin/python" "$root/scripts/wheel_smoke.py" "$work/jpegs" --cpu-only-torch)
    rm -rf "$venv"  # a few GB each (torch and its CUDA libraries)
done
echo "wheel-check: ok"
