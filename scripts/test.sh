#!/usr/bin/env bash
# Lint, migration check, then the whole suite on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/field_records}"
export DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-test-secret-key-not-for-production-0123456789abcdefghijkl}"
export DJANGO_DEBUG=false DJANGO_SECURE_SSL_REDIRECT=false DJANGO_SECURE_COOKIES=false
BIN=.venv/bin

if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "== installing Debian's chromium for the browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
      || echo "   chromium could not be installed: the browser tests will be skipped (and say so)"
  else
    echo "== no chromium and no root for apt-get: the browser tests will be skipped (and say so)"
  fi
fi

if command -v npm >/dev/null 2>&1; then
  echo "== npm packages for the WatermelonDB end-to-end test"
  npm ci --prefix tests/watermelon/js --no-audit --no-fund --loglevel=error >/dev/null \
    || echo "   npm ci failed: the WatermelonDB end-to-end test will be skipped (and say so)"
  echo "== field app: npm packages, and a check that the committed build matches its sources"
  if npm ci --prefix fieldapp/js --no-audit --no-fund --loglevel=error >/dev/null; then
    npm run --silent check --prefix fieldapp/js
  else
    echo "   npm ci failed: the field app's build check will be skipped (and say so)"
  fi
else
  echo "== no Node.js: the WatermelonDB end-to-end test and the field app's build check will be skipped (and say so)"
fi

echo "== ruff"
$BIN/ruff check .
echo "== import layers (.importlinter: no app imports upward, so no app-level cycle)"
$BIN/lint-imports --no-cache >/dev/null || $BIN/lint-imports --no-cache
echo "== function length (scripts/check_function_length.py: at most 60 lines)"
$BIN/python scripts/check_function_length.py
echo "== mypy (mypy.ini: records/ and sync/, with django-stubs and djangorestframework-stubs)"
$BIN/mypy
echo "== pip-audit (offline-tolerant: known vulnerabilities fail the run; lookups this machine cannot make are reported)"
audit_rc=0
audit_out=$(timeout 180 $BIN/pip-audit -r requirements.txt --progress-spinner off 2>&1) || audit_rc=$?
if grep -qE "Found [0-9]+ known vulnerabilit" <<<"$audit_out"; then echo "$audit_out"; exit 1; fi
if [ "$audit_rc" -eq 0 ]; then
  echo "   no known vulnerabilities; $(grep -c "could not be audited" <<<"$audit_out" || true) packages could not be looked up here"
else
  echo "   pip-audit could not run here (rc=$audit_rc): skipped"
fi

echo "== makemigrations --check"
DATABASE_URL=sqlite:///:memory: $BIN/python manage.py makemigrations --check --dry-run >/dev/null || {
  echo "Model changes without a migration:"; $BIN/python manage.py makemigrations --dry-run; exit 1; }
MARK="${PYTEST_MARK:-not slow}"
run_phase() {  # pytest exits 5 when a phase selects no test; that is not a failure of the phase
  local rc=0
  $BIN/python -m pytest "$@" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then exit "$rc"; fi
}
echo "== pytest, parallel phase (PostgreSQL: ${DATABASE_URL%%@*}@...)"
run_phase --create-db -n "${PYTEST_WORKERS:-2}" -m "($MARK) and not serial" "$@"
echo "== pytest, serial phase: tests that commit for real"
run_phase --create-db -p no:xdist -m "($MARK) and serial" -rs "$@"
