#!/usr/bin/env bash
# Soak for the model-based tests (test/model/model.test.ts): many more runs, fresh seeds.
#
#   tools/soak/model-soak.sh [rounds=10] [runs per property per round=2000] [vitest -t filter]
#
# Each round runs every property (or the ones matching the filter) with a new random seed
# and CAMBIUM_MODEL_RUNS runs each; logs go to .tmp/model-soak/. The first failing round
# stops the soak and prints fast-check's report, which includes the replay command:
#   CAMBIUM_MODEL_SEED=<seed> CAMBIUM_MODEL_PATH=<path> npx vitest run --config test/vitest.config.ts test/model -t '<property>'
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-10}
runs=${2:-2000}
filter=${3:-}
logdir=.tmp/model-soak
mkdir -p "$logdir"
for ((r = 1; r <= rounds; r++)); do
  seed=$(( (RANDOM << 15 | RANDOM) - 536870912 ))
  log="$logdir/round-$r-seed-$seed.log"
  echo "round $r/$rounds: seed $seed, $runs runs per property -> $log"
  args=(run --config test/vitest.config.ts test/model/model.test.ts)
  [[ -n "$filter" ]] && args+=(-t "$filter")
  if ! CAMBIUM_MODEL_SEED=$seed CAMBIUM_MODEL_RUNS=$runs npx vitest "${args[@]}" >"$log" 2>&1; then
    echo "FAILED in round $r (seed $seed); report:"
    sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E -A12 'Error|FAIL' | head -80
    exit 1
  fi
  sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'model runs|Duration' || true
done
echo "soak passed: $rounds rounds x $runs runs per property"
