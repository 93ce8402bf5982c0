# The two README commands: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/python examples/abalone/run_demo.py

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/tabular_games.py
	$(BIN)/python bench/threads.py

lint: install
	$(BIN)/ruff check src tests examples
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo_output
