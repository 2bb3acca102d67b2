# Configuration, run resolution and helpers shared by the rules.
import os
import sys
from pathlib import Path

import cw
import cw.codehash
import cw.config
import cw.steps.settings

try:
    _validated = cw.steps.settings.validate_config(config)
except cw.config.ConfigError as _err:
    sys.exit(f"config error: {_err}")
config.clear()
config.update(_validated)

OUT = config["output_dir"].rstrip("/")
_unknown = [name for name in config["only_runs"] if name not in config["runs"]]
if _unknown:
    sys.exit(f"config error: only_runs: no run {_unknown[0]!r} in the config (runs: {', '.join(config['runs'])})")
RUNS = {
    name: cw.config.resolve_run(config, name)
    for name in config["runs"]
    if not config["only_runs"] or name in config["only_runs"]
}


def _check_targets(argv):
    """A target file under <output_dir>/<run>/ that names no run of the config: one line naming
    it and the runs there are (instead of Snakemake's MissingRuleException)."""
    shared = {"figures", "logs", "benchmarks"}
    for arg in argv:
        if not arg.startswith(f"{OUT}/"):
            continue
        parts = arg[len(OUT) + 1 :].split("/")
        if len(parts) >= 2 and parts[0] not in RUNS and parts[0] not in shared:
            sys.exit(f"config error: {arg}: no run '{parts[0]}' in the config (runs: {', '.join(RUNS)})")


_check_targets(sys.argv[1:])

# Where each run's trained network lives (config networks_mode, see config.yaml):
#   train     -> <output_dir>/<run>/model/       trained by the train rule (make reproduce)
#   continue  -> <networks_dir>/<run>/           trained there, resuming a committed state
#   shipped   -> <networks_dir>/<run>/           used as it is; no train rule (make analyse)
NET_MODE = config["networks_mode"]
NET_DIR = config["networks_dir"].rstrip("/")
if NET_MODE == "shipped":
    import cw.network.networks

    # the command that continues a run of this config, named when its network is not finished
    _configfiles = "".join(f" --configfile {os.path.relpath(f)}" for f in workflow.overwrite_configfiles)
    for _run in RUNS.values():
        _train = f"snakemake --cores 1{_configfiles} --config networks_mode=continue 'only_runs=[{_run['name']}]'"
        try:
            cw.network.networks.check_shipped(f"{NET_DIR}/{_run['name']}", _run, _train)
        except cw.network.networks.NetworkError as _err:
            sys.exit(f"network error: {_err}")


#: Runs of Cueva & Wei's network (x, y read-out) and of the place-cell read-out network.
CW_RUNS = [r for r in sorted(RUNS) if RUNS[r]["readout"] == "position"]
PLACE_RUNS = [r for r in sorted(RUNS) if RUNS[r]["readout"] == "place_cells"]


def runs_regex(names):
    """Wildcard constraint matching exactly these run names (none: a pattern that never matches)."""
    return "|".join(names) if names else "(?!)"


wildcard_constraints:
    run="|".join(sorted(RUNS)),


def script_code(name):
    """Params value: the hash of the code a step script runs (cw.codehash). Snakemake's params
    trigger then reruns a step when, and only when, its code changes: comments, docstrings and
    code the step does not run never rerun it."""
    return cw.codehash.code_hash(Path(workflow.basedir) / "workflow" / "scripts" / name)


def run_param(*keys):
    """Params function: the value at RUNS[run][key0][key1]..., plain builtins."""

    def get(wildcards):
        value = RUNS[wildcards.run]
        for key in keys:
            value = value[key]
        return value

    return get


def analysis_param():
    """Params function: the analysis settings of a run, one mapping of its ``ratemaps``,
    ``scores``, ``shuffles`` and ``celltypes`` sections (cw.analysis.units.AnalysisSettings)."""

    def get(wildcards):
        return {k: RUNS[wildcards.run][k] for k in ("ratemaps", "scores", "shuffles", "celltypes")}

    return get


def run_path(name):
    return f"{OUT}/{{run}}/{name}"


def model_path(name, run="{run}"):
    """A trained network's file (weights.nc, checkpoints.nc, history.csv) of the networks mode."""
    if NET_MODE == "train":
        return f"{OUT}/{run}/model/{name}"
    return f"{NET_DIR}/{run}/{name}"


def log_path(rule):
    return f"{OUT}/logs/{rule}/{{run}}.log"


def benchmark_path(rule):
    return f"{OUT}/benchmarks/{rule}/{{run}}.tsv"


def all_outputs():
    per_run = [
        "trajectories.nc",
        "activity.nc",
        "ratemaps.nc",
        "scores.nc",
        "tuning.nc",
        "development.nc",
        "boundary.nc",
    ]
    figures = ["ratemaps.png", "ratemaps.pdf", "trajectories.png", "trajectories.pdf"]
    place_only = {"trajectories.nc", "boundary.nc"}  # a place-cell run draws its walks itself
    out = [f"{OUT}/{run}/{f}" for run in CW_RUNS for f in per_run]
    out += [f"{OUT}/{run}/{f}" for run in PLACE_RUNS for f in per_run if f not in place_only]
    out += [model_path(f, run) for run in RUNS for f in ("weights.nc", "checkpoints.nc", "history.csv")]
    out += [f"{OUT}/figures/{run}/{f}" for run in RUNS for f in figures]
    if CW_RUNS:
        out += [f"{OUT}/figures/training.png", f"{OUT}/figures/training.pdf"]
    out += figure_outputs()  # the paper's figures and the claims table (figures.smk)
    return out
