"""Random walks of Sorscher et al. (2019, 2023): the trajectories of the place-cell read-out.

Re-implemented from the published definition (SORSCHER: ``trajectory_generator.py`` of
ganguli-lab/grid-pattern-formation, ``generate_trajectory`` and ``avoid_wall``), generalised from
their rectangular box to any convex polygon :class:`~cw.task.arenas.Arena`:

* the start is uniform in the arena, the heading uniform in [0, 2 pi);
* at every step the speed is drawn afresh from a Rayleigh distribution of scale
  ``rayleigh_scale`` (m/s), and the heading turns by ``dt * N(0, turn_sd)``;
* near a wall (closer than ``border_region`` to the line of the nearest wall, and heading towards
  it, i.e. less than 90 deg from its outward normal) the speed is multiplied by
  ``border_slowdown`` and the heading first turns to run parallel to that wall;
* position(t + 1) = position(t) + speed(t) dt (cos h(t), sin h(t)).

As in SORSCHER the walk takes one step before the sequence starts: the returned start position
is the position after that step, and the ``n_steps`` returned velocities lead exactly from each
position to the next (``positions[:, t] = start + sum_{s <= t} velocity[:, s]``). The rule does
not forbid leaving the arena (a fast step aimed at a wall from just outside the border region
crosses it); such excursions are short (the walk turns back) and are kept, as in SORSCHER.
:func:`fraction_outside` measures them.

Every random draw takes a :class:`numpy.random.Generator`; no global state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from cw.config import schema_default
from cw.validation import section_from_dict

__all__ = ["SorscherTrajectoryParams", "Paths", "generate_paths", "fraction_outside", "TEST_ONLY_KEYS"]

#: Keys of the ``place_trajectories`` section that size the test walks, not the training walks.
TEST_ONLY_KEYS: tuple[str, ...] = ("n_test", "n_steps_test")


@dataclass(frozen=True)
class SorscherTrajectoryParams:
    """Settings of the random walk (config section ``place_trajectories``).

    Parameters
    ----------
    dt : float, default 0.02
        Time step, s (SORSCHER: ``dt = 0.02``).
    rayleigh_scale : float, default 0.8168
        Scale of the Rayleigh distribution of the speed, m/s (SORSCHER: ``b = 0.13 * 2 * np.pi``;
        mean speed 1.02 m/s).
    turn_sd : float, default 11.52
        s.d. of the rotation velocity, rad/s (SORSCHER: ``sigma = 5.76 * 2``).
    border_region : float, default 0.03
        Distance from a wall within which the walk slows and turns, m (SORSCHER).
    border_slowdown : float, default 0.25
        Factor on the speed near a wall (SORSCHER: ``v[is_near_wall] *= 0.25``).
    n_steps : int, default 20
        Steps per training sequence (SORSCHER: ``options.sequence_length = 20``).
    """

    dt: float = schema_default("place_trajectories", "dt")
    rayleigh_scale: float = schema_default("place_trajectories", "rayleigh_scale")
    turn_sd: float = schema_default("place_trajectories", "turn_sd")
    border_region: float = schema_default("place_trajectories", "border_region")
    border_slowdown: float = schema_default("place_trajectories", "border_slowdown")
    n_steps: int = schema_default("place_trajectories", "n_steps")

    def __post_init__(self) -> None:
        for f in ("dt", "rayleigh_scale", "turn_sd", "border_region", "border_slowdown"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(v) or v < 0 or (v == 0 and f in ("dt", "rayleigh_scale")):
                raise ValueError(f"place_trajectories.{f}: must be a finite number "
                                 f"{'> 0' if f in ('dt', 'rayleigh_scale') else '>= 0'}, got {v!r}")
        v = self.n_steps
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"place_trajectories.n_steps: must be an integer >= 1, got {v!r}")

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any] | None) -> "SorscherTrajectoryParams":
        """From the ``place_trajectories`` section; its test-walk keys (:data:`TEST_ONLY_KEYS`)
        are left out; unknown keys raise ValueError."""
        return section_from_dict(cls, {k: v for k, v in (cfg or {}).items() if k not in TEST_ONLY_KEYS},
                                 "place_trajectories")


@dataclass(frozen=True)
class Paths:
    """A batch of walks.

    Attributes
    ----------
    start : (B, 2) position before the first velocity, m
    velocity : (B, T, 2) Cartesian displacement of each step, m/step
    positions : (B, T, 2) position after each step, m
    heading : (B, T) direction of each step, rad in [-pi, pi)
    near_wall : (B, T) bool, the wall rule acted on that step
    """

    start: np.ndarray
    velocity: np.ndarray
    positions: np.ndarray
    heading: np.ndarray
    near_wall: np.ndarray


def _uniform_in(arena: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    x0, x1, y0, y1 = arena.bounds
    out = np.empty((0, 2))
    while out.shape[0] < n:
        m = 2 * (n - out.shape[0]) + 16
        pts = np.stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)], axis=1)
        out = np.concatenate([out, pts[arena.contains(pts)]])
    return out[:n]


def _wall_turn(arena: Any, pos: np.ndarray, heading: np.ndarray, border: float):
    """SORSCHER's ``avoid_wall`` for a polygon: (near_wall (B,), turn (B,) rad)."""
    d = arena.wall_distances(pos)  # (B, K), positive inside
    k = np.argmin(d, axis=1)
    theta = np.arctan2(arena.normals[k, 1], arena.normals[k, 0])  # outward normal of that wall
    a = np.mod(heading - theta + np.pi, 2 * np.pi) - np.pi
    near = (d[np.arange(len(k)), k] < border) & (np.abs(a) < np.pi / 2)
    turn = np.where(near, np.sign(a) * (np.pi / 2 - np.abs(a)), 0.0)
    return near, turn


