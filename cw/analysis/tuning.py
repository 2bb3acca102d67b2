"""Direction and speed tuning curves of every unit (paper Fig. 3 and Appendix A-C; OURS).

The paper plots each unit's activity against the "direction input (0 to 360 degrees)" and
against the speed input. Here:

* **Direction tuning**: mean activity in ``n_direction_bins`` equal bins of the heading input
  over [0, 360) deg. By default only *moving* samples (speed > 0) are used (``moving_only``):
  the heading input is present on every step, but the animal is still on 90 % of them (PAPER),
  where heading does not change the position and the generator keeps drifting it; the moving
  samples are those on which heading matters for path integration (the convention of
  head-direction analyses with a speed filter). Summary statistics, computed on the curve
  ``c_b`` (bins with data only) after subtracting its minimum (tanh activity can be negative;
  "rate" = activity above the curve's minimum, ``c'_b = c_b - min_b c_b >= 0``):

  - resultant vector length ``R = |sum_b c'_b exp(i theta_b)| / sum_b c'_b`` in [0, 1]
    (0 = untuned; a cosine tuning curve ``a + b cos(theta - phi)`` gives ``R = 0.5``);
  - preferred direction ``arg(sum_b c'_b exp(i theta_b))`` in [0, 360) deg;
  - modulation depth ``max_b c_b - min_b c_b`` (activity units).

* **Speed tuning**: mean activity at zero speed (one bin: the stationary samples) and in
  ``n_speed_bins`` equal bins over (0, max speed]; the linear fit ``u = intercept + slope *
  speed`` is the least-squares fit over *all samples* (stationary ones included: zero is a
  legitimate value of the speed input), with Pearson ``r`` over the same samples. Speed is
  the trajectory's speed in m/step (the network's input is this times ``model.speed_scale``);
  the slope is in activity per (m/step).

``lag_steps`` (default 0) pairs the input at step t with the activity at step t + lag within
each trial (the network integrates its input with time constant tau = 10 steps).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import scipy.sparse as sp
import xarray as xr

from cw.config import schema_default
from cw.validation import is_int, section_from_dict

__all__ = [
    "TuningParams",
    "binned_mean",
    "direction_tuning",
    "speed_tuning",
    "tuning_dataset",
]



@dataclass(frozen=True)
class TuningParams:
    """Parameters of the tuning curves (config section ``tuning``; all OURS).

    n_direction_bins : int, default 36
        Equal bins of the heading input over [0, 360) deg (10 deg each). >= 4.
    n_speed_bins : int, default 10
        Equal bins of the moving speeds over (0, max speed]; the stationary samples form one
        more bin at speed 0. >= 1.
    moving_only : bool, default True
        Direction tuning from moving samples only (speed > 0); see the module docstring.
    lag_steps : int, default 0
        Activity at step t + lag_steps is paired with the input at step t (within trials), >= 0.
    min_samples : int, default 10
        Bins with fewer samples are NaN in the curves and left out of R. >= 1.
    """

    n_direction_bins: int = schema_default("tuning", "n_direction_bins")
    n_speed_bins: int = schema_default("tuning", "n_speed_bins")
    moving_only: bool = schema_default("tuning", "moving_only")
    lag_steps: int = schema_default("tuning", "lag_steps")
    min_samples: int = schema_default("tuning", "min_samples")

    def __post_init__(self) -> None:
        for key in ("n_direction_bins", "n_speed_bins", "lag_steps", "min_samples"):
            if not is_int(getattr(self, key)):
                raise ValueError(f"tuning.{key}: must be an integer, got {getattr(self, key)!r}")
        if self.n_direction_bins < 4:
            raise ValueError(f"tuning.n_direction_bins: must be >= 4, got {self.n_direction_bins}")
        if self.n_speed_bins < 1:
            raise ValueError(f"tuning.n_speed_bins: must be >= 1, got {self.n_speed_bins}")
        if self.lag_steps < 0:
            raise ValueError(f"tuning.lag_steps: must be >= 0, got {self.lag_steps}")
        if self.min_samples < 1:
            raise ValueError(f"tuning.min_samples: must be >= 1, got {self.min_samples}")
        if not isinstance(self.moving_only, (bool, np.bool_)):
            raise ValueError(f"tuning.moving_only: must be true or false, got {self.moving_only!r}")

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "TuningParams":
        return section_from_dict(cls, d, "tuning")


def binned_mean(idx: np.ndarray, activity: np.ndarray, n_bins: int, min_samples: int = 1):
    """Mean activity per bin: ``idx`` (S,) bin index in [0, n_bins) or -1 (left out), activity
    (S, U) -> (curve (n_bins, U) with NaN where count < min_samples, count (n_bins,))."""
    idx = np.asarray(idx, dtype=np.int64)
    act = np.asarray(activity, dtype=np.float64)
    keep = (idx >= 0) & (idx < n_bins)
    k = np.flatnonzero(keep)
    ind = sp.csr_matrix((np.ones(k.size), (idx[k], np.arange(k.size))), shape=(n_bins, k.size))
    sums = np.asarray(ind @ act[k])
    count = np.bincount(idx[k], minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = sums / count[:, None]
    curve[count < min_samples] = np.nan
    return curve, count


def _lagged(x: np.ndarray, act: np.ndarray, lag: int):
    """Flatten (M, T) inputs and (M, T, U) activity with activity lagged by ``lag`` steps."""
    x = np.asarray(x)
    act = np.asarray(act)
    if x.ndim == 1:
        if lag:
            raise ValueError("tuning.lag_steps: needs (trial, time) arrays, got flat samples")
        return x, act.reshape(x.size, -1)
    if lag >= x.shape[1]:
        raise ValueError(f"tuning.lag_steps: {lag} >= trial length {x.shape[1]}")
    xs = x[:, : x.shape[1] - lag]
    a = act[:, lag:]
    return xs.reshape(-1), a.reshape(xs.size, -1)


def direction_tuning(
    heading: np.ndarray,
    activity: np.ndarray,
    speed: np.ndarray | None = None,
    params: TuningParams = TuningParams(),
) -> dict[str, np.ndarray]:
    """Direction tuning curves and their resultant vectors.

    Parameters
    ----------
    heading : (S,) or (M, T) heading input, rad in [0, 2 pi).
    activity : (S, U) or (M, T, U).
    speed : same shape as heading (m/step); needed when ``params.moving_only``.
    params : TuningParams.

    Returns
    -------
    dict: ``curve`` (n_bins, U), ``count`` (n_bins,), ``centres`` (n_bins,) deg,
    ``resultant_length`` (U,), ``preferred_direction`` (U,) deg, ``modulation`` (U,).

    Examples
    --------
    A unit tuned to heading 90 deg (activity cos(heading - 90 deg)):

    >>> import numpy as np
    >>> heading = np.random.default_rng(0).uniform(0, 2 * np.pi, 5000)
    >>> out = direction_tuning(heading, np.cos(heading - np.pi / 2)[:, None],
    ...                        params=TuningParams(moving_only=False))
    >>> round(float(out["preferred_direction"][0])), round(float(out["resultant_length"][0]), 1)
    (90, 0.5)
    """
    lag = int(params.lag_steps)
    h, act = _lagged(heading, activity, lag)
    nb = int(params.n_direction_bins)
    idx = np.floor(np.mod(h, 2 * np.pi) / (2 * np.pi) * nb).astype(np.int64)
    idx = np.clip(idx, 0, nb - 1)
    if params.moving_only:
        if speed is None:
            raise ValueError("direction_tuning: speed is needed with tuning.moving_only")
        s, _ = _lagged(speed, activity[..., :1], lag)
        idx = np.where(s > 0, idx, -1)
    curve, count = binned_mean(idx, act, nb, params.min_samples)
    centres = (np.arange(nb) + 0.5) * 360.0 / nb
    th = np.deg2rad(centres)
    ok = np.isfinite(curve)
    lo = np.min(np.where(ok, curve, np.inf), axis=0)
    hi = np.max(np.where(ok, curve, -np.inf), axis=0)
    c = np.where(ok, curve - lo, 0.0)
    z = np.sum(c * np.exp(1j * th)[:, None], axis=0)
    tot = c.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        R = np.abs(z) / tot
    good = np.isfinite(lo) & (tot > 0)
    pref = np.mod(np.rad2deg(np.angle(z)), 360.0)
    return {
        "curve": curve,
        "count": count,
        "centres": centres,
        "resultant_length": np.where(good, R, np.nan),
        "preferred_direction": np.where(good, pref, np.nan),
        "modulation": np.where(np.isfinite(lo), hi - lo, np.nan),
    }


def speed_tuning(
    speed: np.ndarray,
    activity: np.ndarray,
    params: TuningParams = TuningParams(),
    speed_max: float | None = None,
) -> dict[str, np.ndarray]:
    """Speed tuning curves and the linear fit of activity against speed.

    Parameters
    ----------
    speed : (S,) or (M, T) speed input, m/step (>= 0).
    activity : (S, U) or (M, T, U).
    speed_max : upper edge of the last bin (m/step); default the largest speed.

    Returns
    -------
    dict: ``curve`` (n_speed_bins + 1, U) (row 0 = stationary samples), ``count``,
    ``centres`` (m/step; 0 for the stationary bin), ``edges`` (n_speed_bins + 1,) of the moving
    bins, ``slope`` (U,) activity per (m/step), ``intercept`` (U,), ``r`` (U,).

    Examples
    --------
    >>> import numpy as np
    >>> speed = np.random.default_rng(0).uniform(0, 0.2, 5000)
    >>> out = speed_tuning(speed, 3 * speed[:, None])
    >>> float(out["slope"][0].round(6)), float(out["r"][0].round(6))
    (3.0, 1.0)
    """
    s, act = _lagged(speed, activity, int(params.lag_steps))
    s = s.astype(np.float64)
    nb = int(params.n_speed_bins)
    top = float(np.max(s)) if speed_max is None else float(speed_max)
    if not top > 0:
        top = 1.0  # all samples stationary: moving bins stay empty
    edges = np.linspace(0.0, top, nb + 1)
    idx = np.where(s > 0, 1 + np.clip(np.ceil(s / top * nb).astype(np.int64) - 1, 0, nb - 1), 0)
    idx = np.where(s > top * (1 + 1e-9), -1, idx)
    curve, count = binned_mean(idx, act, nb + 1, params.min_samples)
    centres = np.concatenate([[0.0], 0.5 * (edges[:-1] + edges[1:])])
    sc = s - s.mean()
    a = act.astype(np.float64)
    ac = a - a.mean(axis=0)
    sxx = float(sc @ sc)
    sxy = sc @ ac
    syy = np.sum(ac * ac, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = sxy / sxx
        r = sxy / np.sqrt(sxx * syy)
    slope = np.where(sxx > 0, slope, np.nan)
    r = np.where((sxx > 0) & (syy > 0), r, np.nan)
    intercept = a.mean(axis=0) - slope * s.mean()
    return {"curve": curve, "count": count, "centres": centres, "edges": edges,
            "slope": slope, "intercept": intercept, "r": r}


def tuning_dataset(activity: xr.Dataset, params: TuningParams = TuningParams()) -> xr.Dataset:
    """Direction and speed tuning of every unit of an ``activity.nc`` Dataset.

    Parameters
    ----------
    activity : Dataset with ``u`` (trial, time, unit), ``speed`` and ``heading`` (trial, time).

    Returns
    -------
    Dataset with dims ``unit``, ``direction`` (bin centres, deg) and ``speed_bin`` (bin
    centres, m/step): ``direction_curve``, ``direction_count``, ``resultant_length``,
    ``preferred_direction``, ``direction_modulation``, ``speed_curve``, ``speed_count``,
    ``speed_slope``, ``speed_intercept``, ``speed_r``; parameters as attributes.
    """
    u = activity["u"].transpose("trial", "time", "unit").values
    spd = activity["speed"].transpose("trial", "time").values
    hd = activity["heading"].transpose("trial", "time").values
    d = direction_tuning(hd, u, spd, params)
    s = speed_tuning(spd, u, params)
    unit = activity["unit"].values
    ds = xr.Dataset(
        {
            "direction_curve": (("direction", "unit"), d["curve"], {
                "long_name": "mean activity per heading-input bin"
                             + (" (moving samples)" if params.moving_only else ""),
                "units": "1"}),
            "direction_count": ("direction", d["count"], {
                "long_name": "samples per heading bin", "units": "1"}),
            "resultant_length": ("unit", d["resultant_length"], {
                "long_name": "resultant vector length of the direction tuning curve "
                             "(minimum subtracted)", "units": "1"}),
            "preferred_direction": ("unit", d["preferred_direction"], {
                "long_name": "direction of the resultant vector, counter-clockwise from +x",
                "units": "degree"}),
            "direction_modulation": ("unit", d["modulation"], {
                "long_name": "max - min of the direction tuning curve", "units": "1"}),
            "speed_curve": (("speed_bin", "unit"), s["curve"], {
                "long_name": "mean activity per speed bin (bin 0: stationary samples)",
                "units": "1"}),
            "speed_count": ("speed_bin", s["count"], {
                "long_name": "samples per speed bin", "units": "1"}),
            "speed_slope": ("unit", s["slope"], {
                "long_name": "least-squares slope of activity against speed (all samples)",
                "units": "step m-1"}),
            "speed_intercept": ("unit", s["intercept"], {
                "long_name": "intercept of that fit (activity at zero speed)", "units": "1"}),
            "speed_r": ("unit", s["r"], {
                "long_name": "Pearson correlation of activity and speed (all samples)",
                "units": "1"}),
        },
        coords={
            "unit": ("unit", unit),
            "direction": ("direction", d["centres"], {
                "long_name": "heading-input bin centre", "units": "degree"}),
            "speed_bin": ("speed_bin", s["centres"], {
                "long_name": "speed bin centre (0 = stationary)", "units": "m step-1"}),
            "speed_edges": ("speed_edge", s["edges"], {
                "long_name": "edges of the moving-speed bins", "units": "m step-1"}),
        },
    )
    ds.attrs.update({f"tuning_{k}": (int(v) if isinstance(v, (bool, np.bool_)) else v)
                     for k, v in dataclasses.asdict(params).items()})
    return ds
