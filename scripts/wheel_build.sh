#!/usr/bin/env bash
# `make wheel`: a wheel of fastload for other machines, into dist/. Built from a copy of the tree as a clean clone
# has it (build/wheel-src), so that the development build's objects (with the CUDA emulation) are neither reused nor
# replaced: everything compiles again. Without WHEEL_CUDA_ARCH_LIST the CUDA module carries SASS for every
# architecture torch's CUDA build targets plus PTX of the newest (setup.py asks torch). auditwheel then says which
# manylinux policy the binaries meet (the newest glibc/libstdc++ symbol versions they use; torch's own libraries,
# which come with torch, are left out of the check as torch's extensions do), and the wheel is tagged with it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="${PY:-$root/.venv/bin/python}"
case "$py" in /*) ;; *) py="$root/$py" ;; esac
src="$root/build/wheel-src" out="$root/build/wheel-out"
rm -rf "$src" "$out" "$root"/dist/fastload-*.whl && mkdir -p "$src" "$out" "$root/dist"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$src")
start=$SECONDS
(cd "$src" && FASTLOAD_CUDA_EMULATION=0 TORCH_CUDA_ARCH_LIST="${WHEEL_CUDA_ARCH_LIST:-}" \
    "$py" -m pip --disable-pip-version-check wheel -q --no-build-isolation --no-deps -w "$out" .)
built="$(ls "$out"/fastload-*.whl)"
policy="$("$py" -m auditwheel show "$built" 2>/dev/null | tr '\n' ' ' | sed -n 's/.*constrains the platform tag to "\([^"]*\)".*/\1/p')"
[[ -n "$policy" ]] || { echo "make wheel: auditwheel found no manylinux policy for $built"; exit 1; }
"$py" -m wheel tags --remove --platform-tag "$policy" "$built" > /dev/null
mv "$out"/fastload-*.whl "$root/dist/"
wheel="$(ls "$root"/dist/fastload-*.whl)"
echo "make wheel: $(basename "$wheel") ($(du -h "$wheel" | cut -f1)) in $((SECONDS - start)) s"
