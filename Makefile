# The two README commands: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
PY312 ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench bench-estimators lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# the hf extra needs torch: its CPU wheel first, so that nothing asks pip for a CUDA build
	$(BIN)/python -m pip install --quiet 'torch==2.13.0'
	$(BIN)/python -m pip install --quiet -e '.[dev,text-extra,pdf,hf]'
	touch $(STAMP)

demo: install
	$(BIN)/python examples/abalone/run_demo.py
	$(BIN)/python examples/dbpedia/run_demo.py
	$(BIN)/python examples/reviews/run_demo.py
	$(BIN)/python examples/reviews/run_transformer_demo.py

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python -m pip install --quiet -e '.[dev,text-extra,pdf,hf,dask,bench]'
	$(BIN)/python bench/tabular_games.py
	$(BIN)/python bench/threads.py
	$(BIN)/python bench/text_games.py
	$(BIN)/python bench/serving.py
	$(BIN)/python bench/online.py
	$(BIN)/python bench/reports.py --json bench/results/reports.json
	$(BIN)/python bench/bias.py
	$(BIN)/python bench/hf_sentences.py
	$(BIN)/python bench/dask_backend.py
	$(BIN)/python bench/estimator_cost.py
	$(BIN)/python bench/target_error.py

# Shapley estimators against shapiq 1.8 (which needs Python >= 3.12) in a venv of its own: PY312 names it
bench-estimators:
	test -x .venv312/bin/python || $(PY312) -m venv .venv312
	.venv312/bin/python -m pip install --quiet -e . 'shapiq>=1.8' 'shap>=0.46' xgboost lightgbm
	.venv312/bin/python bench/estimators.py

lint: install
	$(BIN)/ruff check src tests examples bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo_output
