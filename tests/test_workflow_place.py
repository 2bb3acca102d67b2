"""End to end: a run with the place-cell read-out goes through its own training, activity and
development steps and the shared rate-map, score and figure steps; beside Cueva & Wei's runs it
adds exactly its own jobs."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
PLACE = {
    "output_dir": "results/place", "networks_dir": "networks/place", "networks_mode": "continue",
    "arenas": {"box": {"shape": "square", "side": 2.2}},
    "runs": {"pc": {"arena": "box", "seed": 3, "readout": "place_cells"}},
    "place_cells": {"n_cells": 32}, "place_rnn": {"n_units": 12},
    "place_trajectories": {"n_test": 150, "n_steps_test": 20},
    "place_training": {"n_steps": 20, "batch_size": 8, "checkpoint_every": 10, "log_every": 5},
    "ratemaps": {"skip_steps": 0, "bin_size": 0.2}, "shuffles": {"n_shuffles": 3, "min_shift": 20},
    "development": {"n_shuffles": 2},
}


def _jobs(out: str) -> dict[str, int]:
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M) if m[0] != "total"}


def _copy(wd: Path) -> None:
    shutil.copy(ROOT / "Snakefile", wd)
    shutil.copytree(ROOT / "workflow", wd / "workflow")
    shutil.copy(ROOT / "config.yaml", wd)


def _run(wd: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = SNAKEMAKE + ["--cores", "2", "--configfile", "config.yaml", "place.yaml", *args]
    return subprocess.run(cmd, cwd=wd, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    wd = tmp_path_factory.mktemp("place_workflow")
    _copy(wd)
    (wd / "place.yaml").write_text(yaml.safe_dump(PLACE))
    res = _run(wd)
    assert res.returncode == 0, res.stderr[-4000:]
    return wd


def test_the_place_run_makes_its_files_with_named_dims(workdir):
    act = xr.open_dataset(workdir / "results/place/pc/activity.nc")
    assert act["u"].dims == ("trial", "time", "unit") and act["u"].shape == (150, 20, 12)
    assert float(act["u"].min()) >= 0.0  # ReLU rates
    assert act.attrs["readout"] == "place_cells" and act.attrs["rms_position_error_m"] > 0
    w = xr.open_dataset(workdir / "networks/place/pc/weights.nc")
    assert w["W_rec"].shape == (12, 12) and w["centres"].shape == (32, 2)
    assert np.all(np.abs(w["centres"].values) <= 1.1)  # inside the 2.2 m box
    dev = xr.open_dataset(workdir / "results/place/pc/development.nc")
    assert list(dev["update"].values) == [0, 10, 20]
    for name in ("ratemaps.png", "fig4_development.png", "score_nulls.png"):
        assert (workdir / "results/place/figures/pc" / name).stat().st_size > 1000
    assert not (workdir / "results/place/pc/boundary.nc").exists()  # the CTRNN's analysis only


def test_a_second_run_has_nothing_to_do(workdir):
    res = _run(workdir, "-n")
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr


def test_beside_cueva_and_wei_runs_a_place_run_adds_its_own_jobs(tmp_path):
    _copy(tmp_path)
    tiny = yaml.safe_load((ROOT / "workflow/presets/tiny.yaml").read_text())
    both = dict(PLACE, runs={**tiny["runs"], **PLACE["runs"]})
    (tmp_path / "place.yaml").write_text(yaml.safe_dump(both))
    res = _run(tmp_path, "-n")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = _jobs(res.stdout + res.stderr)
    n_cw = len(tiny["runs"])
    assert jobs["train"] == n_cw and jobs["train_place"] == 1
    assert jobs["trajectories"] == n_cw and jobs["boundary"] == n_cw
    assert jobs["activity"] == n_cw and jobs["activity_place"] == 1
    assert jobs["development"] == n_cw and jobs["development_place"] == 1
    assert jobs["scores"] == n_cw + 1 and jobs["claims"] == 1
