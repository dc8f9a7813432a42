# Two entry points for a fresh machine; each creates .venv and installs what it needs.
#   make run   - splitbench run --method modifier_retrieval on the embedded synthetic benchmark
#   make test  - the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first, pinned: on this project's machines these wheels come from local disk.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench clean

$(STAMP): pyproject.toml methods/pyproject.toml baselines/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[dev]" -e ./methods -e ./baselines
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/splitbench run --method modifier_retrieval

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# protocol, methods, hub and analysis need the official annotation files ($$SPLITBENCH_ANNOTATIONS)
bench: $(STAMP)
	$(BIN)/python bench/bench_protocol.py
	$(BIN)/python bench/bench_paper_protocol.py
	$(BIN)/python bench/bench_methods.py
	$(BIN)/python bench/bench_extract.py
	$(BIN)/python bench/bench_hub.py
	$(BIN)/python bench/bench_analysis.py

clean:
	rm -rf $(VENV) splitbench-results .pytest_cache .mypy_cache .ruff_cache
