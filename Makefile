# The stable interface for people and machines. Every target installs and starts what it needs.
#   make demo   - the main job: stack up, sample events into the store, relayed to Kafka, shown
#   make test   - the whole suite (lint, unit, integration on real PostgreSQL + Kafka)
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help venv up down status test unit lint demo serve bench schemas

help:
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

venv: ## create .venv and install the project (only when pyproject.toml changed)
	@bash scripts/venv.sh

up: venv ## start PostgreSQL and Kafka (installing them if missing), migrate, create topics
	@bash scripts/stack.sh up
	@$(BIN)/fees migrate
	@$(BIN)/fees topics

down: ## stop what `make up` started (data kept; `bash scripts/stack.sh down --purge` deletes it)
	@bash scripts/stack.sh down

status: ## is the stack up?
	@bash scripts/stack.sh status

lint: venv ## ruff and mypy --strict
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy

unit: venv ## unit tests only: no servers needed
	@$(BIN)/pytest tests/unit

test: up lint ## everything: lint, unit and integration tests against the real servers
	@$(BIN)/pytest

demo: up ## the main job (see README)
	@$(BIN)/fees demo

serve: up ## the HTTP API on 127.0.0.1:58000 (OpenAPI at /docs) and the sandbox gateway on :59100
	@$(BIN)/python -m payments.sandbox --port 59100 & $(BIN)/fees serve

bench: up ## every benchmark; prints `bench: <metric> <value>` lines
	@$(BIN)/python bench/append_relay.py
	@$(BIN)/python bench/payments_http.py
	@$(BIN)/python bench/payments_floor.py
	@$(BIN)/python bench/stream_e2e.py
	@$(BIN)/python bench/reconcile_1m.py
	@$(BIN)/python bench/reconcile_floor.py
	@$(BIN)/python bench/replay_1m.py

schemas: venv ## regenerate the checked-in JSON Schema files
	@$(BIN)/fees schemas write
