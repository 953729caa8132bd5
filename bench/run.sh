#!/usr/bin/env bash
# make bench: serve the real app under gunicorn on a fresh database and measure it against raw psycopg and against
# a peer, pouchdb-server (needs Node.js; skipped with a message without it), in the same run; then the end-of-shift
# burst again through HAProxy to two app server instances with two Celery workers on Redis (deploy/).
# Options go to bench/bench.py (e.g. --quick). Writes bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export BENCH_DB="${BENCH_DB:-field_records_bench}"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${BENCH_DB}"
export DJANGO_DEBUG=false DJANGO_SECURE_SSL_REDIRECT=false DJANGO_SECURE_COOKIES=false
export DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-bench-secret-key-not-for-production-0123456789abcdefghij}"
export THROTTLE_USER=1000000/min THROTTLE_SYNC=1000000/min THROTTLE_LOGIN=1000000/min THROTTLE_ANON=1000000/min
export DATABASE_CONN_MAX_AGE=60 LOG_LEVEL=WARNING
# Rate-limit counts in Redis, as in production (without it they would go to the database cache).
export CACHE_REDIS_URL="${CACHE_REDIS_URL:-redis://127.0.0.1:6379/9}" CACHE_KEY_PREFIX="${CACHE_KEY_PREFIX:-bench}"
# The broker of every instance and of the Celery workers: Redis, a database and a queue of the bench's own.
export CELERY_BROKER_URL="${BENCH_BROKER_URL:-redis://127.0.0.1:6379/11}" CELERY_QUEUE=bench
# Metrics on, as in production: each server's workers add up their counts through their own folder.
export METRICS_TOKEN="${METRICS_TOKEN:-bench-metrics-token-0123456789}" TRUSTED_PROXIES=127.0.0.1
PORT="${BENCH_PORT:-8077}"
PEER_PORT="${BENCH_PEER_PORT:-$((PORT + 10))}"
LB_PORT="${BENCH_LB_PORT:-$((PORT + 20))}"
APP1_PORT=$((LB_PORT + 1)) APP2_PORT=$((LB_PORT + 2))
WORKERS="${BENCH_WORKERS:-4}"
# Enough threads that a worker can answer "busy, retry after" (503) while its push slots are taken, instead of
# leaving connections in the listen queue (SYNC_PUSH_CONCURRENCY pushes run at once per worker).
THREADS="${BENCH_THREADS:-16}"
mkdir -p var
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

wait_for() {  # url, what
  for _ in $(seq 1 150); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done
  echo "bench: $2 did not answer at $1" >&2
  return 1
}

psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS ${BENCH_DB}" >/dev/null
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE ${BENCH_DB}" >/dev/null
$BIN/python manage.py migrate -v0

gunicorn_instance() {  # name, port, workers
  PROMETHEUS_MULTIPROC_DIR="var/bench-metrics/$1" $BIN/gunicorn backend.wsgi -c deploy/gunicorn.conf.py \
    --bind "127.0.0.1:$2" --workers "$3" --threads "$THREADS" --timeout 120 --backlog 2048 --log-level warning \
    >"var/bench-gunicorn-$1.log" 2>&1 &
  PIDS+=($!)
}

gunicorn_instance single "$PORT" "$WORKERS"
GUNICORN=${PIDS[-1]}
wait_for "http://127.0.0.1:${PORT}/healthz" "gunicorn"

# --- The peer: pouchdb-server from the lockfile in bench/peer, LevelDB in var/peer, on 127.0.0.1 ----------------
PEER_ARGS=()
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PEER_SKIPPED="Node.js (node and npm) is not installed, so pouchdb-server could not be started"
elif ! (cd bench/peer && { [ node_modules/.package-lock.json -nt package-lock.json ] ||
          npm ci --no-audit --no-fund --loglevel=error; }); then
  PEER_SKIPPED="npm ci in bench/peer failed (see its output above)"
else
  rm -rf var/peer && mkdir -p var/peer/db
  (cd var/peer && exec node ../../bench/peer/node_modules/pouchdb-server/bin/pouchdb-server --host 127.0.0.1 \
    --port "$PEER_PORT" --dir db --config config.json --no-stdout-logs >../bench-peer.log 2>&1) &
  PIDS+=($!)
  if wait_for "http://127.0.0.1:${PEER_PORT}/" "pouchdb-server"; then
    PEER_ARGS=(--peer-url "http://127.0.0.1:${PEER_PORT}")
    PEER_SKIPPED=""
  else
    PEER_SKIPPED="pouchdb-server did not start (var/bench-peer.log)"
  fi
fi
[ -n "$PEER_SKIPPED" ] && echo "bench: PEER SKIPPED: $PEER_SKIPPED" >&2

# --- Scale-out: two app server instances behind HAProxy, two Celery workers on Redis ------------------------------
LB_ARGS=()
LB_SKIPPED=""
if ! command -v haproxy >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing Debian's haproxy for the scale-out burst"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null; } ||
      LB_SKIPPED="haproxy is not installed and apt-get could not install it"
  else
    LB_SKIPPED="haproxy is not installed (apt-get install haproxy, as root)"
  fi
fi
if [ -z "$LB_SKIPPED" ]; then
  gunicorn_instance app1 "$APP1_PORT" $((WORKERS / 2 > 0 ? WORKERS / 2 : 1))
  gunicorn_instance app2 "$APP2_PORT" $((WORKERS / 2 > 0 ? WORKERS / 2 : 1))
  for name in a b; do
    $BIN/celery -A backend worker -n "bench-$name@%h" --pool=solo --loglevel=WARNING >"var/bench-celery-$name.log" 2>&1 &
    PIDS+=($!)
  done
  LB_BIND="127.0.0.1:${LB_PORT}" APP1="127.0.0.1:${APP1_PORT}" APP2="127.0.0.1:${APP2_PORT}" \
    haproxy -db -f deploy/haproxy.cfg >var/bench-haproxy.log 2>&1 &
  PIDS+=($!)
  if wait_for "http://127.0.0.1:${APP1_PORT}/readyz" "app1" && wait_for "http://127.0.0.1:${APP2_PORT}/readyz" "app2" &&
     wait_for "http://127.0.0.1:${LB_PORT}/healthz" "haproxy"; then
    sleep 7  # both servers marked up by HAProxy's checks (rise 2, every 3 s)
    LB_ARGS=(--lb-url "http://127.0.0.1:${LB_PORT}"
             --instances "app1=http://127.0.0.1:${APP1_PORT},app2=http://127.0.0.1:${APP2_PORT}")
  else
    LB_SKIPPED="the scale-out servers did not start (var/bench-*.log)"
  fi
fi
[ -n "$LB_SKIPPED" ] && echo "bench: SCALE-OUT BURST SKIPPED: $LB_SKIPPED" >&2

$BIN/python bench/bench.py --url "http://127.0.0.1:${PORT}" --gunicorn-pid "$GUNICORN" --workers "$WORKERS" \
  --threads "$THREADS" "${PEER_ARGS[@]}" --peer-skipped "$PEER_SKIPPED" "${LB_ARGS[@]}" --lb-skipped "$LB_SKIPPED" "$@"
