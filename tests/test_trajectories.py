"""Tests for cw.task.trajectories: the motion model against its specification (the paper, section 2)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import xarray as xr

from cw.task.arenas import make_arena
from cw.io import write_netcdf
from cw.task.trajectories import TrajectoryParams, Trials, generate_trials
from cw.task.trajectory_files import (
    arena_from_dataset,
    params_from_dataset,
    trials_dataset,
    trials_from_dataset,
)

# default arena sizes of the project config
SPECS = {
    "square": {"shape": "square", "side": 1.0},
    "triangle": {"shape": "triangle", "side": 1.5},
    "hexagon": {"shape": "hexagon", "side": 0.6},
    "irregular": {
        "shape": "polygon",
        "corners": [[0.0, 0.0], [1.2, 0.1], [1.4, 0.8], [0.6, 1.3], [-0.1, 0.7]],
    },
}
N_TRIALS = 500  # one training minibatch (PAPER: M = 500)


#: The previous default motion model: bouts with Rayleigh speeds, AR(1) turning.
BOUTS = {"generator": "bouts", "speed_max": None}


@pytest.fixture(scope="module", params=[(a, g) for g in ("code", "bouts") for a in SPECS])
def generated(request):
    name, generator = request.param
    arena = make_arena(name, SPECS[name])
    params = TrajectoryParams(**(BOUTS if generator == "bouts" else {"speed_max": 0.1}))
    trials = generate_trials(arena, N_TRIALS, params, np.random.default_rng(12345))
    return arena, params, trials


def _moving_bouts(moving: np.ndarray) -> np.ndarray:
    """Lengths of runs of True in each row of a (M, T) bool array, dropping runs that touch t=0."""
    lengths = []
    for row in moving:
        edges = np.diff(np.concatenate([[0], row.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        keep = (starts > 0) & (ends < row.size)
        lengths.append(ends[keep] - starts[keep])
    return np.concatenate(lengths)


# ---------------------------------------------------------------- basic contract
def test_shapes_dtypes_ranges(generated):
    arena, params, tr = generated
    m, t = N_TRIALS, params.n_steps
    assert tr.speed.shape == tr.heading.shape == tr.boundary.shape == (m, t)
    assert tr.position.shape == (m, t, 2)
    assert tr.speed.dtype == tr.heading.dtype == tr.position.dtype == np.float32
    assert tr.boundary.dtype == bool
    assert np.all(tr.speed >= 0)
    assert np.all(tr.speed <= np.float32(params.speed_cap))
    assert np.all((tr.heading >= 0) & (tr.heading < 2 * np.pi))


def test_positions_never_leave_the_polygon(generated):
    arena, _, tr = generated
    assert np.all(arena.contains(tr.position.astype(np.float64)))


def test_position_is_cumulative_sum_of_inputs(generated):
    _, _, tr = generated
    s = tr.speed.astype(np.float64)
    h = tr.heading.astype(np.float64)
    steps = np.stack([s * np.cos(h), s * np.sin(h)], axis=-1)
    expected = np.cumsum(steps, axis=1)  # from the origin
    # float32 storage of positions of magnitude < 1 m: rounding error < 6e-8 m
    np.testing.assert_allclose(tr.position, expected, rtol=0, atol=1e-6)


def test_zero_speed_fraction_and_stop_chain(generated):
    _, params, tr = generated
    if params.generator != "bouts":
        pytest.skip("the stop/move chain belongs to the bouts generator")
    moving = tr.speed > 0
    assert np.mean(~moving) == pytest.approx(params.zero_speed_fraction, abs=0.02)
    # transition probabilities of the two-state chain: 1/L (move->stop), 1/S (stop->move)
    prev, nxt = moving[:, :-1], moving[:, 1:]
    p_stop = np.sum(prev & ~nxt) / np.sum(prev)
    p_go = np.sum(~prev & nxt) / np.sum(~prev)
    assert p_stop == pytest.approx(1 / params.mean_run_steps, rel=0.07)
    assert p_go == pytest.approx(1 / params.mean_stop_steps, rel=0.07)
    # mean length of complete movement bouts (geometric, mean L)
    assert _moving_bouts(moving).mean() == pytest.approx(params.mean_run_steps, rel=0.05)
    # mean speed while moving (Rayleigh, mean speed_mean; the clip removes < 1e-5 of the mass)
    assert tr.speed[moving].mean() == pytest.approx(params.speed_mean, rel=0.03)


def test_boundary_interactions_only_near_walls(generated):
    arena, params, tr = generated
    assert tr.boundary.sum() > 0
    prev = np.concatenate([np.zeros((N_TRIALS, 1, 2), np.float32), tr.position[:, :-1]], axis=1)
    # a step from farther than the speed cap from every wall cannot leave
    near = arena.nearest_wall_distance(prev[tr.boundary].astype(np.float64))
    assert np.all(near <= params.speed_cap)
    # boundary interactions happen on moving steps; a re-draw that finds no heading (speed
    # recorded as 0) is rare with the default parameters
    assert np.mean(tr.speed[tr.boundary] > 0) > 0.99


@pytest.mark.parametrize("name", list(SPECS))
def test_boundary_interactions_exactly_where_straight_step_leaves(name):
    """With turn_std = 0 the heading is constant except at walls, so the unmodified step is known."""
    arena = make_arena(name, SPECS[name])
    params = TrajectoryParams(**BOUTS, turn_std=0.0, zero_speed_fraction=0.5, mean_run_steps=20.0)
    tr = generate_trials(arena, 100, params, np.random.default_rng(7))
    b = tr.boundary[:, 1:]
    h_prev, h = tr.heading[:, :-1], tr.heading[:, 1:]
    assert b.sum() > 100
    # heading unchanged except at boundary interactions
    assert np.all(h[~b] == h_prev[~b])
    # at every boundary interaction the straight step (old heading, drawn speed) leaves the arena
    moved = b & (tr.speed[:, 1:] > 0)
    assert np.mean(moved[b]) > 0.99
    p_prev = tr.position[:, :-1][moved].astype(np.float64)
    s = tr.speed[:, 1:][moved].astype(np.float64)
    hp = h_prev[moved].astype(np.float64)
    straight = p_prev + s[:, None] * np.stack([np.cos(hp), np.sin(hp)], axis=1)
    # outside, or within float32 rounding of the wall (the generator also rejects those)
    assert not np.any(arena.contains(straight, tol=-1e-6))
    # and the re-drawn heading does not (the recorded step is inside)
    assert np.all(arena.contains(tr.position[:, 1:][moved].astype(np.float64)))


def test_code_generator_step_statistics():
    """CODE model: moving steps i.i.d. with probability 1 - f, speed uniform in (0, v_max),
    heading increments i.i.d. N(0, heading_std^2) on every step (moving or not), no walls."""
    arena = make_arena("big", {"shape": "square", "side": 400.0})
    params = TrajectoryParams(zero_speed_fraction=0.9, speed_max=0.2, heading_std=1 / 3, n_steps=400)
    tr = generate_trials(arena, 500, params, np.random.default_rng(21))
    assert tr.boundary.sum() == 0
    moving = tr.speed > 0
    n = moving.size
    p = 0.1
    assert abs(moving.mean() - p) < 4 * math.sqrt(p * (1 - p) / n)  # binomial, 4 s.d.
    # independence across steps: P(moving | moving before) = P(moving)
    both = np.mean(moving[:, 1:] & moving[:, :-1]) / np.mean(moving[:, :-1])
    assert both == pytest.approx(p, abs=0.01)
    v = tr.speed[moving].astype(np.float64)
    assert v.max() < 0.2 and v.min() > 0
    assert v.mean() == pytest.approx(0.1, rel=0.01)  # uniform (0, 0.2): mean 0.1
    assert v.var() == pytest.approx(0.2**2 / 12, rel=0.03)  # variance v_max^2 / 12
    dh = np.angle(np.exp(1j * np.diff(tr.heading.astype(np.float64), axis=1)))
    assert dh.std() == pytest.approx(1 / 3, rel=0.01)
    assert abs(dh.mean()) < 0.005
    lag1 = np.mean(dh[:, 1:] * dh[:, :-1]) / np.mean(dh * dh)
    assert abs(lag1) < 0.01  # no memory
    # the heading also turns while the animal stands still
    still = ~moving[:, 1:]
    assert dh[still].std() == pytest.approx(1 / 3, rel=0.01)


@pytest.mark.parametrize("name", list(SPECS))
def test_code_generator_walls_redraw_around_the_previous_heading(name):
    """At a wall the new heading is a draw around the previous step's heading that stays inside."""
    arena = make_arena(name, SPECS[name])
    params = TrajectoryParams(speed_max=0.1, zero_speed_fraction=0.5)
    tr = generate_trials(arena, 200, params, np.random.default_rng(8))
    b = tr.boundary[:, 1:] & (tr.speed[:, 1:] > 0)
    assert b.sum() > 100
    dh = np.angle(np.exp(1j * (tr.heading[:, 1:].astype(np.float64) - tr.heading[:, :-1])))
    # most re-draws stay within a few s.d. of the previous heading (the s.d. grows slowly)
    assert np.median(np.abs(dh[b])) < 3 * params.heading_std
    assert np.all(arena.contains(tr.position.astype(np.float64)))


