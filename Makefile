# The command surface. Every target creates or reuses .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: help venv test lint check sandbox run clean

help:
	@echo "make run      start the local stack (for now: the sandbox ContextSMS server)"
	@echo "make test     lint, type-check and run every test"
	@echo "make sandbox  start the sandbox ContextSMS server on 127.0.0.1:8787"
	@echo "make clean    remove the virtualenv and local data"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

sandbox: $(STAMP)
	$(BIN)/python -m sandbox

# Until the bot exists, the local stack is the sandbox alone.
run: sandbox

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
