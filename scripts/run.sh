#!/usr/bin/env bash
# make run: migrate, load demo data, start a Celery worker (embedded broker unless one is configured),
# and serve the API, its docs, the admin and the supervisor pages on http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
BIN=.venv/bin
mkdir -p var

$BIN/python manage.py migrate --no-input -v0
$BIN/python manage.py load_demo_data

WORKER_PID=""
if [ -z "${CELERY_BROKER_URL:-}" ] && [ -z "${REDIS_URL:-}" ]; then
  echo "No broker configured: starting a Celery worker with beat on the embedded filesystem broker (var/celery)."
else
  echo "Starting a Celery worker with beat on ${CELERY_BROKER_URL:-$REDIS_URL}."
fi
$BIN/celery -A backend worker -B --pool=solo --loglevel=INFO \
  --schedule var/celerybeat-schedule >var/celery-worker.log 2>&1 &
WORKER_PID=$!
trap '[ -n "$WORKER_PID" ] && kill "$WORKER_PID" 2>/dev/null || true' EXIT INT TERM

cat <<INFO

  Field app      http://127.0.0.1:8000/app/
  API            http://127.0.0.1:8000/api/v1/
  API docs       http://127.0.0.1:8000/api/docs/
  Admin          http://127.0.0.1:8000/admin/
  Supervisor     http://127.0.0.1:8000/supervisor/
  Health         http://127.0.0.1:8000/healthz   (ready: /readyz)
  Worker log     var/celery-worker.log

INFO
$BIN/python manage.py runserver 127.0.0.1:8000