def test_no_boundary_interactions_in_a_huge_arena():
    arena = make_arena("big", {"shape": "square", "side": 200.0})
    tr = generate_trials(arena, 200, TrajectoryParams(), np.random.default_rng(3))
    assert tr.boundary.sum() == 0
    assert np.abs(tr.position).max() < 20.0


def test_angular_velocity_is_ar1_without_walls():
    """Heading increments follow w_t = a w_{t-1} + N(0, sd^2): lag-1 corr a, s.d. sd/sqrt(1-a^2)."""
    arena = make_arena("big", {"shape": "square", "side": 200.0})
    params = TrajectoryParams(**BOUTS)
    tr = generate_trials(arena, 200, params, np.random.default_rng(4))
    h = tr.heading.astype(np.float64)
    w = np.angle(np.exp(1j * np.diff(h, axis=1)))[:, 50:]  # drop the transient from w = 0
    a, sd = params.turn_memory, params.turn_std
    assert w.std() == pytest.approx(sd / math.sqrt(1 - a * a), rel=0.03)
    lag1 = np.mean(w[:, 1:] * w[:, :-1]) / np.mean(w * w)
    assert lag1 == pytest.approx(a, abs=0.02)
    # the initial heading is uniform: small mean resultant length (expected ~ 1/sqrt(200))
    assert abs(np.mean(np.exp(1j * tr.heading[:, 0].astype(np.float64)))) < 0.2


