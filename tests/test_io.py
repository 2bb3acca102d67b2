"""File handling: atomic writes, clear errors for missing or damaged files, determinism."""

import numpy as np
import pytest
import xarray as xr

from cw import io
from cw.task.arenas import make_arena
from cw.task.trajectories import TrajectoryParams, generate_trials


def _dataset():
    return xr.Dataset({"a": (("trial", "time"), np.arange(12.0).reshape(3, 4), {"units": "m", "long_name": "a"})})


def test_netcdf_round_trip_is_compressed_float32(tmp_path):
    path = tmp_path / "x.nc"
    io.write_netcdf(_dataset(), path)
    back = io.open_dataset(path, required=("a",))
    np.testing.assert_array_equal(back["a"].values, _dataset()["a"].values)
    assert back["a"].dtype == np.float32 and back["a"].attrs["units"] == "m"
    assert not list(tmp_path.glob(".*.part")), "no temporary file left behind"


def test_missing_truncated_and_foreign_files_name_the_file(tmp_path):
    with pytest.raises(io.InputFileError, match=r"nope\.nc: file not found"):
        io.open_dataset(tmp_path / "nope.nc")
    path = tmp_path / "cut.nc"
    io.write_netcdf(_dataset(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(io.InputFileError, match=r"cut\.nc: cannot read netCDF"):
        io.open_dataset(path)
    text = tmp_path / "text.nc"
    text.write_text("hello")
    with pytest.raises(io.InputFileError, match=r"text\.nc"):
        io.open_dataset(text)
    with pytest.raises(io.InputFileError, match=r"x\.nc: missing variable\(s\) b"):
        io.write_netcdf(_dataset(), tmp_path / "x.nc")
        io.open_dataset(tmp_path / "x.nc", required=("a", "b"))


def test_missing_checkpoint_or_weights_is_a_clear_error(tmp_path):
    from cw.steps.pipeline import extract_activity

    with pytest.raises(io.InputFileError, match="trajectories.nc: file not found"):
        extract_activity(str(tmp_path / "trajectories.nc"), str(tmp_path / "weights.nc"), str(tmp_path / "a.nc"), {})
    with pytest.raises(io.InputFileError, match=r"weights\.nc: file not found"):
        io.read_weights(tmp_path / "weights.nc")
    assert not (tmp_path / "a.nc").exists()


def test_same_seed_same_trajectories_and_scores():
    from cw.analysis.ratemaps import RatemapParams
    from cw.analysis.shuffles import ShuffleParams
    from cw.analysis.units import AnalysisSettings, analyse_units

    arena = make_arena("hexagon", {"shape": "hexagon", "side": 0.6})
    p = TrajectoryParams(n_steps=200)
    a = generate_trials(arena, 30, p, np.random.default_rng(4))
    b = generate_trials(arena, 30, p, np.random.default_rng(4))
    for k in ("speed", "heading", "position", "boundary"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    x, y = a.position[..., 0].ravel(), a.position[..., 1].ravel()
    act = np.cos(8 * x)[:, None] * np.ones((1, 5)) + np.random.default_rng(0).normal(0, 0.1, (x.size, 5))
    args = (x, y, act, arena, AnalysisSettings(RatemapParams(bin_size=0.1),
                                               shuffles=ShuffleParams(n_shuffles=5, min_shift=200)))
    d1, _ = analyse_units(*args, np.random.default_rng(9))
    d2, _ = analyse_units(*args, np.random.default_rng(9))
    xr.testing.assert_identical(d1, d2)


def test_outputs_follow_the_umask_not_0600(tmp_path):
    """Results are readable by the group (mkstemp alone would leave them 0600)."""
    import os

    import xarray as xr

    from cw.io import write_csv, write_netcdf

    old = os.umask(0o022)
    try:
        write_netcdf(xr.Dataset({"a": ("x", [1.0, 2.0])}), tmp_path / "a.nc")
        write_csv([{"a": 1}], tmp_path / "h.csv")
        os.umask(0o077)
        write_csv([{"a": 1}], tmp_path / "private.csv")
    finally:
        os.umask(old)
    assert (tmp_path / "a.nc").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "h.csv").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "private.csv").stat().st_mode & 0o777 == 0o600
