# Everything runs from a local virtual environment (.venv) built on first use from Python 3.11.
# `make help` lists the targets with what each costs on a 2-core machine.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CORES  ?= all
# pytest workers of make test (pytest-xdist; each test file stays on one worker, so the
# end-to-end workflow runs of a file share their fixtures)
TEST_WORKERS ?= 2
# analyse / train-networks / report: which config (PRESET=quick uses workflow/presets/quick.yaml)
PRESET ?=
# your own config file(s), merged over config.yaml (and the preset); checked first by
# python -m cw.steps.settings, which names the file, line and column of a YAML error
CONFIGFILE ?=
CONFIG := $(if $(PRESET),--configfile workflow/presets/$(PRESET).yaml,) $(if $(CONFIGFILE),--configfile $(CONFIGFILE),)
OUTDIR := $(if $(PRESET),results/$(PRESET),results)
CHECK   = $(BIN)/python -m cw.steps.settings $(if $(PRESET),workflow/presets/$(PRESET).yaml,) $(CONFIGFILE) >/dev/null

.PHONY: help setup reproduce quick analyse train-networks networks-status test test-fast report readme readme-study readme-verdicts study control clean-results

help:
	@echo "make quick            all runs, figures, claims at reduced scale (~15 min, 2 cores) -> results/quick/"
	@echo "make analyse          figures and claims from the networks shipped in networks/, no training"
	@echo "                      (PRESET=quick: from networks/quick/; minutes)"
	@echo "make train-networks   train or continue the shipped networks (1,900 updates: ~4 h per network"
	@echo "                      on one core); stop with Ctrl-C at any time, rerun to continue"
	@echo "make networks-status  one line per shipped network: updates done, last error"
	@echo "make study            the study of conditions (19 settings x 400 updates, ~30 core-hours);"
	@echo "                      ONLY=\"baseline,no_stops\": those runs alone; make readme-study: into README"
	@echo "make control          the read-out control: a Cueva & Wei network beside the place-cell network"
	@echo "                      and the theory maps -> docs/control.png (their analyses first if missing)"
	@echo "make readme-verdicts  every claim at the defaults beside the earlier defaults, into README"
	@echo "make reproduce        everything from scratch, training included (~8 h or more on 2 cores)"
	@echo "make test             the test suite (~10 min, 2 cores); make test-fast: unit tests only"
	@echo "make report           Snakemake HTML report of an output folder (PRESET=quick for results/quick)"
	@echo "make clean-results    move results/ aside to results.old-<date> (nothing is deleted)"
	@echo "CONFIGFILE=my.yaml    with reproduce, analyse, train-networks: your config over config.yaml"

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 not found (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

## reproduce the paper from scratch: every run of config.yaml trained, every figure
reproduce: setup
	@$(CHECK)
	$(BIN)/snakemake --cores $(CORES) $(CONFIG)

## quick look: all runs and figures at reduced scale, into results/quick/
quick: setup
	$(BIN)/snakemake --cores $(CORES) --configfile workflow/presets/quick.yaml

## every figure and the claims table from the shipped networks (no training job)
analyse: setup
	@$(CHECK)
	$(BIN)/snakemake --cores $(CORES) $(CONFIG) --config networks_mode=shipped

## train the shipped networks, or continue them from their committed training state
train-networks: setup
	@$(CHECK)
	$(BIN)/snakemake --cores $(CORES) $(CONFIG) --config networks_mode=continue -- networks

## the study of conditions (workflow/presets/study.yaml): train or continue its networks in
## networks/study/, then its table and figure in results/study/; ONLY="a,b": these runs alone
study: setup
	$(BIN)/snakemake --cores $(CORES) --configfile workflow/presets/study.yaml --config networks_mode=continue $(if $(ONLY),'only_runs=[$(ONLY)]',)

networks-status: setup
	@$(BIN)/python -m cw.network.networks networks

## the whole test suite (unit tests and the end-to-end workflow test)
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

## unit tests only (skips the end-to-end workflow run)
test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

report: setup
	$(BIN)/snakemake $(CONFIG) $(if $(filter shipped,$(MODE)),--config networks_mode=shipped,) --report $(OUTDIR)/report.html

## after a full run: figures into docs/ and the results section of README.md
## (WALL: the wall time of the run, as text, e.g. make readme WALL="1 h 20 min")
readme: setup
	@test -n "$(WALL)" || { echo 'error: give the wall time of the run, e.g. make readme WALL="1 h 20 min"'; exit 1; }
	$(BIN)/python -m cw.report.readme --results results --docs docs --wall "$(WALL)" $(if $(filter-out all,$(CORES)),--cores $(CORES),)

## the study's table and figure (after snakemake --configfile workflow/presets/study.yaml) into README.md
## (NOTE: text placed above the table, e.g. the columns and the compute)
readme-study: setup
	$(BIN)/python -m cw.report.readme --study results/study --docs docs $(if $(NOTE),--note "$(NOTE)",)

## every claim's verdict at the default settings beside the earlier defaults' (after make analyse
## and make analyse PRESET=tikhonov) into README.md
readme-verdicts: setup
	$(BIN)/python -m cw.report.readme --verdicts results/tikhonov results --labels "earlier defaults (Tikhonov damping, inputs in rad, speed x 10)" "authors' damping and inputs"

## the read-out control (README "A positive control"): the development analysis of a Cueva & Wei
## network (run CONTROL_XY of preset CONTROL_XY_PRESET, empty: config.yaml) and of the place-cell
## network, then cw.report.control draws them beside the theory maps of both read-outs
CONTROL_XY ?= square
CONTROL_XY_PRESET ?=
XY_DIR := $(if $(CONTROL_XY_PRESET),results/$(CONTROL_XY_PRESET),results)
control: setup
	$(BIN)/snakemake --cores $(CORES) $(if $(CONTROL_XY_PRESET),--configfile workflow/presets/$(CONTROL_XY_PRESET).yaml,) \
	    --config networks_mode=shipped 'only_runs=[$(CONTROL_XY)]' -- $(XY_DIR)/$(CONTROL_XY)/development.nc
	$(BIN)/snakemake --cores $(CORES) --configfile workflow/presets/placecells.yaml --config networks_mode=shipped \
	    -- results/placecells/place_dos/development.nc
	$(BIN)/python -m cw.report.control \
	    --network "Cueva & Wei network, (x, y) read-out, $(CONTROL_XY)$(if $(CONTROL_XY_PRESET), ($(CONTROL_XY_PRESET)),)=$(XY_DIR)/$(CONTROL_XY)/development.nc" \
	    --network "place-cell network, 512 ReLU units=results/placecells/place_dos/development.nc" \
	    --out docs/control.png

## results are hours of computing: moved aside, never deleted
clean-results:
	@if [ -d results ] && [ -n "$$(ls -A results 2>/dev/null | grep -v '^.gitkeep$$')" ]; then \
		dest=results.old-$$(date +%Y%m%d-%H%M%S); mkdir -p $$dest; \
		find results -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec mv {} $$dest/ \; ; \
		echo "results moved to $$dest (delete it yourself when sure)"; \
	else echo "results/ is empty"; fi
