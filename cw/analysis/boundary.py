"""Boundary interactions and the stability of path integration (paper Fig. 6; OURS).

Fig. 6a: the network's squared error grows roughly linearly while no boundary interaction
occurs and drops after interactions, more so after several. Fig. 6b: over a test path at least
10^4 times the training length, the error stays stable (mean +- SD per 10,000 steps) and well
below that of the best constant output.

Definitions
-----------
* Squared error of a sample: ``e = ((y_x - x)^2 + (y_y - y)^2) / 2``, the mean over the two
  output coordinates (the per-sample term of eq. 3), in m^2.
* A boundary interaction is a step whose ``boundary`` flag is 1 (the heading was re-drawn at a
  wall); consecutive flagged steps count as separate interactions.
* Time since the last interaction at step t of a trial: ``t - t_last`` with ``t_last`` the latest
  flagged step <= t in the same trial (0 on the flagged step itself); undefined (-1) before the
  trial's first interaction. Those samples are summarised separately against the time since the
  trial's start (every trial starts at the known arena centre, so this is the error growth
  without any boundary cue).
* Number of recent interactions at step t: flagged steps in ``(t - recent_window, t]`` of the
  same trial; only samples with ``t >= recent_window - 1`` (a full window inside the trial) are
  used. Counts >= ``max_count`` are pooled into the last bin.
* Episodes (Fig. 6a, error aligned to interactions): an episode starts at a flagged step t0
  with no flagged step in the ``quiet_steps`` before it (so the error had time to grow), at
  least ``max(quiet_steps, align_pre)`` steps after the trial start and ``align_post`` steps
  before its end. Its size n is the number of flagged steps in ``[t0, t0 + burst_window)``
  (n >= ``max_burst`` pooled). Its error before is the mean error over ``[t0 - drop_window,
  t0)``, its error after the mean over ``[t0 + burst_window, t0 + burst_window + drop_window)``;
  the drop is before - after. The aligned curves are the mean error at each lag
  ``-align_pre .. align_post`` from t0, per episode size.
* Long path: one trial of ``long_path_factor * n_steps`` steps (n_steps = the training trial
  length) from the same trajectory generator, run noise-free through the trained network
  (Euler integration of eq. 1 in numpy, in chunks carrying the state, so memory does not grow
  with the path). Its squared error is summarised in consecutive windows of ``window_steps``
  steps (mean and SD over the samples of each window), next to the error of the best constant
  output: the constant c minimising the squared error over the whole path, i.e. the mean
  position of the path.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import xarray as xr

from cw.config import schema_default
from cw.validation import is_int, section_from_dict

__all__ = [
    "BoundaryParams",
    "squared_error",
    "time_since_boundary",
    "recent_interactions",
    "interaction_episodes",
    "aligned_error",
    "episode_drops",
    "binned_stats",
    "boundary_curves",
    "boundary_dataset",
    "simulate_long",
    "windowed_error",
    "long_path_dataset",
]



@dataclass(frozen=True)
class BoundaryParams:
    """Parameters of the boundary analysis (config section ``boundary``; all OURS).

    max_lag : int, default 300
        Longest time since the last interaction (or since the trial start) summarised, steps.
    recent_window : int, default 100
        Window (steps, ending at the current step) in which interactions are counted.
    max_count : int, default 5
        Counts of recent interactions >= this are pooled into one bin.
    long_path_factor : int, default 10000
        Length of the long test path in training trial lengths (PAPER: at least 10^4).
    window_steps : int, default 10000
        Window of the long-path error summary, steps (PAPER: 10,000).
    chunk_steps : int, default 100000
        Steps simulated at once on the long path (memory only).
    align_pre, align_post : int, default 50, 150
        Steps before and after an episode's first interaction in the aligned curves.
    quiet_steps : int, default 50
        Steps without any interaction required before an episode.
    burst_window : int, default 25
        Steps from the first interaction in which the episode's interactions are counted.
    drop_window : int, default 10
        Steps averaged for the error before and after an episode.
    max_burst : int, default 3
        Episode sizes at or above this are pooled.
    """

    max_lag: int = schema_default("boundary", "max_lag")
    recent_window: int = schema_default("boundary", "recent_window")
    max_count: int = schema_default("boundary", "max_count")
    long_path_factor: int = schema_default("boundary", "long_path_factor")
    window_steps: int = schema_default("boundary", "window_steps")
    chunk_steps: int = schema_default("boundary", "chunk_steps")
    align_pre: int = schema_default("boundary", "align_pre")
    align_post: int = schema_default("boundary", "align_post")
    quiet_steps: int = schema_default("boundary", "quiet_steps")
    burst_window: int = schema_default("boundary", "burst_window")
    drop_window: int = schema_default("boundary", "drop_window")
    max_burst: int = schema_default("boundary", "max_burst")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not is_int(v):
                raise ValueError(f"boundary.{f.name}: must be an integer, got {v!r}")
            if v < 1:
                raise ValueError(f"boundary.{f.name}: must be >= 1, got {v}")
        if self.drop_window > self.quiet_steps:
            raise ValueError(f"boundary.drop_window: must be <= quiet_steps ({self.quiet_steps}), "
                             f"got {self.drop_window}")
        if self.burst_window + self.drop_window > self.align_post:
            raise ValueError(f"boundary.align_post: must be >= burst_window + drop_window "
                             f"({self.burst_window + self.drop_window}), got {self.align_post}")

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "BoundaryParams":
        return section_from_dict(cls, d, "boundary")


def squared_error(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mean over the last axis (the output coordinates) of the squared difference, m^2."""
    d = np.asarray(output, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return np.mean(d * d, axis=-1)


def time_since_boundary(boundary: np.ndarray) -> np.ndarray:
    """Steps since the latest interaction in the same trial, (M, T) int64; -1 before the first.

    ``boundary`` : (M, T) flags (bool or 0/1); one row per trial.
    """
    b = np.atleast_2d(np.asarray(boundary).astype(bool))
    M, T = b.shape
    t = np.broadcast_to(np.arange(T), (M, T))
    last = np.maximum.accumulate(np.where(b, t, -1), axis=1)
    return np.where(last >= 0, t - last, -1).astype(np.int64)


def recent_interactions(boundary: np.ndarray, window: int) -> np.ndarray:
    """Interactions in the window ``(t - window, t]`` of the same trial, (M, T) int64; -1 where
    the window does not fit in the trial (``t < window - 1``)."""
    b = np.atleast_2d(np.asarray(boundary).astype(np.int64))
    M, T = b.shape
    c = np.cumsum(b, axis=1)
    out = np.full((M, T), -1, dtype=np.int64)
    if window <= T:
        prev = np.concatenate([np.zeros((M, 1), np.int64), c[:, : T - window]], axis=1)
        out[:, window - 1:] = c[:, window - 1:] - prev
    return out


def interaction_episodes(boundary: np.ndarray, params: "BoundaryParams") -> np.ndarray:
    """Episodes of boundary interactions (see the module docstring), as an (E, 3) int64 array
    of (trial, t0, n): trial index, step of the first interaction, interactions in the burst."""
    b = np.atleast_2d(np.asarray(boundary).astype(bool))
    M, T = b.shape
    c = np.concatenate([np.zeros((M, 1), np.int64), np.cumsum(b, axis=1)], axis=1)  # c[:, t] = sum b[:, :t]
    lead = max(params.quiet_steps, params.align_pre)
    rows = []
    for m, t0 in zip(*np.nonzero(b)):
        if t0 < lead or t0 + params.align_post >= T:
            continue
        if c[m, t0] - c[m, t0 - params.quiet_steps] > 0:  # an interaction in the quiet period
            continue
        n = int(c[m, t0 + params.burst_window] - c[m, t0])
        rows.append((m, t0, n))
    return np.asarray(rows, np.int64).reshape(-1, 3)


def aligned_error(err: np.ndarray, episodes: np.ndarray, params: "BoundaryParams") -> np.ndarray:
    """(E, align_pre + align_post + 1) error of each episode at lags -align_pre .. align_post."""
    err = np.atleast_2d(np.asarray(err, np.float64))
    lags = np.arange(-params.align_pre, params.align_post + 1)
    if episodes.shape[0] == 0:
        return np.zeros((0, lags.size))
    return err[episodes[:, :1], episodes[:, 1:2] + lags[None, :]]


def episode_drops(aligned: np.ndarray, params: "BoundaryParams"):
    """Per episode, from its :func:`aligned_error` row: mean error over the ``drop_window`` steps
    before its first interaction and over the ``drop_window`` steps after its burst window; two
    (E,) arrays (m^2)."""
    a = aligned
    pre, bw, dw = params.align_pre, params.burst_window, params.drop_window
    before = a[:, pre - dw:pre].mean(axis=1) if a.size else np.zeros(0)
    after = a[:, pre + bw:pre + bw + dw].mean(axis=1) if a.size else np.zeros(0)
    return before, after


def binned_stats(values: np.ndarray, index: np.ndarray, n_bins: int):
    """Mean, SD (ddof 0) and count of ``values`` per integer bin ``index`` in [0, n_bins); other
    indices are left out. Returns three (n_bins,) arrays (NaN where empty)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    i = np.asarray(index).ravel()
    ok = (i >= 0) & (i < n_bins) & np.isfinite(v)
    i, v = i[ok].astype(np.int64), v[ok]
    n = np.bincount(i, minlength=n_bins)
    s = np.bincount(i, weights=v, minlength=n_bins)
    s2 = np.bincount(i, weights=v * v, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / n
        sd = np.sqrt(np.maximum(s2 / n - mean * mean, 0.0))
    return np.where(n > 0, mean, np.nan), np.where(n > 0, sd, np.nan), n


def boundary_curves(err: np.ndarray, boundary: np.ndarray, params: BoundaryParams) -> dict:
    """Error against the time since the last interaction, against the time since the trial
    start before any interaction, and against the number of recent interactions.

    Parameters
    ----------
    err : (M, T) squared error per sample; boundary : (M, T) flags.

    Returns
    -------
    dict of (mean, sd, count) triples: ``since_boundary`` (max_lag + 1,) over lags 0..max_lag,
    ``since_start`` (max_lag + 1,) over t = 0..max_lag for samples with no interaction yet,
    ``recent`` (max_count + 1,) over counts 0..max_count (last bin: >= max_count).
    """
    err = np.atleast_2d(err)
    since = time_since_boundary(boundary)
    n_lag = params.max_lag + 1
    t = np.broadcast_to(np.arange(err.shape[1]), err.shape)
    start_idx = np.where(since < 0, t, -1)
    cnt = recent_interactions(boundary, params.recent_window)
    cnt = np.where(cnt >= 0, np.minimum(cnt, params.max_count), -1)
    return {
        "since_boundary": binned_stats(err, since, n_lag),
        "since_start": binned_stats(err, start_idx, n_lag),
        "recent": binned_stats(err, cnt, params.max_count + 1),
    }


def boundary_dataset(activity: xr.Dataset, params: BoundaryParams = BoundaryParams()) -> xr.Dataset:
    """Fig. 6a curves from an ``activity.nc`` Dataset (``output_x/y``, ``x``, ``y``,
    ``boundary`` on (trial, time))."""
    dims = ("trial", "time")
    out = np.stack([activity["output_x"].transpose(*dims).values,
                    activity["output_y"].transpose(*dims).values], axis=-1)
    tgt = np.stack([activity["x"].transpose(*dims).values,
                    activity["y"].transpose(*dims).values], axis=-1)
    err = squared_error(out, tgt)
    b = activity["boundary"].transpose(*dims).values
    c = boundary_curves(err, b, params)
    ds = xr.Dataset(coords={
        "lag": ("lag", np.arange(params.max_lag + 1), {
            "long_name": "steps since the last boundary interaction (or since the trial start)",
            "units": "step"}),
        "n_recent": ("n_recent", np.arange(params.max_count + 1), {
            "long_name": f"boundary interactions in the last {params.recent_window} steps "
                         f"(last bin: >= {params.max_count})", "units": "1"}),
    })
    for key, dim, what in (("since_boundary", "lag", "time since the last boundary interaction"),
                           ("since_start", "lag", "time since the trial start, before any "
                                                  "boundary interaction"),
                           ("recent", "n_recent", "number of recent boundary interactions")):
        mean, sd, n = c[key]
        ds[f"error_{key}_mean"] = (dim, mean, {"long_name": f"mean squared error vs {what}",
                                               "units": "m2"})
        ds[f"error_{key}_sd"] = (dim, sd, {"long_name": f"SD of the squared error vs {what}",
                                           "units": "m2"})
        ds[f"error_{key}_count"] = (dim, n, {"long_name": f"samples per bin ({what})",
                                             "units": "1"})
    # Fig. 6a: error aligned to episodes of interactions, per episode size
    ep = interaction_episodes(b, params)
    a = aligned_error(err, ep, params)
    size = np.minimum(ep[:, 2], params.max_burst)
    bursts = np.arange(1, params.max_burst + 1)
    lags = np.arange(-params.align_pre, params.align_post + 1)
    am = np.full((bursts.size, lags.size), np.nan)
    asd = np.full((bursts.size, lags.size), np.nan)
    for i, k in enumerate(bursts):
        if np.any(size == k):
            am[i], asd[i] = a[size == k].mean(axis=0), a[size == k].std(axis=0)
    before, after = episode_drops(a, params)
    ds = ds.assign_coords(
        align_lag=("align_lag", lags, {"long_name": "steps from the first interaction of an episode",
                                       "units": "step"}),
        burst=("burst", bursts, {"long_name": f"interactions in the episode's first "
                                              f"{params.burst_window} steps (last: >= {params.max_burst})",
                                 "units": "1"}),
    )
    ds["error_aligned_mean"] = (("burst", "align_lag"), am, {
        "long_name": "mean squared error aligned to the first interaction of an episode",
        "units": "m2"})
    ds["error_aligned_sd"] = (("burst", "align_lag"), asd, {
        "long_name": "SD of the squared error aligned to an episode", "units": "m2"})
    ds["episode_count"] = ("burst", np.array([int(np.sum(size == k)) for k in bursts]), {
        "long_name": "episodes of each size", "units": "1"})
    ds["episode_size"] = ("episode", ep[:, 2], {
        "long_name": f"interactions in the episode's first {params.burst_window} steps", "units": "1"})
    ds["episode_error_before"] = ("episode", before, {
        "long_name": f"mean squared error over the {params.drop_window} steps before the episode",
        "units": "m2"})
    ds["episode_error_after"] = ("episode", after, {
        "long_name": f"mean squared error over the {params.drop_window} steps after the episode's "
                     f"first {params.burst_window} steps", "units": "m2"})
    ds.attrs.update({f"boundary_{k}": v for k, v in dataclasses.asdict(params).items()})
    ds.attrs["mse_test_m2"] = float(np.mean(err))
    ds.attrs["boundary_interactions_per_step"] = float(np.mean(np.asarray(b) > 0))
    return ds


# ----------------------------------------------------------------------------- long path
def simulate_long(
    weights: Mapping[str, np.ndarray],
    speed: np.ndarray,
    heading: np.ndarray,
    model,
    chunk_steps: int = 100000,
) -> np.ndarray:
    """Noise-free network output along one long path, simulated in chunks.

    Euler integration of eq. 1-2 (the update of :func:`cw.network.model.simulate_numpy` and the
    TensorFlow forward pass), in float32, starting from x = 0, carrying the state across
    chunks; only the read-out is kept. The steps run in a compiled loop (:func:`_euler_readout`,
    numba): one step of a 100-unit network is ~10^4 multiply-adds, which numpy spends more time
    dispatching than computing (measured beside two trainings: 20 against 6 us per step). Equal to the numpy
    reference to float32 round-off (``tests/test_boundary.py``).

    Parameters
    ----------
    weights : W_in, W_rec, b, W_out; speed, heading : (T,) inputs (m/step, rad);
    model : :class:`cw.network.model.ModelParams` (alpha, input encoding, speed scale).

    Returns
    -------
    (T, N_out) float32 network output (m).
    """
    from cw.network.model import encode_inputs, rate_of

    w_in = np.asarray(weights["W_in"], np.float32)
    w_rec = np.ascontiguousarray(weights["W_rec"], np.float32)
    b = np.asarray(weights["b"], np.float32)
    w_out = np.ascontiguousarray(weights["W_out"], np.float32)
    alpha = np.float32(model.alpha)
    T = int(np.size(speed))
    n = w_rec.shape[0]
    y = np.empty((T, w_out.shape[1]), np.float32)
    x = np.zeros(n, np.float32)
    u = np.zeros(n, np.float32)
    rectified = bool(rate_of(np.float32(-1.0), model.nonlinearity) == 0.0)  # retanh (checks the name)
    for start in range(0, T, int(chunk_steps)):
        stop = min(T, start + int(chunk_steps))
        inp = encode_inputs(np.asarray(speed)[None, start:stop], np.asarray(heading)[None, start:stop],
                            model)[0]
        drive = np.ascontiguousarray(alpha * (inp @ w_in + b), np.float32)  # (chunk, N)
        _euler_readout()(drive, w_rec, w_out, alpha, np.float32(1.0) - alpha, x, u, rectified,
                         y[start:stop])
    return y


@functools.lru_cache(maxsize=1)
def _euler_readout():
    """The compiled Euler loop of :func:`simulate_long` (built on first use; numba caches the
    machine code beside this module):
    ``x <- (1 - alpha) x + alpha (u W_rec) + drive[t]``, ``u <- tanh(x)`` (0 where negative for
    retanh), ``y[t] = u W_out``; ``x`` and ``u`` are updated in place."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def run(drive, w_rec, w_out, alpha, keep, x, u, rectified, y):
        steps, n = drive.shape
        acc = np.empty(n, np.float32)
        for t in range(steps):
            acc[:] = 0.0
            for i in range(n):                    # u W_rec, row by row (vectorised over j)
                ui = u[i]
                for j in range(n):
                    acc[j] += ui * w_rec[i, j]
            for j in range(n):
                x[j] = keep * x[j] + alpha * acc[j] + drive[t, j]
                r = np.tanh(x[j])
                u[j] = r if (r > 0 or not rectified) else np.float32(0.0)
            for k in range(w_out.shape[1]):
                s = np.float32(0.0)
                for j in range(n):
                    s += u[j] * w_out[j, k]
                y[t, k] = s

    return run


def windowed_error(output: np.ndarray, target: np.ndarray, window: int) -> dict[str, np.ndarray]:
    """Squared error of a long path in consecutive windows, and that of the best constant.

    Parameters
    ----------
    output, target : (T, 2) network output and true position (m); window : steps.

    Returns
    -------
    dict: ``start`` (W,) first step of each full window (a last partial window is dropped),
    ``mean``, ``sd`` (W,) of the network's squared error; ``const_mean``, ``const_sd`` (W,) of the
    best constant output's; ``constant`` (2,) = mean position; ``mse``, ``const_mse`` over the
    whole path (floats).
    """
    out = np.asarray(output, dtype=np.float64)
    tgt = np.asarray(target, dtype=np.float64)
    e = squared_error(out, tgt)
    c = tgt.mean(axis=0)
    ec = squared_error(c[None], tgt)
    nw = e.size // int(window)
    if nw == 0:
        raise ValueError(f"boundary.window_steps: {window} is longer than the path ({e.size} steps)")
    ew = e[: nw * window].reshape(nw, window)
    ecw = ec[: nw * window].reshape(nw, window)
    return {
        "start": np.arange(nw) * int(window),
        "mean": ew.mean(axis=1), "sd": ew.std(axis=1),
        "const_mean": ecw.mean(axis=1), "const_sd": ecw.std(axis=1),
        "constant": c, "mse": float(e.mean()), "const_mse": float(ec.mean()),
    }


def long_path_dataset(w: dict, params: BoundaryParams, n_steps: int,
                      n_interactions: int) -> xr.Dataset:
    """The long-path summary of :func:`windowed_error` as a Dataset over dim ``window``."""
    ds = xr.Dataset(
        {
            "long_error_mean": ("window", w["mean"], {
                "long_name": "mean squared error of the network in the window", "units": "m2"}),
            "long_error_sd": ("window", w["sd"], {
                "long_name": "SD of the network's squared error in the window", "units": "m2"}),
            "const_error_mean": ("window", w["const_mean"], {
                "long_name": "mean squared error of the best constant output in the window",
                "units": "m2"}),
            "const_error_sd": ("window", w["const_sd"], {
                "long_name": "SD of the best constant output's squared error in the window",
                "units": "m2"}),
            "best_constant": ("output", np.asarray(w["constant"]), {
                "long_name": "best constant output (mean position of the long path)",
                "units": "m"}),
        },
        coords={"window_start": ("window", w["start"], {
            "long_name": "first step of the window", "units": "step"})},
    )
    ds.attrs.update({
        "long_path_steps": int(n_steps),
        "long_path_mse_m2": w["mse"],
        "long_path_const_mse_m2": w["const_mse"],
        "long_path_boundary_interactions": int(n_interactions),
    })
    return ds
