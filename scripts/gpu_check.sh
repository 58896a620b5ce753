#!/usr/bin/env bash
# GPU check: one call on a machine with a CUDA GPU, torch preinstalled and no network (the GPU machine of
# DEVELOPERS.md: one command of at most 600 s, at most 8 files back). It always reports:
# - OUT/preflight.json first, before anything can fail (scripts/gpu_preflight.py: GPU, driver, torch, torchvision,
#   CUDA, nvcc, ninja, compute-sanitizer, the nvJPEG library, a one-image nvJPEG decode);
# - one overall deadline (DEADLINE_S, default 540 s): each step runs under min(its own limit, what is left), and a
#   step with less than 15 s left is recorded as "no time" instead of started;
# - OUT/summary.json (each step: exit code or "no time"/"skipped", seconds, last log line, made JSON-safe) and
#   OUT/gpu_check.tar.gz (every log and result), both rewritten whole after every step (a temporary file renamed),
#   so a call killed at its limit still brings back everything up to the step it was in; OUT/bench_cuda.md as each
#   bench suite ends; OUT/figures.txt, the figures a pass must show (scripts/gpu_figures.py). 5 files.
# Usage: scripts/gpu_check.sh OUT_DIR   (GPU_CHECK_ON_CPU=1: a dry run without a GPU, to rehearse the script: the
# backend step fails, the CUDA tests skip, the sanitizer is not found and the figures are missing, as they must;
# the dry run passes when the other steps pass within the deadline. PYTHON picks the interpreter.)
#
# Steps and budget (limit s): preflight 60 | build 200 (every core: ~150 s on 2, the GPU machine has 16) |
#   backend 30 (every op compiled on CUDA, else this step fails) | tests_cuda 150 (pytest -m cuda; estimated
#   70-150 s) | loaders 120 (ring, pin_memory=True, fork and spawn, the prefetcher under load, GPU decode) |
#   transfers 90 (scripts/gpu_transfers.py: PCIe bytes per batch, 256 files decoded on the GPU, pinned vs pageable) |
#   bench 120 (the kernel suites on CUDA, quick) | sanitizer probe 30, then memcheck 60, racecheck 45, synccheck 45,
#   initcheck 45, each over scripts/gpu_kernel_driver.py (a few hundred launches of every kernel and layout, each
#   compared with the reference; initcheck finds the uninitialised reads the emulation's zero-filled shared memory
#   hides) | figures 20. Sum of limits ~1100 s: the deadline cuts the tail, so the steps are ordered by what a first
#   GPU run must show.
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
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} MAX_JOBS=${MAX_JOBS:-$(nproc)} PYTHONUNBUFFERED=1
deadline=$((SECONDS + ${DEADLINE_S:-540}))
logs=$(mktemp -d)
order=()
declare -A status seconds

