#!/usr/bin/env bash
# GPU check: one call on a machine with a CUDA GPU, torch preinstalled and no network (the GPU machine of
# DEVELOPERS.md: one command of at most 600 s, at most 8 files back). It always reports:
# - one overall deadline (DEADLINE_S, default 540 s): each step runs under min(its own limit, what is left), and a
#   step with less than 15 s left is recorded as "no time" instead of started;
# - OUT/summary.json (each step: exit code or "no time"/"skipped", seconds, last log line) is rewritten after every
#   step, and OUT/gpu_check.tar.gz (every log and result) is repacked after every step, so a call killed at its
#   limit still brings back everything up to the step it was in. Those two plus bench_cuda.md: 3 files.
# Usage: scripts/gpu_check.sh OUT_DIR   (GPU_CHECK_ON_CPU=1: run it anyway without a GPU, to try the script: the
# backend step then fails, CUDA tests skip, the sanitizer is not found)
#
# Steps and budget (limit s; measured CPU share on the 2-core dev VM, where most of them skip or run CPU paths):
#   build 200 (CPU build with CUDA sources: ~150 s on 2 cores; the GPU machine has 16) | backend 30 (every op
#   compiled on CUDA, else this step fails) | tests_cuda 120 (pytest -m cuda) | loaders 120 (ring, pin_memory=True,
#   fork and spawn, the prefetcher under load, the plain non_blocking loop, GPU decode: ~60 s here) |
#   transfers 90 (scripts/gpu_transfers.py: PCIe bytes per batch, 256 files decoded on the GPU; ~12 s here with
#   --device cpu) | bench_quick 120 (fastload bench --device cuda --quick) | sanitizer probe 30, then memcheck 120
#   (PYTORCH_NO_CUDA_MEMORY_CACHING=1, the kernels' tests), racecheck + synccheck 90 (channel_stats and the crop
#   tiles: the kernels with shared memory and barriers). Sum of limits ~1000 s: the deadline cuts the tail, so the
#   steps are ordered by what a first GPU run must show.
set -uo pipefail
out=${1:?usage: scripts/gpu_check.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null && [ -z "${GPU_CHECK_ON_CPU:-}" ]; then
  echo "gpu_check: no CUDA GPU visible to torch here ($($PY -c 'import torch; print(torch.__version__)' 2>&1)); nothing to check" >&2
  echo '{"machine": "no CUDA GPU visible to torch"}' >"$out/summary.json"
  exit 2
fi
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} MAX_JOBS=${MAX_JOBS:-16} PYTHONUNBUFFERED=1
deadline=$((SECONDS + ${DEADLINE_S:-540}))
logs=$(mktemp -d)
order=()
declare -A status seconds

report() {  # summary.json and the archive, rewritten after every step
  {
    echo "{"
    echo "  \"deadline_s\": ${DEADLINE_S:-540}, \"elapsed_s\": $SECONDS,"
    local first=1 k last
    for k in "${order[@]}"; do
      [ $first -eq 1 ] || echo ","
      first=0
      last=$(tail -n 1 "$logs/$k.log" 2>/dev/null | tr -d '"\\' | cut -c1-160)
      printf '  "%s": {"status": "%s", "seconds": %s, "last_line": "%s"}' "$k" "${status[$k]}" "${seconds[$k]:-0}" "$last"
    done
    echo; echo "}"
  } >"$out/summary.json"
  cp "$out/summary.json" "$logs/summary.json"
  tar -czf "$out/gpu_check.tar.gz" -C "$logs" . 2>/dev/null
}

step() {  # step NAME LIMIT_S COMMAND...: run under min(LIMIT_S, time left), log to NAME.log, report
  local name=$1 limit=$2; shift 2
  local left=$((deadline - SECONDS - 10))
  order+=("$name")
  if [ $left -lt 15 ]; then
    status[$name]="no time"; echo "no time left (deadline)" >"$logs/$name.log"; report; return
  fi
  [ $limit -le $left ] || limit=$left
  local start=$SECONDS
  echo "== $name (limit ${limit}s): $*"
  timeout -k 5 "$limit" "$@" >"$logs/$name.log" 2>&1
  status[$name]=$?
  seconds[$name]=$((SECONDS - start))
  echo "   exit ${status[$name]} after ${seconds[$name]} s"
  tail -n 3 "$logs/$name.log"
  report
}

