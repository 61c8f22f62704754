#!/usr/bin/env bash
# Fuzz soak: test/reliability/fuzz.test.ts over many more inputs, in rounds with a fresh seed
# each (every round's inputs are new files). Each round runs under `timeout`: a hang is caught
# and reported with the input it was on (the test writes "<seed> <index>" to a progress file).
#
#   tools/soak/fuzz-soak.sh [total inputs=100000] [inputs per round=20000]
#
# Env: CAMBIUM_FUZZ_SEED_BASE (first round's seed; default random), SOAK_LOG_DIR (default
# .tmp/fuzz-soak), ROUND_TIMEOUT (seconds per round; default 15 ms per input + 120).
# A breach saves the input under .tmp/fuzz-failures/ (replay: CAMBIUM_FUZZ_REPLAY=<file>);
# a hang is replayed with CAMBIUM_FUZZ_SEED=<seed> CAMBIUM_FUZZ_FROM=<index> CAMBIUM_FUZZ_INPUTS=1.
set -euo pipefail
cd "$(dirname "$0")/../.."

total="${1:-100000}"
per="${2:-20000}"
base="${CAMBIUM_FUZZ_SEED_BASE:-$(( (RANDOM << 15 | RANDOM) % 1000000000 + 2 ))}"
log_dir="${SOAK_LOG_DIR:-.tmp/fuzz-soak}"
mkdir -p "$log_dir"
[[ -f dist/index.js ]] || npm run build >/dev/null

done_inputs=0 failed=0 hung=0 breaches=0 slow=0 max_ms=0 r=0 clean=0 check_ok=0 check_err=0 start_all=$(date +%s)
while (( done_inputs < total )); do
  n=$(( total - done_inputs < per ? total - done_inputs : per ))
  seed=$(( base + r ))
  log="$log_dir/fuzz-$seed.log"
  progress="$log_dir/progress-$seed"
  limit="${ROUND_TIMEOUT:-$(( n * 15 / 1000 + 120 ))}"
  echo "round $((r + 1)): seed $seed, $n inputs (log: $log)"
  start=$(date +%s)
  set +e
  CAMBIUM_FUZZ_SEED="$seed" CAMBIUM_FUZZ_INPUTS="$n" CAMBIUM_FUZZ_PROGRESS="$progress" \
    timeout --kill-after=10 "$limit" npx vitest run --config test/vitest.config.ts test/reliability/fuzz.test.ts >"$log" 2>&1
  rc=$?
  set -e
  sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^\[fuzz\]' | cut -c1-400 | sed 's/^/  /' || true
  if (( rc == 124 || rc == 137 )); then
    hung=$(( hung + 1 ))
    echo "  HUNG after ${limit}s at input: $(cat "$progress" 2>/dev/null) (seed index)"
  elif (( rc != 0 )); then
    failed=$(( failed + 1 ))
    sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'input [0-9]+ \(|saved:|Error' | head -20 | cut -c1-400 | sed 's/^/  /' || true
  fi
  line=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^\[fuzz\] seed' || true)
  if [[ -n "$line" ]]; then
    ran=$(sed -E 's/.*: ([0-9]+) inputs in.*/\1/' <<<"$line")
    b=$(sed -E 's/.*bugs ([0-9]+),.*/\1/' <<<"$line")
    s=$(sed -E 's/.*ms ([0-9]+); max.*/\1/' <<<"$line")
    m=$(sed -E 's/.*max ([0-9.]+) ms per input.*/\1/' <<<"$line")
    c=$(sed -E 's/.*end to end: ([0-9]+).*/\1/' <<<"$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'end to end')")
    ok=$(sed -E 's/.*checkDatabase: OK ([0-9]+), errors found ([0-9]+);.*/\1/' <<<"$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'checkDatabase: OK')")
    er=$(sed -E 's/.*checkDatabase: OK ([0-9]+), errors found ([0-9]+);.*/\2/' <<<"$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'checkDatabase: OK')")
    breaches=$(( breaches + b )) slow=$(( slow + s )) clean=$(( clean + c )) check_ok=$(( check_ok + ok )) check_err=$(( check_err + er ))
    max_ms=$(awk -v a="$max_ms" -v b="$m" 'BEGIN { print (b > a ? b : a) }')
    done_inputs=$(( done_inputs + ran ))
  else
    done_inputs=$(( done_inputs + n ))
  fi
  echo "  round done in $(( $(date +%s) - start ))s"
  r=$(( r + 1 ))
done

echo "fuzz soak: $done_inputs inputs in $r rounds (seeds $base..$(( base + r - 1 ))) in $(( $(date +%s) - start_all ))s:" \
  "$breaches breaches, $slow over the time limit, $hung hung rounds, $failed failed rounds; max $max_ms ms per input;" \
  "read cleanly end to end $clean, check OK $check_ok, check found damage $check_err"
[[ $failed -eq 0 && $hung -eq 0 && $breaches -eq 0 && $slow -eq 0 ]]
