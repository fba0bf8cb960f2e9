# Rubric: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/rubric db upgrade
	$(BIN)/rubric content sync
	$(BIN)/rubric seed-demo
	@echo "Serving on http://127.0.0.1:$(PORT)"
	PORT=$(PORT) $(BIN)/rubric serve

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(VENV)/.installed-dev lint
	$(BIN)/pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/quiz_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
