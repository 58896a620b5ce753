#!/usr/bin/env bash
# `make wheel-check`: the wheel `make wheel` built (the newest dist/fastload-*.whl), installed as another machine
# would install it: a fresh venv with only torch and numpy, `--no-deps`, no compiler on PATH, no LD_LIBRARY_PATH,
# imported from another folder. Prints what the wheel is (size, tags, the libraries it needs, the GPU architectures
# its CUDA code carries) and runs scripts/wheel_smoke.py there: every op compiled on the CPU, decode_image exact on
# JPEGs written here by OpenCV. Fails on the first thing that does not hold.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="${PY:-$root/.venv/bin/python}"
wheel="$(ls -t "$root"/dist/fastload-*.whl 2>/dev/null | head -n 1 || true)"
[[ -n "$wheel" ]] || { echo "wheel-check: no dist/fastload-*.whl; run make wheel first"; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== $(basename "$wheel"): $(du -h "$wheel" | cut -f1)"
mkdir "$work/unpacked"
"$py" -m zipfile -e "$wheel" "$work/unpacked"
so="$(ls "$work"/unpacked/fastload/_C*.so)"
echo "-- libraries it needs (readelf -d):"
readelf -d "$so" | sed -n 's/.*Shared library: \[\(.*\)\]/   \1/p'
if readelf -d "$so" | grep -q 'libjpeg'; then echo "wheel-check: the extension needs a system libjpeg"; exit 1; fi
cuobjdump="$(command -v cuobjdump || ls "$root"/.venv/lib/python3*/site-packages/triton/backends/nvidia/bin/cuobjdump 2>/dev/null | head -n 1 || true)"
if [[ -n "$cuobjdump" ]]; then
    elfs="$("$cuobjdump" --list-elf "$so" 2>/dev/null | sed -n 's/.*\.\(sm_[0-9a-z]*\)\.cubin/\1/p' | sort -u | tr '\n' ' ')"
    ptx="$("$cuobjdump" --list-ptx "$so" 2>/dev/null | sed -n 's/.*\.\(sm_[0-9a-z]*\)\.ptx/\1/p' | sort -u | tr '\n' ' ')"
    echo "-- CUDA code: SASS for ${elfs:-none}; PTX for ${ptx:-none}"
fi

# The expected pixels come from OpenCV in the build venv; the clean venv has no OpenCV.
mkdir "$work/jpegs"
"$py" - "$work/jpegs" <<'EOF'
import os, sys
import cv2, numpy as np
from fastload.photos import bundled_photos
out = sys.argv[1]
for i, img in enumerate(bundled_photos()):
    path = os.path.join(out, f"{i}.jpg")
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] + ([cv2.IMWRITE_JPEG_PROGRESSIVE, 1] if i % 2 else [])
    cv2.imwrite(path, img[: 97 + 13 * i, : 131 + 7 * i], params)
    np.save(path + ".npy", cv2.imread(path, cv2.IMREAD_COLOR))
EOF

"$py" -m venv "$work/venv"
"$work/venv/bin/python" -m pip --disable-pip-version-check install -q "torch==$("$py" -c 'import torch; print(torch.__version__.split("+")[0])')" numpy
"$work/venv/bin/python" -m pip --disable-pip-version-check install -q --no-deps "$wheel"
# A PATH with the venv alone: no compiler, no nvcc; no LD_LIBRARY_PATH.
cd "$work"
env -i HOME="$HOME" PATH="$work/venv/bin" "$work/venv/bin/python" "$root/scripts/wheel_smoke.py" "$work/jpegs"
echo "wheel-check: ok"
