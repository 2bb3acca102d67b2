"""End to end: the Snakemake workflow on the tiny preset, then its incremental behaviour."""

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
OUT = "results/tiny"  # output_dir of workflow/presets/tiny.yaml
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
PER_RUN = [
    "trajectories.nc", "model/weights.nc", "model/checkpoints.nc", "model/history.csv",
    "activity.nc", "ratemaps.nc", "scores.nc", "tuning.nc", "development.nc", "boundary.nc",
]
FIGURES = ["ratemaps.png", "ratemaps.pdf", "trajectories.png", "trajectories.pdf"]


def _snakemake(workdir: Path, *args: str, configs=("config.yaml",), env=None) -> subprocess.CompletedProcess:
    cmd = SNAKEMAKE + ["--cores", "2", "--configfile", *configs, "--replace-workflow-config", *args]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=900, env=env)


def _jobs(dry_run_output: str) -> dict[str, int]:
    """Job counts per rule from the 'Job stats' table of a dry run."""
    if "Nothing to be done" in dry_run_output:
        return {}
    table = dry_run_output.split("Job stats:")[1]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M) if m[0] != "total"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    wd = tmp_path_factory.mktemp("workflow")
    shutil.copy(ROOT / "Snakefile", wd)
    shutil.copytree(ROOT / "workflow", wd / "workflow")
    shutil.copy(ROOT / "workflow/presets/tiny.yaml", wd / "config.yaml")
    res = _snakemake(wd)
    assert res.returncode == 0, res.stderr[-4000:]
    (wd / "first_run.out").write_text(res.stdout + res.stderr)
    return wd


@pytest.mark.slow
def test_no_tensorflow_start_up_noise_on_the_terminal(workdir):
    """TensorFlow's C++ start-up lines (oneDNN, CUDA probing) go to the job logs, not the terminal."""
    out = (workdir / "first_run.out").read_text()
    for noise in ("oneDNN", "cuda", "cuInit", "absl::InitializeLog"):
        assert noise not in out, noise


@pytest.mark.slow
def test_every_output_exists(workdir):
    for run in ("square", "triangle"):
        for f in PER_RUN:
            assert (workdir / OUT / run / f).is_file(), f"{run}/{f}"
        # train mode removes a finished training's state: a rerun of train trains afresh
        assert not (workdir / OUT / run / "model/training_state.npz").exists()
        for f in FIGURES:
            assert (workdir / OUT / "figures" / run / f).stat().st_size > 1000
        for rule in ("trajectories", "train", "activity", "ratemaps", "scores", "tuning", "development", "boundary"):
            assert (workdir / OUT / f"logs/{rule}/{run}.log").is_file()
            assert (workdir / OUT / f"benchmarks/{rule}/{run}.tsv").is_file()
    assert (workdir / OUT / "figures/training.png").is_file()


