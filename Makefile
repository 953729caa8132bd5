# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/field_records
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint check venv install install-dev migrate demo serve clean bench test-long

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(BIN)/python
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: virtualenv, install, migrate, demo data, worker, serve on http://127.0.0.1:8000
run: install
	bash scripts/run.sh

## make test: lint, migration check and the whole suite on PostgreSQL
test: install-dev
	bash scripts/test.sh

## a long property-based sync run (10,000 examples) and a long schemathesis run
test-long: install-dev
	SYNC_STATEFUL_EXAMPLES=10000 SCHEMATHESIS_MAX_EXAMPLES=500 bash scripts/test.sh -m "slow or not slow" tests/sync tests/security

lint: install-dev
	$(BIN)/ruff check .

bench: install-dev
	bash bench/run.sh

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles
