# Two commands:  make reproduce  |  make test
# Everything runs from a local virtual environment (.venv) built on first use from Python 3.11.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CORES  ?= all

.PHONY: setup reproduce quick test test-fast report readme clean-results

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 not found (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

## reproduce the paper: every run of config.yaml, every figure
reproduce: setup
	$(BIN)/snakemake --cores $(CORES)

## quick look: all runs and figures at reduced scale, into results/quick/
quick: setup
	$(BIN)/snakemake --cores $(CORES) --configfile workflow/presets/quick.yaml

## the whole test suite (unit tests and the end-to-end workflow test)
test: setup
	$(BIN)/python -m pytest

## unit tests only (skips the end-to-end workflow run)
test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

report: setup
	$(BIN)/snakemake --report results/report.html

## after `make reproduce`: figures into docs/ and the results section of README.md
## (WALL: the wall time of the run, as text, e.g. make readme WALL="1 h 20 min")
readme: setup
	@test -n "$(WALL)" || { echo 'error: give the wall time of the run, e.g. make readme WALL="1 h 20 min"'; exit 1; }
	$(BIN)/python -m cw.readme --results results --docs docs --wall "$(WALL)"

clean-results:
	rm -rf results/*/ .snakemake
