#!/usr/bin/env bash
# `make sanitize`: the C++ extension built with AddressSanitizer + UndefinedBehaviorSanitizer (CPU only, every report
# fatal) into build/sanitize, beside the ordinary build, and the tests of decoding, the collates and the worker rings
# (the 10,000-file corrupted-JPEG fuzz and the EXIF fuzzes included), the detection collate and the keep-ratio resize
# (flipped images read backwards), the multi-crop collate (union regions decoded), the affine warps (gathers at
# computed offsets) and the colour steps (histograms and tables indexed by pixel values, sharpness' neighbours) run
# on it. Prints "sanitize: 0 reports" when nothing was reported; any report
# aborts the test process, and the run fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="${PY:-.venv/bin/python}"
case "$py" in /*) ;; *) py="$root/$py" ;; esac  # relative to the repository, as the Makefile gives it
out="$root/build/sanitize"
cd "$root"
mkdir -p "$out"
echo "== building the sanitized extension into $out (CPU only; a few minutes on 2 cores)"
FASTLOAD_SANITIZE=1 FASTLOAD_NO_CUDA=1 FASTLOAD_CUDA_EMULATION=0 "$py" setup.py -q build_ext \
    --build-lib "$out/lib" --build-temp "$out/temp" > "$out.log" 2>&1 || { tail -40 "$out.log"; exit 1; }
# A copy of the package with the sanitized extension, imported first: the tests run from inside it.
rm -rf "$out/pkg" && mkdir -p "$out/pkg"
(cd "$root" && git ls-files -z fastload | xargs -0 cp --parents -t "$out/pkg")
cp "$out"/lib/fastload/_C*.so "$out/pkg/fastload/"
# libasan first; libstdc++ with it, or ASan's __cxa_throw interceptor finds no real one (python links no C++).
export LD_PRELOAD="$(${CXX:-g++} -print-file-name=libasan.so) $(${CXX:-g++} -print-file-name=libstdc++.so.6)"
# Python and torch keep memory to the end on purpose: leaks are not reported. Every other report aborts.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_odr_violation=0:protect_shadow_gap=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export FASTLOAD_SANITIZER=1  # tests that measure RSS skip that part: ASan's quarantine keeps freed memory
cd "$out/pkg"
"$py" -c "import fastload, sys; f = sys.modules['fastload._C'].__file__; assert f.startswith(sys.argv[1]), f; \
assert fastload._backend.load_error is None" "$out/pkg"
# Not `nm | grep -q` under pipefail: grep -q exits at the first match, nm then dies of SIGPIPE and the pipe fails.
symbols="$(nm -D "$out"/pkg/fastload/_C*.so)"
[[ "$symbols" == *__asan_report* ]] || { echo "sanitize: the extension is not instrumented"; exit 1; }
tests=(test_decoding.py test_jpeg_files.py test_exif.py test_formats.py test_files.py test_files_trust.py
       test_device_decode.py test_collate_loader.py test_detection_collate.py test_resize_pad_batch.py test_packed.py
       test_ring.py test_ring_lifetime.py test_multi_crop.py test_warp_affine.py test_adjust_color.py
       test_resized_crop_color.py test_augment.py)
"$py" -m pytest -q -p no:cacheprovider -x "${tests[@]/#/$root/tests/}" "$@"
echo "sanitize: 0 reports (AddressSanitizer + UndefinedBehaviorSanitizer, ${#tests[@]} test modules)"
