#!/usr/bin/env bash
# make test-long: the slow tests of sync and security (a long schemathesis run among them), then the stateful
# sync test for SYNC_STATEFUL_TOTAL examples (default 10,000) as runs of SYNC_STATEFUL_CHUNK examples
# (default 1,000), each with its own random seed, fresh process and fresh test database, LANES at a time.
# One process for all 10,000 slows down as its test database fills (every example adds its own world), so
# the examples run in chunks; each chunk must run to its end, and any failure fails the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL="${SYNC_STATEFUL_TOTAL:-10000}"
CHUNK="${SYNC_STATEFUL_CHUNK:-1000}"
LANES="${LANES:-2}"
SEED="${SYNC_STATEFUL_SEED:-$(date +%s)}"
BASE="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/field_records}"
LOGS="${TEST_LONG_LOGS:-var/test-long}"
mkdir -p "$LOGS"

if [ "${SKIP_SLOW:-0}" != 1 ]; then
  echo "== slow tests of sync and security (the stateful test at its CI size; its long run follows)"
  SCHEMATHESIS_MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-500}" bash scripts/test.sh -m "slow or not slow" tests/sync tests/security
fi

chunks=$(( (TOTAL + CHUNK - 1) / CHUNK ))
echo "== stateful sync test: $TOTAL examples as $chunks runs of $CHUNK, $LANES at a time, seeds $SEED..$((SEED + chunks - 1))"
run_chunk() {  # $1: chunk number
  local seed=$((SEED + $1)) n=$CHUNK
  if [ $(( ($1 + 1) * CHUNK )) -gt "$TOTAL" ]; then n=$(( TOTAL - $1 * CHUNK )); fi
  local progress="$LOGS/seed-$seed.progress" start
  rm -f "$progress"; start=$(date +%s)
  if DATABASE_URL="${BASE}_long$(( $1 % LANES ))" SYNC_STATEFUL_EXAMPLES=$n SYNC_STATEFUL_RANDOM=1 \
     SYNC_STATEFUL_SHRINK="${SYNC_STATEFUL_SHRINK:-0}" SYNC_STATEFUL_PROGRESS="$progress" \
     .venv/bin/python -m pytest -p no:xdist -p no:cacheprovider --create-db --hypothesis-seed="$seed" \
       tests/sync/test_stateful.py >"$LOGS/seed-$seed.log" 2>&1; then
    echo "   seed $seed: $(wc -l <"$progress") of $n examples checked, passed, $(( $(date +%s) - start )) s"
  else
    echo "   seed $seed: FAILED after $(wc -l <"$progress" 2>/dev/null || echo 0) examples; see $LOGS/seed-$seed.log"
    tail -40 "$LOGS/seed-$seed.log"
    return 1
  fi
}
export -f run_chunk
export SEED CHUNK TOTAL BASE LANES LOGS
lane() {  # chunks lane, lane + LANES, ... one after the other
  local i
  for (( i = $1; i < chunks; i += LANES )); do run_chunk "$i" || return 1; done
}
pids=()
for (( l = 0; l < LANES; l++ )); do lane "$l" & pids+=($!); done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
if [ "$rc" -ne 0 ]; then echo "== stateful sync test FAILED"; exit 1; fi
echo "== stateful sync test: all $chunks runs passed"