def generate_paths(arena: Any, batch: int, params: SorscherTrajectoryParams,
                   rng: np.random.Generator, n_steps: int | None = None) -> Paths:
    """A batch of walks in ``arena`` (module docstring).

    Parameters
    ----------
    arena : Arena
        Convex polygon (needs ``bounds``, ``contains``, ``wall_distances``, ``normals``).
    batch : int
        Number of walks B.
    params : SorscherTrajectoryParams
    rng : numpy.random.Generator
        The only source of randomness.
    n_steps : int, optional
        Steps T per walk; ``params.n_steps`` if omitted.

    Returns
    -------
    Paths
    """
    t_len = int(params.n_steps if n_steps is None else n_steps)
    if t_len < 1 or batch < 1:
        raise ValueError(f"generate_paths: batch and n_steps must be >= 1, got {batch}, {t_len}")
    dt = float(params.dt)
    pos = _uniform_in(arena, batch, rng)
    hd = rng.uniform(0.0, 2 * np.pi, batch)
    turns = rng.normal(0.0, params.turn_sd, (batch, t_len + 1))
    speeds = rng.rayleigh(params.rayleigh_scale, (batch, t_len + 1))
    start = None
    vel = np.empty((batch, t_len, 2))
    heads = np.empty((batch, t_len))
    near_all = np.empty((batch, t_len), bool)
    for t in range(t_len + 1):
        near, turn = _wall_turn(arena, pos, hd, params.border_region)
        v = np.where(near, speeds[:, t] * params.border_slowdown, speeds[:, t]) * dt
        step = v[:, None] * np.stack([np.cos(hd), np.sin(hd)], axis=1)
        if t == 0:
            start = pos + step
        else:
            vel[:, t - 1] = step
            heads[:, t - 1] = hd
            near_all[:, t - 1] = near
        pos = pos + step
        hd = hd + turn + dt * turns[:, t]
    positions = start[:, None, :] + np.cumsum(vel, axis=1)
    heads = np.mod(heads + np.pi, 2 * np.pi) - np.pi
    return Paths(start, vel, positions, heads, near_all)


def fraction_outside(arena: Any, paths: Paths) -> float:
    """Fraction of the positions (start and after each step) outside the arena."""
    pts = np.concatenate([paths.start[:, None], paths.positions], axis=1)
    return float(1.0 - arena.contains(pts).mean())