@pytest.mark.slow
def test_outputs_have_named_dims_units_and_parameters(workdir):
    cfg = yaml.safe_load((workdir / "config.yaml").read_text())
    with xr.open_dataset(workdir / OUT / "square/activity.nc") as act:
        assert act["u"].dims == ("trial", "time", "unit")
        assert act.sizes == {"trial": cfg["trajectories"]["n_test"], "time": cfg["trajectories"]["n_steps"], "unit": cfg["model"]["n_units"]}
        for v in ("u", "x", "y", "output_x", "output_y", "speed", "heading", "boundary"):
            assert "units" in act[v].attrs and "long_name" in act[v].attrs
        assert "params_model" in act.attrs
        assert np.isfinite(act["u"]).all() and (np.abs(act["u"]) <= 1).all()
    with xr.open_dataset(workdir / OUT / "square/ratemaps.nc") as rm:
        assert rm["rate"].dims == ("unit", "y", "x")
        assert np.isnan(rm["rate"].values[:, ~rm["inside"].values]).all()
    with xr.open_dataset(workdir / OUT / "triangle/ratemaps.nc") as rm:
        assert (~rm["inside"].values).sum() > 0  # triangle bins outside the polygon
    with xr.open_dataset(workdir / OUT / "square/scores.nc") as sc:
        assert set(sc.data_vars) >= {"score60", "score90", "border_score", "band_score", "cell_type"}
        assert sc.sizes["unit"] == cfg["model"]["n_units"]
        assert int(sc["type_count"].sum()) == cfg["model"]["n_units"]
    with xr.open_dataset(workdir / OUT / "square/development.nc") as dev:
        assert dev.sizes["checkpoint"] == cfg["training"]["n_checkpoints"]
        assert dev["update"].values[0] == 0 and dev.attrs["has_untrained_checkpoint"] == 1
        assert "untrained_count_grid_like" in dev.attrs and "final_count_border" in dev.attrs
    with xr.open_dataset(workdir / OUT / "square/ratemaps.nc") as rm:
        assert rm.attrs["skip_steps"] == cfg["ratemaps"]["skip_steps"]
    # C2 in the claims table agrees with the cell types the figures show
    import csv
    with open(workdir / OUT / "claims.csv") as fh:
        c2 = {r["run"]: r for r in csv.DictReader(fh) if r["claim"] == "C2"}
    assert set(c2) == {"square", "triangle"}
    for run, row in c2.items():
        with xr.open_dataset(workdir / OUT / f"{run}/scores.nc") as sc:
            n_grid = int((sc["cell_type"].values.astype(str) == "grid_like").sum())
        assert float(row["value"]) == n_grid
        assert row["verdict"] == ("holds" if n_grid >= 1 else "fails")
    md = (workdir / OUT / "claims.md").read_text()
    assert md.index("n_updates 3, n_units 12") < md.index("| claim |")
    assert "not the paper's test" in md
    with xr.open_dataset(workdir / OUT / "square/model/checkpoints.nc") as ck:
        assert ck["update"].values[0] == 0 and ck["update"].values[-1] == cfg["training"]["n_updates"]


@pytest.mark.slow
def test_second_dry_run_has_nothing_to_do(workdir):
    res = _snakemake(workdir, "-n")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Nothing to be done" in res.stdout + res.stderr


@pytest.mark.slow
def test_changing_one_run_reruns_only_its_chain_and_the_figures(workdir):
    (workdir / "change.yaml").write_text(yaml.safe_dump({"runs": {"triangle": {"loss": {"lambda_fr": 0.5}}}}))
    full = _snakemake(workdir, "-n", configs=("config.yaml", "change.yaml"))
    assert full.returncode == 0, full.stderr[-2000:]
    jobs = _jobs(full.stdout + full.stderr)
    assert jobs == {
        "train": 1, "activity": 1, "ratemaps": 1, "scores": 1, "tuning": 1, "development": 1, "boundary": 1,
        "figure_ratemaps": 1, "figure_trajectories": 1, "figure_training": 1, "all": 1,
        # the paper's figures: Fig. 2 and the claims table collect every run
        "figure_examples": 1, "figure_units": 1, "figure_development": 1, "figure_boundary": 1,
        "figure_tuning": 1, "figure_nulls": 1, "claims": 1,
    }
    out = full.stdout + full.stderr
    assert f"output: {OUT}/triangle/model/weights.nc" in out
    assert f"output: {OUT}/square" not in out
    # a trajectory parameter reruns the trajectories too, still only for that run
    (workdir / "change2.yaml").write_text(yaml.safe_dump({"runs": {"square": {"trajectories": {"turn_std": 0.05}}}}))
    jobs2 = _jobs(_snakemake(workdir, "-n", configs=("config.yaml", "change2.yaml")).stdout)
    assert jobs2.get("trajectories") == 1 and jobs2.get("train") == 1 and jobs2.get("figure_ratemaps") == 1


def test_bad_config_stops_snakemake_with_one_line_naming_the_key(tmp_path):
    shutil.copy(ROOT / "Snakefile", tmp_path)
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    cfg = yaml.safe_load((ROOT / "workflow/presets/tiny.yaml").read_text())
    cfg["runs"]["square"]["training"] = {"n_updates": 0}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    res = _snakemake(tmp_path, "-n")
    assert res.returncode != 0
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if "config error" in ln]
    assert lines == ["config error: runs.square.training.n_updates: 0 is less than the minimum of 1"]
    assert not (tmp_path / OUT).exists()


