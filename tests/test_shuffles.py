"""Circular time-shift null distributions (cw.analysis.shuffles) on synthetic activity.

Setup: 120 trials x 500 steps (60,000 samples) of the project's trajectory generator in the
1 m square; "noise" units are AR(1) noise in time (time constant 20 steps) independent of
position; spatial units are functions of position plus such noise. Measured with the seed
below (40 noise units, 60 shuffles):

  score                      noise units significant   median p   mean noise score
  score60                    0.025                     0.56        0.10
  score90                    0.025                     0.44        0.17
  border_score               0.05                      1.00       -0.94  (ties at -1: no field)
  band_score                 0.10                      0.48        0.02
  spatial_variance_fraction  0.10                      0.43        0.13  (null mean the same)

(expected fraction significant: 0.05). The planted grid and wall-field units have
p = 1/61 (the smallest possible) for their own score.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from cw.task.arenas import make_arena
from cw.analysis.ratemaps import compute_ratemaps
from cw.analysis.scores import SCORE_NAMES, score_maps
from cw.analysis.shuffles import (
    ShiftedRatemaps,
    ShuffleParams,
    null_thresholds,
    p_values,
    shift_offsets,
    shuffle_null,
    significance_dataset,
)
from cw.task.trajectories import TrajectoryParams, generate_trials


def ar1(rng, n, units, tau=20.0):
    a = np.exp(-1.0 / tau)
    z = rng.normal(size=(n, units)) * np.sqrt(1 - a * a)
    return scipy.signal.lfilter([1.0], [1.0, -a], z, axis=0)


@pytest.fixture(scope="module")
def data():
    arena = make_arena("square", {"shape": "square", "side": 1.0})
    rng = np.random.default_rng(11)
    tr = generate_trials(arena, 120, TrajectoryParams(), rng)
    pos = tr.position.reshape(-1, 2).astype(np.float64)
    return arena, pos[:, 0], pos[:, 1], rng


def test_shifted_maps_equal_compute_ratemaps(data):
    arena, x, y, rng = data
    act = rng.normal(size=(x.size, 3))
    for sigma in (0.0, 1.0):
        b = ShiftedRatemaps(x, y, act, arena, 0.05, min_occupancy=3, smoothing_sigma=sigma)
        ref = compute_ratemaps(x, y, act, arena, 0.05, min_occupancy=3, smoothing_sigma=sigma)
        np.testing.assert_allclose(b.maps(0), ref["rate"].values, rtol=1e-12, atol=1e-12,
                                   equal_nan=True)
        np.testing.assert_array_equal(b.occupancy, ref["occupancy"].values)
        assert ref.attrs["smoothing_sigma"] == sigma
    # shift s pairs activity[t] with position[t - s]: same as rolling the activity back
    s = 12345
    ref = compute_ratemaps(x, y, np.roll(act, -s, axis=0), arena, 0.05)
    np.testing.assert_allclose(ShiftedRatemaps(x, y, act, arena, 0.05).maps(s),
                               ref["rate"].values, rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(b.variance, act.var(axis=0))


def test_many_shifts_from_runs_equal_direct_means(data):
    """maps_many (runs of samples in one bin, cumulative sums) against the direct mean of the
    shifted activity, shift by shift: zero, wrapping, negative and whole-series shifts, a dropped
    (non-finite) sample, smoothing; activity far from zero mean (the sums are centred)."""
    arena, x, y, rng = data
    x = x.copy()
    x[777] = np.nan
    act = 5.0 + rng.normal(size=(x.size, 4))
    shifts = np.array([0, 1, 12345, x.size - 3, -2500, x.size, 3 * x.size + 17])
    for sigma in (0.0, 1.0):
        b = ShiftedRatemaps(x, y, act, arena, 0.05, min_occupancy=2, smoothing_sigma=sigma)
        assert b._bins.n_dropped == 1
        start, end, rbin = b._bins.runs
        assert np.all(end > start) and np.all(rbin < b._bins.n_bins) and 0 < start.size < x.size / 5
        many = b.maps_many(shifts)
        assert many.shape == (shifts.size * 4, *b.occupancy.shape)
        for k, s in enumerate(shifts):
            ref = compute_ratemaps(x, y, np.roll(act, -int(s), axis=0), arena, 0.05, min_occupancy=2,
                                   smoothing_sigma=sigma)["rate"].values
            np.testing.assert_allclose(many[4 * k: 4 * k + 4], ref, rtol=1e-12, atol=1e-12,
                                       equal_nan=True)


def test_offsets_are_seeded_and_in_range():
    a = shift_offsets(10_000, 500, 500, np.random.default_rng(3))
    b = shift_offsets(10_000, 500, 500, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 500 and a.max() <= 9_500 and len(np.unique(a)) > 400
    with pytest.raises(ValueError, match="shuffles.min_shift"):
        shift_offsets(999, 10, 500, np.random.default_rng(0))


def test_noise_is_inside_the_null_and_planted_fields_are_not(data):
    arena, x, y, rng = data
    S = x.size
    n_noise = 40
    noise = ar1(rng, S, n_noise + 2)
    k = 4 * np.pi / (np.sqrt(3) * 0.35)
    grid = sum(np.cos(k * (np.cos(a) * x + np.sin(a) * y)) for a in np.deg2rad([10, 70, 130]))
    wall = np.exp(-((x + 0.5) ** 2) / (2 * 0.06**2))
    act = np.tanh(0.5 * noise)
    act[:, n_noise] = np.tanh(0.5 * grid + 0.2 * noise[:, n_noise])
    act[:, n_noise + 1] = np.tanh(wall + 0.2 * noise[:, n_noise + 1])
    b = ShiftedRatemaps(x, y, act, arena, 0.05)
    U = act.shape[1]
    real = score_maps(b.maps(0), b.x_centres, b.y_centres, arena, geometry=None,
                      occupancy=b.occupancy, activity_variance=b.variance, bin_size=0.05)

    def fn(m):
        return score_maps(m, b.x_centres, b.y_centres, arena, geometry=None,
                          occupancy=b.occupancy, activity_variance=np.tile(b.variance, m.shape[0] // U),
                          bin_size=0.05)

    params = ShuffleParams(n_shuffles=60, min_shift=500, batch_size=6)
    offs = shift_offsets(S, params.n_shuffles, params.min_shift, np.random.default_rng(5))
    null = shuffle_null(b, fn, offs, params.batch_size, names=SCORE_NAMES)
    assert set(null) == set(SCORE_NAMES) and null["score60"].shape == (60, U)
    ds = significance_dataset(real, null, offs, np.arange(U), params)
    for name in SCORE_NAMES:
        sig = ds[f"significant_{name}"].values[:n_noise]
        assert sig.mean() <= 0.15, (name, sig.mean())
        med = np.nanmedian(ds[f"p_{name}"].values[:n_noise])
        if name == "border_score":  # most noise maps and their shuffles tie at -1 (no field)
            assert med >= 0.3, med
        else:
            assert 0.3 <= med <= 0.7, (name, med)
    # noise scores are near zero in absolute terms too
    assert abs(np.mean(real["score60"][:n_noise])) < 0.2
    assert abs(np.mean(real["band_score"][:n_noise])) < 0.1
    # eta^2 of noise is not 0: slow noise and 45-step stops leave few independent samples per
    # bin (~0.13 here); the null has the same bias, which is why the threshold is per unit
    svf, svf0 = real["spatial_variance_fraction"][:n_noise], null["spatial_variance_fraction"][:, :n_noise]
    assert abs(np.mean(svf) - np.mean(svf0)) < 0.1 * np.mean(svf0)
    # the planted units: significant for their own score, with the smallest possible p-value
    g, w = n_noise, n_noise + 1
    assert ds["significant_score60"].values[g] and ds["p_score60"].values[g] == pytest.approx(1 / 61)
    assert ds["significant_border_score"].values[w] and ds["p_border_score"].values[w] == pytest.approx(1 / 61)
    assert ds["significant_spatial_variance_fraction"].values[[g, w]].all()
    assert real["spatial_variance_fraction"][g] > 0.5
    assert ds["shift"].attrs["units"] == "step" and ds.attrs["shuffles_percentile"] == 95.0


def test_thresholds_and_p_values():
    rng = np.random.default_rng(0)
    null = rng.normal(size=(200, 4))
    null[:, 3] = np.nan
    thr = null_thresholds(null, 95.0)
    np.testing.assert_allclose(thr[:3], np.percentile(null[:, :3], 95.0, axis=0))
    assert np.isnan(thr[3])
    obs = np.array([10.0, -10.0, np.nan, 1.0])
    p = p_values(obs, null)
    assert p[0] == pytest.approx(1 / 201) and p[1] == pytest.approx(1.0)
    assert np.isnan(p[2]) and np.isnan(p[3])


def test_params_validation():
    with pytest.raises(ValueError, match="shuffles.n_shuffles: must be >= 1"):
        ShuffleParams(n_shuffles=0)
    with pytest.raises(ValueError, match="shuffles.percentile"):
        ShuffleParams(percentile=100)
    with pytest.raises(ValueError, match="shuffles.min_shift"):
        ShuffleParams(min_shift=1.5)
    with pytest.raises(ValueError, match="shuffles.colour: unknown key"):
        ShuffleParams.from_dict({"colour": 1})
    assert ShuffleParams.from_dict({"n_shuffles": 7}).n_shuffles == 7
