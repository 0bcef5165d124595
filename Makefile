# Two entry points on a fresh machine (see README):
#   make demo   set up, train a tiny model on the shipped annotations offline, tag the seed articles, print
#   make test   set up, run the test suite
# torch is installed first and pinned: an unpinned torch would pull a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: setup demo test test-slow lint

$(BIN)/rasd: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev,onnx]"
	@touch $@

setup: $(BIN)/rasd

demo: setup
	$(BIN)/python scripts/demo.py

test: setup
	$(BIN)/python -P -m pytest -q

test-slow: setup
	$(BIN)/python -P -m pytest -q -m slow

lint: setup
	$(BIN)/ruff check .