@pytest.mark.slow
def test_shipped_networks_retrain_exactly_and_analyse_without_training(workdir):
    """continue mode trains into networks/tiny/ (the shipped layout); the result equals the
    network that train mode made in results/; shipped mode then schedules no training job and
    refuses a network whose settings differ from the run's."""
    res = _snakemake(workdir, "--config", "networks_mode=continue", "--", "networks")
    assert res.returncode == 0, res.stderr[-3000:]
    for run in ("square", "triangle"):
        folder = workdir / "networks/tiny" / run
        for f in ("settings.json", "training_state.npz", "weights.nc", "checkpoints.nc", "history.csv"):
            assert (folder / f).is_file(), f
        with xr.open_dataset(folder / "weights.nc") as a, xr.open_dataset(workdir / OUT / run / "model/weights.nc") as b:
            for v in ("W_in", "W_rec", "b", "W_out"):
                np.testing.assert_array_equal(a[v].values, b[v].values)
    # analysis from the shipped networks: no train job, the rest of the chain reruns from them
    dry = _snakemake(workdir, "-n", "--config", "networks_mode=shipped")
    assert dry.returncode == 0, dry.stderr[-2000:]
    jobs = _jobs(dry.stdout + dry.stderr)
    assert "train" not in jobs and jobs.get("activity") == 2
    # a shipped network made with other settings is refused with one line
    (workdir / "other.yaml").write_text(yaml.safe_dump({"runs": {"triangle": {"loss": {"lambda_fr": 0.5}}}}))
    bad = _snakemake(workdir, "-n", "--config", "networks_mode=shipped", configs=("config.yaml", "other.yaml"))
    assert bad.returncode != 0
    lines = [ln for ln in (bad.stdout + bad.stderr).splitlines() if "network error" in ln]
    assert len(lines) == 1 and "networks/tiny/triangle" in lines[0] and "other settings" in lines[0]
    # ... naming the command that trains it with the same config files
    assert lines[0].endswith("--configfile config.yaml --configfile other.yaml --config networks_mode=continue 'only_runs=[triangle]'")


def test_a_one_run_config_schedules_exactly_one_training(tmp_path):
    """`snakemake --configfile my.yaml` with one run trains that run alone (config.yaml's default
    runs are a named set, which a user's runs replace) and the quick preset keeps all four."""
    shutil.copy(ROOT / "Snakefile", tmp_path)
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copy(ROOT / "config.yaml", tmp_path)
    (tmp_path / "my.yaml").write_text(yaml.safe_dump({"runs": {"mine": {"arena": "triangle", "seed": 5}}}))

    def dry(*configs):
        cmd = SNAKEMAKE + ["-n", "--cores", "2", *[a for c in configs for a in ("--configfile", c)]]
        res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        return _jobs(res.stdout + res.stderr), res.stdout + res.stderr

    jobs, out = dry("my.yaml")
    assert jobs["train"] == 1 and jobs["trajectories"] == 1
    assert "results/mine/" in out and "results/square/" not in out
    jobs, _ = dry("workflow/presets/quick.yaml")
    assert jobs["train"] == 4


def test_a_target_of_an_unknown_run_is_one_line(tmp_path):
    shutil.copy(ROOT / "Snakefile", tmp_path)
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copy(ROOT / "workflow/presets/tiny.yaml", tmp_path / "config.yaml")
    res = _snakemake(tmp_path, "-n", "--", f"{OUT}/sqare/scores.nc")
    assert res.returncode != 0
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if "config error" in ln]
    assert lines == [f"config error: {OUT}/sqare/scores.nc: no run 'sqare' in the config (runs: square, triangle)"]


