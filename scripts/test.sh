#!/usr/bin/env bash
# Lint, migration check, then the whole suite on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/field_records}"
export DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-test-secret-key-not-for-production-0123456789abcdefghijkl}"
export DJANGO_DEBUG=false DJANGO_SECURE_SSL_REDIRECT=false DJANGO_SECURE_COOKIES=false
BIN=.venv/bin

echo "== ruff"
$BIN/ruff check .
echo "== makemigrations --check"
$BIN/python manage.py makemigrations --check --dry-run >/dev/null || {
  echo "Model changes without a migration:"; $BIN/python manage.py makemigrations --dry-run; exit 1; }
echo "== pytest (PostgreSQL: ${DATABASE_URL%%@*}@...)"
$BIN/python -m pytest --create-db -n "${PYTEST_WORKERS:-2}" -m "${PYTEST_MARK:-not slow}" "$@"
