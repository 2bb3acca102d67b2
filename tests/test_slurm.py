"""The workflow through snakemake-executor-plugin-slurm against a real single-node SLURM.

`.ci/start-slurm` starts one (Debian's slurm-wlm and munge, as root). Where no SLURM node is up
the test is skipped with the reason; run `sudo .ci/start-slurm` first to include it.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _slurm_reason() -> str | None:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "SLURM client commands not installed (run .ci/start-slurm as root)"
    try:
        state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"sinfo failed: {exc}"
    if not any(s.strip().rstrip("*") in ("idle", "mixed", "allocated") for s in state.split()):
        return f"no SLURM node up (sinfo: {state.strip() or 'nothing'}); run .ci/start-slurm as root"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm not installed (pip install -e '.[test]')"
    return None


@pytest.mark.slow
def test_tiny_workflow_runs_through_slurm(tmp_path):
    reason = _slurm_reason()
    if reason:
        pytest.skip(reason)
    shutil.copy(ROOT / "Snakefile", tmp_path)
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copy(ROOT / "workflow/presets/tiny.yaml", tmp_path / "config.yaml")
    cmd = [
        sys.executable, "-m", "snakemake", "--workflow-profile", "workflow/profiles/slurm",
        "--configfile", "config.yaml", "--replace-workflow-config",
        # a test cluster without an accounting database or accounts
        "--slurm-no-account", "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1",
        "--latency-wait", "5", "--jobs", "4",
        "--set-resources", *[f"{r}:mem_mb=1000" for r in ("train", "activity", "development")],
        "--default-resources", "mem_mb=1000", "runtime=10",
        # one run's chain, from its trajectories to its analyses, is what the executor must carry;
        # the other run and the figures would repeat the same kinds of jobs
        "--config", "only_runs=[square]", "--",
        *[f"results/tiny/square/{f}" for f in ("model/weights.nc", "scores.nc", "development.nc", "boundary.nc")],
    ]

    def completed() -> int:  # jobs the controller remembers as finished (MinJobAge, .ci/start-slurm)
        out = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%T"], capture_output=True, text=True)
        return out.stdout.count("COMPLETED")

    before = completed()
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    assert "SLURM" in res.stdout + res.stderr  # the executor, not local execution, ran the jobs
    for f in ("model/weights.nc", "scores.nc", "development.nc", "boundary.nc"):
        assert (tmp_path / "results/tiny/square" / f).is_file(), f
    assert not (tmp_path / "results/tiny/triangle").exists()
    # the jobs really went through the scheduler: trajectories, train, activity, scores,
    # development, boundary
    assert completed() - before >= 6
