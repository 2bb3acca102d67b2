"""Significance of spatial scores from circular time-shift shuffles (docs/paper-map.md; OURS).

The experimental standard (e.g. Langston et al. 2010, Solstad et al. 2008, Krupic et al. 2012):
the activity time series of a unit is shifted circularly in time relative to the animal's
positions, by a random offset of at least ``min_shift`` steps; the rate map of the shifted
activity and its scores are computed; repeating this ``n_shuffles`` times gives a null
distribution per unit and per score that keeps the unit's temporal statistics and the
trajectory's occupancy but breaks the relation between activity and position. A unit's score is
significant when it exceeds the ``percentile``-th percentile of its own null distribution.

Conventions
-----------
* The test trials are concatenated in trial order into one series of ``S`` samples (activity
  ``(S, U)``, positions ``(S,)``); shift ``s`` pairs the activity at sample ``t`` with the
  position at sample ``(t - s) mod S``. All units share the same ``n_shuffles`` offsets (one
  pass over the runs of samples in a bin gives every unit's map, :meth:`ShiftedRatemaps.maps_many`);
  each unit still gets its own null distribution.
* Offsets are drawn uniformly from the integers ``[min_shift, S - min_shift]`` with the
  ``numpy.random.Generator`` passed in. The default ``min_shift`` = 500 steps = one trial (OURS),
  so shifted activity always comes from another stretch of the test set, well beyond the
  network's time constant (10 steps). Caveat: every trial starts at the arena centre, so an
  offset close to a multiple of the trial length re-aligns time-in-trial and keeps a little
  of the start-of-trial structure; with uniform offsets over ``S = 250,000`` samples this is
  a small fraction of the shuffles.
* Shuffled maps use exactly the binning, occupancy mask and smoothing of the real map (the
  positions do not move, so the occupancy does not change).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import xarray as xr

from cw.analysis.ratemaps import SpatialBins, smooth_ratemap
from cw.config import schema_default
from cw.validation import is_int, section_from_dict

__all__ = [
    "ShuffleParams",
    "ShiftedRatemaps",
    "shift_offsets",
    "shuffle_null",
    "null_thresholds",
    "p_values",
    "significance_dataset",
]



@dataclass(frozen=True)
class ShuffleParams:
    """Parameters of the shuffle null distributions (config section ``shuffles``; all OURS).

    n_shuffles : int, default 100
        Circular shifts per unit (the null distribution's size). >= 1; 100 gives a 95th
        percentile with a standard error of about 2 percentile points.
    min_shift : int, default 500
        Smallest shift, in samples (integration steps; 500 = one trial). Offsets are uniform on
        ``[min_shift, S - min_shift]``, so the concatenated series must have
        ``S >= 2 * min_shift + 1`` samples.
    percentile : float, default 95.0
        Percentile of the null distribution used as each unit's threshold, in (0, 100).
    batch_size : int, default 8
        Shuffles whose maps are scored together (memory/speed only, results do not depend on
        it): each batch scores ``batch_size * U`` maps at once.
    """

    n_shuffles: int = schema_default("shuffles", "n_shuffles")
    min_shift: int = schema_default("shuffles", "min_shift")
    percentile: float = schema_default("shuffles", "percentile")
    batch_size: int = schema_default("shuffles", "batch_size")

    def __post_init__(self) -> None:
        for key in ("n_shuffles", "min_shift", "batch_size"):
            if not is_int(getattr(self, key)):
                raise ValueError(f"shuffles.{key}: must be an integer, got {getattr(self, key)!r}")
        if self.n_shuffles < 1:
            raise ValueError(f"shuffles.n_shuffles: must be >= 1, got {self.n_shuffles}")
        if self.min_shift < 1:
            raise ValueError(f"shuffles.min_shift: must be >= 1 sample, got {self.min_shift}")
        if self.batch_size < 1:
            raise ValueError(f"shuffles.batch_size: must be >= 1, got {self.batch_size}")
        if not 0.0 < float(self.percentile) < 100.0:
            raise ValueError(f"shuffles.percentile: must be in (0, 100), got {self.percentile!r}")

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "ShuffleParams":
        return section_from_dict(cls, d, "shuffles")


def shift_offsets(n_samples: int, n_shuffles: int, min_shift: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``n_shuffles`` circular shifts drawn uniformly from ``[min_shift, n_samples - min_shift]``.

    Raises ValueError (naming ``shuffles.min_shift``) if the series is too short.

    Examples
    --------
    >>> import numpy as np
    >>> offsets = shift_offsets(4000, 20, 500, np.random.default_rng(0))
    >>> offsets.shape, bool(offsets.min() >= 500 and offsets.max() <= 3500)
    ((20,), True)
    """
    if n_samples < 2 * min_shift + 1:
        raise ValueError(
            f"shuffles.min_shift: {min_shift} samples leaves no admissible shift in a series of "
            f"{n_samples} samples (need >= 2 * min_shift + 1)"
        )
    return rng.integers(min_shift, n_samples - min_shift, size=n_shuffles, endpoint=True)


class ShiftedRatemaps:
    """Rate maps of activity circularly shifted in time relative to position.

    The binning is that of :func:`cw.analysis.ratemaps.compute_ratemaps` (both use
    :class:`cw.analysis.ratemaps.SpatialBins` and :func:`smooth_ratemap`), so ``maps(0)`` equals its ``rate``.
    A shift costs one addition per run of samples in a bin and unit (:meth:`maps_many`).

    Parameters
    ----------
    x, y : (S,) positions (m) of the concatenated samples.
    activity : (S, U) activity.
    arena : Arena or (K, 2) corners (:meth:`cw.task.arenas.Arena.of`).
    bin_size : m; min_occupancy : samples; smoothing_sigma : bins (0 = none).
    bins : a :class:`cw.analysis.ratemaps.SpatialBins` of these ``x, y``, arena, bin size and
        minimum occupancy, shared by several unit sets on the same samples (the checkpoints of
        a development analysis); None builds it.

    Attributes
    ----------
    x_centres (nx,), y_centres (ny,) : bin centres (m); step : their spacing (m, the bin size
    of the scores); occupancy (ny, nx) int; valid (ny, nx)
    bool; variance (U,) : variance of each unit's activity over all S samples (float64).
    """

    def __init__(self, x, y, activity, arena, bin_size: float, min_occupancy: int = 1,
                 smoothing_sigma: float = 0.0, bins: SpatialBins | None = None):
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        act = np.asarray(activity)
        if act.ndim == 1:
            act = act[:, None]
        if act.ndim != 2 or act.shape[0] != x.size or y.size != x.size:
            raise ValueError(f"x ({x.size}), y ({y.size}) and activity {act.shape} do not match")
        self.n_samples, self.n_units = act.shape
        self.smoothing_sigma = float(smoothing_sigma)
        if bins is not None and bins.flat.size != x.size:
            raise ValueError(f"bins: made for {bins.flat.size} samples, activity has {x.size}")
        self._bins = bins if bins is not None else SpatialBins(x, y, arena, bin_size, min_occupancy)
        self.x_centres, self.y_centres, self.step = self._bins.x_centres, self._bins.y_centres, self._bins.step
        self.occupancy, self.valid = self._bins.occupancy, self._bins.valid
        # float64 sums: the same accuracy as compute_ratemaps
        self._act = np.ascontiguousarray(act, dtype=np.float64)

    @property
    def variance(self) -> np.ndarray:
        """(U,) variance of each unit's activity over all S samples (float64)."""
        return self._centred_cumsum[2]

    @functools.cached_property
    def _centred_cumsum(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """((S + 1, U) cumulative sums of the centred activity, (U,) the means, (U,) the
        variances), from one compiled pass over the activity: what
        :meth:`_shifted_means` needs."""
        mean = self._act.mean(axis=0)
        csum = np.empty((self.n_samples + 1, self.n_units))
        sq = np.zeros(self.n_units)
        _centred_cumsum_kernel()(self._act, mean, csum, sq)
        return csum, mean, sq / self.n_samples

    def _shifted_means(self, shifts: np.ndarray) -> np.ndarray:
        """(n_shifts * U, ny, nx) means per bin of circularly shifted activity, shift-major (the
        maps of ``shifts[0]`` for every unit first), NaN where invalid; ``shifts`` in [0, S).

        A run of samples ``[start, end)`` in bin ``b`` (:attr:`SpatialBins.runs`) receives the
        activity of samples ``[start + s, end + s)`` (mod S), a difference of two rows of
        :attr:`_centred_cumsum` (centred, so the sums stay small and their differences exact
        to ~1e-15 of the activity's scale): one shift costs R (runs, ~S / 13 along test
        trajectories) additions of U-vectors instead of S.
        """
        csum, mean, _ = self._centred_cumsum
        bins = self._bins
        start, end, rbin = bins.runs
        sums = np.zeros((shifts.size, bins.n_bins, self.n_units))
        _shifted_run_sums()(csum, start, end, rbin, shifts, sums)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = sums.transpose(0, 2, 1) / bins.occupancy.reshape(-1) + mean[None, :, None]
        rate = rate.reshape(shifts.size * self.n_units, *bins.shape)
        rate[:, ~bins.valid] = np.nan
        return rate

    def maps(self, shift: int = 0) -> np.ndarray:
        """(U, ny, nx) rate maps with the activity shifted by ``shift`` samples (NaN invalid)."""
        return self.maps_many(np.array([shift]))

    def maps_many(self, shifts) -> np.ndarray:
        """(len(shifts) * U, ny, nx) rate maps of several shifts, shift-major (NaN invalid).

        Shift 0 (mod S) is the direct mean per bin (:meth:`SpatialBins.mean`, the ``ratemaps``
        rule's map); other shifts come from the runs of samples in one bin and cumulative sums
        (:meth:`_shifted_means`), equal to the direct means of the shifted activity
        to float64 round-off (``tests/test_shuffles.py``) at ~1/13 of their cost.
        """
        shifts = np.mod(np.asarray(shifts, dtype=np.int64).ravel(), self.n_samples)
        zero = shifts == 0
        rate = np.empty((shifts.size, self.n_units, *self.occupancy.shape))
        if zero.any():
            rate[zero] = self._bins.mean(self._act)  # once, however many zero shifts
        if not zero.all():
            rate[~zero] = self._shifted_means(shifts[~zero]).reshape(-1, *rate.shape[1:])
        rate = rate.reshape(-1, *self.occupancy.shape)
        if self.smoothing_sigma > 0:
            rate = smooth_ratemap(rate, self.smoothing_sigma)
        return rate


@functools.lru_cache(maxsize=1)
def _shifted_run_sums():
    """The compiled loop of :meth:`ShiftedRatemaps._shifted_means` (numba, built on first use and
    cached beside this module): for every shift and run, adds the activity of the shifted run
    (a difference of two rows of cumulative sums, split where it wraps past the last sample) to
    the run's bin, all units at once (contiguous rows, vectorised)."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def run(csum, start, end, rbin, shifts, out):
        n_samples, n_units = csum.shape[0] - 1, csum.shape[1]
        for k in range(shifts.shape[0]):
            s = shifts[k]
            for r in range(start.shape[0]):
                a0 = start[r] + s
                a1 = end[r] + s
                o = out[k, rbin[r]]
                if a1 <= n_samples:
                    for j in range(n_units):
                        o[j] += csum[a1, j] - csum[a0, j]
                elif a0 >= n_samples:
                    a0 -= n_samples
                    a1 -= n_samples
                    for j in range(n_units):
                        o[j] += csum[a1, j] - csum[a0, j]
                else:
                    a1 -= n_samples
                    for j in range(n_units):
                        o[j] += (csum[n_samples, j] - csum[a0, j]) + csum[a1, j]

    return run


@functools.lru_cache(maxsize=1)
def _centred_cumsum_kernel():
    """Compiled pass of :attr:`ShiftedRatemaps._centred_cumsum` (numba, cached beside this
    module): ``csum[t + 1] = csum[t] + (act[t] - mean)`` and the sum of squares of
    ``act[t] - mean``, row by row (numpy's cumulative sum along the sample axis is strided and
    several times slower)."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def run(act, mean, csum, sq):
        n_samples, n_units = act.shape
        for j in range(n_units):
            csum[0, j] = 0.0
        for t in range(n_samples):
            for j in range(n_units):
                d = act[t, j] - mean[j]
                csum[t + 1, j] = csum[t, j] + d
                sq[j] += d * d

    return run


def shuffle_null(
    binner: ShiftedRatemaps,
    score_fn: Callable[[np.ndarray], Mapping[str, np.ndarray]],
    offsets: np.ndarray,
    batch_size: int = 8,
    names: tuple[str, ...] | None = None,
    workers: int | None = None,
) -> dict[str, np.ndarray]:
    """Null distributions of scores under circular shifts.

    Parameters
    ----------
    binner : ShiftedRatemaps of the run's activity.
    score_fn : maps (B*U, ny, nx) -> dict of (B*U,) score arrays (e.g. a partial of
        :func:`cw.analysis.scores.score_maps` with ``geometry=None``).
    offsets : (n_shuffles,) shifts (samples), e.g. from :func:`shift_offsets`.
    batch_size : shuffles scored together.
    names : scores to keep (default: every 1-D output of ``score_fn``).
    workers : batches scored side by side in threads (None: the job's threads,
        :func:`cw.runtime.job_threads`); the result does not depend on it.

    Returns
    -------
    dict name -> (n_shuffles, U) array.

    Examples
    --------
    A band along x at random positions: its band score beats every shuffled map's.

    >>> import numpy as np
    >>> from cw.analysis.scores import band_scores
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.uniform(-1, 1, (2, 4000))
    >>> square = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]])
    >>> binner = ShiftedRatemaps(x, y, np.cos(2 * np.pi * x / 0.5)[:, None], square, 0.1)
    >>> null = shuffle_null(binner, lambda maps: band_scores(maps, 0.1),
    ...                     shift_offsets(4000, 20, 500, rng), names=("band_score",))
    >>> null["band_score"].shape
    (20, 1)
    >>> real = band_scores(binner.maps(0), 0.1)["band_score"]
    >>> bool(real[0] > 0.5 > null["band_score"].max())
    True
    """
    from cw.runtime import job_threads

    offsets = np.asarray(offsets, dtype=np.int64)
    U = binner.n_units
    out: dict[str, np.ndarray] = {}
    size = max(1, int(batch_size))
    starts = list(range(0, offsets.size, size))

    def score(start: int):
        chunk = offsets[start: start + size]
        return start, chunk.size, score_fn(binner.maps_many(chunk))

    def keep(start: int, n: int, sc) -> None:
        keys = names if names is not None else [k for k, v in sc.items() if np.ndim(v) == 1]
        for k in keys:
            if k not in out:
                out[k] = np.full((offsets.size, U), np.nan)
            out[k][start: start + n] = np.asarray(sc[k], dtype=np.float64).reshape(n, U)

    workers = min(int(workers or job_threads()), len(starts))
    if workers <= 1:
        for start in starts:
            keep(*score(start))
        return out
    # batches of shuffles are independent: scored side by side (numpy and scipy release the GIL
    # in their array work), each with one BLAS thread; the numbers do not depend on the order
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), ThreadPoolExecutor(workers) as pool:
        for result in pool.map(score, starts):
            keep(*result)
    return out


def null_thresholds(null: np.ndarray, percentile: float = 95.0) -> np.ndarray:
    """Per-unit threshold: the ``percentile``-th percentile of the null (n_shuffles, U) over
    its finite values (linear interpolation, numpy's default); NaN if none is finite.

    Examples
    --------
    >>> import numpy as np
    >>> null_thresholds(np.arange(100.0).reshape(100, 1))
    array([94.05])
    """
    null = np.asarray(null, dtype=np.float64)
    out = np.full(null.shape[1:], np.nan)
    finite = np.isfinite(null)
    has = finite.any(axis=0)
    if np.any(has):
        with np.errstate(invalid="ignore"):
            out[has] = np.nanpercentile(null[:, has], percentile, axis=0)
    return out


def p_values(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """One-sided permutation p-value per unit: ``(1 + #{null >= observed}) / (1 + n)`` over the
    finite null values; NaN where the observed score is NaN or no null value is finite.

    Examples
    --------
    >>> import numpy as np
    >>> p_values(np.array([97.5]), np.arange(100.0).reshape(100, 1)).round(4)
    array([0.0297])
    """
    obs = np.asarray(observed, dtype=np.float64)
    null = np.asarray(null, dtype=np.float64)
    finite = np.isfinite(null)
    n = finite.sum(axis=0)
    ge = np.sum(finite & (null >= obs[None]), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (1.0 + ge) / (1.0 + n)
    return np.where(np.isfinite(obs) & (n > 0), p, np.nan)


def significance_dataset(
    scores: Mapping[str, np.ndarray],
    null: Mapping[str, np.ndarray],
    offsets: np.ndarray,
    unit: np.ndarray,
    params: ShuffleParams,
    keep_null: bool = True,
) -> xr.Dataset:
    """Thresholds, significance flags and p-values of every score with a null distribution.

    Returns a Dataset with, per score ``<s>`` in ``null``: ``threshold_<s>`` (unit),
    ``significant_<s>`` (unit, bool: finite score > threshold), ``p_<s>`` (unit) and, if
    ``keep_null``, ``null_<s>`` (shuffle, unit); coordinate ``shift`` (shuffle, samples).
    """
    data = {}
    for name, nl in null.items():
        thr = null_thresholds(nl, params.percentile)
        obs = np.asarray(scores[name], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            sig = np.isfinite(obs) & np.isfinite(thr) & (obs > thr)
        data[f"threshold_{name}"] = ("unit", thr, {
            "long_name": f"{params.percentile:g}th percentile of the shuffle null of {name}",
            "units": "1"})
        data[f"significant_{name}"] = ("unit", sig, {
            "long_name": f"{name} above its shuffle threshold"})
        data[f"p_{name}"] = ("unit", p_values(obs, nl), {
            "long_name": f"one-sided shuffle p-value of {name}", "units": "1"})
        if keep_null:
            data[f"null_{name}"] = (("shuffle", "unit"), np.asarray(nl), {
                "long_name": f"{name} of circularly time-shifted activity", "units": "1"})
    coords = {"unit": ("unit", np.asarray(unit)),
              "shift": ("shuffle", np.asarray(offsets, dtype=np.int64), {
                  "long_name": "circular shift of activity relative to position",
                  "units": "step"})}
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update({f"shuffles_{k}": v for k, v in dataclasses.asdict(params).items()})
    ds.attrs["shuffles_method"] = (
        "activity circularly shifted in time relative to position by offsets uniform on "
        "[min_shift, S - min_shift] samples (concatenated test trials); threshold = percentile "
        "of each unit's null; significant = score > threshold")
    return ds
