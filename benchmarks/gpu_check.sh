#!/usr/bin/env bash
# Issue 28's GPU check: one prepared run on a borrowed GPU, under 8 minutes, that writes what it
# measures to $OUT as it goes (the device tool brings back what is there even when the command is
# stopped at its limit). Run it once; rerun only if it failed.
#
# Here, once (the dataset does not travel; .gpu/ is git-ignored; about 46 MB):
#   python -m benchmarks.cifar10 --pack-arrays .gpu/cifar10k.npz.xz --train-images 10000
# There, with the device tool:
#   run(command="bash benchmarks/gpu_check.sh", carry=[".gpu"], timeout_s=540)
#
# Steps, most important first, each under its own time limit and all under BUDGET_S (470 s):
#   bench_bf16  python -m benchmarks: cnn, resnet, char-gru, gpt in bf16 (PyTorch: bf16 autocast)
#   cifar       notebook 16's GPU recipe (benchmarks.cifar10's defaults), leptonlab and PyTorch,
#               on the carried arrays: accuracy, time to 80/85/90%, model FLOP utilisation
#   bench_f32   the same cases in float32
#   profile     python -m benchmarks.profile --case resnet (where the step's time goes)
# Files in $OUT (the tool returns at most 8): summary.txt (the card, the versions, each step's
# exit status and seconds), <step>.txt for each step, bench_bf16.json, bench_f32.json, cifar.json.
# Not here for lack of time: notebook 11's full run (the 1.50 nats/char target).
# LEPTONLAB_QUICK=1 makes every step tiny: a rehearsal of the script on any machine (a CPU too).
set -u
OUT=${OUT:-/tmp/gpu_check_out}
BUDGET_S=${BUDGET_S:-470}
PY=${PYTHON:-python3}
ARRAYS=${ARRAYS:-.gpu/cifar10k.npz.xz}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
SUMMARY="$OUT/summary.txt"

step() { # step NAME LIMIT_S COMMAND...: COMMAND's output in $OUT/NAME.txt; its status in summary.txt
    local name=$1 limit=$2
    shift 2
    local left=$((BUDGET_S - SECONDS))
    if ((left < 30)); then
        echo "$name: not started, ${left} s of the ${BUDGET_S} s budget left" >>"$SUMMARY"
        return
    fi
    ((limit > left)) && limit=$left
    local start=$SECONDS
    timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.txt" 2>&1
    local rc=$?
    local why=""
    ((rc == 124 || rc == 137)) && why=" (stopped at its limit)"
    echo "$name: exit $rc in $((SECONDS - start)) s of its ${limit} s$why" >>"$SUMMARY"
}

{
    date -u +"%Y-%m-%d %H:%M:%S UTC"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    "$PY" -c "import jax, jaxlib, flax, optax, torch; print('jax', jax.__version__, 'jaxlib', jaxlib.__version__, 'flax', flax.__version__, 'optax', optax.__version__, 'torch', torch.__version__); print(jax.devices()); print('torch sees', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"
    git log -1 --date=iso --format="leptonlab commit %h of %cd" 2>/dev/null
} >"$SUMMARY" 2>&1

CASES=cnn,resnet,char-gru,gpt
QUICK=() RECIPE=()
if [[ "${LEPTONLAB_QUICK:-0}" == 1 ]]; then
    QUICK=(--quick)
    RECIPE=(--epochs 1 --width 8 --stages 1 --batch-size 64 --train-images 640)
fi
step bench_bf16 170 "$PY" -m benchmarks "${QUICK[@]}" --only "$CASES" --compute-dtype bfloat16 \
    --budget-s 120 --child-timeout-s 75 --json "$OUT/bench_bf16.json"
if [[ -f "$ARRAYS" ]]; then
    step cifar 150 "$PY" -m benchmarks.cifar10 --pytorch --arrays "$ARRAYS" "${RECIPE[@]}" \
        --targets 0.8,0.85,0.9 --json "$OUT/cifar.json"
else
    echo "cifar: not run, $ARRAYS is missing (see the top of this script)" >>"$SUMMARY"
fi
step bench_f32 120 "$PY" -m benchmarks "${QUICK[@]}" --only "$CASES" \
    --budget-s 80 --child-timeout-s 60 --json "$OUT/bench_f32.json"
step profile 60 "$PY" -m benchmarks.profile "${QUICK[@]}" --case resnet --top 25
echo "done in $SECONDS s" >>"$SUMMARY"
