# The command surface. Every target installs what it needs: .venv (Python), node_modules
# (the Playground, Playwright, the Adaptive Cards renderer) and, for the tests, Debian's
# Chromium.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp

.PHONY: help venv node chromium test lint sandbox run package screenshots gallery bench clean

help:
	@echo "make run      the local stack: sandbox + bot + Microsoft 365 Agents Playground"
	@echo "make test     lint, type-check and run every test (what CI runs)"
	@echo "make sandbox  the sandbox ContextSMS server alone, on 127.0.0.1:8787"
	@echo "make package  the Teams app package: BRAND=manifest/brands/x.json BOT_APP_ID=<guid>"
	@echo "make bench    the bot, the echo bot and a bare handler under load (docs/performance.md)"
	@echo "make gallery  every card the bot sends as Teams draws it, light and dark (docs/cards)"
	@echo "make clean    remove the virtualenv, node_modules and local data"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,package]'
	@touch $@

venv: $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node: $(NODE_STAMP)

# Playwright drives Debian's Chromium: Playwright's own browser download does not work here.
# (curl runs the vendor document's going-live commands in a test.)
chromium:
	@command -v chromium >/dev/null && command -v curl >/dev/null || { \
	  echo "Installing Debian's chromium and curl (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium curl; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint node chromium
	$(BIN)/pytest

sandbox: $(STAMP)
	$(BIN)/python -m sandbox

run: $(STAMP) node
	$(BIN)/python devstack.py

# The bot, the stock echo bot and a bare handler under load, each in its own process on
# loopback: prints the table, writes bench/results.json and docs/performance.md (with its chart).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,package,bench]'
	$(BIN)/python -m scripts.bench

# The card gallery: every card the bot sends, rendered under Teams' light and dark host configs,
# into docs/cards (PNGs and index.md). Fails on any render error or renderer warning.
gallery: $(STAMP) node chromium
	$(BIN)/python scripts/card_gallery.py

# Refresh the README's pictures: the browser test, saving into docs/screenshots.
screenshots: $(STAMP) node chromium
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/pytest tests/e2e/test_browser.py

BRAND ?= manifest/brands/contextsms.json
package: $(STAMP) node
	$(BIN)/python -m manifest.package --brand $(BRAND) $(if $(BOT_APP_ID),--bot-app-id $(BOT_APP_ID))

clean:
	rm -rf $(VENV) node_modules var dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
