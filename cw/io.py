"""Reading and writing the pipeline's files: netCDF datasets, weights, CSV histories.

Every writer goes through a temporary file in the destination folder and an atomic rename, so an
interrupted job never leaves a file that looks complete.  Every reader turns a missing, truncated
or foreign file into a one-line error that names the file.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import xarray as xr

from cw.atomic import atomic_path

#: The weight arrays of a network, in order (eq. 1-2: input, recurrent, bias, output).
WEIGHT_NAMES: tuple[str, ...] = ("W_in", "W_rec", "b", "W_out")

#: zlib level used for every netCDF variable (OURS: 4, a good size/speed trade-off).
COMPRESSION_LEVEL = 4

#: Dimension names of each weight array.
WEIGHT_DIMS = {
    "W_in": ("input", "unit"),
    "W_rec": ("presynaptic", "unit"),
    "b": ("unit",),
    "W_out": ("unit", "output"),
}
WEIGHT_LONG_NAMES = {
    "W_in": "input weights (input channel -> unit)",
    "W_rec": "recurrent weights (presynaptic unit -> postsynaptic unit)",
    "b": "learned bias",
    "W_out": "read-out weights (unit -> output coordinate)",
}


class InputFileError(RuntimeError):
    """A pipeline file is missing, truncated or not what it should be."""


def encoding_for(ds: xr.Dataset) -> dict:
    """zlib compression for every data variable; floats stored as float32."""
    enc = {}
    for name, var in ds.data_vars.items():
        e = {"zlib": True, "complevel": COMPRESSION_LEVEL}
        if np.issubdtype(var.dtype, np.floating):
            e["dtype"] = "float32"
        enc[name] = e
    return enc


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike) -> None:
    """Write ``ds`` compressed to ``path`` atomically (temporary file + rename)."""
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, encoding=encoding_for(ds), engine="netcdf4")


def open_dataset(path: str | os.PathLike, required: Iterable[str] = ()) -> xr.Dataset:
    """Load a netCDF file fully into memory, with a clear error if it is missing or unreadable.

    Parameters
    ----------
    path : file to read
    required : variable names that must be present
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: file not found")
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            ds = ds.load()
    except Exception as exc:  # netCDF4/HDF5 raise a zoo of types for cut or foreign files
        raise InputFileError(
            f"{path}: cannot read netCDF file ({type(exc).__name__}: {exc}); "
            f"it is damaged or cut: {repair_advice(path)}"
        ) from None
    missing = [v for v in required if v not in ds.variables]
    if missing:
        raise InputFileError(f"{path}: missing variable(s) {', '.join(missing)}")
    return ds


#: The checksum manifest of a shipped network's folder (:mod:`cw.network.networks`), in the format
#: of ``sha256sum``: one ``<hex digest>  <file name>`` line per file.
CHECKSUM_FILE = "SHA256SUMS"


def is_shipped(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file of the repository rather than one the workflow makes: listed in
    the :data:`CHECKSUM_FILE` of its folder, or tracked by git."""
    path = Path(path)
    manifest = path.parent / CHECKSUM_FILE
    if manifest.is_file():
        try:
            names = {line.split(maxsplit=1)[1].strip().lstrip("*") for line in manifest.read_text().splitlines()
                     if len(line.split(maxsplit=1)) == 2}
        except (OSError, UnicodeDecodeError):
            names = set()
        if path.name in names:
            return True
    if not path.parent.is_dir():
        return False
    try:
        res = subprocess.run(["git", "ls-files", "--error-unmatch", "--", path.name], cwd=path.parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return res.returncode == 0


def repair_advice(path: str | os.PathLike) -> str:
    """What to do about a damaged file: restore a shipped (tracked) one from git, delete a made
    one so that snakemake makes it again."""
    if is_shipped(path):
        return f"it is a shipped file: restore it with git checkout -- {path}"
    return "delete it and rerun snakemake to make it again"


def provenance() -> dict:
    """Global attributes recording the software that made a file."""
    import cw

    attrs = {"cw_version": cw.__version__}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        if commit:
            attrs["cw_git_commit"] = commit
    except (OSError, subprocess.SubprocessError):
        pass
    return attrs


def params_attrs(**sections: Mapping | None) -> dict:
    """Run parameters as netCDF global attributes: one JSON string per config section."""
    return {f"params_{k}": json.dumps(v or {}, sort_keys=True) for k, v in sections.items()}


def run_attrs(**sections: Mapping | None) -> dict:
    """Global attributes of a result file: provenance plus the run's parameters."""
    return {**provenance(), **params_attrs(**sections)}


# -- weights -------------------------------------------------------------------------------------
def weights_dataset(weights: Mapping[str, np.ndarray], attrs: Mapping | None = None) -> xr.Dataset:
    """One set of weights as a Dataset with named dims."""
    data = {
        k: (WEIGHT_DIMS[k], np.asarray(weights[k]), {"long_name": WEIGHT_LONG_NAMES[k], "units": "1"})
        for k in WEIGHT_NAMES
    }
    return xr.Dataset(data, attrs=dict(attrs or {}))


def checkpoints_dataset(
    updates: list[int], weights: list[Mapping[str, np.ndarray]], attrs: Mapping | None = None
) -> xr.Dataset:
    """Weights at several points of training, stacked along dim ``checkpoint``."""
    data = {
        k: (
            ("checkpoint",) + WEIGHT_DIMS[k],
            np.stack([np.asarray(w[k]) for w in weights]),
            {"long_name": WEIGHT_LONG_NAMES[k], "units": "1"},
        )
        for k in WEIGHT_NAMES
    }
    coords = {
        "update": (
            "checkpoint",
            np.asarray(updates, np.int64),
            {"long_name": "optimiser updates completed when the weights were saved", "units": "1"},
        )
    }
    return xr.Dataset(data, coords=coords, attrs=dict(attrs or {}))


def read_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Weights written by :func:`weights_dataset` (float32 arrays)."""
    ds = open_dataset(path, required=WEIGHT_NAMES)
    return {k: ds[k].values.astype(np.float32) for k in WEIGHT_NAMES}


# -- CSV -----------------------------------------------------------------------------------------
def write_csv(rows: list[Mapping], path: str | os.PathLike) -> None:
    """Write a list of flat dicts (same keys) as CSV, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0].keys()) if rows else [])
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | os.PathLike) -> list[dict]:
    """Rows of a CSV file as dicts of floats (where a value parses as a number)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: file not found")

    def conv(v: str):
        try:
            return float(v)
        except ValueError:
            return v

    with open(path, newline="") as fh:
        return [{k: conv(v) for k, v in row.items()} for row in csv.DictReader(fh)]
