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

## the slow sync and security tests (a long schemathesis run among them), then the stateful sync
## property test for 10,000 examples, in runs of 1,000 with their own seeds (scripts/test-long.sh)
test-long: install-dev
	bash scripts/test-long.sh

lint: install-dev
	$(BIN)/ruff check .

bench: install-dev
	bash bench/run.sh

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles
