# Two entry points on a fresh machine (see README):
#   make demo   set up, train a tiny model on the shipped annotations offline, tag the seed articles, print
#   make test   set up, run the test suite
#   make test-floor   the same suite in .venv-floor, each dependency at its pyproject.toml floor
# torch is installed first and pinned: an unpinned torch would pull a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
FLOOR_VENV ?= .venv-floor
FLOOR_BIN := $(FLOOR_VENV)/bin

.PHONY: setup demo test test-slow test-floor lint

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

# Oldest supported versions: scripts/floor_constraints.py turns each `>=` floor of the dependencies
# (and of the datasets extra, which dev pulls in) into `name==floor`; torch first, as above.
$(FLOOR_BIN)/rasd: pyproject.toml scripts/floor_constraints.py
	$(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_BIN)/pip install -q --upgrade pip
	$(FLOOR_BIN)/pip install -q "$(TORCH)"
	$(PYTHON) scripts/floor_constraints.py --extra datasets > $(FLOOR_VENV)/floor-constraints.txt
	$(FLOOR_BIN)/pip install -q -e ".[dev,onnx]" -c $(FLOOR_VENV)/floor-constraints.txt
	@touch $@

test-floor: $(FLOOR_BIN)/rasd
	@echo "floors: $$(tr '\n' ' ' < $(FLOOR_VENV)/floor-constraints.txt)"
	$(FLOOR_BIN)/pip check
	$(FLOOR_BIN)/python -P -m pytest -q

test-slow: setup
	$(BIN)/python -P -m pytest -q -m slow

lint: setup
	$(BIN)/ruff check .
