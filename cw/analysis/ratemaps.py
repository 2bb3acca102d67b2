"""Spatial rate maps of unit activity (paper section 5, "Rate map"; OURS).

A rate map is the mean activity of each unit in square spatial bins, computed
from long test trajectories.  Bins whose centre lies outside the arena polygon,
and bins visited fewer than ``min_occupancy`` times, are NaN.

The binning grid is a regular grid of square bins of side ``bin_size`` that
covers the arena's bounding box and is centred on the centre of that box (the
grid overhangs the box by the same amount on both sides when the box width is
not a multiple of ``bin_size``).

The ``arena`` argument is an :class:`cw.task.arenas.Arena` or a plain ``(K, 2)`` array of the
polygon's corners in the frame of the positions (:meth:`cw.task.arenas.Arena.of`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import scipy.ndimage as ndi
import scipy.sparse as sp
import xarray as xr

from cw.config import schema_default
from cw.task.arenas import Arena
from cw.validation import section_from_dict

__all__ = ["RatemapParams", "SpatialBins", "bin_edges", "bin_step", "compute_ratemaps", "smooth_ratemap",
           "trial_samples"]


@dataclass(frozen=True)
class RatemapParams:
    """Rate-map settings (config section ``ratemaps``; all OURS).

    bin_size : float, default 0.1
        Side of a square spatial bin, m (> 0).
    min_occupancy : int, default 1
        Samples a bin needs to get a rate; fewer -> NaN (>= 1).
    smoothing_sigma : float, default 0.0
        s.d. of the NaN-aware Gaussian smoothing of the maps, in bins (0 = none; >= 0).
    skip_steps : int, default 50
        Steps at the start of every test trial left out of the rate maps, scores and shuffles
        (>= 0; OURS). Every trial starts at the arena's centre, on a bin corner, from the
        network's initial state: without it, the 4 bins at the centre hold ~10% of all samples
        (40 times a uniform share), 60% of them from the first 50 steps, and the network's
        start-up transient shows as a spurious "centre field". 50 steps = 5 time constants
        (tau = 10 steps, ``model.alpha`` 0.1: 0.9^50 < 1% of the initial state remains);
        measured on untrained networks of config.yaml (square, hexagon), the population's mean
        |u| reaches within 5% of its late-trial level after 14-17 steps.
    """

    bin_size: float = schema_default("ratemaps", "bin_size")
    min_occupancy: int = schema_default("ratemaps", "min_occupancy")
    smoothing_sigma: float = schema_default("ratemaps", "smoothing_sigma")
    skip_steps: int = schema_default("ratemaps", "skip_steps")

    def __post_init__(self) -> None:
        if isinstance(self.bin_size, bool) or not (
            isinstance(self.bin_size, (int, float, np.integer, np.floating)) and self.bin_size > 0
        ):
            raise ValueError(f"ratemaps.bin_size: must be > 0 m, got {self.bin_size!r}")
        if isinstance(self.min_occupancy, bool) or not isinstance(
            self.min_occupancy, (int, np.integer)
        ) or self.min_occupancy < 1:
            raise ValueError(
                f"ratemaps.min_occupancy: must be an integer >= 1, got {self.min_occupancy!r}"
            )
        if isinstance(self.smoothing_sigma, bool) or not (
            isinstance(self.smoothing_sigma, (int, float, np.integer, np.floating))
            and self.smoothing_sigma >= 0
        ):
            raise ValueError(
                f"ratemaps.smoothing_sigma: must be >= 0 bins, got {self.smoothing_sigma!r}"
            )

        if isinstance(self.skip_steps, bool) or not isinstance(self.skip_steps, (int, np.integer)) \
                or self.skip_steps < 0:
            raise ValueError(f"ratemaps.skip_steps: must be an integer >= 0, got {self.skip_steps!r}")

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "RatemapParams":
        return section_from_dict(cls, d, "ratemaps")


def trial_samples(x: np.ndarray, y: np.ndarray, activity: np.ndarray, skip_steps: int):
    """Concatenated samples of every trial after its first ``skip_steps`` steps.

    Parameters
    ----------
    x, y : (M, T) positions (m) of M trials of T steps.
    activity : (M, T, U) activity.
    skip_steps : steps dropped at the start of every trial (``ratemaps.skip_steps``).

    Returns
    -------
    x (S,), y (S,), activity (S, U) with S = M * (T - skip_steps), in trial order.
    """
    x, y, a = np.asarray(x), np.asarray(y), np.asarray(activity)
    if x.ndim != 2 or y.shape != x.shape or a.shape[:2] != x.shape:
        raise ValueError(f"trial_samples: x {x.shape}, y {y.shape} must be (M, T) and activity "
                         f"{a.shape} (M, T, U)")
    T = x.shape[1]
    k = int(skip_steps)
    if not 0 <= k < T:
        raise ValueError(f"ratemaps.skip_steps: {skip_steps!r} leaves no sample of trials of "
                         f"{T} steps (must be in [0, {T - 1}])")
    return x[:, k:].ravel(), y[:, k:].ravel(), a[:, k:].reshape(-1, a.shape[-1])


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------
def _edges_1d(lo: float, hi: float, bin_size: float) -> np.ndarray:
    width = hi - lo
    # tolerance so that e.g. 1.0 / 0.05 = 20.000000000000004 gives 20 bins, not 21
    n = max(1, int(math.ceil(width / bin_size - 1e-9)))
    centre = 0.5 * (lo + hi)
    start = centre - 0.5 * n * bin_size
    return start + bin_size * np.arange(n + 1, dtype=np.float64)


def bin_edges(
    bounds: tuple[float, float, float, float], bin_size: float
) -> tuple[np.ndarray, np.ndarray]:
    """Edges (m) of square bins of side ``bin_size`` covering ``bounds``.

    ``bounds = (xmin, xmax, ymin, ymax)``.  The number of bins per axis is
    ``ceil(width / bin_size)`` and the grid is centred on the centre of the
    bounding box.  Returns ``(x_edges, y_edges)`` of lengths ``nx + 1``, ``ny + 1``.

    Examples
    --------
    >>> xe, ye = bin_edges((0.0, 1.0, 0.0, 1.0), 0.25)
    >>> xe.tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if not bin_size > 0:
        raise ValueError(f"bin_size must be > 0, got {bin_size}")
    xmin, xmax, ymin, ymax = (float(b) for b in bounds)
    if not (xmax > xmin and ymax > ymin):
        raise ValueError(f"degenerate bounds {bounds}")
    return _edges_1d(xmin, xmax, bin_size), _edges_1d(ymin, ymax, bin_size)


