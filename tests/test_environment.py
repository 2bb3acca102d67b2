"""The rules' software environment (workflow/envs/cw.yaml) agrees with pyproject.toml, and every
rule that runs code declares it."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ENV = ROOT / "workflow" / "envs" / "cw.yaml"

#: pip name -> conda-forge name, where they differ
CONDA_NAMES = {"netCDF4": "netcdf4", "matplotlib": "matplotlib-base", "snakemake": "snakemake-minimal"}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    return m[1], m[2].replace(" ", "")


def test_the_environment_pins_what_pyproject_needs():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load(ENV.read_text())
    conda = dict(_split(d) for d in env["dependencies"] if isinstance(d, str))
    want = {CONDA_NAMES.get(n, n.lower()): spec for n, spec in map(_split, deps)}
    python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert conda == {**want, "python": python, "pip": ""}
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-e ../.."] and (ENV.parent / "../..").resolve() == ROOT  # this checkout, deps from conda


def test_every_rule_that_runs_code_declares_the_environment():
    checked = 0
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        blocks = re.split(r"^\s*rule\s+(\w+):", smk.read_text(), flags=re.M)
        for name, body in zip(blocks[1::2], blocks[2::2]):
            if re.search(r"^\s*script:", body, flags=re.M):
                checked += 1
                assert re.search(r'^\s*conda:\s*\n\s*"\.\./envs/cw\.yaml"', body, flags=re.M), f"{smk.name}: rule {name}"
    assert checked >= 20