report() {  # summary.json and the archive, rewritten whole after every step
  local args=() k
  for k in "${order[@]}"; do args+=("$k" "${status[$k]}" "${seconds[$k]:-0}"); done
  $PY - "$logs" "${DEADLINE_S:-540}" "$SECONDS" "${args[@]}" >"$out/.summary.json" <<'PYEOF' && mv "$out/.summary.json" "$out/summary.json"
import json, os, sys
logs, deadline, elapsed, rest = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
steps = {}
for name, status, seconds in zip(rest[::3], rest[1::3], rest[2::3]):
    try:
        lines = open(os.path.join(logs, name + ".log"), errors="replace").read().splitlines()
    except OSError:
        lines = []
    last = "".join(c if c.isprintable() else " " for c in (lines[-1] if lines else ""))[:160]
    steps[name] = {"status": status, "seconds": int(seconds), "last_line": last}
print(json.dumps({"deadline_s": deadline, "elapsed_s": elapsed, "steps": steps}, indent=1))
PYEOF
  cp "$out/summary.json" "$logs/summary.json" 2>/dev/null
  tar -czf "$out/.gpu_check.tar.gz" -C "$logs" . 2>/dev/null && mv "$out/.gpu_check.tar.gz" "$out/gpu_check.tar.gz"
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

step preflight 60 $PY scripts/gpu_preflight.py "$logs/preflight.json"
cp "$logs/preflight.json" "$out/preflight.json" 2>/dev/null

# The GPU machine has no network: the libjpeg-turbo 3.x the decoder links (pip's comma-deps-libjpeg) comes in the
# run's carried .gl/libjpeg-turbo (`make .gl` here makes it), else the build links whatever it finds (and says so).
[ -f .gl/libjpeg-turbo/lib/libjpeg.a ] && export FASTLOAD_LIBJPEG_TURBO="$PWD/.gl/libjpeg-turbo"
# rich (fastload bench) and hypothesis (the property tests) from the carried wheels, where the machine lacks them.
if ls .gl/wheels/*.whl >/dev/null 2>&1; then
  step wheels 60 $PY -m pip install -q --no-index --find-links .gl/wheels rich hypothesis
fi
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
step tests_cuda 150 "${pytest[@]}" -m cuda tests
step loaders 120 "${pytest[@]}" tests/test_ring.py tests/test_ring_lifetime.py tests/test_collate_loader.py \
  tests/test_device_decode.py tests/test_files.py
device=cuda; [ -n "${GPU_CHECK_ON_CPU:-}" ] && device=cpu
step transfers 90 $PY scripts/gpu_transfers.py "$logs/gpu_transfers.json" --device $device
# The kernel suites only (the loader suites are the CPU's); the tables are written as each suite ends.
step bench 120 $PY -m fastload bench normalize denormalize batch resize crop --device $device --quick --no-progress \
  --json "$logs/bench_cuda.json" --markdown "$logs/bench_cuda.md"
[ -f "$logs/bench_cuda.md" ] && cp "$logs/bench_cuda.md" "$out/bench_cuda.md"

sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -n 1)
if [ -z "$sanitizer" ]; then
  skip sanitizer_probe "compute-sanitizer not found"
else
  # A sandboxed GPU can refuse the sanitizer ("device not supported"): that is not a kernel error.
  step sanitizer_probe 30 "$sanitizer" --tool memcheck --error-exitcode 97 $PY -c "import torch; torch.ones(4, device='cuda').sum().item()"
  if [ "${status[sanitizer_probe]}" != 0 ]; then
    skip memcheck "sanitizer probe failed (see sanitizer_probe.log): no sanitizer run"
  else
    driver=($PY scripts/gpu_kernel_driver.py --device cuda)
    # Without torch's caching allocator every tensor is its own allocation, so an overrun past a tensor is seen.
    step memcheck 60 env PYTORCH_NO_CUDA_MEMORY_CACHING=1 "$sanitizer" --tool memcheck --error-exitcode 97 \
      --leak-check no "${driver[@]}"
    step racecheck 45 "$sanitizer" --tool racecheck --error-exitcode 97 "${driver[@]}" --quick
    step synccheck 45 "$sanitizer" --tool synccheck --error-exitcode 97 "${driver[@]}" --quick
    step initcheck 45 env PYTORCH_NO_CUDA_MEMORY_CACHING=1 "$sanitizer" --tool initcheck --error-exitcode 97 \
      "${driver[@]}" --quick
  fi
fi
step figures 20 $PY scripts/gpu_figures.py "$logs"
cp "$logs/figures.log" "$out/figures.txt" 2>/dev/null
cat "$out/summary.json" "$out/figures.txt" 2>/dev/null
# A pass: every step that tells something passed within the deadline. A dry run on the CPU cannot have the GPU's
# figures or its compiled CUDA ops: there the other steps must pass.
required=(preflight build backend tests_cuda loaders transfers bench figures)
[ -n "${GPU_CHECK_ON_CPU:-}" ] && required=(preflight build tests_cuda loaders transfers bench)
for k in "${required[@]}"; do
  [ "${status[$k]:-missing}" = 0 ] || { echo "gpu_check: $k: ${status[$k]:-not run}"; exit 1; }
done
echo "gpu_check: passed in $SECONDS s (deadline ${DEADLINE_S:-540} s)"
