# `make demo` and `make test` are the whole set-up on a fresh machine: each
# creates .venv when it is missing and installs what it needs into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: install demo test lint bench readme clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

install: $(STAMP)

# Finding the pitfalls is the point of the demo, so findings do not fail it.
demo: $(STAMP)
	$(BIN)/cio-fix --dry-run --exit-zero examples/

test: $(TEST_STAMP)
	$(BIN)/python -m pytest

lint: $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet ruff black
	$(BIN)/ruff check cio_fix tests
	$(BIN)/black --check cio_fix tests

# About 3 minutes on 2 CPUs; the corpora are generated in a temporary folder.
bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py

readme: $(STAMP)
	$(BIN)/python scripts/rule_table.py --write README.md

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
