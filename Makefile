# Two entry points for a fresh machine; each creates .venv and installs what it needs.
#   make run   - splitbench run --method modifier_retrieval on the embedded synthetic benchmark
#   make test  - the test suite
# Variables (make run VAR=value):
#   PYTHON          interpreter for the venv (>= 3.11)                       [python3]
#   TORCH_SPEC      the torch/torchvision requirement                        [pinned below]
#   TORCH_INDEX_URL where torch comes from; CPU-only wheels (no 3 GB of CUDA libraries) with
#                   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu     [PyPI]
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
TORCH_INDEX_URL ?=
STAMP := $(VENV)/.installed
# Sizes: du -sh of an installed .venv on Linux x86-64 (2026-12): torch, torchvision, triton and
# the nvidia-* CUDA libraries 5.2 GB; everything else 1.3 GB. The CPU-only torch wheel is 0.2 GB.
SETUP_NOTE := one-time set-up of $(VENV): $(TORCH_SPEC) \
  $(if $(TORCH_INDEX_URL),from $(TORCH_INDEX_URL),from PyPI (about 5 GB installed, mostly CUDA libraries; \
  without a GPU, make ... TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu installs CPU-only wheels instead)), \
  then splitbench and its other dependencies (about 1.3 GB). This takes a few minutes; later \
  calls skip it.

.PHONY: setup run test lint bench clean readme-check

$(STAMP): pyproject.toml methods/pyproject.toml baselines/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: splitbench needs Python >= 3.11; $(PYTHON) is $$($(PYTHON) -V 2>&1) (make PYTHON=python3.11 ...)" >&2; \
	  exit 2; }
	@echo "splitbench: $(SETUP_NOTE)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --progress-bar on $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL)) $(TORCH_SPEC)
	$(BIN)/python -m pip install --progress-bar on -e ".[dev]" -e ./methods -e ./baselines
	touch $(STAMP)
	@echo "splitbench: set-up done. Call it directly as $(BIN)/splitbench, or run '. $(BIN)/activate' once per shell and then just 'splitbench'."

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/splitbench run --method modifier_retrieval
	@echo "splitbench: next, try '$(BIN)/splitbench --help' (or '. $(BIN)/activate' once, then 'splitbench ...' as in the README's tour)."

# pytest-xdist: one test process per CPU, at most 4 (each builds its own synthetic stores);
# on 2 cores (2026-12-02) the suite took 3 min 56 s against 5 min 30 s serially, which plain
# `pytest` still does.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4

# every runnable README command, with the official files ($$SPLITBENCH_ANNOTATIONS) when set
readme-check: $(STAMP)
	$(BIN)/python tools/readme_walkthrough.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports  # the import contract: [tool.importlinter] in pyproject.toml

# protocol, methods, hub and analysis need the official annotation files ($$SPLITBENCH_ANNOTATIONS)
bench: $(STAMP)
	$(BIN)/python bench/bench_protocol.py
	$(BIN)/python bench/bench_paper_protocol.py
	$(BIN)/python bench/bench_methods.py
	$(BIN)/python bench/bench_extract.py
	$(BIN)/python bench/bench_hub.py
	$(BIN)/python bench/bench_analysis.py
	$(BIN)/python bench/bench_store_open.py
	$(BIN)/python bench/bench_sessions.py
	$(BIN)/python bench/bench_reader.py
	$(BIN)/python bench/bench_startup.py

clean:
	rm -rf $(VENV) splitbench-results .pytest_cache .mypy_cache .ruff_cache
