# Rubric: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The database-backed tests run a second time in scale-out mode: PostgreSQL, Redis and
# two real `rubric worker` processes (always in CI, where .ci/run starts the servers).
# Redis DB 9 is the suite's own: the fixtures empty it before every test.
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
TEST_BROKER_URL ?= redis://127.0.0.1:6379/9
DB_TESTS := tests/api tests/content tests/scoring tests/web tests/test_cli.py \
	tests/test_json_columns.py tests/test_migrations.py tests/scaleout tests/fuzz tests/lti tests/courses \
	tests/notebooks/test_sync.py tests/notebooks/test_api_*.py tests/notebooks/test_web_*.py \
	tests/notebooks/test_manual_*.py tests/notebooks/test_result_release.py tests/notebooks/test_feedback_export.py
# Tests mostly wait (on graders, servers, a browser), so they run in parallel, one test
# file per pytest-xdist worker at a time (module fixtures are set up once); 1 runs serially.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile
# The scale-out pass waits even more (on workers, Redis, PostgreSQL: under one core busy
# with two), so it runs four, each test on the next free worker (its fuzz tests apart).
SCALE_OUT_WORKERS ?= 4
REACHABLE := $(BIN)/python -c "import sys; from tests.scaleout.cluster import reachable; \
	sys.exit(any(map(reachable, sys.argv[1:])))"

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
	$(PYTEST)
	@if [ -n "$$CI" ] || $(REACHABLE) $(TEST_POSTGRES_URL) $(TEST_BROKER_URL); then \
		echo "== scale-out: database tests on PostgreSQL + Redis + 2 rubric workers"; \
		RUBRIC_TEST_DATABASE_URL=$(TEST_POSTGRES_URL) RUBRIC_TEST_BROKER_URL=$(TEST_BROKER_URL) \
			$(BIN)/pytest -n $(SCALE_OUT_WORKERS) --dist load -q $(wildcard $(DB_TESTS)); \
	else echo "PostgreSQL or Redis not reachable: skipped the scale-out pass (CI never skips it)"; fi

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/quiz_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
