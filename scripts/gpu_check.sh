#!/usr/bin/env bash
# GPU check, for a machine with a CUDA GPU, torch preinstalled and no network:
#   build in place, run the CUDA tests, run them again under compute-sanitizer memcheck, run the GPU benchmark.
# Usage: scripts/gpu_check.sh OUT_DIR     (logs, summary.json and bench_cuda.json/png land in OUT_DIR)
# Budget: under 8 minutes on one H100/H200.
set -uo pipefail
out=${1:?usage: scripts/gpu_check.sh OUT_DIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} MAX_JOBS=${MAX_JOBS:-16} PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
declare -A status
step() {  # step NAME TIMEOUT_S COMMAND...: run with a time limit, log to OUT/NAME.log, remember the exit code
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  echo "== $name: $*"
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  status[$name]=$?
  echo "   exit ${status[$name]} after $((SECONDS - start)) s"
  tail -n 5 "$out/$name.log"
}

{ nvidia-smi; $PY -c "import torch, sys; print(sys.version); print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))"; } >"$out/machine.txt" 2>&1
step build 240 env FASTLOAD_CUDA_EMULATION=1 $PY -m pip install --no-build-isolation --no-deps -e .
step info 60 $PY -m fastload info
step tests_cuda 180 $PY -m pytest -q -m cuda -p no:cacheprovider tests
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -n 1)
if [ -n "$sanitizer" ]; then
  # The kernels' own tests; the >2^31-element test (~7 GB) and the DataLoader tests ran above without it.
  step memcheck 240 "$sanitizer" --tool memcheck --error-exitcode 97 --leak-check no \
    $PY -m pytest -q -m cuda -p no:cacheprovider -k "not 2_31 and not test_property" tests/test_normalize.py tests/test_denormalize.py \
    tests/test_pad_batch.py tests/test_resize_pad_batch.py tests/test_stats.py tests/test_crops.py
else
  echo "compute-sanitizer not found" >"$out/memcheck.log"; status[memcheck]=skipped
fi
step gpu_decode 120 $PY scripts/gpu_decode.py "$out/gpu_decode.json"
step bench_cuda 240 $PY -m fastload bench --device cuda --no-progress --json "$out/bench_cuda.json" \
  --plot "$out/bench_cuda.png" --markdown "$out/bench_cuda.md"

{
  echo "{"
  first=1
  for k in "${!status[@]}"; do
    [ $first -eq 1 ] || echo ","
    first=0
    printf '  "%s": "%s"' "$k" "${status[$k]}"
  done
  echo; echo "}"
} >"$out/summary.json"
cat "$out/summary.json"
for k in build tests_cuda bench_cuda; do [ "${status[$k]}" = 0 ] || exit 1; done
[ "${status[memcheck]}" = 0 ] || [ "${status[memcheck]}" = skipped ] || exit 1
