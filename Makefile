# Everyday tasks. `make run` and `make test` are the two commands of README.md: each sets up everything
# it needs (virtualenv, dependencies, translations) on a machine that has only Python 3.11.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PORT ?= 8000

.PHONY: run test install lint format typecheck messages bench ci clean help

help:
	@echo "make run        install, migrate, load demo data, run web + worker + beat on http://127.0.0.1:$(PORT)/"
	@echo "make test       install and run the whole test suite"
	@echo "make lint       ruff check + ruff format --check; make format rewrites"
	@echo "make typecheck  mypy"
	@echo "make ci         what CI runs (.ci/run)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "zhize needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the declared dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The dashboard's chart library (ECharts, package.json) from the npm registry, when npm is there. Without
# Node.js everything else still installs and the dashboard shows its tables alone.
NPM_STAMP := node_modules/.zhize-installed
$(NPM_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund && touch $(NPM_STAMP); \
	else \
	  echo "npm not found: the dashboard will show tables without charts (install Node.js 20, then make install)"; \
	fi

install: $(STAMP) $(NPM_STAMP)
	@DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py compile_translations --verbosity 0

run: install
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py runstack --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy .

# Refresh locale/zh_Hans from the source strings (needs GNU gettext's xgettext; set-up does not).
messages: install
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py makemessages -l zh_Hans --no-location \
	  --ignore=.venv --ignore=var --ignore=tests --ignore=staticfiles --ignore=bench --ignore=docker

# 100,000 duties in PostgreSQL (BENCH_DATABASE_URL, else zhize_bench on 127.0.0.1), timed; see docs/benchmarks.md.
bench: install
	$(BIN)/python -m bench.registry $(BENCH_ARGS)
	$(BIN)/python -m bench.escalation $(BENCH_ARGS)
	$(BIN)/python -m bench.routing $(BENCH_ARGS)
	$(BIN)/python -m bench.dashboard $(BENCH_ARGS)
	$(BIN)/python -m bench.lists $(BENCH_ARGS)

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) var staticfiles node_modules .pytest_cache .mypy_cache .ruff_cache
