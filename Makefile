# Two commands on a fresh clone (README Quick start): `make run` and `make test`.
# Each creates .venv inside the clone and installs what it needs; later calls reuse it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test test-thorough verify-thorough bench compare book clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# stamps: reinstall when pyproject.toml changes
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.all: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,notebooks,continuous,book]'
	touch $@

## run: TRIRL on the default grid world; writes runs/grid-icy_goal-*/ (ARGS="--world four_rooms" to change)
run: $(VENV)/.core
	$(BIN)/trirl grid $(ARGS)

## test: the whole suite with the bounded, deterministic hypothesis profile CI uses
test: $(VENV)/.all
	CI=true HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -n 2 -q $(PYTEST_ARGS)

## test-thorough: the deep property sweep (>= 10,000 examples per property); hours on 2 cores
test-thorough: $(VENV)/.all
	HYPOTHESIS_PROFILE=thorough $(BIN)/python -m pytest -q tests/test_properties.py $(PYTEST_ARGS)

## verify-thorough: `trirl verify` at 10,000 examples per property on both cores (about 40 min),
## into runs/verify-thorough.json; interrupted, the same command resumes where it stopped.
## The committed table of this profile is book/verify-thorough.json.
verify-thorough: $(VENV)/.core
	mkdir -p runs
	$(BIN)/trirl verify --thorough --seed 20261123 --jobs 2 --json runs/verify-thorough.json --resume

## bench: the tabular benchmark (prints figures, writes book/results/tabular-bench.json)
bench: $(VENV)/.core
	$(BIN)/trirl bench tabular

## compare: every tabular IRL method on every shipped world, with transfer (under two minutes);
## regenerates the committed book/results/compare (README "Comparing IRL methods")
compare: $(VENV)/.core
	$(BIN)/trirl compare --world all --iterations 300 --transfer --out book/results/compare --overwrite

## book: build the book (runs every chapter) into book/_build/html
book: $(VENV)/.all
	book/build.sh

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
