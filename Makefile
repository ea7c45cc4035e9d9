# Clearance: two set-up commands, `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export CLEARANCE_HOME ?= $(CURDIR)/var

.PHONY: demo test lint typecheck check venv clean bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/.installed

demo: venv
	$(BIN)/clearance demo --host $(HOST) --port $(PORT)
	$(BIN)/clearance serve --host $(HOST) --port $(PORT)

test: venv lint typecheck
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check directory pki api tests bench
	$(BIN)/ruff format --check directory pki api tests bench

typecheck: venv
	$(BIN)/mypy

bench: venv
	$(BIN)/python bench/lookup.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
