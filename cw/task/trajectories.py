"""Simulated animal trajectories in a convex polygon arena (paper section 2).

Every trial starts at the arena centre ``(0, 0)`` (PAPER) with a uniform random heading (OURS).
Two motion models (``TrajectoryParams.generator``):

``code`` (default; CODE, the authors' code of the paper as described in the project notes)
    * each step independently moving with probability ``1 - zero_speed_fraction`` (PAPER: zero
      speed 90 % of the time; CODE: ``sprand(numtrials, numT, 0.1)/5``), speed uniform in
      ``(0, speed_max)`` when moving (CODE: 0.2 in a box of side 2), no bouts;
    * heading random walk ``h(t) = h(t-1) + N(0, heading_std^2)`` (CODE: s.d. 1/3 rad per step, no
      memory), evolving on every step, also while the animal stands still (OURS where the notes
      are silent: the code draws the whole angle sequence independently of the speed);
    * walls: a step that would leave the polygon re-draws ``h(t)`` from the same Gaussian around
      ``h(t-1)`` (CODE); the s.d. grows by ``wall_resample_growth`` after every
      ``wall_growth_every`` failed draws (CODE: "variance increased after a number of failed
      draws"; the number and factor OURS), then uniform draws.

``bouts`` (OURS, the previous default)
    * angular velocity ``w <- turn_memory * w + N(0, turn_std)`` (AR(1), from the first author's
      later code), heading ``h <- h + w``;
    * speed from a two-state stop/move Markov chain (contiguous bouts, Rayleigh speed with mean
      ``speed_mean`` while moving, clipped at ``speed_max``);
    * walls: the heading is re-drawn from a Gaussian around the rejected heading, s.d.
      ``wall_resample_std`` growing by ``wall_resample_growth`` after every failure, then
      uniformly; ``w`` is reset to 0.

A step whose heading had to be re-drawn is a **boundary interaction** ("re-sampling the angular
input variable until the input angle did not lead the animal outside the boundary", PAPER). If no
draw works, the animal stays put and the step's speed is recorded as 0.

The inputs recorded at step ``t`` are the speed actually travelled and the heading actually used,
rounded to float32 *before* the step is taken, so that
``position[t] = position[t-1] + speed[t] * (cos heading[t], sin heading[t])`` with
``position[-1] = (0, 0)`` holds up to the float32 rounding of the stored positions. A proposal is
only accepted if both it and its float32 rounding are inside the polygon, so stored positions
never leave the arena.

Units: positions in metres (the arena's units), time in integration steps (one step = tau / 10),
angles in radians.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from cw.config import schema_default
from cw.task.arenas import Arena
from cw.validation import is_int, is_real, section_from_dict

__all__ = [
    "DEFAULT_SPEED_MAX_FACTOR",
    "TrajectoryParams",
    "Trials",
    "generate_trials",
]

#: OURS: when ``TrajectoryParams.speed_max`` is None, speeds are clipped at this multiple of
#: ``speed_mean`` (the Rayleigh tail beyond 4x the mean has probability exp(-4 pi) ~ 3.5e-6).
DEFAULT_SPEED_MAX_FACTOR: float = 4.0

#: Keys of the ``trajectories`` section that size the held-out test set, not the trials.
TEST_ONLY_KEYS: tuple[str, ...] = ("n_test",)

#: Prefix of the global attributes that hold the TrajectoryParams fields.
_PARAM_ATTR_PREFIX = "trajectories_"

#: Motion models of :func:`generate_trials`.
GENERATORS: tuple[str, ...] = ("code", "bouts")

_TWO_PI = 2.0 * math.pi
_TWO_PI_F32 = np.float32(_TWO_PI)


@dataclass(frozen=True)
class TrajectoryParams:
    """Parameters of the trajectory generator (config section ``trajectories``).

    Parameters
    ----------
    generator : {"code", "bouts"}, default "code"
        Motion model (see the module docstring): ``code`` (CODE, the authors' code) or ``bouts``
        (OURS, the previous default).
    n_steps : int, default 500
        PAPER: trial length T in integration steps (CODE: 450).
    zero_speed_fraction : float, default 0.9
        PAPER: fraction of steps with zero speed ("zero speed 90 % of the time"), in [0, 1).
        ``code``: each step moves independently with probability ``1 - zero_speed_fraction``.
    speed_max : float or None, default 0.2
        ``code``: speed is uniform in (0, speed_max) when moving, m/step (CODE: 0.2 in a box of
        side 2). ``bouts``: speeds are clipped at this value (OURS; None means
        ``DEFAULT_SPEED_MAX_FACTOR * speed_mean``). Must be below the arena's
        :attr:`~cw.task.arenas.Arena.inradius` (checked by :func:`generate_trials`).
    heading_std : float, default 1/3
        ``code``: s.d. of the heading change per step, rad/step (CODE: ``randn()/3``).
    wall_growth_every : int, default 10
        ``code``: failed wall re-draws between two growths of their s.d. (OURS).
    mean_run_steps : float, default 5.0
        ``bouts`` (OURS): mean length (steps) of a bout of movement, >= 1. Stopping is a
        two-state Markov chain whose stationary stop fraction is ``zero_speed_fraction``, so the
        mean stop bout is ``f * L / (1 - f)`` steps (45 with the defaults), which must be >= 1.
    speed_mean : float, default 0.03
        ``bouts`` (OURS): mean speed while moving, m/step (Rayleigh distributed).
    turn_memory : float, default 0.8
        ``bouts`` (CODE-2020): AR(1) coefficient of the angular velocity, in [0, 1).
    turn_std : float, default 0.03
        ``bouts`` (CODE-2020): s.d. (rad/step) of the AR(1) innovation, >= 0.
    wall_resample_std : float, default pi / 4
        ``bouts`` (OURS): s.d. (rad) of the first heading re-draw at a wall, around the current
        heading (``code`` uses ``heading_std``, CODE).
    wall_resample_growth : float, default 1.5
        OURS: factor (>= 1) by which the re-draw s.d. grows (``bouts``: after each failure;
        ``code``: after every ``wall_growth_every`` failures).
    wall_max_resamples : int, default 50
        OURS: number of Gaussian re-draws before one uniform draw; if that also leaves the
        arena, the step has zero speed.

    Raises
    ------
    ValueError
        ``trajectories.<field>: ...`` for an invalid value.
    """

    generator: str = schema_default("trajectories", "generator")
    n_steps: int = schema_default("trajectories", "n_steps")
    zero_speed_fraction: float = schema_default("trajectories", "zero_speed_fraction")
    speed_max: float | None = schema_default("trajectories", "speed_max")
    heading_std: float = schema_default("trajectories", "heading_std")
    wall_growth_every: int = schema_default("trajectories", "wall_growth_every")
    mean_run_steps: float = schema_default("trajectories", "mean_run_steps")
    speed_mean: float = schema_default("trajectories", "speed_mean")
    turn_memory: float = schema_default("trajectories", "turn_memory")
    turn_std: float = schema_default("trajectories", "turn_std")
    wall_resample_std: float = schema_default("trajectories", "wall_resample_std")
    wall_resample_growth: float = schema_default("trajectories", "wall_resample_growth")
    wall_max_resamples: int = schema_default("trajectories", "wall_max_resamples")

    def __post_init__(self) -> None:
        def bad(field: str, why: str) -> ValueError:
            return ValueError(f"trajectories.{field}: {why}, got {getattr(self, field)!r}")

        if self.generator not in GENERATORS:
            raise bad("generator", f"must be one of {', '.join(GENERATORS)}")
        for field in ("n_steps", "wall_max_resamples", "wall_growth_every"):
            if not is_int(getattr(self, field)):
                raise bad(field, "must be an integer")
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if (f.name == "speed_max" and v is None) or f.name == "generator":
                continue
            if not is_real(v) or not math.isfinite(v):
                raise bad(f.name, "must be a finite number")
        if self.n_steps < 1:
            raise bad("n_steps", "must be >= 1")
        if not 0.0 <= self.zero_speed_fraction < 1.0:
            raise bad("zero_speed_fraction", "must be in [0, 1)")
        if self.mean_run_steps < 1.0:
            raise bad("mean_run_steps", "must be >= 1 step")
        if self.generator == "bouts" and self.zero_speed_fraction > 0 and self.mean_stop_steps < 1.0:
            raise bad(
                "mean_run_steps",
                "gives a mean stop bout f*L/(1-f) < 1 step with this zero_speed_fraction",
            )
        if self.speed_mean <= 0:
            raise bad("speed_mean", "must be > 0 m/step")
        if self.speed_max is not None and self.speed_max <= 0:
            raise bad("speed_max", "must be > 0 m/step (or null for the default)")
        if not 0.0 <= self.turn_memory < 1.0:
            raise bad("turn_memory", "must be in [0, 1)")
        if self.turn_std < 0:
            raise bad("turn_std", "must be >= 0 rad/step")
        if self.wall_resample_std <= 0:
            raise bad("wall_resample_std", "must be > 0 rad")
        if self.wall_resample_growth < 1.0:
            raise bad("wall_resample_growth", "must be >= 1")
        if self.wall_max_resamples < 0:
            raise bad("wall_max_resamples", "must be >= 0")
        if self.heading_std < 0:
            raise bad("heading_std", "must be >= 0 rad/step")
        if self.wall_growth_every < 1:
            raise bad("wall_growth_every", "must be >= 1")

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any] | None) -> "TrajectoryParams":
        """Build from the ``trajectories`` config section; its test-set keys
        (:data:`TEST_ONLY_KEYS`) are not trajectory parameters and are left out; unknown keys
        raise ValueError."""
        return section_from_dict(cls, {k: v for k, v in (cfg or {}).items() if k not in TEST_ONLY_KEYS},
                                 "trajectories")

    @property
    def speed_cap(self) -> float:
        """Effective speed clip (m/step): ``speed_max`` or its default."""
        if self.speed_max is None:
            return DEFAULT_SPEED_MAX_FACTOR * self.speed_mean
        return float(self.speed_max)

    @property
    def mean_stop_steps(self) -> float:
        """Mean stop-bout length (steps), ``f * L / (1 - f)``; 0 when nothing stops."""
        f = self.zero_speed_fraction
        return f * self.mean_run_steps / (1.0 - f)

    @property
    def rayleigh_scale(self) -> float:
        """Rayleigh scale sigma (m/step) with mean ``speed_mean``: sigma = mean / sqrt(pi/2)."""
        return self.speed_mean / math.sqrt(0.5 * math.pi)


@dataclass
class Trials:
    """A batch of trials; M trials of T steps.

    Attributes
    ----------
    speed : numpy.ndarray, shape (M, T), float32
        Speed actually travelled on each step, m/step, >= 0.
    heading : numpy.ndarray, shape (M, T), float32
        Heading actually used on each step, rad in [0, 2 pi).
    position : numpy.ndarray, shape (M, T, 2), float32
        Position (m) after step t; the position before step 0 is the origin.
    boundary : numpy.ndarray, shape (M, T), bool
        True where the heading was re-sampled at a wall on step t (a boundary interaction).
    """

    speed: np.ndarray
    heading: np.ndarray
    position: np.ndarray
    boundary: np.ndarray

    def __post_init__(self) -> None:
        m_t = np.shape(self.speed)
        if len(m_t) != 2:
            raise ValueError(f"trials.speed: must have shape (M, T), got {m_t}")
        if np.shape(self.heading) != m_t or np.shape(self.boundary) != m_t:
            raise ValueError("trials: speed, heading and boundary must all have shape (M, T)")
        if np.shape(self.position) != (*m_t, 2):
            raise ValueError(f"trials.position: must have shape {(*m_t, 2)}")

    @property
    def n_trials(self) -> int:
        """Number of trials M."""
        return int(self.speed.shape[0])

    @property
    def n_steps(self) -> int:
        """Number of steps T."""
        return int(self.speed.shape[1])


def _round_heading(h: np.ndarray) -> np.ndarray:
    """Wrap to [0, 2 pi) and round to float32; returns float64 values exactly representable."""
    h32 = np.mod(h, _TWO_PI).astype(np.float32)
    h32[h32 >= _TWO_PI_F32] = 0.0  # float32 rounding can land on 2 pi
    return h32.astype(np.float64)


def _step(pos: np.ndarray, speed: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """Proposed positions (n, 2) after moving ``speed`` (n,) along ``heading`` (n,)."""
    return pos + speed[:, None] * np.stack([np.cos(heading), np.sin(heading)], axis=1)


def _inside(arena: Arena, p: np.ndarray) -> np.ndarray:
    """Inside test on float64 positions and on their float32 rounding (what is stored)."""
    return arena.contains(p) & arena.contains(p.astype(np.float32))


def _redraw_headings(
    arena: Arena,
    pos: np.ndarray,
    speed: np.ndarray,
    heading: np.ndarray,
    params: TrajectoryParams,
    rng: np.random.Generator,
    sd0: float | None = None,
    every: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Re-draw headings for trials whose proposed step leaves the arena.

    Draws are ``heading + sd * N(0, 1)``, ``sd`` starting at ``sd0`` (default
    ``params.wall_resample_std``) and growing by ``params.wall_resample_growth`` after every
    ``every`` failed draws; after ``params.wall_max_resamples`` draws, one uniform draw.

    Parameters
    ----------
    pos : (n, 2) current positions (m, inside the arena).
    speed : (n,) speeds (m/step, float32-representable).
    heading : (n,) centres of the draws (the rejected heading, or the previous step's), rad.

    Returns
    -------
    new_heading : (n,) accepted headings (the input heading where nothing was accepted), rad.
    new_pos : (n, 2) positions after the step (unchanged where nothing was accepted), m.
    ok : (n,) bool, whether an accepted heading was found.
    """
    n, k_gauss = heading.shape[0], params.wall_max_resamples
    # All draws at once (the first acceptable one of an i.i.d.-per-sd sequence is what a
    # sequential loop would accept): Gaussian columns with growing s.d., then one uniform column.
    sd = params.wall_resample_std if sd0 is None else float(sd0)
    sds = sd * params.wall_resample_growth ** (np.arange(k_gauss) // int(every))
    cand = np.empty((n, k_gauss + 1))
    cand[:, :k_gauss] = heading[:, None] + sds[None, :] * rng.standard_normal((n, k_gauss))
    cand[:, k_gauss] = rng.uniform(0.0, _TWO_PI, size=n)
    cand = _round_heading(cand.ravel()).reshape(n, k_gauss + 1)
    p = pos[:, None, :] + speed[:, None, None] * np.stack([np.cos(cand), np.sin(cand)], axis=-1)
    good = _inside(arena, p.reshape(-1, 2)).reshape(n, k_gauss + 1)
    ok = good.any(axis=1)
    first = np.argmax(good, axis=1)
    rows = np.arange(n)
    new_heading = np.where(ok, cand[rows, first], heading)
    new_pos = np.where(ok[:, None], p[rows, first], pos)
    return new_heading, new_pos, ok


def _take_steps(arena: Arena, pos: np.ndarray, speed: np.ndarray, heading: np.ndarray, idx: np.ndarray,
                centre: np.ndarray, params: TrajectoryParams, rng: np.random.Generator,
                sd0: float | None = None, every: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Move the trials ``idx`` (m, 2) ``pos`` in place by ``speed`` along ``heading``; a step that
    would leave the arena re-draws the heading around ``centre`` (:func:`_redraw_headings`).

    Returns the trials that hit a wall, their re-drawn headings and whether a draw was accepted
    (the positions of those trials are already updated; a failed one stays put).
    """
    prop = _step(pos[idx], speed[idx], heading[idx])
    inside = _inside(arena, prop)
    pos[idx[inside]] = prop[inside]
    hit = idx[~inside]
    if not hit.size:
        return hit, np.zeros(0), np.zeros(0, bool)
    h_new, p_new, ok = _redraw_headings(arena, pos[hit], speed[hit], centre[hit], params, rng, sd0=sd0, every=every)
    pos[hit] = p_new
    return hit, h_new, ok


def generate_trials(
    arena: Arena, n_trials: int, params: TrajectoryParams, rng: np.random.Generator
) -> Trials:
    """Simulate ``n_trials`` trajectories in ``arena`` (vectorised over trials).

    Parameters
    ----------
    arena : Arena
        Convex arena centred at its area centroid; every trial starts at ``(0, 0)``.
    n_trials : int
        Number of trials M (>= 1).
    params : TrajectoryParams
        Motion-model parameters; T = ``params.n_steps``.
    rng : numpy.random.Generator
        Source of randomness (the only one used).

    Returns
    -------
    Trials
        ``speed``, ``heading`` (M, T) float32, ``position`` (M, T, 2) float32,
        ``boundary`` (M, T) bool.

    Raises
    ------
    ValueError
        If ``n_trials`` < 1 or the speed cap is not below ``arena.inradius``.
    """
    if not is_int(n_trials) or n_trials < 1:
        raise ValueError(f"n_trials: must be an integer >= 1, got {n_trials!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng: must be a numpy.random.Generator")
    cap = params.speed_cap
    if cap >= arena.inradius:
        raise ValueError(
            f"trajectories.speed_max: speed cap {cap:g} m/step must be below the inradius "
            f"{arena.inradius:g} m of arena '{arena.name}'"
        )
    if params.generator == "code":
        return _generate_code(arena, int(n_trials), params, rng)
    m, n_steps = int(n_trials), params.n_steps
    f = params.zero_speed_fraction
    p_stop = 1.0 / params.mean_run_steps if f > 0 else 0.0  # move -> stop
    p_go = 1.0 / params.mean_stop_steps if f > 0 else 1.0  # stop -> move
    sigma = params.rayleigh_scale

    speed_out = np.empty((m, n_steps), dtype=np.float32)
    heading_out = np.empty((m, n_steps), dtype=np.float32)
    pos_out = np.empty((m, n_steps, 2), dtype=np.float32)
    boundary_out = np.zeros((m, n_steps), dtype=bool)

    pos = np.zeros((m, 2))
    heading = _round_heading(rng.uniform(0.0, _TWO_PI, size=m))
    omega = np.zeros(m)
    moving = rng.random(m) >= f  # stationary distribution of the stop/move chain

    for t in range(n_steps):
        if t > 0:
            u = rng.random(m)
            moving = np.where(moving, u >= p_stop, u < p_go)
        omega = params.turn_memory * omega + params.turn_std * rng.standard_normal(m)
        heading = _round_heading(heading + omega)
        speed = np.zeros(m)
        idx = np.flatnonzero(moving)
        if idx.size:
            s = np.minimum(rng.rayleigh(sigma, size=idx.size), cap)
            speed[idx] = s.astype(np.float32)
            hit, h_new, ok = _take_steps(arena, pos, speed, heading, idx, heading, params, rng)
            heading[hit] = h_new
            speed[hit[~ok]] = 0.0
            omega[hit] = 0.0
            boundary_out[hit, t] = True
        speed_out[:, t] = speed
        heading_out[:, t] = heading
        pos_out[:, t] = pos

    return _checked(arena, Trials(speed=speed_out, heading=heading_out, position=pos_out, boundary=boundary_out))


def _checked(arena: Arena, trials: Trials) -> Trials:
    """Cheap final check that no stored position left the arena (one wall at a time)."""
    pos = trials.position
    for normal, offset in zip(arena.normals, arena.offsets):
        proj = pos[..., 0].astype(np.float64) * normal[0]
        proj += pos[..., 1].astype(np.float64) * normal[1]
        if np.any(proj > offset):
            raise RuntimeError(f"generate_trials: a position left arena '{arena.name}' (bug)")
    return trials


def _generate_code(arena: Arena, m: int, params: TrajectoryParams, rng: np.random.Generator) -> Trials:
    """The ``code`` motion model (see the module docstring), vectorised over trials."""
    n_steps = params.n_steps
    p_move = 1.0 - params.zero_speed_fraction
    speed_out = np.empty((m, n_steps), dtype=np.float32)
    heading_out = np.empty((m, n_steps), dtype=np.float32)
    pos_out = np.empty((m, n_steps, 2), dtype=np.float32)
    boundary_out = np.zeros((m, n_steps), dtype=bool)

    # the random draws that do not depend on the walls, all at once
    moving_all = rng.random((m, n_steps)) < p_move
    speed_all = (rng.random((m, n_steps)) * params.speed_cap).astype(np.float32).astype(np.float64)
    speed_all[~moving_all] = 0.0
    turns = params.heading_std * rng.standard_normal((m, n_steps))

    pos = np.zeros((m, 2))
    heading = _round_heading(rng.uniform(0.0, _TWO_PI, size=m))
    for t in range(n_steps):
        prev = heading
        heading = _round_heading(prev + turns[:, t])
        speed = speed_all[:, t].copy()
        idx = np.flatnonzero(speed > 0)
        if idx.size:
            hit, h_new, ok = _take_steps(arena, pos, speed, heading, idx, prev, params, rng,
                                         sd0=params.heading_std, every=params.wall_growth_every)
            heading[hit[ok]] = h_new[ok]
            speed[hit[~ok]] = 0.0
            boundary_out[hit, t] = True
        speed_out[:, t] = speed
        heading_out[:, t] = heading
        pos_out[:, t] = pos
    return _checked(arena, Trials(speed=speed_out, heading=heading_out, position=pos_out, boundary=boundary_out))


# ---------------------------------------------------------------------------- xarray / netCDF
