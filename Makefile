# DynamoWave — every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help setup dev test test-deps unit js-unit integration browser lint py-lint fmt build clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: $(STAMP) ## create .venv and install the project with its dev dependencies

$(STAMP): pyproject.toml functions/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "==> installing Python dependencies into $(VENV)"
	$(PY) -m pip install --quiet --upgrade 'pip>=25.1'
	$(PY) -m pip install --quiet -e ./functions -e . --group dev
	@touch $@

dev: setup ## start the local chat (browser client + WebSocket API + embedded DynamoDB); prints the URL
	$(BIN)/dynamowave dev $(DEV_ARGS)

test-deps: setup ## install what the integration and browser tests need (Chromium, Node packages)
	./scripts/install-test-deps.sh

# make test runs the suite in two processes (pytest-xdist, a test file per process at a time):
# most of it waits on the local runtime's sockets, queues and retries, so two share 2 cores well
# (16 -> 9 minutes measured). PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 2

test: setup test-deps js-unit ## run every test: unit (Python and JS), build, terraform, integration, DynamoDB Local, browser
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

unit: setup js-unit ## fast tests only (no network, no browser)
	$(BIN)/pytest tests/unit tests/terraform $(PYTEST_ARGS)

js-unit: ## browser client unit tests (Node's built-in runner, no npm packages)
	@command -v node >/dev/null || { echo "node is missing: install Node.js >= 18 to run the browser client's unit tests" >&2; exit 1; }
	node --test tests/js/

integration: setup test-deps ## the local runtime over real WebSockets (moto and DynamoDB Local)
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

browser: setup test-deps ## the headless Chromium test
	$(BIN)/pytest tests/browser $(PYTEST_ARGS)

# `lint` also runs the Terraform checks (mk/terraform.mk adds tf-lint as a prerequisite).
lint: py-lint

py-lint: setup
	@echo "==> ruff check"; $(BIN)/ruff check .
	@echo "==> ruff format --check"; $(BIN)/ruff format --check .
	@echo "==> mypy (functions/chat, dynamowave)"; $(BIN)/mypy

build: setup ## build the Lambda zips and dist/manifest.json (deterministic)
	$(PY) build.py

fmt: setup ## format Python code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: ## remove build output and caches (keeps .venv)
	rm -rf dist build .pytest_cache .ruff_cache

-include mk/*.mk