def bin_step(x_centres: np.ndarray, y_centres: np.ndarray) -> float:
    """Side of the square bins of a grid as its bin centres realise it (m): ``bin_size`` up to
    the round-off of the centres, the length unit of the scores of its maps.

    Raises ValueError unless the centres are evenly spaced with one common step.

    Examples
    --------
    >>> xe, ye = bin_edges((-1.0, 1.0, -1.0, 1.0), 0.1)
    >>> step = bin_step(0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1]))
    >>> step == 0.1, abs(step - 0.1) < 1e-15
    (False, True)
    """
    steps = np.concatenate([np.diff(np.asarray(x_centres, np.float64)),
                            np.diff(np.asarray(y_centres, np.float64))])
    if steps.size == 0:
        raise ValueError("need at least 2 bins along x or y to know the bin size")
    b = float(np.median(steps))
    if not b > 0 or np.any(np.abs(steps - b) > 1e-6 * b):
        raise ValueError("bin centres x, y must be evenly spaced with one common step")
    return b


class SpatialBins:
    """Samples assigned to the square bins of an arena: the binning core of every rate map.

    :func:`compute_ratemaps` (the ``ratemaps`` rule) and
    :class:`cw.analysis.shuffles.ShiftedRatemaps` (the shuffles of the ``scores`` rule) both bin
    through this class, so their maps agree exactly.

    Parameters
    ----------
    x, y : (S,) sample positions (m).
    arena : Arena or (K, 2) corners (:meth:`cw.task.arenas.Arena.of`).
    bin_size : side of the square bins (m).
    min_occupancy : bins with fewer samples than this are invalid (NaN in the maps).

    Attributes
    ----------
    x_centres (nx,), y_centres (ny,) : bin centres (m); step : their spacing (m, :func:`bin_step`);
    shape : (ny, nx); flat : (S,) bin index
    of each sample (``n_bins`` for a sample that is non-finite or outside the grid);
    occupancy (ny, nx) int64; inside (ny, nx) bool (bin centre inside the polygon);
    valid (ny, nx) bool (inside and occupancy >= min_occupancy); n_dropped; arena_name.

    Examples
    --------
    >>> import numpy as np
    >>> bins = SpatialBins(np.array([0.1, 0.1, 0.6]), np.array([0.1, 0.2, 0.6]),
    ...                    np.array([[0, 0], [1, 0], [1, 1], [0, 1]]), 0.5)
    >>> bins.occupancy.tolist()
    [[2, 0], [0, 1]]
    >>> bins.mean(np.array([[1.0], [3.0], [5.0]]))[0].tolist()
    [[2.0, nan], [nan, 5.0]]
    """

    def __init__(self, x, y, arena, bin_size: float, min_occupancy: int = 1):
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        if y.size != x.size:
            raise ValueError(f"x ({x.size}) and y ({y.size}) lengths differ")
        if min_occupancy < 1:  # the one check of the array-level API (the config's: RatemapParams)
            raise ValueError(f"ratemaps.min_occupancy: must be an integer >= 1, got {min_occupancy!r}")
        arena = Arena.of(arena)
        self.arena_name = arena.name
        xe, ye = bin_edges(arena.bounds, bin_size)
        nx, ny = xe.size - 1, ye.size - 1
        self.x_centres = 0.5 * (xe[:-1] + xe[1:])
        self.y_centres = 0.5 * (ye[:-1] + ye[1:])
        self.step = bin_step(self.x_centres, self.y_centres)
        self.shape = (ny, nx)
        self.n_bins = nx * ny
        # bin indices; samples a hair outside the grid (round-off on a wall) are clipped,
        # samples clearly outside (or non-finite) are dropped (to the extra bin n_bins).
        fx = (x - xe[0]) / bin_size
        fy = (y - ye[0]) / bin_size
        eps = 1e-6
        ok = (np.isfinite(fx) & np.isfinite(fy) & (fx >= -eps) & (fx <= nx + eps)
              & (fy >= -eps) & (fy <= ny + eps))
        flat = np.full(x.size, self.n_bins, dtype=np.int64)
        ix = np.clip(np.floor(fx[ok]).astype(np.int64), 0, nx - 1)
        iy = np.clip(np.floor(fy[ok]).astype(np.int64), 0, ny - 1)
        flat[ok] = iy * nx + ix
        self.flat = flat
        self.n_dropped = int(x.size - np.count_nonzero(ok))
        occ = np.bincount(flat, minlength=self.n_bins + 1)[: self.n_bins].astype(np.int64)
        self.occupancy = occ.reshape(ny, nx)
        gx, gy = np.meshgrid(self.x_centres, self.y_centres)
        self.inside = arena.contains(np.stack([gx, gy], axis=-1))
        self.valid = self.inside & (self.occupancy >= min_occupancy)
        self._ones = np.ones(x.size)
        self._indptr = np.arange(x.size + 1, dtype=np.int64)

    @functools.cached_property
    def runs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Runs of consecutive samples in one bin: ``(start, end, bin)`` (R,) int64 each, samples
        ``start <= t < end`` in bin ``bin``, in time order; dropped samples are left out. A test
        trajectory stays ~13 samples in a 0.1 m bin, so R is ~S / 13."""
        f = self.flat
        cut = np.flatnonzero(f[1:] != f[:-1]) + 1
        start = np.concatenate([[0], cut]).astype(np.int64)
        end = np.concatenate([cut, [f.size]]).astype(np.int64)
        keep = f[start] < self.n_bins
        return start[keep], end[keep], f[start][keep].astype(np.int64)

    def mean(self, activity: np.ndarray, shift: int = 0) -> np.ndarray:
        """(U, ny, nx) mean of ``activity`` (S, U) per bin, NaN where invalid; with ``shift``,
        sample ``t``'s activity counts in the bin of the position at ``t - shift`` (circularly)."""
        act = np.asarray(activity, dtype=np.float64)
        b = np.roll(self.flat, int(shift)) if shift else self.flat
        ind = sp.csc_matrix((self._ones, b, self._indptr), shape=(self.n_bins + 1, b.size))
        sums = np.asarray(ind @ act)[: self.n_bins]  # (n_bins, U), float64 sums
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums / self.occupancy.reshape(-1)[:, None]
        rate = mean.T.reshape(act.shape[1], *self.shape)
        rate[:, ~self.valid] = np.nan
        return rate


