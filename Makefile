# The two commands a newcomer needs: `make demo` and `make test`. Both set up everything first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test test-unit lint stack-up stack-down bench evaluate clean

setup:
	@ops/setup.sh

demo: setup
	@$(VENV)/bin/cxstream demo

test: setup
	@ops/test.sh

test-unit: setup
	@$(PY) -m pytest tests/unit -q

lint: setup
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy

stack-up: setup
	@ops/stack.sh up

stack-down:
	@ops/stack.sh down

bench: setup
	@$(PY) -m bench.pipeline

evaluate: setup
	@$(PY) -m streams.evaluation

clean: stack-down
	rm -rf .stack
