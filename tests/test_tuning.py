"""Direction and speed tuning (cw.analysis.tuning) recover planted tuning."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from cw.analysis.tuning import TuningParams, binned_mean, direction_tuning, speed_tuning, tuning_dataset


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    M, T = 40, 500
    heading = rng.uniform(0, 2 * np.pi, size=(M, T)).astype(np.float32)
    moving = rng.random((M, T)) < 0.3
    speed = np.where(moving, rng.rayleigh(0.024, size=(M, T)), 0.0).clip(0, 0.12).astype(np.float32)
    return rng, heading, speed


def test_direction_tuning_recovers_preferred_direction_and_R(inputs):
    rng, heading, speed = inputs
    prefs = np.array([0.0, 37.0, 123.0, 250.0, 359.0])
    amp = np.array([0.3, 0.2, 0.4, 0.1, 0.25])
    h = heading[..., None].astype(np.float64)
    u = 0.1 + amp * np.cos(h - np.deg2rad(prefs)) + 0.05 * rng.normal(size=h.shape[:2] + (5,))
    # stationary samples carry an unrelated, strongly direction-dependent signal
    u = np.where(speed[..., None] > 0, u, 0.8 * np.sin(3 * h))
    u = np.concatenate([u, 0.2 + 0.05 * rng.normal(size=h.shape[:2] + (1,))], axis=-1)  # untuned
    out = direction_tuning(heading, u, speed, TuningParams())
    d = np.abs((out["preferred_direction"][:5] - prefs + 180.0) % 360.0 - 180.0)
    assert np.all(d < 3.0), d
    # a cosine curve a + b cos(theta - phi) minus its minimum gives R = 1/2
    np.testing.assert_allclose(out["resultant_length"][:5], 0.5, atol=0.03)
    np.testing.assert_allclose(out["modulation"][:5], 2 * amp, rtol=0.1)
    assert out["resultant_length"][5] < 0.25 and out["modulation"][5] < 0.05
    assert out["curve"].shape == (36, 6) and out["count"].sum() == np.sum(speed > 0)
    np.testing.assert_allclose(out["centres"][:2], [5.0, 15.0])
    # with all samples the stationary signal dominates and the planted cosines are lost
    allsamp = direction_tuning(heading, u, speed, TuningParams(moving_only=False))
    assert np.all(np.abs(allsamp["resultant_length"][:5] - 0.5) > 0.05)


def test_speed_tuning_recovers_slopes(inputs):
    rng, heading, speed = inputs
    slopes = np.array([0.0, 5.0, -8.0, 12.0])
    s = speed[..., None].astype(np.float64)
    noise = 0.05 * rng.normal(size=s.shape[:2] + (4,))
    u = 0.1 + slopes * s + noise
    out = speed_tuning(speed, u, TuningParams())
    np.testing.assert_allclose(out["slope"], slopes, atol=0.15)
    np.testing.assert_allclose(out["intercept"], 0.1, atol=0.01)
    sd_s = speed.std()
    r_expected = slopes * sd_s / np.sqrt(slopes**2 * sd_s**2 + 0.05**2)
    np.testing.assert_allclose(out["r"], r_expected, atol=0.03)
    assert out["curve"].shape == (11, 4) and out["centres"][0] == 0.0
    assert out["count"][0] == np.sum(speed == 0) and out["count"].sum() == speed.size
    # the binned curve follows the line
    ok = np.isfinite(out["curve"][:, 3])
    np.testing.assert_allclose(out["curve"][ok, 3], 0.1 + 12.0 * out["centres"][ok], atol=0.06)


def test_lag_pairs_activity_with_earlier_input(inputs):
    rng, heading, speed = inputs
    lag = 7
    s = speed.astype(np.float64)
    u = np.zeros(s.shape + (1,))
    u[:, lag:, 0] = 10.0 * s[:, :-lag]
    good = speed_tuning(speed, u, TuningParams(lag_steps=lag))
    bad = speed_tuning(speed, u, TuningParams(lag_steps=0))
    assert good["r"][0] == pytest.approx(1.0, abs=1e-9) and good["slope"][0] == pytest.approx(10.0)
    assert abs(bad["r"][0]) < 0.2


def test_binned_mean_and_min_samples():
    idx = np.array([0, 0, 1, 2, 2, 2, -1, 5])
    act = np.arange(8.0)[:, None]
    curve, count = binned_mean(idx, act, 3, min_samples=2)
    np.testing.assert_array_equal(count, [2, 1, 3])
    assert curve[0, 0] == 0.5 and np.isnan(curve[1, 0]) and curve[2, 0] == 4.0


def test_tuning_dataset(inputs):
    rng, heading, speed = inputs
    M, T = heading.shape
    u = rng.normal(size=(M, T, 3)).astype(np.float32)
    ds = xr.Dataset({"u": (("trial", "time", "unit"), u),
                     "speed": (("trial", "time"), speed), "heading": (("trial", "time"), heading)},
                    coords={"unit": [3, 4, 5]})
    out = tuning_dataset(ds, TuningParams(n_direction_bins=12, n_speed_bins=4))
    assert out["direction_curve"].dims == ("direction", "unit") and out.sizes["direction"] == 12
    assert out["speed_curve"].dims == ("speed_bin", "unit") and out.sizes["speed_bin"] == 5
    assert list(out["unit"].values) == [3, 4, 5]
    for v in ("resultant_length", "preferred_direction", "speed_slope", "speed_r"):
        assert out[v].dims == ("unit",) and "units" in out[v].attrs
    assert out.attrs["tuning_moving_only"] == 1 and out.attrs["tuning_n_direction_bins"] == 12
    assert np.all(np.abs(out["speed_r"]) < 0.05)


def test_params_validation():
    with pytest.raises(ValueError, match="tuning.n_direction_bins"):
        TuningParams(n_direction_bins=2)
    with pytest.raises(ValueError, match="tuning.lag_steps"):
        TuningParams(lag_steps=-1)
    with pytest.raises(ValueError, match="tuning.moving_only"):
        TuningParams(moving_only=1)
    with pytest.raises(ValueError, match="tuning.bins: unknown key"):
        TuningParams.from_dict({"bins": 3})
    with pytest.raises(ValueError, match="tuning.lag_steps"):
        speed_tuning(np.ones(10), np.ones((10, 1)), TuningParams(lag_steps=2))


def test_analyse_tuning_file_to_file(tmp_path, inputs):
    from cw import io
    from cw.steps.analysis import analyse_tuning

    rng, heading, speed = inputs
    u = (0.2 * np.cos(heading - 1.0) + 3.0 * speed)[..., None].astype(np.float32)
    ds = xr.Dataset({"u": (("trial", "time", "unit"), u),
                     "speed": (("trial", "time"), speed), "heading": (("trial", "time"), heading)},
                    coords={"unit": [0]})
    io.write_netcdf(ds, tmp_path / "activity.nc")
    analyse_tuning(str(tmp_path / "activity.nc"), str(tmp_path / "tuning.nc"), {"n_speed_bins": 6})
    out = io.open_dataset(tmp_path / "tuning.nc")
    assert out.sizes["speed_bin"] == 7 and out.attrs["tuning_n_speed_bins"] == 6
    assert abs(float(out["preferred_direction"][0]) - np.rad2deg(1.0)) < 3.0
    assert float(out["speed_slope"][0]) == pytest.approx(3.0, abs=0.3)
    assert "params_tuning" in out.attrs
