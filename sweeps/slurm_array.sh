#!/usr/bin/env bash
# A toyneg sweep on a Slurm cluster: a job array of shards plus a merge job that waits for them.
#
#     bash sweeps/slurm_array.sh SWEEP [N_SHARDS] [OUT]
#
# SWEEP is a sweep file or a canonical sweep's name (diversity_cpu); N_SHARDS defaults to 4 and
# OUT to results/<file name>. Array task I runs
#     python -m toyneg.sweep SWEEP --shard I/N --out OUT/shard_I --no-outputs -q
# (every run lands in exactly one shard; a resubmitted task resumes from its own store), and the
# merge job, held until every task has ended well (afterok), runs
#     python -m toyneg.sweep SWEEP --merge OUT/shard_* --out OUT
# which writes the tables, figures and report exactly as a single-process run would.
# Environment: PY (default python3), SBATCH_ARGS (extra sbatch options for both submissions,
# e.g. "--partition=cpu --time=02:00:00"), CPUS (cores per task, default 2).
# tests/test_sweep.py runs this script with a stand-in sbatch and checks the merged outputs
# against a single-process run of the same sweep.
set -euo pipefail
PY=${PY:-python3}

case "${TOYNEG_SLURM_ROLE:-submit}" in
shard)
    exec $PY -m toyneg.sweep "$TOYNEG_SWEEP" --shard "$SLURM_ARRAY_TASK_ID/$TOYNEG_SHARDS" \
        --out "$TOYNEG_OUT/shard_$SLURM_ARRAY_TASK_ID" --no-outputs -q ;;
merge)
    exec $PY -m toyneg.sweep "$TOYNEG_SWEEP" --merge "$TOYNEG_OUT"/shard_* --out "$TOYNEG_OUT" ;;
esac

SWEEP=${1:?usage: bash sweeps/slurm_array.sh SWEEP [N_SHARDS] [OUT]}
N=${2:-4}
OUT=${3:-results/$(basename "$SWEEP" .toml)}
(( N >= 1 )) || { echo "error: N_SHARDS must be a positive integer, got $N" >&2; exit 2; }
mkdir -p "$OUT"
VARS="ALL,TOYNEG_SWEEP=$SWEEP,TOYNEG_SHARDS=$N,TOYNEG_OUT=$OUT,PY=$PY"
# shellcheck disable=SC2086  # SBATCH_ARGS is a list of options
array=$(sbatch --parsable --job-name="toyneg-$(basename "$SWEEP" .toml)" --array="0-$((N - 1))" \
    --cpus-per-task="${CPUS:-2}" --output="$OUT/slurm-%A_%a.out" \
    --export="$VARS,TOYNEG_SLURM_ROLE=shard" ${SBATCH_ARGS:-} "$0")
array=${array%%;*}  # --parsable prints "jobid[;cluster]"
# shellcheck disable=SC2086
merge=$(sbatch --parsable --job-name="toyneg-merge" --dependency="afterok:$array" \
    --cpus-per-task=1 --output="$OUT/slurm-merge-%j.out" \
    --export="$VARS,TOYNEG_SLURM_ROLE=merge" ${SBATCH_ARGS:-} "$0")
echo "submitted array job $array ($N shards -> $OUT/shard_*) and merge job ${merge%%;*} -> $OUT/"
