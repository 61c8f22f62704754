#!/usr/bin/env bash
# Fault soak: the crash sweep over many more seeds, the bit-flip test (exhaustive over every
# bit in the first round, seeded samples after) and the truncation sweep, in rounds with a
# fresh seed range each time. (test/fault/io-errors and bad-files are deterministic: npm test.)
#
#   tools/soak/fault-soak.sh [rounds] [seeds-per-round]
#
# Env: CAMBIUM_FAULT_SEED_BASE (first seed; default: random), CAMBIUM_FAULT_COMMITS (workload
# size), SOAK_LOG_DIR (default .tmp/soak). A failing round prints its seed range; replay one
# seed with:  CAMBIUM_FAULT_SEED_BASE=<seed> CAMBIUM_FAULT_SEEDS=1 npx vitest run \
#               --config test/vitest.config.ts test/fault/crash-sweep.test.ts
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds="${1:-5}"
per_round="${2:-200}"
base="${CAMBIUM_FAULT_SEED_BASE:-$(( (RANDOM << 15 | RANDOM) % 1000000000 + 1 ))}"
log_dir="${SOAK_LOG_DIR:-.tmp/soak}"
mkdir -p "$log_dir"

failed=0
for ((r = 0; r < rounds; r++)); do
  seed=$(( base + r * per_round ))
  log="$log_dir/fault-soak-$seed.log"
  echo "round $((r + 1))/$rounds: seeds $seed..$(( seed + per_round - 1 )) (log: $log)"
  start=$(date +%s)
  # First round: every bit of the bit-flip file, and the (unseeded) truncation sweep once.
  # Later rounds: bit flips sampled with the round's seed.
  files=(test/fault/crash-sweep.test.ts test/fault/bitflip.test.ts)
  exhaustive=0
  if (( r == 0 )); then exhaustive=1; files+=(test/fault/truncation.test.ts); fi
  if CAMBIUM_FAULT_SEED_BASE="$seed" CAMBIUM_FAULT_SEEDS="$per_round" CAMBIUM_BITFLIP_EXHAUSTIVE="$exhaustive" \
    npx vitest run --config test/vitest.config.ts "${files[@]}" >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed=$(( failed + 1 ))
  fi
  sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^\[(crash-sweep|bitflip|truncation)\]' | sed 's/^/  /' || true
  echo "  $status in $(( $(date +%s) - start ))s"
  if [[ $status == FAILED ]]; then sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'seed [0-9]+ .*op [0-9]+|FAIL|Error:' | head -20 | sed 's/^/  /' || true; fi
done

echo "fault soak: $rounds rounds of $per_round seeds from $base, $failed failed"
[[ $failed -eq 0 ]]
