"""The run-ahead generator of the long test path equals the per-step generator bit for bit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cw.steps.settings import load_config
from cw.task.arenas import make_arena
from cw.task.long_path import generate_long_trial
from cw.task.trajectories import TrajectoryParams, generate_trials

CFG = load_config("config.yaml")


def _params(**kw) -> TrajectoryParams:
    base = TrajectoryParams.from_dict(CFG["trajectories"])
    return dataclasses.replace(base, **kw)


def _arena(name):
    return make_arena(name, {k: v for k, v in CFG["arenas"][name].items() if k != "name"})


@pytest.mark.parametrize("name", ["square", "triangle", "hexagon"])
@pytest.mark.parametrize("seed", [0, 1])
def test_long_trial_equals_the_per_step_generator(name, seed):
    p = _params(n_steps=20_000)
    a = generate_trials(_arena(name), 1, p, np.random.default_rng(seed))
    b = generate_long_trial(_arena(name), p, np.random.default_rng(seed))
    for f in ("speed", "heading", "position", "boundary"):
        np.testing.assert_array_equal(getattr(b, f), getattr(a, f), err_msg=f)
    assert 50 < a.boundary.sum() < 2_000  # the walls were met many times


def test_failed_redraws_and_frequent_walls_are_followed():
    """Fast, rarely still, few re-draws before the uniform one: walls every few steps, and steps
    where no draw is accepted (the animal stays put, its speed recorded as 0)."""
    p = _params(n_steps=5_000, zero_speed_fraction=0.0, speed_max=0.5, wall_max_resamples=1,
                heading_std=0.05)
    ar = _arena("triangle")
    a = generate_trials(ar, 1, p, np.random.default_rng(3))
    b = generate_long_trial(ar, p, np.random.default_rng(3))
    for f in ("speed", "heading", "position", "boundary"):
        np.testing.assert_array_equal(getattr(b, f), getattr(a, f), err_msg=f)
    assert a.boundary.sum() > 500
    assert np.sum(a.boundary & (a.speed == 0)) > 0  # some re-draws all failed


def test_bouts_generator_goes_through_the_per_step_generator():
    p = _params(n_steps=2_000, generator="bouts")
    a = generate_trials(_arena("hexagon"), 1, p, np.random.default_rng(4))
    b = generate_long_trial(_arena("hexagon"), p, np.random.default_rng(4))
    np.testing.assert_array_equal(b.position, a.position)