def compute_ratemaps(
    x: np.ndarray,
    y: np.ndarray,
    activity: np.ndarray,
    arena,
    bin_size: float,
    min_occupancy: int = 1,
    smoothing_sigma: float = 0.0,
) -> xr.Dataset:
    """Mean activity per spatial bin for every unit.

    Parameters
    ----------
    x, y : (S,) sample positions (m).
    activity : (S, U) activity (firing rate) of U units at each sample ((S,) is
        treated as one unit).
    arena : Arena or (K, 2) corners (:meth:`cw.task.arenas.Arena.of`).
    bin_size : side of the square bins (m).
    min_occupancy : bins with fewer samples than this are NaN.
    smoothing_sigma : s.d. (in bins) of an optional Gaussian smoothing of the rates that
        respects the NaN mask (:func:`smooth_ratemap`); 0 (default) = no smoothing.

    Returns
    -------
    xarray.Dataset with
        ``rate (unit, y, x)``  mean activity; NaN outside the polygon (bin centre
                               test) or where occupancy < min_occupancy,
        ``occupancy (y, x)``   number of samples per bin (int64),
        ``inside (y, x)``      bool, bin centre inside the polygon,
    coordinates ``x``, ``y`` (bin centres, m) and ``unit``; attrs ``bin_size``,
    ``min_occupancy``, ``smoothing_sigma`` (bins), ``n_samples``, ``n_dropped`` (samples that were non-finite or
    outside the binning grid and therefore not counted) and ``arena`` (name, if any).

    Implementation: one sparse (bins x samples) indicator matrix multiplied by the
    (samples x units) activity matrix -- no loop over units.

    Examples
    --------
    >>> import numpy as np
    >>> square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]])
    >>> ds = compute_ratemaps(np.array([0.1, 0.1, 0.6]), np.array([0.1, 0.2, 0.6]),
    ...                       np.array([1.0, 3.0, 5.0]), square, 0.5)
    >>> ds["rate"].values[0].tolist(), ds["occupancy"].values.tolist()
    ([[2.0, nan], [nan, 5.0]], [[2, 0], [0, 1]])
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    act = np.asarray(activity)
    if act.ndim == 1:
        act = act[:, None]
    if act.ndim != 2:
        raise ValueError(f"activity must be (S, U), got shape {act.shape}")
    S = x.size
    if y.size != S or act.shape[0] != S:
        raise ValueError(
            f"x ({x.size}), y ({y.size}) and activity ({act.shape[0]}) lengths differ"
        )
    if not smoothing_sigma >= 0:
        raise ValueError(f"ratemaps.smoothing_sigma: must be >= 0 bins, got {smoothing_sigma!r}")
    U = act.shape[1]

    bins = SpatialBins(x, y, arena, bin_size, min_occupancy)
    xc, yc, inside, occ2, name = bins.x_centres, bins.y_centres, bins.inside, bins.occupancy, bins.arena_name
    rate = bins.mean(act)
    if smoothing_sigma > 0:
        rate = smooth_ratemap(rate, smoothing_sigma)

    ds = xr.Dataset(
        data_vars={
            "rate": (
                ("unit", "y", "x"),
                rate,
                {"long_name": "mean activity per spatial bin", "units": "1"},
            ),
            "occupancy": (
                ("y", "x"),
                occ2,
                {"long_name": "number of samples per bin", "units": "1"},
            ),
            "inside": (
                ("y", "x"),
                inside,
                {"long_name": "bin centre inside the arena polygon"},
            ),
        },
        coords={
            "unit": ("unit", np.arange(U)),
            "y": ("y", yc, {"units": "m", "long_name": "bin centre y"}),
            "x": ("x", xc, {"units": "m", "long_name": "bin centre x"}),
        },
        attrs={
            "bin_size": float(bin_size),
            "min_occupancy": int(min_occupancy),
            "smoothing_sigma": float(smoothing_sigma),
            "n_samples": int(S),
            "n_dropped": bins.n_dropped,
            "arena": name,
        },
    )
    return ds


def smooth_ratemap(rate: np.ndarray, sigma_bins: float, truncate: float = 4.0) -> np.ndarray:
    """Gaussian smoothing of rate maps that respects the NaN mask.

    Normalised convolution: ``G*(r . m) / G*m`` with ``m`` the validity mask, so
    NaN bins neither contribute nor get filled; NaN stays NaN.  Works on a single
    ``(ny, nx)`` map or a stack ``(..., ny, nx)`` (smoothing over the last two axes
    only).  ``sigma_bins <= 0`` returns a copy.

    Examples
    --------
    >>> import numpy as np
    >>> smooth_ratemap(np.array([[1.0, np.nan], [1.0, 1.0]]), 1.0).tolist()
    [[1.0, nan], [1.0, 1.0]]
    """
    r = np.asarray(rate, dtype=np.float64)
    if r.ndim < 2:
        raise ValueError("rate must be at least 2-D (..., ny, nx)")
    out = r.copy()
    if sigma_bins <= 0:
        return out
    valid = np.isfinite(r)
    filled = np.where(valid, r, 0.0)
    sig = (0.0,) * (r.ndim - 2) + (float(sigma_bins), float(sigma_bins))
    num = ndi.gaussian_filter(filled, sig, mode="constant", cval=0.0, truncate=truncate)
    den = ndi.gaussian_filter(
        valid.astype(np.float64), sig, mode="constant", cval=0.0, truncate=truncate
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        sm = num / den
    out[valid] = sm[valid]
    out[~valid] = np.nan
    return out