def test_spatial_coverage(generated):
    """With 200 trials >= 90 % of 0.1 m bins (centre >= 1 bin inside every wall) are visited.

    (Both generators: ``code`` with speeds up to 0.1 m/step here moves ~ 0.05 * 0.1 * 500 =
    2.5 m per trial.)

    With the default parameters each trial moves ~ 0.1 * 500 * 0.03 = 1.5 m. Over 10 seeds, 100
    trials already visited 100 % of these bins in all four arenas (50 trials: >= 97 %), so 200
    trials with a 90 % threshold leaves a wide margin while catching an arena that is not
    explored (e.g. a generator stuck near the centre or at one wall).
    """
    arena, _, tr = generated
    tr200 = tr.position[:200].reshape(-1, 2).astype(np.float64)
    bin_size = 0.1
    xmin, xmax, ymin, ymax = arena.bounds
    xe = np.arange(xmin, xmax + bin_size, bin_size)
    ye = np.arange(ymin, ymax + bin_size, bin_size)
    xc, yc = 0.5 * (xe[:-1] + xe[1:]), 0.5 * (ye[:-1] + ye[1:])
    centres = np.stack(np.meshgrid(xc, yc, indexing="ij"), axis=-1)
    valid = arena.contains(centres, tol=-bin_size)
    assert valid.sum() >= 40
    counts, _, _ = np.histogram2d(tr200[:, 0], tr200[:, 1], bins=[xe, ye])
    assert np.mean(counts[valid] > 0) >= 0.9


def test_seed_reproducibility():
    arena = make_arena("triangle", SPECS["triangle"])
    params = TrajectoryParams(n_steps=200)
    a = generate_trials(arena, 50, params, np.random.default_rng(11))
    b = generate_trials(arena, 50, params, np.random.default_rng(11))
    c = generate_trials(arena, 50, params, np.random.default_rng(12))
    for f in dataclasses.fields(Trials):
        np.testing.assert_array_equal(getattr(a, f.name), getattr(b, f.name))
    assert not np.array_equal(a.position, c.position)
    assert not np.array_equal(a.heading, c.heading)


