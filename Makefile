# make up: the whole system on this machine until Ctrl-C, with its web page.
# make demo: the whole system end to end, on this machine.
# make test: the whole test suite (it starts its own Pub/Sub emulator).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up demo test lint format services browser install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

services:
	scripts/services.sh

# Debian's Chromium and ChromeDriver, for the browser tests (tests/browser).
browser:
	scripts/browser.sh

up: install services
	$(BIN)/python scripts/up.py

demo: install services
	$(BIN)/python scripts/demo.py

test: install services browser
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
