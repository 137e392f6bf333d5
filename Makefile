# MarketPulse: one Makefile as the interface. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
MP := $(BIN)/marketpulse
# The venv is rebuilt when pyproject.toml changes (the stamp carries its hash).
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run up down status test test-unit test-integration lint clean chaos terraform-providers terraform-check terraform-apply

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP) ## Create .venv, install the package, and install the stack's programs (idempotent)
	$(MP) stack install

run: install ## Start the platform on the local stack (replay ingest + market job) and print where everything is
	$(MP) platform up

up: install ## Start the local stack only
	$(MP) stack up

down: ## Stop the platform and every service this checkout's stack started
	@test -x $(MP) && $(MP) platform down || true

status: ## Probe every service and platform process
	$(MP) platform status

test: install lint ## Lint, then the whole suite: unit and integration against a test stack it starts itself
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## Unit tests only (need nothing)
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

test-integration: install ## Integration tests only (start the test stack)
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

lint: $(STAMP) ## ruff + mypy
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

terraform-providers: $(STAMP) ## Build OpenTofu (tofu, .stack/cache) and the local env's providers (.stack/terraform/providers) from the Go proxy, once
	$(MP) infra providers

terraform-check: $(STAMP) ## tofu fmt -check all of terraform/; validate + plan tests where providers are mirrored (local); licences
	$(MP) infra check

terraform-apply: $(STAMP) ## tofu apply terraform/envs/local to the running dev stack (buckets, topics; `make run` does it too)
	$(MP) infra apply

bench: install ## Benchmark the market pipeline on its own 'bench' stack, ~9 min (options: BENCH_ARGS="--help")
	$(BIN)/python -m bench.market_pipeline $(BENCH_ARGS)

chaos: install ## Faults one at a time (kill -9 of each job, a 10x burst, each store down 60 s, Kafka SIGKILL, replay twice, restart) on its own 'chaos' stack; one row each, ~45 min (CHAOS_ARGS="--help")
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

bench-api: install ## Benchmark the API: latest-quote latency (3 server variants x 3 rates) and WebSocket fan-out, ~6 min
	$(BIN)/python -m bench.api_latency
	$(BIN)/python -m bench.api_ws_fanout

clean: down ## Stop the stack and remove .venv and .stack (installed programs and all data)
	rm -rf $(VENV) .stack
