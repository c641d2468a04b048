#!/usr/bin/env bash
# toyneg's GPU check: the benchmark, the default sweep and the GPU-sized canonical sweeps on one
# GPU, in priority order, within about 9 minutes. Run from the repository root with a Python
# that has jax with CUDA, flax, optax, numpy, matplotlib and tqdm (no install needed):
#
#     OUT=gpu_out bash sweeps/gpu.sh
#
# Every step has its own time limit, cut to what is left of DEADLINE (default 540 s), so a slow
# step costs only itself and the script ends on time; after each step the
# outputs so far are packed into $OUT/results.tgz (unpack it over the repository root:
# results/<sweep>_gpu/ and results/bench_gpu/), and the log is $OUT/gpu.log.
# Sweeps run with --mode auto, which is vmap on a GPU: every run of a compiled group at once.
# JAX's default float32 matmul precision on a recent GPU is TensorFloat32; the default sweep is
# also run with bfloat16 and with true float32 matmuls (the precision check of issue #5).
# ONLY="name ..." runs just the named steps (e.g. ONLY="placement ablations default_f32").
#
#     bash sweeps/gpu.sh --tiny
#
# runs every step end to end in seconds on any machine, CPU included: each sweep as one tiny
# run (`python -m toyneg.sweep --smoke`), the benchmark with --tiny --quick. The suite runs it
# (tests/test_frontdoor.py), so on a GPU machine the script works the first time.
set -u
TINY=""
if [[ "${1:-}" == "--tiny" ]]; then TINY="--smoke"; shift; fi
if [[ $# -gt 0 ]]; then echo "usage: [OUT=dir] bash sweeps/gpu.sh [--tiny]" >&2; exit 2; fi
BENCH_ARGS="--no-sweep"  # the default sweep is a step of its own
# tiny: every part of the benchmark (its time-to-result runs are two tiny runs)
[[ -n "$TINY" ]] && BENCH_ARGS="--tiny --quick --steps 5"
OUT=${OUT:-gpu_out}
PY=${PY:-python3}
W=$(mktemp -d)
mkdir -p "$OUT" "$W/results"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export TOYNEG_CACHE=${TOYNEG_CACHE:-$W/cache}
T0=$(date +%s)
FAILED=""
DEADLINE=${DEADLINE:-540}
exec > >(tee -a "$OUT/gpu.log") 2>&1

pack() { tar czf "$OUT/results.tgz" -C "$W" results; }
step() {  # step LIMIT_S NAME COMMAND...: time-limited, timed, logged, packed
    local limit=$1 name=$2; shift 2
    if [[ -n "${ONLY:-}" && " $ONLY " != *" $name "* ]]; then return; fi
    local left=$(( DEADLINE - ($(date +%s) - T0) - 10 ))
    (( left < limit )) && limit=$left
    if (( limit < 20 )); then echo "== $name: skipped (no time left)"; return; fi
    echo "== $(date -u +%T) +$(( $(date +%s) - T0 ))s start $name (limit ${limit}s): $*"
    local t=$(date +%s)
    timeout "$limit" "$@"
    local rc=$?
    (( rc != 0 )) && FAILED="$FAILED $name"
    echo "== $name: rc $rc, wall $(( $(date +%s) - t ))s"
    pack
}

nvidia-smi -L || true
$PY -c "import sys, jax, flax, optax; print('python', sys.version.split()[0], 'jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, jax.devices())"

step 120 default $PY -m toyneg.sweep $TINY --out "$W/results/default_gpu"
step 230 bench $PY -m toyneg.bench $BENCH_ARGS --out "$W/results/bench_gpu"
step 80 default_bf16 env JAX_DEFAULT_MATMUL_PRECISION=bfloat16 $PY -m toyneg.sweep $TINY --out "$W/results/default_gpu_bf16"
step 100 diversity $PY -m toyneg.sweep sweeps/diversity.toml $TINY --out "$W/results/diversity_gpu"
step 100 cures $PY -m toyneg.sweep sweeps/cures.toml $TINY --out "$W/results/cures_gpu"
step 80 placement $PY -m toyneg.sweep sweeps/placement.toml $TINY --out "$W/results/placement_gpu"
step 120 ablations $PY -m toyneg.sweep sweeps/ablations.toml $TINY --out "$W/results/ablations_gpu"
step 100 layout $PY -m toyneg.sweep sweeps/layout.toml $TINY --out "$W/results/layout_gpu"
step 80 default_f32 env JAX_DEFAULT_MATMUL_PRECISION=float32 $PY -m toyneg.sweep $TINY --out "$W/results/default_gpu_f32"
echo "== all steps done in $(( $(date +%s) - T0 ))s${FAILED:+; failed:$FAILED}"
[[ -z "$FAILED" ]]