skip() {  # skip NAME WHY
  order+=("$1"); status[$1]=skipped; echo "$2" >"$logs/$1.log"; report
}

order+=(machine); status[machine]=0
{ nvidia-smi || true; $PY -c "import torch, sys; print(sys.version); print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))"; } >"$logs/machine.txt" 2>&1
cp "$logs/machine.txt" "$logs/machine.log"
report

# The GPU machine has no network: the libjpeg-turbo 3.x the decoder links (pip's comma-deps-libjpeg) comes in the
# run's carried .gl/libjpeg-turbo (`make .gl` here makes it), else the build links whatever it finds (and says so).
[ -f .gl/libjpeg-turbo/lib/libjpeg.a ] && export FASTLOAD_LIBJPEG_TURBO="$PWD/.gl/libjpeg-turbo"
step build 200 env FASTLOAD_CUDA_EMULATION=1 $PY -m pip install --no-build-isolation --no-deps -e .
step backend 30 $PY -c '
import json, sys, fastload as fl
info = fl.backend_info()
print(json.dumps(info, indent=1))
missing = [f"{op}: {where['"'"'cuda'"'"']}" for op, where in info["ops"].items() if where["cuda"] != "compiled"]
if missing or not info["cuda_available"]:
    sys.exit("CUDA kernels not all compiled (a build without nvcc tests the reference against itself): " + "; ".join(missing))
print("every op compiled on CUDA")'
pytest=($PY -m pytest -q -p no:cacheprovider)
step tests_cuda 120 "${pytest[@]}" -m cuda tests
step loaders 120 "${pytest[@]}" tests/test_ring.py tests/test_ring_lifetime.py tests/test_collate_loader.py \
  tests/test_device_decode.py tests/test_files.py
device=cuda; [ -n "${GPU_CHECK_ON_CPU:-}" ] && device=cpu
step transfers 90 $PY scripts/gpu_transfers.py "$logs/gpu_transfers.json" --device $device
step bench_quick 120 $PY -m fastload bench --device $device --quick --no-progress --json "$logs/bench_cuda.json" \
  --markdown "$logs/bench_cuda.md"
[ -f "$logs/bench_cuda.md" ] && cp "$logs/bench_cuda.md" "$out/bench_cuda.md"

sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -n 1)
if [ -z "$sanitizer" ]; then
  skip sanitizer_probe "compute-sanitizer not found"
else
  # A sandboxed GPU can refuse the sanitizer ("device not supported"): that is not a kernel error.
  step sanitizer_probe 30 "$sanitizer" --tool memcheck --error-exitcode 97 $PY -c "import torch; torch.ones(4, device='cuda').sum().item()"
  if [ "${status[sanitizer_probe]}" != 0 ]; then
    skip memcheck "sanitizer probe failed (see sanitizer_probe.log): memcheck not run"
  else
    # The CUDA tests, less the 2^31-element cases and the property tests (too slow under a sanitizer).
    cuda_tests=("${pytest[@]}" -m cuda -k "not 2_31 and not test_property")
    kernels=(tests/test_normalize.py tests/test_denormalize.py tests/test_pad_batch.py tests/test_resize_pad_batch.py
             tests/test_channel_stats.py tests/test_resized_crop_batch.py tests/test_cuda_streams.py)
    # Without torch's caching allocator every tensor is its own allocation, so an overrun past a tensor is seen.
    step memcheck 120 env PYTORCH_NO_CUDA_MEMORY_CACHING=1 "$sanitizer" --tool memcheck --error-exitcode 97 \
      --leak-check no "${cuda_tests[@]}" "${kernels[@]}"
    # The kernels with shared memory and barriers: channel_stats and the crop's tiles.
    shared=(tests/test_channel_stats.py tests/test_resized_crop_batch.py)
    step racecheck 45 "$sanitizer" --tool racecheck --error-exitcode 97 "${cuda_tests[@]}" "${shared[@]}"
    step synccheck 45 "$sanitizer" --tool synccheck --error-exitcode 97 "${cuda_tests[@]}" "${shared[@]}"
  fi
fi
cat "$out/summary.json"
for k in build backend tests_cuda loaders transfers; do [ "${status[$k]}" = 0 ] || exit 1; done
