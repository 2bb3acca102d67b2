"""Random walks of the place-cell read-out (cw.task.sorscher_trajectories): exact integration,
the wall rule on known geometry, the speed distribution, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cw.task.arenas import make_arena
from cw.task.sorscher_trajectories import (
    SorscherTrajectoryParams,
    _wall_turn,
    fraction_outside,
    generate_paths,
)

BOX = make_arena("square", {"shape": "square", "side": 2.2})


def test_velocities_lead_exactly_from_the_start_to_every_position():
    p = generate_paths(BOX, 50, SorscherTrajectoryParams(), np.random.default_rng(1))
    assert p.velocity.shape == (50, 20, 2) and p.positions.shape == (50, 20, 2)
    prev = np.concatenate([p.start[:, None], p.positions[:, :-1]], axis=1)
    np.testing.assert_allclose(p.positions - prev, p.velocity, atol=1e-12)
    # the heading is the direction of each step
    np.testing.assert_allclose(np.cos(p.heading) * np.linalg.norm(p.velocity, axis=-1), p.velocity[..., 0],
                               atol=1e-12)
    assert np.all((p.heading >= -np.pi) & (p.heading < np.pi))


def test_the_wall_rule_turns_parallel_to_the_nearest_wall():
    # right wall of the box (outward normal at angle 0), 1 cm away, heading 0.3 rad: turn to pi/2
    near, turn = _wall_turn(BOX, np.array([[1.09, 0.0]]), np.array([0.3]), 0.03)
    assert near[0] and turn[0] == pytest.approx(np.pi / 2 - 0.3)
    # heading away from the wall, or farther than the border region: nothing
    near, turn = _wall_turn(BOX, np.array([[1.09, 0.0], [1.0, 0.0]]), np.array([2.0, 0.3]), 0.03)
    assert not near.any() and not turn.any()
    # a triangle's wall: after the turn the heading is perpendicular to that wall's normal
    tri = make_arena("triangle", {"shape": "triangle", "side": 2.0})
    k = 0
    mid = tri.edges[k].mean(axis=0) - 0.01 * tri.normals[k]  # 1 cm inside the middle of wall k
    normal_angle = math.atan2(tri.normals[k, 1], tri.normals[k, 0])
    h = normal_angle - 0.7
    near, turn = _wall_turn(tri, mid[None], np.array([h]), 0.03)
    new = h + turn[0]
    assert near[0] and abs(math.cos(new - normal_angle)) < 1e-12


def test_speeds_are_rayleigh_away_from_walls_and_slowed_near_them():
    tp = SorscherTrajectoryParams()
    p = generate_paths(BOX, 2000, tp, np.random.default_rng(2))
    speed = np.linalg.norm(p.velocity, axis=-1) / tp.dt  # m/s
    free = speed[~p.near_wall]
    # Rayleigh mean scale * sqrt(pi / 2) = 1.0237 m/s; s.e. of the mean over ~40,000 samples ~0.003
    assert free.mean() == pytest.approx(tp.rayleigh_scale * math.sqrt(math.pi / 2), rel=0.02)
    assert speed[p.near_wall].mean() == pytest.approx(0.25 * free.mean(), rel=0.1)
    assert 0 < fraction_outside(BOX, p) < 0.02  # short excursions exist, as in SORSCHER's rule


def test_walks_are_a_function_of_the_generator():
    a = generate_paths(BOX, 5, SorscherTrajectoryParams(), np.random.default_rng(3), n_steps=7)
    b = generate_paths(BOX, 5, SorscherTrajectoryParams(), np.random.default_rng(3), n_steps=7)
    assert a.velocity.shape == (5, 7, 2)
    np.testing.assert_array_equal(a.positions, b.positions)


def test_bad_settings_name_their_key():
    with pytest.raises(ValueError, match="place_trajectories.dt"):
        SorscherTrajectoryParams(dt=0.0)
    with pytest.raises(ValueError, match="place_trajectories.n_steps"):
        SorscherTrajectoryParams(n_steps=0)
