#!/usr/bin/env bash
# Process soak: the real-process tests at soak sizes.
#   T2 kill -9 rounds (test/process/kill9.test.ts), T7 writer races (race.test.ts),
#   T8 a follower over many commits (follower.test.ts).
#
#   tools/soak/process-soak.sh [kill rounds=1000] [races=500] [follower commits=30000]
#
# Env: CAMBIUM_SEED (replays the kill delays), SOAK_LOG_DIR (default .tmp/process-soak).
set -euo pipefail
cd "$(dirname "$0")/../.."

kills="${1:-1000}"
races="${2:-500}"
commits="${3:-30000}"
log_dir="${SOAK_LOG_DIR:-.tmp/process-soak}"
mkdir -p "$log_dir"
[[ -f dist/index.js ]] || npm run build >/dev/null

failed=0
run() {
  local name=$1; shift
  local log="$log_dir/$name.log"
  local start=$(date +%s)
  echo "$name (log: $log)"
  if env "$@" npx vitest run --config test/vitest.config.ts "test/process/$name.test.ts" >"$log" 2>&1; then status=ok; else status=FAILED; failed=$(( failed + 1 )); fi
  sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^\[(kill9|race|follower)\]' | sed 's/^/  /' || true
  [[ $status == FAILED ]] && sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'Error|FAIL|expected' | head -20 | sed 's/^/  /'
  echo "  $status in $(( $(date +%s) - start ))s"
}
run kill9 CAMBIUM_KILL_ROUNDS="$kills"
run race CAMBIUM_RACE_ROUNDS="$races"
run follower CAMBIUM_FOLLOW_COMMITS="$commits"
echo "process soak: $failed failed"
[[ $failed -eq 0 ]]