def test_only_runs_restricts_the_workflow_to_the_named_runs(tmp_path):
    """only_runs: the jobs of the named runs alone, the claims table over them; an unknown name
    is one line naming the key."""
    shutil.copy(ROOT / "Snakefile", tmp_path)
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copy(ROOT / "workflow/presets/tiny.yaml", tmp_path / "config.yaml")
    res = _snakemake(tmp_path, "-n", "--config", "only_runs=[triangle]")
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout + res.stderr
    jobs = _jobs(out)
    assert jobs["train"] == 1 and jobs["scores"] == 1 and jobs["claims"] == 1
    assert f"{OUT}/triangle/" in out and f"{OUT}/square/" not in out
    res = _snakemake(tmp_path, "-n", "--config", "only_runs=[sqare]")
    assert res.returncode != 0
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if "config error" in ln]
    assert lines == ["config error: only_runs: no run 'sqare' in the config (runs: square, triangle)"]


@pytest.mark.slow
def test_a_code_edit_reruns_exactly_the_steps_that_run_that_code(workdir, tmp_path):
    """Each rule's params carry the hash of the code its step runs (cw.codehash): a comment
    reruns nothing, an edit in a figure module only figure jobs, an edit in a score module no
    training, no trajectories and no network run."""
    import os

    lib = tmp_path / "lib"
    shutil.copytree(ROOT / "cw", lib / "cw", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(lib)}

    def jobs_after(edit_file, text):
        path = lib / "cw" / edit_file
        original = path.read_text()
        path.write_text(original + text)
        try:
            res = _snakemake(workdir, "-n", env=env)
            assert res.returncode == 0, res.stderr[-2000:]
            jobs = _jobs(res.stdout + res.stderr)
            print(f"edit of cw/{edit_file} ({text.strip()[:30]!r}): {jobs}")  # shown with pytest -s
            return jobs
        finally:
            path.write_text(original)

    assert jobs_after("report/figures.py", "") == {}  # the copy itself changes nothing
    assert jobs_after("report/figures.py", "\n# a comment\n") == {}
    assert jobs_after("network/training.py", '\n\ndef _later():\n    """A docstring only."""\n') != {}  # code, not comment
    figs = jobs_after("report/figures.py", "\n\ndef _extra():\n    return 1\n")
    assert figs and all(r.startswith("figure_") or r in ("all", "claims") for r in figs), figs
    scores = jobs_after("analysis/scores/grid.py", "\n\ndef _extra():\n    return 1\n")
    assert scores.get("scores") == 2, scores
    assert not {"train", "trajectories", "activity"} & set(scores), scores


#: The last commit before the library was grouped into stage sub-packages (and the numerics moved).
REFERENCE_COMMIT = "040429c"


@pytest.mark.slow
def test_tiny_preset_weights_are_bit_identical_to_the_reference(workdir, tmp_path):
    """The tiny preset's trained weights equal, bit for bit, those of the library before it was
    grouped into stage sub-packages (commit REFERENCE_COMMIT), trained here on the same machine:
    bit identity holds per machine (TensorFlow's CPU kernels round differently on different CPUs,
    by ~1e-7), so the reference is recomputed from the repository's history, not stored."""
    git = shutil.which("git")
    if git is None or subprocess.run([git, "cat-file", "-e", REFERENCE_COMMIT], cwd=ROOT,
                                     capture_output=True).returncode != 0:
        pytest.skip(f"commit {REFERENCE_COMMIT} not in this clone (shallow clone or no git): no reference")
    old = tmp_path / "reference"
    old.mkdir()
    archive = subprocess.run([git, "archive", REFERENCE_COMMIT], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    targets = [f"{OUT}/{run}/model/weights.nc" for run in ("square", "triangle")]
    import os

    env = {**os.environ, "PYTHONPATH": str(old)}  # the reference commit's cw, not the installed one
    cmd = SNAKEMAKE + ["--cores", "2", "--configfile", "workflow/presets/tiny.yaml", "--replace-workflow-config",
                       "--", *targets]
    res = subprocess.run(cmd, cwd=old, capture_output=True, text=True, timeout=900, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    for run, target in zip(("square", "triangle"), targets):
        with xr.open_dataset(workdir / target) as new, xr.open_dataset(old / target) as ref:
            for k in ("W_in", "W_rec", "b", "W_out"):
                assert np.array_equal(new[k].values, ref[k].values), f"{run}/{k}"
