#!/usr/bin/env bash
# The whole suite N times in a row (default 3) with two busy processes loading the cores, as
# the reliability bar asks: a test that passes alone but fails in a loaded full run is a defect.
# Runs on a worktree of HEAD (its own .venv, ~7 GB; edits here do not disturb it); writes one
# line per run to loaded_runs/summary.txt and each run's log (80 slowest tests) beside it.
#   bash scripts/loaded_runs.sh [N] [pytest arguments, e.g. a test file to try the harness]
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
out=$PWD/loaded_runs
tree=$out/tree
mkdir -p "$out"
git worktree remove --force "$tree" 2>/dev/null
git worktree add --detach -f "$tree" HEAD >/dev/null || exit 1
# the worktree has no ../shared beside it: point the tests at this checkout's dataset
export FINELABEL_WIKIPEDIA_EN=${FINELABEL_WIKIPEDIA_EN:-$(realpath -m ../shared/datasets/wikipedia_en)}
cd "$tree"
bash scripts/setup.sh > "$out/setup.log" 2>&1 || { echo "setup failed: $out/setup.log"; exit 1; }
loaders=()
for _ in 1 2; do python3 -c "while True: pass" & loaders+=($!); done
trap 'kill "${loaders[@]}" 2>/dev/null' EXIT
echo "--- $(date -u +%FT%TZ) HEAD $(git rev-parse --short HEAD), $runs runs, 2 loaders" >> "$out/summary.txt"
for i in $(seq 1 "$runs"); do
  started=$(date +%s)
  RAY_DATA_DISABLE_PROGRESS_BARS=1 .venv/bin/python -m pytest -q -p no:cacheprovider -rfE \
    --durations=80 "$@" > "$out/run_$i.log" 2>&1
  code=$?
  echo "run $i rc=$code $(( $(date +%s) - started ))s $(tail -1 "$out/run_$i.log")" \
    | tee -a "$out/summary.txt"
  [ $code -eq 0 ] || exit $code
done
