#!/usr/bin/env bash
# make bench: serve the real app under gunicorn on a fresh database and measure it against raw psycopg.
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
PORT="${BENCH_PORT:-8077}"
WORKERS="${BENCH_WORKERS:-4}"
# Enough threads that a worker can answer "busy, retry after" (503) while its push slots are taken, instead of
# leaving connections in the listen queue (SYNC_PUSH_CONCURRENCY pushes run at once per worker).
THREADS="${BENCH_THREADS:-16}"

psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS ${BENCH_DB}" >/dev/null
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE ${BENCH_DB}" >/dev/null
$BIN/python manage.py migrate -v0

$BIN/gunicorn backend.wsgi --bind "127.0.0.1:${PORT}" --workers "$WORKERS" --threads "$THREADS" --timeout 120 \
  --backlog 2048 --log-level warning >var/bench-gunicorn.log 2>&1 &
GUNICORN=$!
trap 'kill $GUNICORN 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:${PORT}/healthz" >/dev/null && break; sleep 0.2; done

$BIN/python bench/bench.py --url "http://127.0.0.1:${PORT}" --gunicorn-pid "$GUNICORN" --workers "$WORKERS" --threads "$THREADS" "$@"
