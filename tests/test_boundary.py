"""Boundary analysis (cw.analysis.boundary, Fig. 6) recovers planted error patterns; long-path parts."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from cw import io
from cw.analysis.boundary import (
    BoundaryParams,
    binned_stats,
    boundary_curves,
    aligned_error,
    boundary_dataset,
    episode_drops,
    interaction_episodes,
    recent_interactions,
    simulate_long,
    squared_error,
    time_since_boundary,
    windowed_error,
)
from cw.network.model import ModelParams, encode_inputs, init_weights, simulate_numpy


def test_time_since_and_recent_counts():
    b = np.array([[0, 0, 1, 0, 0, 1, 1, 0],
                  [1, 0, 0, 0, 0, 0, 0, 0]], dtype=np.int8)
    np.testing.assert_array_equal(time_since_boundary(b), [[-1, -1, 0, 1, 2, 0, 0, 1],
                                                           [0, 1, 2, 3, 4, 5, 6, 7]])
    np.testing.assert_array_equal(recent_interactions(b, 3), [[-1, -1, 1, 1, 1, 1, 2, 2],
                                                              [-1, -1, 1, 0, 0, 0, 0, 0]])
    mean, sd, n = binned_stats(np.array([1.0, 3.0, 5.0, np.nan]), np.array([0, 0, 2, 1]), 3)
    np.testing.assert_array_equal(n, [2, 0, 1])
    assert mean[0] == 2.0 and sd[0] == 1.0 and np.isnan(mean[1]) and mean[2] == 5.0


def _flags(rng, M, T, p):
    return rng.random((M, T)) < p


def test_recovers_planted_growth_since_boundary_and_start():
    rng = np.random.default_rng(0)
    M, T = 300, 500
    b = _flags(rng, M, T, 0.01)
    since = time_since_boundary(b)
    t = np.broadcast_to(np.arange(T), (M, T))
    # planted: error grows 2e-4 m^2/step after an interaction, 1e-4 m^2/step from the start
    err = np.where(since >= 0, 1e-3 + 2e-4 * since, 1e-4 * t) + 1e-3 * rng.normal(size=(M, T))
    p = BoundaryParams(max_lag=150, recent_window=50, max_count=4)
    c = boundary_curves(err, b, p)
    mean, sd, n = c["since_boundary"]
    lags = np.arange(151)
    ok = n > 50
    slope, icpt = np.polyfit(lags[ok], mean[ok], 1)
    assert slope == pytest.approx(2e-4, rel=0.05) and icpt == pytest.approx(1e-3, abs=3e-4)
    mean0, _, n0 = c["since_start"]
    ok0 = n0 > 50
    assert np.polyfit(lags[ok0], mean0[ok0], 1)[0] == pytest.approx(1e-4, rel=0.05)
    assert n.sum() == np.sum((since >= 0) & (since <= 150))


def test_recovers_planted_drop_with_recent_interactions():
    rng = np.random.default_rng(1)
    M, T = 300, 500
    b = _flags(rng, M, T, 0.02)
    cnt = recent_interactions(b, 50)
    planted = np.array([0.05, 0.04, 0.03, 0.02, 0.015])
    err = np.where(cnt >= 0, planted[np.clip(cnt, 0, 4)], 9.0) + 0.002 * rng.normal(size=(M, T))
    c = boundary_curves(err, b, BoundaryParams(recent_window=50, max_count=4))
    mean, sd, n = c["recent"]
    np.testing.assert_allclose(mean, planted, atol=5e-4)  # samples without a full window excluded
    np.testing.assert_allclose(sd, 0.002, rtol=0.1)
    assert n.sum() == np.sum(cnt >= 0)


def test_interaction_episodes_by_hand():
    p = BoundaryParams(align_pre=2, align_post=5, quiet_steps=3, burst_window=3, drop_window=2)
    b = np.zeros((2, 20), bool)
    b[0, [1, 6, 7, 12, 14, 16]] = True  # 1: too early; 6 (+7) and 12 (+14): bursts of 2; 14, 16: not quiet
    b[1, [4, 17]] = True  # 4: episode of 1; 17: too close to the end (17 + 5 >= 20)
    ep = interaction_episodes(b, p)
    np.testing.assert_array_equal(ep, [[0, 6, 2], [0, 12, 2], [1, 4, 1]])
    err = np.tile(np.arange(20.0), (2, 1))
    before, after = episode_drops(aligned_error(err, ep, p), p)
    np.testing.assert_allclose(before, [4.5, 10.5, 2.5])  # mean of steps t0-2, t0-1
    np.testing.assert_allclose(after, [9.5, 15.5, 7.5])  # mean of steps t0+3, t0+4
    with pytest.raises(ValueError, match="boundary.drop_window"):
        BoundaryParams(quiet_steps=5, drop_window=6)
    with pytest.raises(ValueError, match="boundary.align_post"):
        BoundaryParams(align_post=20, burst_window=15, drop_window=10)


def _planted_resets(rng, M, T, p_flag, keep):
    """Error that grows 1e-4 m^2 per step and is multiplied by ``keep`` at every interaction."""
    b = _flags(rng, M, T, p_flag)
    err = np.zeros((M, T))
    e = np.zeros(M)
    for t in range(T):
        e = np.where(b[:, t], e * keep, e + 1e-4)
        err[:, t] = e
    return b, err


def test_recovers_planted_drop_after_episodes():
    from cw.analysis.claims import ClaimParams, c6_boundary

    rng = np.random.default_rng(4)
    M, T = 400, 500
    b, err = _planted_resets(rng, M, T, 0.01, 0.5)
    # bursts: a second interaction 1-5 steps after some of them
    p = BoundaryParams()
    ep = interaction_episodes(b, p)
    assert ep.shape[0] > 200 and np.any(ep[:, 2] >= 2) and np.all(ep[:, 2] >= 1)
    before, after = episode_drops(aligned_error(err, ep, p), p)
    # single interactions with no other one before the end of the after-window:
    # E - 4.5e-4 before (E: the error just before), E / 2 + 29.5e-4 after
    one = np.array([not b[m, t0 + 1:t0 + 35].any() for m, t0, _ in ep])
    np.testing.assert_allclose(after[one], 0.5 * (before[one] + 4.5e-4) + 2.95e-3, rtol=1e-9)
    ds = xr.Dataset({"x": (("trial", "time"), np.zeros((M, T))), "y": (("trial", "time"), np.zeros((M, T))),
                     "output_x": (("trial", "time"), np.sqrt(err)), "output_y": (("trial", "time"), np.sqrt(err)),
                     "boundary": (("trial", "time"), b.astype(np.int8))})
    out = boundary_dataset(ds, p)
    np.testing.assert_allclose(out["episode_error_before"].values, before, rtol=1e-9)
    a1 = out["error_aligned_mean"].sel(burst=1).values
    lag = out["align_lag"].values
    assert a1[lag == 0][0] < 0.6 * a1[lag == -1][0]  # the drop at the interaction
    assert int(out["episode_count"].sum()) == ep.shape[0]
    rows = {c.claim: c for c in c6_boundary("r", "square", out, ClaimParams())}
    assert rows["C6b"].verdict == "holds" and rows["C6c"].verdict == "holds"
    # control: the same flags, an error that ignores them
    ds["output_x"] = ds["output_y"] = (("trial", "time"), np.sqrt(1e-4 * np.broadcast_to(np.arange(T), (M, T))))
    rows = {c.claim: c for c in c6_boundary("r", "square", boundary_dataset(ds, p), ClaimParams())}
    assert rows["C6b"].verdict == "fails" and rows["C6b"].value < 0
    assert rows["C6c"].verdict == "fails"


def test_boundary_dataset_from_activity():
    rng = np.random.default_rng(2)
    M, T = 50, 200
    x = rng.uniform(-0.5, 0.5, (M, T))
    y = rng.uniform(-0.5, 0.5, (M, T))
    b = _flags(rng, M, T, 0.02)
    since = time_since_boundary(b)
    d = np.sqrt(np.where(since >= 0, 0.01 + 0.001 * since, 0.05))  # error per coordinate
    ds = xr.Dataset({"x": (("trial", "time"), x), "y": (("trial", "time"), y),
                     "output_x": (("trial", "time"), x + d), "output_y": (("trial", "time"), y - d),
                     "boundary": (("trial", "time"), b.astype(np.int8))})
    out = boundary_dataset(ds, BoundaryParams(max_lag=40))
    m = out["error_since_boundary_mean"].values
    ok = out["error_since_boundary_count"].values > 0
    np.testing.assert_allclose(m[ok], (0.01 + 0.001 * np.arange(41))[ok], rtol=1e-9)
    assert out["error_since_boundary_mean"].attrs["units"] == "m2"
    assert out.attrs["mse_test_m2"] == pytest.approx(np.mean(d**2))


def test_squared_error_and_windows():
    rng = np.random.default_rng(3)
    tgt = rng.normal(size=(25_000, 2))
    out = tgt + 0.1
    assert squared_error(out, tgt)[0] == pytest.approx(0.01)
    w = windowed_error(out, tgt, 10_000)
    np.testing.assert_array_equal(w["start"], [0, 10_000])  # last partial window dropped
    np.testing.assert_allclose(w["mean"], 0.01)
    np.testing.assert_allclose(w["sd"], 0.0, atol=1e-12)
    np.testing.assert_allclose(w["constant"], tgt.mean(axis=0))
    assert w["const_mse"] == pytest.approx(np.mean(np.var(tgt, axis=0)))
    with pytest.raises(ValueError, match="boundary.window_steps"):
        windowed_error(out[:10], tgt[:10], 100)


@pytest.mark.parametrize("nonlinearity", ["tanh", "retanh"])
def test_simulate_long_matches_reference_simulation(nonlinearity):
    rng = np.random.default_rng(4)
    mp = ModelParams(n_units=12, nonlinearity=nonlinearity)
    w = init_weights(mp, rng)
    w["W_out"] = rng.normal(0, 0.3, size=w["W_out"].shape).astype(np.float32)
    w["b"] = rng.normal(0, 0.2, size=w["b"].shape).astype(np.float32)
    T = 2_500
    speed = rng.rayleigh(0.03, T).astype(np.float32)
    heading = rng.uniform(0, 2 * np.pi, T).astype(np.float32)
    y = simulate_long(w, speed, heading, mp, chunk_steps=700)  # state carried over 4 chunks
    w64 = {k: v.astype(np.float64) for k, v in w.items()}
    _, y_ref = simulate_numpy(w64, encode_inputs(speed[None], heading[None], mp).astype(np.float64),
                              mp.alpha, nonlinearity=nonlinearity)
    np.testing.assert_allclose(y, y_ref[0], atol=2e-4)
    assert np.abs(y).max() > 0.1


def test_analyse_boundary_file_to_file(tmp_path):
    from cw.steps.analysis import analyse_boundary

    rng = np.random.default_rng(5)
    mp = {"n_units": 10}
    w = init_weights(ModelParams(**mp), rng)
    w["W_out"] = rng.normal(0, 0.05, size=w["W_out"].shape).astype(np.float32)
    io.write_netcdf(io.weights_dataset(w), tmp_path / "weights.nc")
    M, T = 20, 100
    x = rng.uniform(-0.5, 0.5, (M, T)).astype(np.float32)
    act = xr.Dataset({"x": (("trial", "time"), x), "y": (("trial", "time"), -x),
                      "output_x": (("trial", "time"), 0.9 * x), "output_y": (("trial", "time"), -x),
                      "boundary": (("trial", "time"), _flags(rng, M, T, 0.05).astype(np.int8))})
    io.write_netcdf(act, tmp_path / "activity.nc")
    arena = {"name": "square", "shape": "square", "side": 1.0}
    traj = {"n_test": 5, "n_steps": 100}
    analyse_boundary(str(tmp_path / "activity.nc"), str(tmp_path / "weights.nc"),
                     str(tmp_path / "boundary.nc"), mp, arena, traj,
                     {"long_path_factor": 250, "window_steps": 5000, "max_lag": 50}, seed=3)
    ds = io.open_dataset(tmp_path / "boundary.nc")
    assert ds.sizes["window"] == 5 and ds.sizes["lag"] == 51
    assert ds.attrs["long_path_steps"] == 25_000
    np.testing.assert_array_equal(ds["window_start"].values, np.arange(5) * 5000)
    assert np.all(ds["const_error_mean"].values > 0) and np.all(np.isfinite(ds["long_error_mean"]))
    assert ds.attrs["long_path_generate_s"] > 0 and '"long_path_factor": 250' in ds.attrs["params_boundary"]


def test_params_validation():
    with pytest.raises(ValueError, match="boundary.window_steps: must be >= 1"):
        BoundaryParams(window_steps=0)
    with pytest.raises(ValueError, match="boundary.max_lag: must be an integer"):
        BoundaryParams(max_lag=2.5)
    with pytest.raises(ValueError, match="boundary.lag: unknown key"):
        BoundaryParams.from_dict({"lag": 3})
