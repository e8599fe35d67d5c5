# Refuge. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2

.PHONY: help install demo test lint messages bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the locked dependencies

demo: install ## run Refuge with the reference scenario at http://127.0.0.1:8000 (Ctrl-C stops)
	REFUGE_DEMO=1 $(BIN)/refuge demo

test: install ## the whole suite (SQLite; PostgreSQL when DATABASE_URL is set)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

lint: install ## ruff, mypy, import contracts and the missing-migration check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	REFUGE_DEBUG=1 $(BIN)/refuge makemigrations --check --dry-run

messages: install ## extract and compile the translation catalogues (needs GNU gettext)
	cd src/refuge && REFUGE_DEBUG=1 ../../$(BIN)/django-admin makemessages -l ru --no-location --no-obsolete --settings=refuge.config.settings
	cd src/refuge && REFUGE_DEBUG=1 ../../$(BIN)/django-admin compilemessages --settings=refuge.config.settings

bench: install ## benchmarks; writes bench/results/latest.json (BENCH_SCALE=small|full)
	$(BIN)/python -m bench

clean: ## remove the virtualenv and local data (keeps nothing under var/)
	rm -rf $(VENV) var
