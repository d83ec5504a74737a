# DynamoWave — every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help setup dev test test-deps unit integration browser lint py-lint fmt build clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: $(STAMP) ## create .venv and install the project with its dev dependencies

$(STAMP): pyproject.toml functions/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "==> installing Python dependencies into $(VENV)"
	$(PY) -m pip install --quiet --upgrade 'pip>=25.1'
	$(PY) -m pip install --quiet -e . --group dev
	@touch $@

dev: setup ## start the local chat (browser client + WebSocket API + embedded DynamoDB); prints the URL
	$(BIN)/dynamowave dev $(DEV_ARGS)

test-deps: setup ## install what the integration and browser tests need (Chromium, Node packages)
	./scripts/install-test-deps.sh

test: setup test-deps ## run every test: unit, build, terraform, integration, DynamoDB Local, browser
	$(BIN)/pytest $(PYTEST_ARGS)

unit: setup ## fast tests only (no network, no browser)
	$(BIN)/pytest tests/unit tests/terraform $(PYTEST_ARGS)

integration: setup test-deps ## the local runtime over real WebSockets (moto and DynamoDB Local)
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

browser: setup test-deps ## the headless Chromium test
	$(BIN)/pytest tests/browser $(PYTEST_ARGS)

# `lint` also runs the Terraform checks (mk/terraform.mk adds tf-lint as a prerequisite).
lint: py-lint

py-lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

build: setup ## build the Lambda zips and dist/manifest.json (deterministic)
	$(PY) build.py

fmt: setup ## format Python code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: ## remove build output and caches (keeps .venv)
	rm -rf dist build .pytest_cache .ruff_cache

-include mk/*.mk