def test_failed_redraws_give_zero_speed_and_stay_put():
    """A step so long that hardly any heading fits: failures must leave the animal in place."""
    arena = make_arena("square", SPECS["square"])
    params = TrajectoryParams(
        generator="bouts", speed_mean=0.3, speed_max=0.49, zero_speed_fraction=0.0, wall_max_resamples=0,
        n_steps=100,
    )
    tr = generate_trials(arena, 100, params, np.random.default_rng(5))
    failed = tr.boundary & (tr.speed == 0)
    assert failed.sum() > 0
    prev = np.concatenate([np.zeros((100, 1, 2), np.float32), tr.position[:, :-1]], axis=1)
    np.testing.assert_array_equal(tr.position[failed], prev[failed])
    assert np.all(arena.contains(tr.position.astype(np.float64)))


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_steps": 0}, "n_steps"),
        ({"n_steps": 2.5}, "n_steps"),
        ({"zero_speed_fraction": 1.0}, "zero_speed_fraction"),
        ({"zero_speed_fraction": -0.1}, "zero_speed_fraction"),
        ({"mean_run_steps": 0.5}, "mean_run_steps"),
        ({"generator": "bouts", "zero_speed_fraction": 0.1, "mean_run_steps": 2.0}, "mean_run_steps"),
        ({"generator": "walk"}, "generator"),
        ({"heading_std": -0.1}, "heading_std"),
        ({"wall_growth_every": 0}, "wall_growth_every"),
        ({"speed_mean": 0.0}, "speed_mean"),
        ({"speed_max": -1.0}, "speed_max"),
        ({"turn_memory": 1.0}, "turn_memory"),
        ({"turn_std": -0.01}, "turn_std"),
        ({"turn_std": float("nan")}, "turn_std"),
        ({"wall_resample_std": 0.0}, "wall_resample_std"),
        ({"wall_resample_growth": 0.9}, "wall_resample_growth"),
        ({"wall_max_resamples": -1}, "wall_max_resamples"),
        ({"wall_max_resamples": True}, "wall_max_resamples"),
    ],
)
def test_bad_params_raise_naming_key(kwargs, field):
    with pytest.raises(ValueError, match=rf"^trajectories\.{field}: "):
        TrajectoryParams(**kwargs)


def test_from_dict_and_speed_cap():
    p = TrajectoryParams.from_dict({"speed_mean": 0.02, "speed_max": None, "n_test": 7})
    assert p.speed_cap == pytest.approx(0.08)
    assert TrajectoryParams(speed_max=0.1).speed_cap == 0.1
    assert TrajectoryParams().mean_stop_steps == pytest.approx(45.0)
    with pytest.raises(ValueError, match=r"^trajectories\.bogus: unknown key"):
        TrajectoryParams.from_dict({"bogus": 1})


def test_generate_rejects_bad_arguments():
    arena = make_arena("square", SPECS["square"])
    with pytest.raises(ValueError, match=r"^trajectories\.speed_max: .*inradius"):
        generate_trials(arena, 5, TrajectoryParams(speed_max=0.6), np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_trials"):
        generate_trials(arena, 0, TrajectoryParams(), np.random.default_rng(0))


# ---------------------------------------------------------------- dataset / netCDF
def test_dataset_netcdf_round_trip(tmp_path):
    arena = make_arena("hexagon", SPECS["hexagon"])
    params = TrajectoryParams(n_steps=60)
    rng = np.random.default_rng(99)
    test = generate_trials(arena, 7, params, rng)
    ds = trials_dataset(test, arena, params, {"seed": 99, "note": "unit test"})

    assert ds.sizes == {"trial": 7, "time": 60}
    assert set(ds.coords) == {"trial", "time"}  # the held-out trials only: no subset coordinate
    assert ds["time"].attrs["units"] == "step"
    for name in ("speed", "heading", "x", "y", "boundary"):
        assert ds[name].dims == ("trial", "time")
        assert ds[name].attrs["long_name"] and ds[name].attrs["units"]
    assert ds["speed"].attrs["units"] == "m step-1"
    assert ds["heading"].attrs["units"] == "rad"
    assert ds["x"].attrs["units"] == ds["y"].attrs["units"] == "m"
    assert ds["boundary"].dtype == np.int8
    assert ds.attrs["arena_name"] == "hexagon" and ds.attrs["seed"] == 99
    assert len(ds.attrs["arena_corners"]) == 12
    for f in dataclasses.fields(TrajectoryParams):
        assert "trajectories_" + f.name in ds.attrs

    path = tmp_path / "trials.nc"
    write_netcdf(ds, path)  # the pipeline's writer: compressed, float32, flags kept int8
    with xr.open_dataset(path) as back:
        back = back.load()
    assert back["x"].encoding["zlib"] and back["x"].encoding["complevel"] == 4
    for got in (trials_from_dataset(ds), trials_from_dataset(back)):
        for f in dataclasses.fields(Trials):
            a, b = getattr(test, f.name), getattr(got, f.name)
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    p_back = params_from_dataset(back)
    assert p_back.speed_cap == params.speed_cap
    assert dataclasses.replace(p_back, speed_max=params.speed_max) == params
    a_back = arena_from_dataset(back)
    assert a_back.name == arena.name
    np.testing.assert_allclose(a_back.corners, arena.corners, atol=1e-15)
    assert back.attrs["note"] == "unit test"

    with pytest.raises(ValueError, match=r"attrs\.arena_name"):
        trials_dataset(test, arena, params, {"arena_name": "other"})
