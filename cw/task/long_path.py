"""One long trajectory of the ``code`` motion model, generated run-ahead: the long test path of
Fig. 6 (``boundary.long_path_factor`` trial lengths, 5 million steps at the paper's scale).

:func:`cw.task.trajectories.generate_trials` is vectorised over trials, so one trial costs a
dozen small array operations per step (~30 us). Here the steps between two wall contacts are
taken together: the headings of the next steps are rolled forward as if no wall came (a compiled
scalar loop, :func:`_heading_roll`, the same float operations and float32 rounding), their positions summed in
order (``np.add.accumulate`` adds step after step, as the loop does), the proposals checked
against the walls in one call, and the run stops at the first proposal outside, where the wall
rule of :func:`cw.task.trajectories.generate_trials` (its own functions, on arrays of one trial)
re-draws the heading. The random draws are taken in the same order from the same generator, so
the trial is identical, bit for bit, to ``generate_trials(arena, 1, params, rng)``
(``tests/test_long_path.py``).

One subtlety is the wall test. The signed wall distances of many points at once are a matrix
product whose rounding can differ in the last bit from that of one point (BLAS kernels differ
with the shape); a proposal whose distance to a wall line is within :data:`AMBIGUOUS_M` of zero
is therefore tested again alone, exactly as the per-step loop tests it.
"""

from __future__ import annotations

import functools

import numpy as np

from cw.task.arenas import Arena
from cw.task.trajectories import (
    TrajectoryParams,
    Trials,
    _TWO_PI,
    _TWO_PI_F32,
    _checked,
    _redraw_headings,
    _round_heading,
    generate_trials,
)

__all__ = ["generate_long_trial", "AMBIGUOUS_M"]

#: Wall distances (m) this close to zero are re-tested one point at a time (matrix products of
#: different shapes round differently by ~1e-16 m).
AMBIGUOUS_M = 1e-9
#: Steps rolled forward at first, and the bounds of the run-ahead (it adapts to the gaps between
#: wall contacts).
_AHEAD_START, _AHEAD_MIN, _AHEAD_MAX = 64, 16, 4096


def _inside_each(arena: Arena, p: np.ndarray) -> np.ndarray:
    """``Arena.contains`` of each point of ``p`` (K, 2) as a call on that point alone would give."""
    d = arena.wall_distances(p)
    inside = np.all(d >= 0.0, axis=1)
    for i in np.flatnonzero(np.any(np.abs(d) < AMBIGUOUS_M, axis=1)):
        inside[i] = bool(arena.contains(p[i:i + 1])[0])
    return inside


@functools.lru_cache(maxsize=1)
def _heading_roll():
    """Compiled heading recurrence of the run-ahead (numba, cached beside this module):
    ``h <- float32((h + turn) mod 2 pi)``, 0 where that reaches float32(2 pi), as
    :func:`cw.task.trajectories._round_heading` does to one heading at a time (Python's float
    modulo, then rounding to float32; the same operations, bit for bit)."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def run(h, turns, two_pi, two_pi_f32, out):
        for k in range(turns.shape[0]):
            h = np.float64(np.float32((h + turns[k]) % two_pi))
            if h >= two_pi_f32:
                h = 0.0
            out[k] = h

    return run


def generate_long_trial(arena: Arena, params: TrajectoryParams, rng: np.random.Generator) -> Trials:
    """One trial of ``params.n_steps`` steps, equal to ``generate_trials(arena, 1, params, rng)``.

    Parameters
    ----------
    arena : Arena (convex, centred at its area centroid)
    params : TrajectoryParams; the run-ahead serves the ``code`` generator, the ``bouts``
        generator goes through :func:`cw.task.trajectories.generate_trials`.
    rng : numpy.random.Generator, the only source of randomness

    Returns
    -------
    Trials with M = 1: ``speed``, ``heading`` (1, T) float32, ``position`` (1, T, 2) float32,
    ``boundary`` (1, T) bool.
    """
    if params.generator != "code" or params.speed_cap >= arena.inradius:
        return generate_trials(arena, 1, params, rng)  # its checks and its error messages
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng: must be a numpy.random.Generator")
    n_steps = params.n_steps
    # the draws of generate_trials, in its order
    moving_all = rng.random((1, n_steps)) < 1.0 - params.zero_speed_fraction
    speed_all = (rng.random((1, n_steps)) * params.speed_cap).astype(np.float32).astype(np.float64)
    speed_all[~moving_all] = 0.0
    turns = (params.heading_std * rng.standard_normal((1, n_steps)))[0]
    speed_all = speed_all[0]

    speed_out = np.empty(n_steps, dtype=np.float32)
    heading_out = np.empty(n_steps, dtype=np.float32)
    pos_out = np.empty((n_steps, 2), dtype=np.float32)
    boundary_out = np.zeros(n_steps, dtype=bool)

    pos = np.zeros(2)
    heading = float(_round_heading(rng.uniform(0.0, _TWO_PI, size=1))[0])
    two_pi, two_pi_f32 = _TWO_PI, float(_TWO_PI_F32)
    roll = _heading_roll()
    ahead = _AHEAD_START
    t = 0
    while t < n_steps:
        k_max = min(ahead, n_steps - t)
        hs = np.empty(k_max)
        roll(heading, turns[t:t + k_max], two_pi, two_pi_f32, hs)
        sp = speed_all[t:t + k_max]
        mv = np.flatnonzero(sp > 0)
        steps = sp[mv, None] * np.stack([np.cos(hs[mv]), np.sin(hs[mv])], axis=1)
        prop = np.add.accumulate(np.concatenate([pos[None], steps]), axis=0)[1:]   # in order
        ok = _inside_each(arena, prop) & _inside_each(arena, prop.astype(np.float32))
        bad = np.flatnonzero(~ok)
        n_ok = bad[0] if bad.size else mv.size              # moving steps accepted
        stop = mv[n_ok] if bad.size else k_max              # the first step not taken as rolled
        # steps before ``stop``: position = the last accepted proposal (unchanged while still)
        last = np.searchsorted(mv[:n_ok], np.arange(stop), side="right") - 1
        track = np.concatenate([pos[None], prop[:n_ok]])[last + 1]
        speed_out[t:t + stop] = sp[:stop]
        heading_out[t:t + stop] = hs[:stop]
        pos_out[t:t + stop] = track
        if n_ok:
            pos = prop[n_ok - 1].copy()
        if not bad.size:
            heading = float(hs[-1])
            t += k_max
            ahead = min(_AHEAD_MAX, 2 * ahead)
            continue
        # the wall rule at step t + stop, as generate_trials applies it to one trial
        prev = float(hs[stop - 1]) if stop else heading
        h_new, p_new, accepted = _redraw_headings(
            arena, pos[None], sp[stop:stop + 1], np.array([prev]), params, rng,
            sd0=params.heading_std, every=params.wall_growth_every)
        heading = float(h_new[0]) if accepted[0] else float(hs[stop])
        if accepted[0]:
            pos = p_new[0].copy()
        speed_out[t + stop] = sp[stop] if accepted[0] else 0.0
        heading_out[t + stop] = heading
        pos_out[t + stop] = pos
        boundary_out[t + stop] = True
        t += stop + 1
        ahead = int(min(_AHEAD_MAX, max(_AHEAD_MIN, 2 * (stop + 1))))
    return _checked(arena, Trials(speed=speed_out[None], heading=heading_out[None],
                                  position=pos_out[None], boundary=boundary_out[None]))
