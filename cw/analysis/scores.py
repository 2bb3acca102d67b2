"""Spatial scores of rate maps (docs/paper-map.md; OURS): grid, border, band, spatial variance.

Contents
--------
* :func:`autocorrelogram`, :func:`grid_scores` -- grid scores 60 and 90 (below);
* :func:`grid_geometry` -- grid spacing and orientation from the autocorrelogram peaks;
* :func:`border_scores` -- Solstad et al. (2008) border score with the polygon's edges as walls;
* :func:`band_scores` -- the project's band score (spectral dominance of one plane wave);
* :func:`spatial_variance_fraction` -- eta^2, the variance explained by position;
* :func:`score_maps` -- all of them at once (one autocorrelogram per map), the function the
  shuffles (:mod:`cw.analysis.shuffles`) call; :func:`scores_dataset` -- as an xarray Dataset.

All scores are invariant under a sign flip of the map (tanh units have no meaningful sign, see
:class:`BorderScoreParams`), constant or all-NaN maps give NaN, never an exception.

Grid score
----------
Re-implemented from the published definitions (Sargolini et al. 2006; the variant
used by Banino et al. 2018 / DeepMind ``scores.py`` and Sorscher et al. 2019):

1. Spatial autocorrelogram (SAC) of a rate map: for every lag, the Pearson
   correlation between the map and its shifted copy over the pairs of bins that
   are valid (finite) in both.  Computed with FFTs of the centred map, its square
   and the validity mask.  Lags with fewer than ``min_overlap`` valid pairs are NaN.
2. The SAC is rotated about its centre (the zero-lag bin) by 30, 45, 60, 90, 120,
   135 and 150 degrees.
3. For every annulus ``inner < r <= outer`` (radii in bins of the rate map, as
   fractions of the map size), the Pearson correlation c(theta) between the SAC
   and its rotated copy is computed over bins valid in both.
4. score60 = mean(c60, c120) - mean(c30, c90, c150)   (variant "mean", default), or
   score60 = min(c60, c120) - max(c30, c90, c150)    (variant "minmax");
   score90 = c90 - mean(c45, c135).
   Each score is the maximum over the annuli (separately for 60 and 90).

Deliberate differences from the DeepMind implementation (documented choices, OURS):

* NaN handling.  DeepMind replaces NaN SAC values by 0 and rotates with cubic
  splines and zero fill.  Here NaN is "missing": the SAC is rotated by *normalised*
  interpolation (rotate ``sac * valid`` and ``valid``, divide; a rotated bin is
  valid where the rotated mask >= 0.5), with bilinear interpolation by default
  (``order=1``: non-negative weights, so the normalised interpolation is a proper
  weighted average and no spline ringing leaks across the NaN border).
* Correlation.  DeepMind divides the cross-covariance by the variance of the
  unrotated SAC (same mean for both copies); here it is the symmetric Pearson
  correlation over the bins valid in both copies within the annulus.
* Map size.  The ring radii are fractions of ``max(ny, nx)`` (identical to
  DeepMind's ``nbins`` for square maps).
* Speed (same numbers).  With ``order=1`` the rotation is one sparse matrix per map shape and
  angle (identical to ``scipy.ndimage.rotate(..., order=1, mode="constant")``) applied to the
  whole stack of maps, and the annulus sums are cumulative sums over the rings between
  consecutive outer radii (the annuli are nested).

Caveat (measured, see ``tests/test_border_band.py``): in a triangle the autocorrelogram of a
single smooth field inherits the triangle's own 6-fold symmetry and can reach score60 > 1;
:mod:`cw.analysis.celltypes` therefore also requires a lattice in the autocorrelogram
(``grid_contrast``, see :func:`grid_geometry`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Mapping

import numpy as np
import scipy.fft as sfft
import scipy.ndimage as ndi
import scipy.sparse as sp
import xarray as xr

from cw.analysis.lattice import LATTICE_ATTRS, LatticeFitParams, field_fit, lattice_fit

__all__ = [
    "autocorrelogram",
    "BandScoreParams",
    "band_scores",
    "BorderScoreParams",
    "border_scores",
    "GridGeometryParams",
    "grid_geometry",
    "GridScoreParams",
    "grid_scores",
    "ring_masks",
    "SCORE_NAMES",
    "ScoreParams",
    "score_maps",
    "scores_dataset",
    "scores_to_dataset",
    "spatial_variance_fraction",
]

_ANGLES = (30, 45, 60, 90, 120, 135, 150)


# --------------------------------------------------------------------------
# spatial autocorrelogram
# --------------------------------------------------------------------------
def autocorrelogram(rate: np.ndarray, min_overlap: int = 20) -> np.ndarray:
    """NaN-aware spatial autocorrelogram.

    Parameters
    ----------
    rate : (ny, nx) map, or a stack (..., ny, nx); NaN marks invalid bins.
    min_overlap : lags with fewer valid pairs of bins are NaN (OURS, default 20).

    Returns
    -------
    sac : (..., 2*ny-1, 2*nx-1).  ``sac[..., ny-1+dy, nx-1+dx]`` is the Pearson
    correlation between ``rate[i, j]`` and ``rate[i+dy, j+dx]`` over all (i, j)
    where both are finite.  The centre (zero lag) is 1 for any non-constant map;
    the SAC is point-symmetric (sac(-d) = sac(d)).  Lags where either side has zero
    variance are NaN, so a constant or all-NaN map gives an all-NaN SAC.
    """
    r = np.asarray(rate, dtype=np.float64)
    if r.ndim < 2:
        raise ValueError("rate must be at least 2-D (..., ny, nx)")
    ny, nx = r.shape[-2:]
    valid = np.isfinite(r)
    m = valid.astype(np.float64)
    cnt = m.sum(axis=(-2, -1), keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(valid, r, 0.0).sum(axis=(-2, -1), keepdims=True) / cnt
    mu = np.where(cnt > 0, mu, 0.0)
    # centring before the FFT sums reduces cancellation in n*Sxx - Sx^2
    x = np.where(valid, r - mu, 0.0)
    x2 = x * x

    py = sfft.next_fast_len(2 * ny - 1, real=True)
    px = sfft.next_fast_len(2 * nx - 1, real=True)
    s = (py, px)
    Fm = sfft.rfft2(m, s=s)
    Fx = sfft.rfft2(x, s=s)
    Fx2 = sfft.rfft2(x2, s=s)

    iy = np.arange(-(ny - 1), ny) % py
    ix = np.arange(-(nx - 1), nx) % px

    def xcorr(Fa, Fb):
        # c[k] = sum_l a[l + k] * b[l]  (a is the shifted copy)
        c = sfft.irfft2(Fa * np.conj(Fb), s=s)
        return c[..., iy, :][..., :, ix]

    n = np.rint(xcorr(Fm, Fm))
    sa = xcorr(Fx, Fm)
    sb = xcorr(Fm, Fx)
    saa = xcorr(Fx2, Fm)
    sbb = xcorr(Fm, Fx2)
    sab = xcorr(Fx, Fx)

    va = n * saa - sa * sa
    vb = n * sbb - sb * sb
    cov = n * sab - sa * sb
    # floor for round-off of the FFT sums (relative to the whole map's sum of squares)
    tot = x2.sum(axis=(-2, -1), keepdims=True)
    floor = 1e-10 * n * tot
    ok = (n >= max(int(min_overlap), 2)) & (va > floor) & (vb > floor)
    with np.errstate(invalid="ignore", divide="ignore"):
        sac = cov / np.sqrt(np.where(ok, va * vb, np.nan))
    sac = np.where(ok, np.clip(sac, -1.0, 1.0), np.nan)
    return sac


# --------------------------------------------------------------------------
# grid scores
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class GridScoreParams:
    """Parameters of the grid score (OURS; defaults as DeepMind / Sorscher).

    inner_radius : inner radius of every annulus, fraction of the map size
        ``max(ny, nx)`` in bins (0.2 -> 4 bins on a 20x20 map).
    outer_radii : outer radii of the annuli, fractions of the map size; the score
        is the maximum over these annuli (linspace(0.4, 1.0, 10) -> 8..20 bins).
    variant : "mean": score60 = mean(c60, c120) - mean(c30, c90, c150);
        "minmax": score60 = min(c60, c120) - max(c30, c90, c150).
        score90 = c90 - mean(c45, c135) in both variants.
    order : spline order of the SAC rotation (scipy.ndimage.rotate); 1 = bilinear
        (default, OURS; DeepMind uses 3 with NaN -> 0).
    min_overlap : minimum number of valid bin pairs for a SAC lag (else NaN).
    min_ring_pairs : minimum number of bins valid in both the SAC and its rotated
        copy inside an annulus for c(theta) to be defined (else NaN).
    """

    inner_radius: float = 0.2
    outer_radii: tuple = tuple(float(v) for v in np.linspace(0.4, 1.0, 10))
    variant: str = "mean"
    order: int = 1
    min_overlap: int = 20
    min_ring_pairs: int = 20

    def __post_init__(self):
        if self.variant not in ("mean", "minmax"):
            raise ValueError(f"scores.variant: must be 'mean' or 'minmax', got {self.variant!r}")
        object.__setattr__(self, "outer_radii", tuple(float(v) for v in self.outer_radii))
        if len(self.outer_radii) == 0:
            raise ValueError("scores.n_rings: outer_radii must not be empty")
        if any(o <= self.inner_radius for o in self.outer_radii):
            raise ValueError("scores.outer_radius_min: every outer radius must exceed scores.inner_radius")
        if not 0 <= int(self.order) <= 5:
            raise ValueError("scores.order: must be in 0..5")


def ring_masks(
    sac_shape: tuple[int, int], map_size: float, params: GridScoreParams = GridScoreParams()
) -> tuple[np.ndarray, np.ndarray]:
    """Annulus masks on the SAC grid: ``inner < r <= outer`` with r the lag length (bins).

    Returns ``(masks (R, H, W) bool, outer radii in bins (R,))``.
    """
    H, W = sac_shape
    dy = np.arange(H) - (H - 1) / 2.0
    dx = np.arange(W) - (W - 1) / 2.0
    rr = np.hypot(dy[:, None], dx[None, :])
    inner = params.inner_radius * map_size
    outers = np.array(params.outer_radii) * map_size
    masks = np.stack([(rr > inner) & (rr <= o) for o in outers])
    return masks, outers


@lru_cache(maxsize=64)
def _rotation_operator(H: int, W: int, angle: float):
    """Sparse (H*W, H*W) matrix R with ``rotate(img).ravel() == R @ img.ravel()`` for
    ``scipy.ndimage.rotate(img, angle, axes=(1, 0), reshape=False, order=1, mode="constant",
    cval=0)`` (bilinear interpolation about the array centre; output bins whose source point
    lies outside the array get 0, as in ndimage's "constant" mode).

    Rotation is linear in the image, so one sparse product (at most 4 weights per output bin)
    rotates a whole stack of maps at once.
    """
    a = np.deg2rad(angle)
    cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    dy, dx = yy - cy, xx - cx
    c, s = np.cos(a), np.sin(a)
    sy = (cy + c * dy + s * dx).ravel()  # source point of every output bin
    sx = (cx - s * dy + c * dx).ravel()
    tol = 1e-9
    inside = (sy >= -tol) & (sy <= H - 1 + tol) & (sx >= -tol) & (sx <= W - 1 + tol)
    sy = np.clip(sy, 0.0, H - 1.0)
    sx = np.clip(sx, 0.0, W - 1.0)
    y0 = np.floor(sy)
    x0 = np.floor(sx)
    fy, fx = sy - y0, sx - x0
    out = np.arange(H * W)
    rows, cols, vals = [], [], []
    for oy, wy in ((0, 1.0 - fy), (1, fy)):
        for ox, wx in ((0, 1.0 - fx), (1, fx)):
            yi = y0.astype(np.int64) + oy
            xi = x0.astype(np.int64) + ox
            w = wy * wx
            ok = inside & (yi < H) & (xi < W) & (w > 1e-13)
            rows.append(out[ok])
            cols.append(yi[ok] * W + xi[ok])
            vals.append(w[ok])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(H * W, H * W))


def _rotate_stack(sac: np.ndarray, valid: np.ndarray, angle: float, order: int):
    """Normalised-interpolation rotation of a (U, H, W) SAC stack about its centre."""
    U, H, W = sac.shape
    vf = valid.astype(np.float64)
    if order == 1:  # bilinear: one sparse product rotates the whole stack
        R = _rotation_operator(H, W, float(angle))
        num = (R @ np.where(valid, sac, 0.0).reshape(U, -1).T).T.reshape(U, H, W)
        den = (R @ vf.reshape(U, -1).T).T.reshape(U, H, W)
    else:
        num = ndi.rotate(
            np.where(valid, sac, 0.0), angle, axes=(2, 1), reshape=False,
            order=order, mode="constant", cval=0.0, prefilter=order > 1,
        )
        den = ndi.rotate(
            vf, angle, axes=(2, 1), reshape=False,
            order=order, mode="constant", cval=0.0, prefilter=order > 1,
        )
    ok = den >= 0.5
    with np.errstate(invalid="ignore", divide="ignore"):
        rot = np.where(ok, num / np.where(ok, den, 1.0), 0.0)
    return rot, ok


def _masked_pearson(a, b, w, cuts, min_pairs):
    """Pearson r between a and b over the bins with w = 1 of nested annuli.

    a, b, w : (N, U) with w in {0, 1} and a, b finite; the N bins are sorted by radius so that
    annulus r is the first ``cuts[r]`` bins (all annuli share the inner radius). Sums over
    every annulus at once are the cumulative sums of the sums over the rings between
    consecutive cuts (``np.add.reduceat`` along the contiguous bin axis 0). Returns (U, R).
    """
    cuts = np.asarray(cuts, dtype=np.int64)
    starts = np.concatenate([[0], cuts[:-1]])
    nonempty = cuts > starts  # annulus r adds the bins starts[r]:cuts[r] to annulus r-1
    R = cuts.size

    def sums(z):
        seg = np.zeros((R, z.shape[1]))
        if np.any(nonempty):
            seg[nonempty] = np.add.reduceat(z, starts[nonempty], axis=0)
        return np.cumsum(seg, axis=0).T

    n = sums(w)
    wa, wb = w * a, w * b
    sa = sums(wa)
    sb = sums(wb)
    saa = sums(wa * a)
    sbb = sums(wb * b)
    sab = sums(wa * b)
    va = n * saa - sa * sa
    vb = n * sbb - sb * sb
    cov = n * sab - sa * sb
    scale = np.maximum(n * saa, n * sbb)
    ok = (n >= min_pairs) & (va > 1e-12 * scale) & (vb > 1e-12 * scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(np.where(ok, va * vb, np.nan))
    return np.where(ok, r, np.nan)


def _nanmax_arg(s: np.ndarray, radii: np.ndarray):
    """Max over the last axis ignoring NaN, and the radius where it occurs (NaN if none)."""
    allnan = np.all(np.isnan(s), axis=-1)
    filled = np.where(np.isnan(s), -np.inf, s)
    idx = np.argmax(filled, axis=-1)
    best = np.take_along_axis(filled, idx[..., None], axis=-1)[..., 0]
    best = np.where(allnan, np.nan, best)
    ring = np.where(allnan, np.nan, radii[idx])
    return best, ring


def grid_scores(
    rate: np.ndarray, params: GridScoreParams = GridScoreParams()
) -> dict[str, np.ndarray]:
    """Grid scores of a stack of rate maps.

    Parameters
    ----------
    rate : (U, ny, nx) maps (or one (ny, nx) map, treated as U=1); NaN allowed.
    params : GridScoreParams.

    Returns
    -------
    dict with ``score60``, ``score90`` (U,) -- max over annuli --, ``ring60``,
    ``ring90`` (U,) -- outer radius (bins) of the best annulus --, and ``corr``
    (U, 7, R): c(theta) for theta in ``angles`` (30, 45, 60, 90, 120, 135, 150)
    and every annulus, plus ``angles`` and ``outer_radii_bins``.  Constant or
    all-NaN maps give NaN (no exception).
    """
    r = _as_stack(rate)
    sac = autocorrelogram(r, min_overlap=params.min_overlap)  # (U, H, W)
    return _grid_scores_from_sac(sac, max(r.shape[-2:]), params)


def _as_stack(rate) -> np.ndarray:
    """(U, ny, nx) float64 view of a map stack; a single (ny, nx) map becomes U = 1."""
    r = np.asarray(rate, dtype=np.float64)
    if r.ndim == 2:
        r = r[None]
    if r.ndim != 3:
        raise ValueError(f"rate must be (U, ny, nx), got shape {r.shape}")
    return r


def _grid_scores_from_sac(
    sac: np.ndarray, map_size: int, params: GridScoreParams
) -> dict[str, np.ndarray]:
    """Grid scores from precomputed autocorrelograms (U, H, W) of maps of size ``map_size``."""
    U, H, W = sac.shape
    valid = np.isfinite(sac)
    masks, radii = ring_masks((H, W), map_size, params)
    # the annuli are nested (one inner radius): sort the bins of the largest one by radius,
    # annulus r is then a prefix of that list, of length cuts[r]
    union = masks.reshape(len(radii), -1).any(axis=0)
    dy = np.arange(H) - (H - 1) / 2.0
    dx = np.arange(W) - (W - 1) / 2.0
    rr = np.hypot(dy[:, None], dx[None, :]).ravel()
    sel = np.flatnonzero(union)
    sel = sel[np.argsort(rr[sel], kind="stable")]
    flat_masks = masks.reshape(len(radii), -1)[:, sel]
    cuts = flat_masks.sum(axis=1)
    assert np.all(flat_masks == (np.arange(sel.size)[None] < cuts[:, None])), "annuli not nested"

    # bins-by-maps layout (N, U): the sums run along the contiguous axis
    filled_t = np.ascontiguousarray(np.where(valid, sac, 0.0).reshape(U, -1).T)
    valid_t = np.ascontiguousarray(valid.reshape(U, -1).T.astype(np.float64))
    a = filled_t[sel]
    vsel = valid_t[sel] > 0
    corr = np.full((U, len(_ANGLES), len(radii)), np.nan)
    if U > 0:
        for k, ang in enumerate(_ANGLES):
            if int(params.order) == 1:
                R = _rotation_operator(H, W, float(ang))[sel]
                num, den = R @ filled_t, R @ valid_t  # (N_sel, U)
                rok = den >= 0.5
                with np.errstate(invalid="ignore", divide="ignore"):
                    rot = np.where(rok, num / np.where(rok, den, 1.0), 0.0)
            else:
                rot3, rok3 = _rotate_stack(sac, valid, ang, int(params.order))
                rot = rot3.reshape(U, -1).T[sel]
                rok = rok3.reshape(U, -1).T[sel]
            w = (vsel & rok).astype(np.float64)
            corr[:, k] = _masked_pearson(a, rot, w, cuts, params.min_ring_pairs)

    c = {ang: corr[:, k] for k, ang in enumerate(_ANGLES)}
    if params.variant == "mean":
        s60 = 0.5 * (c[60] + c[120]) - (c[30] + c[90] + c[150]) / 3.0
    else:
        s60 = np.minimum(c[60], c[120]) - np.maximum(np.maximum(c[30], c[90]), c[150])
    s90 = c[90] - 0.5 * (c[45] + c[135])

    score60, ring60 = _nanmax_arg(s60, radii)
    score90, ring90 = _nanmax_arg(s90, radii)
    return {
        "score60": score60,
        "score90": score90,
        "ring60": ring60,
        "ring90": ring90,
        "corr": corr,
        "angles": np.array(_ANGLES),
        "outer_radii_bins": radii,
    }


# --------------------------------------------------------------------------
# grid spacing and orientation from the autocorrelogram peaks
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class GridGeometryParams:
    """How grid spacing and orientation are read off the autocorrelogram (OURS).

    n_peaks : number of SAC peaks nearest to the centre that define the grid (6: the inner
        hexagon of Hafting et al. 2005; for a square lattice the 6 nearest are its 4 nearest
        neighbours and 2 diagonal ones, whose median distance is still the lattice spacing).
    min_peak_distance : peaks closer than this to the centre (bins) are ignored (the central
        peak and anything on its flank).
    peak_threshold : a SAC local maximum is a peak only if its correlation exceeds this.
    min_peak_overlap : a peak counts only at a lag where the map and its shifted copy overlap
        on at least this fraction of the map's valid bins. At the extreme lags the correlation
        rests on a few edge bins and reaches 1 for any smooth map that is similar on opposite
        walls (a single central field gets 4 spurious "peaks" at the map's edges). Default 0.08
        (OURS): 0.2 lost the 6 peaks of grids with 1.5-2 periods in the triangle and the
        hexagon; the spurious edge peaks it lets through are rejected by the cell-type rule
        (lattice regularity and field count, :mod:`cw.analysis.celltypes`).
    lattice_min_spacing, lattice_min_periods, lattice_n_spacings, lattice_orientation_step,
    lattice_n_offsets,
    lattice_sharpness : the search of the hexagonal-lattice fit (``lattice_r2``, used by the
        grid-like rule): :class:`cw.analysis.lattice.LatticeFitParams` without the prefix.
    field_threshold : the fields counted by :func:`count_fields` (``n_fields``, used by the
        grid-like rule) are bins at or above this fraction of the map's range (OURS, 0.5: half
        the range separates neighbouring grid fields).
    min_field_bins : ... in 4-connected groups of at least this many bins (OURS, 2: a single
        noisy bin is not a field; a grid field of 5 periods in 1 m covers ~3 bins above half).
    """

    n_peaks: int = 6
    min_peak_distance: float = 2.0
    peak_threshold: float = 0.0
    min_peak_overlap: float = 0.08
    field_threshold: float = 0.5
    min_field_bins: int = 2
    lattice_min_spacing: float = 4.0
    lattice_min_periods: float = 1.25
    lattice_n_spacings: int = 32
    lattice_orientation_step: float = 3.0
    lattice_n_offsets: int = 12
    lattice_sharpness: tuple = (0.0, 1.0, 3.0)
    field_fit_widths: tuple = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)

    @property
    def lattice(self) -> LatticeFitParams:
        """The lattice-fit search of these settings."""
        return LatticeFitParams(self.lattice_min_spacing, self.lattice_min_periods,
                                self.lattice_n_spacings, self.lattice_orientation_step,
                                self.lattice_n_offsets, self.lattice_sharpness)

    def __post_init__(self):
        object.__setattr__(self, "lattice_sharpness", self.lattice.sharpness)  # validated
        w = np.asarray(self.field_fit_widths, dtype=np.float64) if not isinstance(
            self.field_fit_widths, (str, bytes)) else np.array([np.nan])
        if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w) & (w > 0)):
            raise ValueError("scores.geometry.field_fit_widths: must be a list of numbers > 0 "
                             f"(bins), got {self.field_fit_widths!r}")
        object.__setattr__(self, "field_fit_widths", tuple(float(v) for v in w))
        if int(self.n_peaks) < 3:
            raise ValueError(f"scores.geometry.n_peaks: must be >= 3, got {self.n_peaks!r}")
        if not self.min_peak_distance >= 0:
            raise ValueError("scores.geometry.min_peak_distance: must be >= 0 bins, "
                             f"got {self.min_peak_distance!r}")
        if not 0.0 <= self.min_peak_overlap <= 1.0:
            raise ValueError("scores.geometry.min_peak_overlap: must be in [0, 1], "
                             f"got {self.min_peak_overlap!r}")
        if not 0.0 < self.field_threshold < 1.0:
            raise ValueError("scores.geometry.field_threshold: must be in (0, 1), "
                             f"got {self.field_threshold!r}")
        if isinstance(self.min_field_bins, bool) or int(self.min_field_bins) != self.min_field_bins \
                or self.min_field_bins < 1:
            raise ValueError("scores.geometry.min_field_bins: must be an integer >= 1, "
                             f"got {self.min_field_bins!r}")
        if not -1.0 <= self.peak_threshold < 1.0:
            raise ValueError("scores.geometry.peak_threshold: must be in [-1, 1), "
                             f"got {self.peak_threshold!r}")


def _wrap_deg(a: float, period: float) -> float:
    """``a`` modulo ``period`` in [0, period), with round-off just below ``period`` sent to 0."""
    w = float(a) % period
    return 0.0 if w > period - 1e-9 else w


def _subbin_offset(fm, f0, fp):
    """Vertex offset (in [-0.5, 0.5] bins) of the parabola through three samples."""
    den = fm - 2.0 * f0 + fp
    with np.errstate(invalid="ignore", divide="ignore"):
        off = 0.5 * (fm - fp) / den
    ok = np.isfinite(off) & (den < 0)
    return np.where(ok, np.clip(off, -0.5, 0.5), 0.0)


def _overlap_fraction(valid: np.ndarray) -> np.ndarray:
    """For (U, ny, nx) validity masks: (U, 2ny-1, 2nx-1) number of bins valid in both the map and
    its copy shifted by each lag, divided by the number of valid bins (SAC layout)."""
    m = valid.astype(np.float64)
    ny, nx = m.shape[-2:]
    s = (sfft.next_fast_len(2 * ny - 1, real=True), sfft.next_fast_len(2 * nx - 1, real=True))
    F = sfft.rfft2(m, s=s)
    c = sfft.irfft2(F * np.conj(F), s=s)
    iy = np.arange(-(ny - 1), ny) % s[0]
    ix = np.arange(-(nx - 1), nx) % s[1]
    n = np.rint(c[..., iy, :][..., :, ix])
    tot = m.sum(axis=(-2, -1))[..., None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, n / tot, 0.0)


def grid_geometry(
    sac: np.ndarray,
    bin_size: float = 1.0,
    params: GridGeometryParams = GridGeometryParams(),
    valid: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Grid spacing and orientation from the peaks of spatial autocorrelograms.

    Peaks are the local maxima (3x3 neighbourhood, NaN ignored) of the SAC above
    ``params.peak_threshold``, at least ``params.min_peak_distance`` bins from the centre and
    (if the maps' validity masks ``valid`` are given) at lags where the map overlaps its shifted
    copy on at least ``params.min_peak_overlap`` of its valid bins,
    refined to sub-bin precision by a parabola through the peak and its two neighbours along
    each axis.  Of these, the ``params.n_peaks`` nearest to the centre define the grid:

    * ``grid_spacing`` = median distance of those peaks from the centre, times ``bin_size`` (m);
    * ``grid_orientation60`` = orientation of the hexagonal axes in [0, 60) deg, counter-clockwise
      from the +x axis: ``arg(sum_j exp(6 i theta_j)) / 6`` over the peak angles theta_j (for a
      perfect hexagonal grid, the angle of the first lattice axis);
    * ``grid_orientation90`` = same for a square lattice in [0, 90) deg from the 4 nearest peaks:
      ``arg(sum_j exp(4 i theta_j)) / 4``;
    * ``grid_contrast`` = median over those peaks of ``SAC(peak) - SAC(midpoint between the
      centre and the peak)`` (bilinear interpolation). A lattice has a trough between the
      central peak and each neighbour (contrast ~1 for clean grids, >= 0.35 on the synthetic
      grids with noise as strong as the grid itself); the small ripples that noise puts on a
      smooth SAC (gradients, single fields) give contrast ~0 (<= 0.05 on the maps of briefly
      trained networks that passed the grid-score threshold). Used by :mod:`cw.analysis.celltypes`.

    Fewer than 3 peaks give NaN.

    Parameters
    ----------
    sac : (U, 2*ny-1, 2*nx-1) autocorrelograms (or one 2-D SAC), centre at the middle bin,
        rows = y lag, columns = x lag.
    bin_size : side of a rate-map bin (m); 1.0 returns the spacing in bins.
    valid : (U, ny, nx) or (ny, nx) finite-bin masks of the maps (None: no overlap condition).

    Returns
    -------
    dict with ``grid_spacing``, ``grid_orientation60``, ``grid_orientation90``,
    ``grid_n_peaks`` (number of peaks found, before keeping the nearest n_peaks),
    ``grid_contrast``, and the lattice regularity (NaN with fewer than 4 peaks, i.e. fewer than
    two lattice axes): ``grid_hex_order`` = ``|mean_j exp(6 i theta_j)|`` over the nearest
    n_peaks (1 for a hexagon of peaks, ~0.4 for a square lattice), ``grid_hex_ratio`` = largest /
    smallest distance of those peaks, ``grid_square_order`` = ``|mean exp(4 i theta)|`` and
    ``grid_square_ratio`` over the 4 nearest peaks; all (U,).
    """
    s = np.asarray(sac, dtype=np.float64)
    if s.ndim == 2:
        s = s[None]
    U, H, W = s.shape
    cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
    f = np.where(np.isfinite(s), s, -np.inf)
    mx = ndi.maximum_filter(f, size=(1, 3, 3), mode="constant", cval=-np.inf)
    peak = (f == mx) & np.isfinite(s) & (s > params.peak_threshold)
    if valid is not None:
        v = np.asarray(valid, dtype=bool)
        if v.ndim == 2:
            v = v[None]
        if v.shape[-2:] != ((H + 1) // 2, (W + 1) // 2):
            raise ValueError(f"valid: shape {v.shape} does not match the SAC shape {s.shape}")
        peak &= _overlap_fraction(v) >= params.min_peak_overlap
    spacing = np.full(U, np.nan)
    o60 = np.full(U, np.nan)
    o90 = np.full(U, np.nan)
    npk = np.zeros(U, dtype=np.int64)
    contrast = np.full(U, np.nan)
    hex_order, hex_ratio = np.full(U, np.nan), np.full(U, np.nan)
    sq_order, sq_ratio = np.full(U, np.nan), np.full(U, np.nan)
    filled = np.where(np.isfinite(s), s, 0.0)
    fpad = np.pad(f, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    for u in range(U):
        iy, ix = np.nonzero(peak[u])
        if iy.size == 0:
            continue
        p = fpad[u]
        f0 = p[iy + 1, ix + 1]
        oy = _subbin_offset(p[iy, ix + 1], f0, p[iy + 2, ix + 1])
        ox = _subbin_offset(p[iy + 1, ix], f0, p[iy + 1, ix + 2])
        dy = iy + oy - cy
        dx = ix + ox - cx
        d = np.hypot(dx, dy)
        keep = d >= max(params.min_peak_distance, 1e-9)
        dx, dy, d = dx[keep], dy[keep], d[keep]
        npk[u] = d.size
        if d.size < 3:
            continue
        order = np.argsort(d, kind="stable")
        near = order[: int(params.n_peaks)]
        theta = np.arctan2(dy[near], dx[near])
        spacing[u] = float(np.median(d[near])) * bin_size
        # lattice contrast: each peak against the SAC halfway back to the centre
        mid = ndi.map_coordinates(filled[u], [cy + 0.5 * dy[near], cx + 0.5 * dx[near]],
                                  order=1, mode="nearest")
        contrast[u] = float(np.median(f0[keep][near] - mid))
        o60[u] = _wrap_deg(np.rad2deg(np.angle(np.sum(np.exp(6j * theta))) / 6.0), 60.0)
        t4 = np.arctan2(dy[order[:4]], dx[order[:4]])
        o90[u] = _wrap_deg(np.rad2deg(np.angle(np.sum(np.exp(4j * t4))) / 4.0), 90.0)
        if d.size >= 4:  # at least two lattice axes (peaks come in point-symmetric pairs)
            hex_order[u] = float(np.abs(np.mean(np.exp(6j * theta))))
            hex_ratio[u] = float(d[near].max() / d[near].min())
            sq_order[u] = float(np.abs(np.mean(np.exp(4j * t4))))
            sq_ratio[u] = float(d[order[:4]].max() / d[order[:4]].min())
    return {"grid_spacing": spacing, "grid_orientation60": o60,
            "grid_orientation90": o90, "grid_n_peaks": npk, "grid_contrast": contrast,
            "grid_hex_order": hex_order, "grid_hex_ratio": hex_ratio,
            "grid_square_order": sq_order, "grid_square_ratio": sq_ratio}


# --------------------------------------------------------------------------
# polygon helpers
# --------------------------------------------------------------------------
def _ccw_corners(arena) -> np.ndarray:
    """Counter-clockwise (K, 2) corners of an Arena-like object or a corners array, as given
    (not re-centred: they must be in the rate map's frame)."""
    c = np.asarray(getattr(arena, "corners", arena), dtype=np.float64)
    if c.ndim == 1 and c.size % 2 == 0:
        c = c.reshape(-1, 2)
    if c.ndim != 2 or c.shape[1] != 2 or len(c) < 3:
        raise ValueError("arena: must be an Arena or a (K >= 3, 2) array of corners")
    area = 0.5 * np.sum(c[:, 0] * np.roll(c[:, 1], -1) - c[:, 1] * np.roll(c[:, 0], -1))
    return c[::-1].copy() if area < 0 else c.copy()


def _segment_distances(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Distance (m) from points (..., 2) to every wall segment of a polygon -> (..., K)."""
    a = corners
    d = np.roll(corners, -1, axis=0) - a
    rel = points[..., None, :] - a
    t = np.clip(np.sum(rel * d, axis=-1) / np.sum(d * d, axis=-1), 0.0, 1.0)
    diff = rel - t[..., None] * d
    return np.hypot(diff[..., 0], diff[..., 1])


def _chebyshev_radius(corners: np.ndarray) -> float:
    """Radius (m) of the largest disc inside a convex polygon = the largest distance from an
    interior point to its nearest wall (the inradius of a regular polygon; half the side of a
    square, Solstad's normalisation)."""
    from scipy.optimize import linprog

    d = np.roll(corners, -1, axis=0) - corners
    n = np.stack([d[:, 1], -d[:, 0]], axis=1)
    n /= np.hypot(n[:, 0], n[:, 1])[:, None]
    off = np.einsum("kd,kd->k", n, corners)
    # maximise r subject to n_k . c + r <= off_k
    res = linprog(c=[0.0, 0.0, -1.0], A_ub=np.hstack([n, np.ones((len(n), 1))]), b_ub=off,
                  bounds=[(None, None), (None, None), (0, None)], method="highs")
    if not res.success:  # pragma: no cover - a valid convex polygon always has a solution
        raise RuntimeError(f"Chebyshev radius: {res.message}")
    return float(res.x[2])


# --------------------------------------------------------------------------
# border score (Solstad et al. 2008) on polygon arenas
# --------------------------------------------------------------------------
POLARITIES = ("positive", "negative", "both")

#: Spacing of the sample points along each wall, in bins (OURS, a fixed discretisation of the
#: wall; fine enough that coverage is resolved to a quarter of a bin).
WALL_POINT_SPACING_BINS = 0.25


@dataclass(frozen=True)
class BorderScoreParams:
    """Parameters of the border score (config section ``scores.border``; all OURS).

    field_threshold : float, default 0.3
        A bin belongs to a field if its normalised rate (see :func:`border_scores`) is at least
        this fraction of the map's range (Solstad et al. 2008 and Sorscher et al. 2019: 0.3 of
        the peak rate). In [0, 1).
    min_field_area : float, default 0.08
        Smallest field, m^2 (Solstad et al. 2008: 200 cm^2); smaller connected components are
        not fields. Converted to bins as ``ceil(min_field_area / bin_size^2)``.
    max_field_fraction : float, default 0.5
        A connected region covering more than this fraction of the map's valid bins is
        background, not a field (OURS). Without it, the complement of a small central field, or
        the percolating cluster of a noisy map, counts as one huge field that touches every wall
        (cM = 1, border score ~ 0.5). In (0, 1].
    wall_search : float, default 2.0
        A point of a wall is represented by the nearest valid (finite) bin whose centre is at
        most this many bins away; points with none are left out of that wall's coverage
        (tolerates unvisited bins along walls, like opexebo's ``search_width``). With 1.5 or
        more, the outermost row of bins along an axis-parallel wall (centres 0.5 bin away) is
        always found; 2.0 also reaches the second row when the first is unvisited.
    polarity : {"both", "positive", "negative"}, default "both"
        Fields are regions of high activity ("positive", the experimental convention), of low
        activity ("negative", i.e. the score of ``-rate``) or whichever gives the larger score
        ("both"). Default "both": the network is symmetric under flipping the sign of a tanh
        unit (u_i -> -u_i with its incoming, outgoing weights and bias negated), so the sign of
        a unit's activity carries no meaning, and the grid and band scores are sign-invariant
        too.
    """

    field_threshold: float = 0.3
    min_field_area: float = 0.08
    max_field_fraction: float = 0.5
    wall_search: float = 2.0
    polarity: str = "both"

    def __post_init__(self):
        if not 0.0 <= self.field_threshold < 1.0:
            raise ValueError("scores.border.field_threshold: must be in [0, 1), "
                             f"got {self.field_threshold!r}")
        if not self.min_field_area >= 0:
            raise ValueError("scores.border.min_field_area: must be >= 0 m^2, "
                             f"got {self.min_field_area!r}")
        if not 0 < self.max_field_fraction <= 1:
            raise ValueError("scores.border.max_field_fraction: must be in (0, 1], "
                             f"got {self.max_field_fraction!r}")
        if not self.wall_search > 0:
            raise ValueError(f"scores.border.wall_search: must be > 0 bins, got {self.wall_search!r}")
        if self.polarity not in POLARITIES:
            raise ValueError(f"scores.border.polarity: must be one of {', '.join(POLARITIES)}, "
                             f"got {self.polarity!r}")


class _BorderGeometry:
    """Per-(grid, mask, polygon) geometry of the border score: bin-to-wall distances and the bin
    that represents each sample point of each wall."""

    def __init__(self, xc, yc, valid, corners, bin_size, params: BorderScoreParams):
        gx, gy = np.meshgrid(xc, yc)
        centres = np.stack([gx, gy], axis=-1).reshape(-1, 2)
        self.n_bins = centres.shape[0]
        self.dwall = np.min(_segment_distances(centres, corners), axis=-1)
        self.dwall = np.where(valid.ravel(), self.dwall, 0.0)
        self.d_norm = _chebyshev_radius(corners)
        vidx = np.flatnonzero(valid.ravel())
        vc = centres[vidx]
        self.wall_bins = []
        for k in range(len(corners)):
            a, b = corners[k], corners[(k + 1) % len(corners)]
            length = float(np.hypot(*(b - a)))
            n_pts = max(1, int(np.ceil(length / (WALL_POINT_SPACING_BINS * bin_size))))
            t = (np.arange(n_pts) + 0.5) / n_pts
            pts = a + t[:, None] * (b - a)
            if vidx.size == 0:
                self.wall_bins.append(np.zeros(0, dtype=np.int64))
                continue
            d2 = np.sum((pts[:, None, :] - vc[None]) ** 2, axis=-1)
            j = np.argmin(d2, axis=1)
            near = np.sqrt(d2[np.arange(n_pts), j]) <= params.wall_search * bin_size * (1 + 1e-9)
            self.wall_bins.append(vidx[j[near]])
        self.min_bins = max(1, int(np.ceil(params.min_field_area / bin_size**2 - 1e-9)))
        self.max_bins = params.max_field_fraction * vidx.size
        self.n_valid = float(vidx.size)


_STRUCT_2D_IN_3D = np.zeros((3, 3, 3), dtype=bool)
_STRUCT_2D_IN_3D[1] = ndi.generate_binary_structure(2, 1)  # 4-connectivity within each map


def _border_core(rn: np.ndarray, geom: _BorderGeometry, threshold: float):
    """cM, dM (normalised), best wall for a stack rn (G, ny, nx) of maps scaled to [0, 1]
    (NaN outside the valid bins)."""
    G = rn.shape[0]
    flat_r = rn.reshape(G, -1)
    fields = np.isfinite(rn) & (rn >= threshold)
    labels, n = ndi.label(fields, structure=_STRUCT_2D_IN_3D)
    lab = labels.reshape(G, -1)
    cM = np.zeros(G)
    wall = np.full(G, -1, dtype=np.int64)
    if n == 0:
        return cM, np.full(G, np.nan), wall, np.zeros(G), np.zeros(G)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    keep = (sizes >= geom.min_bins) & (sizes <= geom.max_bins)
    keep[0] = False
    unit_of = np.zeros(n + 1, dtype=np.int64)
    unit_of[lab.ravel()] = np.repeat(np.arange(G), lab.shape[1])
    # rate-weighted mean distance to the nearest wall over all field bins
    w = np.where(keep[lab], np.nan_to_num(flat_r), 0.0)
    sw = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dM = (w @ geom.dwall) / sw / geom.d_norm
    dM = np.where(sw > 0, dM, np.nan)
    # coverage of every wall by every field
    best_cov = np.zeros(n + 1)
    best_wall = np.full(n + 1, -1, dtype=np.int64)
    for k, idx in enumerate(geom.wall_bins):
        if idx.size == 0:
            continue
        cov = np.bincount(lab[:, idx].ravel(), minlength=n + 1) / idx.size
        better = cov > best_cov
        best_cov[better] = cov[better]
        best_wall[better] = k
    best_cov[~keep] = 0.0
    np.maximum.at(cM, unit_of[1:], best_cov[1:])
    hit = (best_cov > 0) & (best_cov == cM[unit_of])
    wall[unit_of[hit]] = best_wall[hit]
    area = np.zeros(G)
    area[unit_of[hit]] = sizes[hit] / max(1.0, geom.n_valid)
    mass = np.bincount(lab.ravel(), weights=w.ravel(), minlength=n + 1)
    share = np.zeros(G)
    with np.errstate(invalid="ignore", divide="ignore"):
        share[unit_of[hit]] = mass[hit] / sw[unit_of[hit]]
    return cM, dM, wall, area, share


def border_scores(
    rate: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    arena,
    params: BorderScoreParams = BorderScoreParams(),
) -> dict[str, np.ndarray]:
    """Border score (Solstad et al. 2008) of rate maps in a convex polygon arena.

    Definition (re-implemented from the published description; walls = the polygon's edges):

    1. Normalised rate: ``r' = (r - min r) / (max r - min r)`` over the map's finite bins, so
       ``r'`` is in [0, 1] whatever the sign of the activity (tanh units: ``r`` may be
       negative; "rate" here means activity above the map's minimum). For polarity "negative"
       the map is ``1 - r'`` (fields = regions of low activity).
    2. Fields: 4-connected components of finite bins with ``r' >= field_threshold``, an area of
       at least ``min_field_area`` and at most ``max_field_fraction`` of the valid bins.
    3. Coverage: each wall is sampled every quarter bin; a sample point is represented by the
       nearest finite bin within ``wall_search`` bins (points without one are dropped). The
       coverage of wall k by field f is the fraction of wall k's represented points whose bin
       belongs to f. ``cM`` = the largest coverage of any wall by any single field.
    4. ``dM`` = mean distance from the bin centres of all fields to the nearest wall segment,
       weighted by ``r'``, divided by the largest distance from any point of the arena to its
       nearest wall (the polygon's Chebyshev radius: half the side for a square, as Solstad's
       half-width; the inradius for any regular polygon).
    5. ``border = (cM - dM) / (cM + dM)``, in [-1, 1]. A map with no field of sufficient size has
       ``cM = 0`` and border = -1; a constant or all-NaN map gives NaN.

    With polarity "both" the result is that of whichever polarity scores higher.

    Parameters
    ----------
    rate : (U, ny, nx) rate maps (or one (ny, nx) map); NaN = invalid bin.
    x, y : (nx,), (ny,) bin centres (m), evenly spaced with the same step (the bin size).
    arena : Arena or (K, 2) polygon corners (m) in the maps' frame.
    params : BorderScoreParams.

    Returns
    -------
    dict of (U,) arrays: ``border_score``, ``border_cm``, ``border_dm``, ``border_wall`` (index k
    of the wall from ``corners[k]`` to ``corners[k+1]`` with the best coverage, -1 if none) and
    ``border_polarity`` (+1 positive, -1 negative field; 0 if the score is NaN).
    """
    r = _as_stack(rate)
    U, ny, nx = r.shape
    xc = np.asarray(x, dtype=np.float64)
    yc = np.asarray(y, dtype=np.float64)
    if xc.shape != (nx,) or yc.shape != (ny,):
        raise ValueError(f"x, y must have lengths nx={nx}, ny={ny}, got {xc.shape}, {yc.shape}")
    bin_size = _bin_size(xc, yc)
    corners = _ccw_corners(arena)
    out = {
        "border_score": np.full(U, np.nan),
        "border_cm": np.full(U, np.nan),
        "border_dm": np.full(U, np.nan),
        "border_wall": np.full(U, -1, dtype=np.int64),
        "border_polarity": np.zeros(U, dtype=np.int8),
        "border_field_fraction": np.full(U, np.nan),
        "border_field_share": np.full(U, np.nan),
    }
    if U == 0:
        return out
    valid = np.isfinite(r)
    lo = np.min(np.where(valid, r, np.inf), axis=(1, 2))
    hi = np.max(np.where(valid, r, -np.inf), axis=(1, 2))
    span = hi - lo
    scale = np.maximum(np.abs(hi), np.abs(lo))
    ok = np.isfinite(span) & (span > 1e-12 * np.maximum(scale, 1e-300))
    with np.errstate(invalid="ignore", divide="ignore"):
        rn = (r - lo[:, None, None]) / np.where(ok, span, 1.0)[:, None, None]
    # group the maps by validity mask (all maps of a rate dataset share one)
    packed = np.packbits(valid.reshape(U, -1), axis=1)
    _, group = np.unique(packed, axis=0, return_inverse=True)
    group = np.asarray(group).ravel()
    pols = {"positive": (1,), "negative": (-1,), "both": (1, -1)}[params.polarity]
    for g in np.unique(group):
        sel = np.flatnonzero((group == g) & ok)
        if sel.size == 0:
            continue
        geom = _BorderGeometry(xc, yc, valid[sel[0]], corners, bin_size, params)
        for pol in pols:
            m = rn[sel] if pol == 1 else 1.0 - rn[sel]
            cM, dM, wall, area, share = _border_core(m, geom, params.field_threshold)
            with np.errstate(invalid="ignore", divide="ignore"):
                score = np.where(np.isfinite(dM), (cM - dM) / (cM + dM), -1.0)
            prev = out["border_score"][sel]
            better = ~(score <= prev)  # NaN prev (first polarity) -> take it
            better &= ~np.isnan(score) | np.isnan(prev)
            idx = sel[better]
            out["border_score"][idx] = score[better]
            out["border_cm"][idx] = cM[better]
            out["border_dm"][idx] = dM[better]
            out["border_wall"][idx] = wall[better]
            out["border_polarity"][idx] = pol
            out["border_field_fraction"][idx] = area[better]
            out["border_field_share"][idx] = share[better]
    return out


def border_profile_fit(
    rate: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    arena,
    wall: np.ndarray,
    polarity: np.ndarray,
    cm: np.ndarray,
    field_fraction: np.ndarray,
) -> dict[str, np.ndarray]:
    """Is a border map a field along its wall? (OURS; by-products of :func:`border_scores`.)

    * ``border_profile_r2``: fraction of the map's variance explained by the best function of
      the distance ``d`` to the best-covered wall segment that falls off away from the wall
      (isotonic regression of ``polarity * rate`` on ``d``, decreasing). A wall field is such a
      function (~0.8 with noise); a random field that happens to touch a wall is not.
    * ``border_profile_halfwidth``: the distance from the wall (m) at which that fitted profile
      has fallen to half its range (a wall field with decay length lambda: ~lambda; the low half
      of a saturating ramp: the distance of its step from the wall);
    * ``border_field_width``: area of the best field divided by the length of wall it covers
      (``cM`` times the wall's length), m: the field's thickness (informative only; it grows
      where a field spreads past the ends of a short wall).

    Parameters
    ----------
    rate : (U, ny, nx) maps; x, y : (nx,), (ny,) bin centres (m); arena : Arena or corners.
    wall, polarity, cm, field_fraction : (U,) ``border_wall``, ``border_polarity``,
        ``border_cm``, ``border_field_fraction`` of :func:`border_scores`.

    Returns
    -------
    dict of (U,) arrays ``border_profile_r2`` (in [0, 1]), ``border_profile_halfwidth`` and
    ``border_field_width`` (m); NaN where the map has no border field (wall -1).
    """
    from scipy.optimize import isotonic_regression

    r = _as_stack(rate)
    U = r.shape[0]
    xc, yc = np.asarray(x, np.float64), np.asarray(y, np.float64)
    bin_size = _bin_size(xc, yc)
    corners = _ccw_corners(arena)
    gx, gy = np.meshgrid(xc, yc)
    pts = np.stack([gx, gy], axis=-1)
    dist = _segment_distances(pts, corners)  # (ny, nx, K)
    out = {"border_profile_r2": np.full(U, np.nan), "border_field_width": np.full(U, np.nan),
           "border_profile_halfwidth": np.full(U, np.nan)}
    for u in range(U):
        k = int(wall[u])
        if k < 0 or polarity[u] == 0:
            continue
        m = np.isfinite(r[u])
        v = float(polarity[u]) * r[u][m]
        ss = float(np.sum((v - v.mean()) ** 2))
        if not ss > 0:
            continue
        d = dist[..., k][m]
        o = np.argsort(d, kind="stable")
        fit = isotonic_regression(v[o], increasing=False).x
        out["border_profile_r2"][u] = 1.0 - float(np.sum((v[o] - fit) ** 2)) / ss
        half = 0.5 * (fit[0] + fit[-1])
        below = np.flatnonzero(fit <= half)
        out["border_profile_halfwidth"][u] = float(d[o][below[0]]) if below.size else np.nan
        length = float(np.hypot(*(corners[(k + 1) % len(corners)] - corners[k])))
        area = float(field_fraction[u]) * m.sum() * bin_size ** 2
        if cm[u] > 0:
            out["border_field_width"][u] = area / (float(cm[u]) * length)
    return out


def _bin_size(xc: np.ndarray, yc: np.ndarray) -> float:
    steps = np.concatenate([np.diff(xc), np.diff(yc)])
    if steps.size == 0:
        raise ValueError("need at least 2 bins along x or y to know the bin size")
    b = float(np.median(steps))
    if not b > 0 or np.any(np.abs(steps - b) > 1e-6 * b):
        raise ValueError("bin centres x, y must be evenly spaced with one common step")
    return b


# --------------------------------------------------------------------------
# band score (OURS): spectral dominance of one plane wave
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class BandScoreParams:
    """Parameters of the band score (config section ``scores.band``; all OURS).

    min_wavelength : float, default 3.0
        Shortest wavelength considered, in bins (2 is the Nyquist limit).
    max_wavelength : float, default 0.75
        Longest wavelength considered, as a fraction of the map's side ``L = max(ny, nx) * bin``:
        a band must repeat at least ``1 / 0.75 = 1.33`` times across the map, so a single field
        along a wall or a gradient is not a band.
    peak_radius : float, default 1.0
        Radius of the disc of spectral power credited to a peak, in units of the spectral
        resolution ``1 / L`` (cycles per metre): one main lobe of the map's finite extent.
    min_angle : float, default 30.0
        The second peak is the strongest one whose wave-vector orientation differs from the
        first's by at least this much (deg, modulo 180). 30 separates all three axes of a
        hexagonal grid (60 deg apart) and both of a square lattice (90 deg).
    pad_factor : int, default 4
        The (detrended, NaN -> 0) map is zero-padded to ``pad_factor * max(ny, nx)`` bins per
        side before the FFT (finer sampling of the spectrum, not more resolution).
    """

    min_wavelength: float = 3.0
    max_wavelength: float = 0.75
    peak_radius: float = 1.0
    min_angle: float = 30.0
    pad_factor: int = 4

    def __post_init__(self):
        if not self.min_wavelength >= 2.0:
            raise ValueError("scores.band.min_wavelength: must be >= 2 bins (Nyquist), "
                             f"got {self.min_wavelength!r}")
        if not self.max_wavelength > 0:
            raise ValueError("scores.band.max_wavelength: must be > 0 (fraction of the map side), "
                             f"got {self.max_wavelength!r}")
        if not self.peak_radius > 0:
            raise ValueError(f"scores.band.peak_radius: must be > 0, got {self.peak_radius!r}")
        if not 0 < self.min_angle <= 90:
            raise ValueError(f"scores.band.min_angle: must be in (0, 90] deg, got {self.min_angle!r}")
        if isinstance(self.pad_factor, bool) or int(self.pad_factor) != self.pad_factor \
                or self.pad_factor < 1:
            raise ValueError(f"scores.band.pad_factor: must be an integer >= 1, got {self.pad_factor!r}")


def _band_grid(ny, nx, bin_size, params):
    side = max(ny, nx)
    L = side * bin_size
    n_fft = sfft.next_fast_len(int(params.pad_factor) * side)
    f = sfft.fftfreq(n_fft, d=bin_size)  # cycles per metre
    KX, KY = np.meshgrid(f, f)
    kx, ky = KX.ravel(), KY.ravel()
    kk = np.hypot(kx, ky)
    f_lo = 1.0 / (params.max_wavelength * L)
    f_hi = 1.0 / (params.min_wavelength * bin_size)
    ann = (kk >= f_lo) & (kk <= f_hi)
    theta = np.mod(np.arctan2(ky, kx), np.pi)  # wave-vector orientation modulo 180 deg
    return n_fft, kx, ky, kk, ann, theta, params.peak_radius / L, f_hi


def band_scores(
    rate: np.ndarray,
    bin_size: float,
    params: BandScoreParams = BandScoreParams(),
    chunk: int = 256,
) -> dict[str, np.ndarray]:
    r"""Band score: how much one plane wave dominates the spatial spectrum of a map (OURS).

    No standard implementation exists (Krupic et al. 2012 describe a Fourier analysis); this is
    the project's definition:

    1. Detrend: subtract from the map the least-squares plane ``a + b x + c y`` fitted over the
       finite bins (removes the mean and a linear gradient, which would otherwise leak power
       along one axis); set NaN bins to 0.
    2. Power spectrum ``P(k) = |FFT2(map)|^2`` on a grid zero-padded to
       ``pad_factor * max(ny, nx)`` bins; ``k`` in cycles per metre.
    3. Admissible annulus ``A = {k : 1 / (max_wavelength * L) <= |k| <= 1 / (min_wavelength * bin)}``
       with ``L = max(ny, nx) * bin``, where the peaks are searched; reference set
       ``B = {k : |k| <= 1 / (min_wavelength * bin)}`` (every wavelength down to the shortest
       admissible one, *including* those longer than ``max_wavelength * L``).
    4. ``k1 = argmax_{k in A} P(k)``; ``D1 = {k in A : |k - k1| <= delta or |k + k1| <= delta}``
       with ``delta = peak_radius / L``.
    5. ``k2 = argmax P(k)`` over ``k in A \ D1`` whose orientation differs from that of ``k1`` by
       at least ``min_angle`` (modulo 180 deg); ``D2`` = its disc pair, minus ``D1``.
    6. .. math:: \mathrm{band} = \frac{P(D_1) - P(D_2)}{P(B)}

    with ``P(X)`` the summed power over the set X. A plane wave puts almost all its power in
    ``D1`` (band close to 1, less the leakage of the arena's shape); a hexagonal grid splits it
    equally over 3 orientations and a square lattice over 2, so ``P(D1) ~ P(D2)`` and band ~ 0;
    noise and isotropic fields give ~ 0 too; a single field along a wall keeps most of its power
    at long wavelengths, outside ``A`` but inside ``B``, and scores low (< 0.3).
    The score is sign-invariant. By-products: the wavelength ``1 / |k1|`` (m) and the
    orientation of ``k1`` (deg in [0, 180), counter-clockwise from +x; the stripes run
    perpendicular to it).

    Parameters
    ----------
    rate : (U, ny, nx) maps (or one map), NaN = invalid.
    bin_size : bin side (m).
    chunk : maps transformed at once (memory only).

    Returns
    -------
    dict of (U,) arrays: ``band_score``, ``band_wavelength`` (m), ``band_orientation`` (deg),
    ``band_power1``, ``band_power2`` (fractions P(D1)/P(B), P(D2)/P(B)). Maps with fewer than 3
    finite bins, maps that are a plane (incl. constant maps) and maps without admissible power
    give NaN.
    """
    r = _as_stack(rate)
    U, ny, nx = r.shape
    out = {k: np.full(U, np.nan) for k in
           ("band_score", "band_wavelength", "band_orientation", "band_power1", "band_power2")}
    if U == 0:
        return out
    n_fft, kx, ky, kk, ann, theta, delta, f_hi = _band_grid(ny, nx, bin_size, params)
    yy, xx = np.meshgrid(np.arange(ny, dtype=np.float64), np.arange(nx, dtype=np.float64),
                         indexing="ij")
    phi = np.stack([np.ones(ny * nx), xx.ravel() - xx.mean(), yy.ravel() - yy.mean()], axis=1)
    min_angle = np.deg2rad(params.min_angle)
    ann_idx = np.flatnonzero(ann)
    low_idx = np.flatnonzero(kk <= f_hi)
    kxa, kya, tha = kx[ann_idx], ky[ann_idx], theta[ann_idx]
    for start in range(0, U, chunk):
        sl = slice(start, min(U, start + chunk))
        rc = r[sl].reshape(-1, ny * nx)
        m = np.isfinite(rc)
        mf = m.astype(np.float64)
        z = np.where(m, rc, 0.0)
        G = np.einsum("un,nk,nl->ukl", mf, phi, phi)
        h = np.einsum("un,nk->uk", z, phi)
        good = mf.sum(axis=1) >= 3
        G[~good] = np.eye(3)
        coef = np.linalg.solve(G + 1e-12 * np.eye(3), h[..., None])[..., 0]
        res = np.where(m, z - coef @ phi.T, 0.0)
        # a map that is (numerically) a plane has nothing left to analyse
        flat = np.sum(res * res, axis=1) <= 1e-20 * np.sum(z * z, axis=1)
        good &= ~flat
        res = res.reshape(-1, ny, nx)
        P = np.abs(sfft.fft2(res, s=(n_fft, n_fft))) ** 2
        Pf = P.reshape(P.shape[0], -1)
        Pa = Pf[:, ann_idx]  # (u, Na)
        tot = Pf[:, low_idx].sum(axis=1)
        i1 = np.argmax(Pa, axis=1)
        k1x, k1y, t1 = kxa[i1], kya[i1], tha[i1]

        def disc(cx, cy):
            d_plus = np.hypot(kxa[None] - cx[:, None], kya[None] - cy[:, None])
            d_minus = np.hypot(kxa[None] + cx[:, None], kya[None] + cy[:, None])
            return (d_plus <= delta) | (d_minus <= delta)

        D1 = disc(k1x, k1y)
        dth = np.abs(np.mod(tha[None] - t1[:, None] + np.pi / 2, np.pi) - np.pi / 2)
        cand = ~D1 & (dth >= min_angle - 1e-12)
        P2c = np.where(cand, Pa, -1.0)
        i2 = np.argmax(P2c, axis=1)
        has2 = P2c[np.arange(P2c.shape[0]), i2] >= 0
        D2 = disc(kxa[i2], kya[i2]) & ~D1 & has2[:, None]
        p1 = np.sum(Pa * D1, axis=1)
        p2 = np.sum(Pa * D2, axis=1)
        fine = good & (tot > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            f1, f2 = p1 / tot, p2 / tot
            wl = 1.0 / np.hypot(k1x, k1y)
        out["band_score"][sl] = np.where(fine, f1 - f2, np.nan)
        out["band_power1"][sl] = np.where(fine, f1, np.nan)
        out["band_power2"][sl] = np.where(fine, f2, np.nan)
        out["band_wavelength"][sl] = np.where(fine, wl, np.nan)
        out["band_orientation"][sl] = np.where(fine, np.rad2deg(t1) % 180.0, np.nan)
    return out


def band_ramp_fit(
    rate: np.ndarray, bin_size: float, orientation_deg: np.ndarray, wavelength: np.ndarray
) -> dict[str, np.ndarray]:
    """Does a map repeat along its band direction, or is it a ramp? (OURS)

    Along the band's wave vector (orientation ``theta`` from :func:`band_scores`), with
    ``s = x cos(theta) + y sin(theta)`` the position of every finite bin centre (m):

    * ``band_wave_r2``: fraction of the map's variance explained by the least-squares plane
      wave ``a + b cos(2 pi s / lambda) + c sin(2 pi s / lambda)`` at the band's wavelength;
    * ``band_ramp_r2``: fraction explained by the best monotone function of ``s`` (isotonic
      regression, increasing or decreasing, whichever fits better): every linear or saturating
      (tanh) ramp, and any step, along that direction;
    * ``band_periods``: the extent of the finite bins along ``s`` divided by the wavelength (how
      many periods the arena holds along the wave vector).

    A plane wave of >= 1.5 periods fits the wave far better than any monotone function; a ramp's
    power leaks to the longest admissible wavelength (band score up to ~0.6) but it fits a
    monotone function better than a wave. Used by :mod:`cw.analysis.celltypes`.

    Parameters
    ----------
    rate : (U, ny, nx) maps; bin_size : m; orientation_deg, wavelength : (U,) from
        :func:`band_scores` (deg, m).

    Returns
    -------
    dict of (U,) arrays ``band_wave_r2``, ``band_ramp_r2`` (in [0, 1]), ``band_periods``; NaN
    where the orientation or wavelength is NaN or the map has fewer than 3 finite bins.
    """
    from scipy.optimize import isotonic_regression

    r = _as_stack(rate)
    U, ny, nx = r.shape
    yy, xx = np.meshgrid(np.arange(ny) * bin_size, np.arange(nx) * bin_size, indexing="ij")
    out = {k: np.full(U, np.nan) for k in ("band_wave_r2", "band_ramp_r2", "band_periods")}
    th = np.deg2rad(np.asarray(orientation_deg, dtype=np.float64))
    wl = np.asarray(wavelength, dtype=np.float64)
    for u in range(U):
        m = np.isfinite(r[u])
        if m.sum() < 3 or not (np.isfinite(th[u]) and np.isfinite(wl[u]) and wl[u] > 0):
            continue
        v = r[u][m]
        ss = np.sum((v - v.mean()) ** 2)
        if not ss > 0:
            continue
        sp_ = np.cos(th[u]) * xx[m] + np.sin(th[u]) * yy[m]
        ph = 2 * np.pi * sp_ / wl[u]
        A = np.stack([np.ones_like(ph), np.cos(ph), np.sin(ph)], axis=1)
        coef, *_ = np.linalg.lstsq(A, v, rcond=None)
        out["band_wave_r2"][u] = 1.0 - np.sum((v - A @ coef) ** 2) / ss
        order = np.argsort(sp_, kind="stable")
        vo = v[order]
        best = np.inf
        for inc in (True, False):
            fit = isotonic_regression(vo, increasing=inc).x
            best = min(best, float(np.sum((vo - fit) ** 2)))
        out["band_ramp_r2"][u] = 1.0 - best / ss
        out["band_periods"][u] = float((sp_.max() - sp_.min() + bin_size) / wl[u])
    return out


def count_fields(rate: np.ndarray, threshold: float = 0.5, min_bins: int = 2) -> np.ndarray:
    """Number of separate fields of each map (OURS): 4-connected components of at least
    ``min_bins`` finite bins whose normalised value ``(r - min) / (max - min)`` is at least
    ``threshold``, the larger of the counts for the map and its sign-flipped copy (tanh units are
    sign-symmetric). A lattice has several fields; a single field, a corner or central field
    and a ramp have one.

    Parameters
    ----------
    rate : (U, ny, nx) maps (or one map); NaN = invalid.
    threshold : fraction of the map's range (in (0, 1)).
    min_bins : smallest field, bins.

    Returns
    -------
    (U,) int64 counts (0 for constant or all-NaN maps).
    """
    r = _as_stack(rate)
    U = r.shape[0]
    out = np.zeros(U, dtype=np.int64)
    st = ndi.generate_binary_structure(2, 1)
    for u in range(U):
        m = np.isfinite(r[u])
        if not m.any():
            continue
        lo, hi = np.min(r[u][m]), np.max(r[u][m])
        if not hi > lo:
            continue
        rn = np.where(m, (r[u] - lo) / (hi - lo), np.nan)
        best = 0
        for v in (rn, 1.0 - rn):
            lab, n = ndi.label(np.isfinite(v) & (v >= threshold), structure=st)
            if n:
                best = max(best, int(np.sum(np.bincount(lab.ravel())[1:] >= min_bins)))
        out[u] = best
    return out


def spatial_coherence(rate: np.ndarray) -> np.ndarray:
    """Spatial coherence of rate maps (Muller & Kubie 1989): the Pearson correlation, over the
    finite bins, between each bin's value and the mean of its finite 8 neighbours.

    Contiguous fields give values near 1 (smooth maps > 0.7 at 5-cm bins); independent values
    in every bin (salt-and-pepper) give ~0. Sign-invariant.

    Parameters
    ----------
    rate : (U, ny, nx) maps (or one map); NaN = invalid bin.

    Returns
    -------
    (U,) coherence in [-1, 1]; NaN for maps with fewer than 3 bins that have a neighbour, or
    constant maps.
    """
    r = _as_stack(rate)
    m = np.isfinite(r)
    z = np.where(m, r, 0.0)
    k = np.ones((1, 3, 3))
    k[0, 1, 1] = 0.0
    s = ndi.convolve(z, k, mode="constant", cval=0.0)
    n = ndi.convolve(m.astype(np.float64), k, mode="constant", cval=0.0)
    ok = m & (n > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        nb = np.where(ok, s / np.where(n > 0, n, 1.0), 0.0)
    w = ok.astype(np.float64)
    cnt = w.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = (w * z).sum(axis=(1, 2)) / cnt
        mb = (w * nb).sum(axis=(1, 2)) / cnt
        da = np.where(ok, z - ma[:, None, None], 0.0)
        db = np.where(ok, nb - mb[:, None, None], 0.0)
        va, vb = (da * da).sum(axis=(1, 2)), (db * db).sum(axis=(1, 2))
        c = (da * db).sum(axis=(1, 2)) / np.sqrt(va * vb)
    return np.where((cnt >= 3) & (va > 0) & (vb > 0), c, np.nan)


# --------------------------------------------------------------------------
# spatial variance fraction (eta^2)
# --------------------------------------------------------------------------
def spatial_variance_fraction(
    rate: np.ndarray, occupancy: np.ndarray, activity_variance: np.ndarray
) -> np.ndarray:
    r"""Fraction of a unit's activity variance explained by position (correlation ratio eta^2).

    .. math:: \eta^2 = \frac{\sum_b n_b (r_b - \bar r)^2 / \sum_b n_b}{\sigma^2}

    over the finite bins b of the map, with ``n_b`` the occupancy, ``\bar r`` the
    occupancy-weighted mean of the map and ``sigma^2`` the variance of the unit's activity over
    all samples. 0 = no spatial modulation, 1 = activity is a function of position only. Defined
    for signed activity (tanh units) and sign-invariant; used to call units non-spatial.

    Parameters
    ----------
    rate : (U, ny, nx); occupancy : (ny, nx) samples per bin; activity_variance : (U,).

    Returns
    -------
    (U,) array; NaN where the variance is 0 or no bin is finite.
    """
    r = _as_stack(rate)
    n = np.asarray(occupancy, dtype=np.float64)
    w = np.where(np.isfinite(r), n[None], 0.0)
    sw = w.sum(axis=(1, 2))
    rz = np.nan_to_num(r)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = (w * rz).sum(axis=(1, 2)) / sw
        between = (w * (rz - mu[:, None, None]) ** 2).sum(axis=(1, 2)) / sw
        var = np.asarray(activity_variance, dtype=np.float64)
        eta = between / var
    return np.where((sw > 0) & (var > 0), eta, np.nan)


# --------------------------------------------------------------------------
# every score at once
# --------------------------------------------------------------------------
#: The scores that get a shuffle null distribution and a significance threshold.
SCORE_NAMES: tuple[str, ...] = (
    "score60", "score90", "border_score", "band_score", "spatial_variance_fraction",
)


def score_maps(
    rate: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    arena=None,
    grid: GridScoreParams = GridScoreParams(),
    border: BorderScoreParams = BorderScoreParams(),
    band: BandScoreParams = BandScoreParams(),
    geometry: GridGeometryParams | None = GridGeometryParams(),
    occupancy: np.ndarray | None = None,
    activity_variance: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Every spatial score of a stack of rate maps (one SAC per map, shared).

    Parameters
    ----------
    rate : (U, ny, nx) maps; x, y : bin centres (m).
    arena : Arena or corners for the border score (None: border scores are NaN).
    grid, border, band : score parameters.
    geometry : GridGeometryParams for grid spacing/orientation, or None to skip them (shuffles).
    occupancy, activity_variance : for the spatial variance fraction (NaN if either is None).

    Returns
    -------
    dict of (U,) arrays: every name in :data:`SCORE_NAMES`, plus ``ring60``, ``ring90``, the
    border and band by-products of :func:`border_scores` / :func:`band_scores` and, if
    ``geometry`` is given, those of :func:`grid_geometry`.
    """
    r = _as_stack(rate)
    U, ny, nx = r.shape
    xc, yc = np.asarray(x, np.float64), np.asarray(y, np.float64)
    bin_size = _bin_size(xc, yc)
    sac = autocorrelogram(r, min_overlap=grid.min_overlap)
    g = _grid_scores_from_sac(sac, max(ny, nx), grid)
    out = {k: g[k] for k in ("score60", "score90", "ring60", "ring90")}
    if geometry is not None:
        out.update(grid_geometry(sac, bin_size, geometry, np.isfinite(r)))
        out["grid_score_status"] = grid_score_status(r, sac, out["score60"], grid)
    if arena is not None:
        out.update(border_scores(r, xc, yc, arena, border))
        if geometry is not None:  # by-products of the observed maps only
            out.update(border_profile_fit(r, xc, yc, arena, out["border_wall"],
                                          out["border_polarity"], out["border_cm"],
                                          out["border_field_fraction"]))
    else:
        out.update({"border_score": np.full(U, np.nan), "border_cm": np.full(U, np.nan),
                    "border_dm": np.full(U, np.nan), "border_wall": np.full(U, -1, np.int64),
                    "border_polarity": np.zeros(U, np.int8),
                    "border_field_fraction": np.full(U, np.nan),
                    "border_field_share": np.full(U, np.nan)})
    out.update(band_scores(r, bin_size, band))
    if geometry is not None:  # by-products of the observed maps only (not needed for shuffles)
        out.update(band_ramp_fit(r, bin_size, out["band_orientation"], out["band_wavelength"]))
        out["spatial_coherence"] = spatial_coherence(r)
        out["n_fields"] = count_fields(r, geometry.field_threshold, geometry.min_field_bins)
        out.update(lattice_fit(r, xc, yc, bin_size, geometry.lattice, 6))
        out.update(lattice_fit(r, xc, yc, bin_size, geometry.lattice, 4))
        out.update(field_fit(r, xc, yc, bin_size, geometry.field_fit_widths))
    if occupancy is not None and activity_variance is not None:
        out["spatial_variance_fraction"] = spatial_variance_fraction(r, occupancy, activity_variance)
    else:
        out["spatial_variance_fraction"] = np.full(U, np.nan)
    return out


@dataclass(frozen=True)
class ScoreParams:
    """All score parameters together (config section ``scores``).

    The grid-score keys are flat in the section (``inner_radius``, ``outer_radius_min``,
    ``outer_radius_max``, ``n_rings``, ``variant``, as read by ``cw.steps.pipeline``); the others are
    sub-sections ``scores.border``, ``scores.band`` and ``scores.geometry`` (see
    :class:`BorderScoreParams`, :class:`BandScoreParams`, :class:`GridGeometryParams`).
    """

    grid: GridScoreParams = GridScoreParams()
    border: BorderScoreParams = BorderScoreParams()
    band: BandScoreParams = BandScoreParams()
    geometry: GridGeometryParams = GridGeometryParams()

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "ScoreParams":
        d = dict(d or {})
        known = {"inner_radius", "outer_radius_min", "outer_radius_max", "n_rings", "variant",
                 "border", "band", "geometry"}
        extra = sorted(set(d) - known)
        if extra:
            raise ValueError(f"scores.{extra[0]}: unknown key")
        g = GridScoreParams()
        lo = float(d.get("outer_radius_min", g.outer_radii[0]))
        hi = float(d.get("outer_radius_max", g.outer_radii[-1]))
        n = d.get("n_rings", len(g.outer_radii))
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"scores.n_rings: must be an integer >= 1, got {n!r}")
        if hi < lo:
            raise ValueError(f"scores.outer_radius_max: must be >= scores.outer_radius_min ({lo})")
        grid = GridScoreParams(
            inner_radius=float(d.get("inner_radius", g.inner_radius)),
            outer_radii=tuple(np.linspace(lo, hi, int(n)).tolist()),
            variant=d.get("variant", g.variant),
        )

        def sub(name, klass):
            v = d.get(name) or {}
            if not isinstance(v, Mapping):
                raise ValueError(f"scores.{name}: must be a mapping")
            names = {f.name for f in dataclasses.fields(klass)}
            bad = sorted(set(v) - names)
            if bad:
                raise ValueError(f"scores.{name}.{bad[0]}: unknown key")
            return klass(**v)

        return cls(grid, sub("border", BorderScoreParams), sub("band", BandScoreParams),
                   sub("geometry", GridGeometryParams))


#: netCDF attributes of every per-unit output of :func:`score_maps`.
SCORE_ATTRS: dict[str, dict] = {
    "score60": {"long_name": "grid score (60 deg, hexagonal symmetry)", "units": "1"},
    "score90": {"long_name": "grid score (90 deg, square symmetry)", "units": "1",
                "definition": "c90 - mean(c45,c135), max over annuli"},
    "ring60": {"long_name": "outer radius of the best annulus for score60", "units": "bins"},
    "ring90": {"long_name": "outer radius of the best annulus for score90", "units": "bins"},
    "grid_spacing": {"long_name": "grid spacing: median distance of the nearest "
                                  "autocorrelogram peaks", "units": "m"},
    "grid_orientation60": {"long_name": "orientation of the hexagonal grid axes, "
                                        "counter-clockwise from +x, modulo 60", "units": "degree"},
    "grid_orientation90": {"long_name": "orientation of the square lattice axes, "
                                        "counter-clockwise from +x, modulo 90", "units": "degree"},
    "grid_n_peaks": {"long_name": "number of autocorrelogram peaks found", "units": "1"},
    "grid_contrast": {"long_name": "median over the nearest autocorrelogram peaks of "
                                   "SAC(peak) - SAC(halfway to the centre)", "units": "1"},
    "border_score": {"long_name": "border score (cM - dM) / (cM + dM), walls = polygon edges",
                     "units": "1"},
    "border_cm": {"long_name": "largest fraction of one wall covered by one field", "units": "1"},
    "border_dm": {"long_name": "rate-weighted mean distance of field bins to the nearest wall, "
                               "over the arena's Chebyshev radius", "units": "1"},
    "border_wall": {"long_name": "index k of the best-covered wall (corners k to k+1), -1 none",
                    "units": "1"},
    "border_polarity": {"long_name": "sign of the activity of the border fields "
                                     "(+1 high, -1 low activity, 0 undefined)", "units": "1"},
    "band_score": {"long_name": "band score (P(D1) - P(D2)) / P(B) of the spatial spectrum",
                   "units": "1"},
    "band_wavelength": {"long_name": "wavelength of the strongest plane-wave component",
                        "units": "m"},
    "band_orientation": {"long_name": "orientation of its wave vector, counter-clockwise from "
                                      "+x, modulo 180 (stripes run perpendicular)",
                         "units": "degree"},
    "band_power1": {"long_name": "fraction of spectral power P(B) in the strongest "
                                 "plane-wave peak pair", "units": "1"},
    "band_power2": {"long_name": "fraction of spectral power P(B) in the strongest peak "
                                 "pair of another orientation", "units": "1"},
    "spatial_variance_fraction": {"long_name": "fraction of activity variance explained by "
                                               "position (eta squared)", "units": "1"},
    "grid_hex_order": {"long_name": "six-fold order |mean exp(6i theta)| of the nearest "
                                    "autocorrelogram peaks (NaN: fewer than 4 peaks)", "units": "1"},
    "grid_hex_ratio": {"long_name": "largest / smallest distance of the nearest autocorrelogram "
                                    "peaks", "units": "1"},
    "grid_square_order": {"long_name": "four-fold order |mean exp(4i theta)| of the 4 nearest "
                                       "autocorrelogram peaks", "units": "1"},
    "grid_square_ratio": {"long_name": "largest / smallest distance of the 4 nearest "
                                       "autocorrelogram peaks", "units": "1"},
    "grid_score_status": {
        "long_name": "why score60/score90 are defined or NaN", "units": "1",
        "flag_values": np.array([0, 1, 2, 3], dtype=np.int8),
        "flag_meanings": "defined constant_or_empty_map flat_autocorrelogram too_few_valid_pairs",
        "comment": "NaN grid scores mean 'no score', never 'irregular': 1 = the map has no "
                   "variance (silent unit or no finite bin); 2 = every autocorrelogram value in "
                   "the annuli is the same (a linear ramp: every lag correlates 1), so the "
                   "rotated correlations are undefined; 3 = too few valid bin pairs"},
    "n_fields": {"long_name": "separate fields (components >= half the map's range, either "
                              "sign, >= 2 bins)", "units": "1"},
    "spatial_coherence": {"long_name": "correlation of each bin with the mean of its 8 "
                                       "neighbours (Muller & Kubie 1989)", "units": "1"},
    "band_wave_r2": {"long_name": "variance explained by the plane wave at the band's wave "
                                  "vector", "units": "1"},
    "band_ramp_r2": {"long_name": "variance explained by the best monotone function along the "
                                  "band's wave vector", "units": "1"},
    "band_periods": {"long_name": "periods of the band's wavelength inside the arena along its "
                                  "wave vector", "units": "1"},
    "border_field_fraction": {"long_name": "fraction of the valid bins in the best border field",
                              "units": "1"},
    "border_field_share": {"long_name": "fraction of the rate-weighted field mass in the best "
                                        "border field", "units": "1"},
    "border_profile_r2": {"long_name": "variance explained by a decreasing function of the "
                                       "distance to the best wall", "units": "1"},
    "border_field_width": {"long_name": "area of the best border field / length of wall it "
                                        "covers", "units": "m"},
    "border_profile_halfwidth": {"long_name": "distance from the best wall at which the fitted "
                                              "decreasing wall profile falls to half its range",
                                 "units": "m"},
    **LATTICE_ATTRS,
}


def grid_score_status(rate: np.ndarray, sac: np.ndarray, score60: np.ndarray,
                      params: "GridScoreParams") -> np.ndarray:
    """Why each grid score is defined or NaN (``SCORE_ATTRS["grid_score_status"]``).

    Parameters
    ----------
    rate : (U, ny, nx) maps; sac : (U, 2ny-1, 2nx-1) their autocorrelograms; score60 : (U,).
    params : GridScoreParams (the annuli).

    Returns
    -------
    (U,) int8: 0 defined, 1 constant or empty map, 2 flat autocorrelogram inside the annuli
    (a linear ramp), 3 too few valid pairs.
    """
    r = _as_stack(rate)
    U, ny, nx = r.shape
    out = np.zeros(U, dtype=np.int8)
    masks, _ = ring_masks(sac.shape[-2:], max(ny, nx), params)
    ring = masks.any(axis=0)
    for u in range(U):
        if np.isfinite(score60[u]):
            continue
        v = r[u][np.isfinite(r[u])]
        if v.size == 0 or not np.ptp(v) > 0:
            out[u] = 1
            continue
        a = sac[u][ring]
        a = a[np.isfinite(a)]
        out[u] = 2 if a.size >= 2 and np.ptp(a) <= 1e-6 else 3
    return out


def score_params_attrs(
    grid: GridScoreParams = GridScoreParams(),
    border: BorderScoreParams | None = BorderScoreParams(),
    band: BandScoreParams | None = BandScoreParams(),
    geometry: GridGeometryParams | None = GridGeometryParams(),
) -> dict:
    """Global attributes recording every score parameter (netCDF-friendly types)."""
    p = asdict(grid)
    attrs = {
        "grid_score_inner_radius": float(p["inner_radius"]),
        "grid_score_outer_radii": np.asarray(p["outer_radii"], dtype=np.float64),
        "grid_score_radii_reference": "fractions of max(ny, nx) of the rate map (bins)",
        "grid_score_variant": str(p["variant"]),
        "grid_score_rotation_order": int(p["order"]),
        "grid_score_min_overlap": int(p["min_overlap"]),
        "grid_score_min_ring_pairs": int(p["min_ring_pairs"]),
        "grid_score_method": (
            "NaN-aware SAC; rotations 30,45,60,90,120,135,150 deg "
            "(scipy.ndimage.rotate, reshape=False, normalised interpolation); "
            "Pearson r in annuli inner<r<=outer over bins valid in both"
        ),
    }
    for prefix, obj in (("grid_geometry_", geometry), ("border_", border), ("band_", band)):
        if obj is None:
            continue
        for k, v in asdict(obj).items():
            attrs[prefix + k] = v if isinstance(v, (str, int, float)) else str(v)
    if border is not None:
        attrs["border_method"] = (
            "Solstad et al. 2008 on polygon walls: fields = 4-connected bins with normalised "
            "rate >= field_threshold and area >= min_field_area; cM = max coverage of one wall by "
            "one field; dM = rate-weighted mean distance to the nearest wall / Chebyshev radius"
        )
    if band is not None:
        attrs["band_method"] = (
            "(P(D1) - P(D2)) / P(B) of the power spectrum of the plane-detrended map; "
            "see cw.analysis.scores.band_scores"
        )
    return attrs


def scores_dataset(
    rate_ds: xr.Dataset,
    params: GridScoreParams = GridScoreParams(),
    arena=None,
    border: BorderScoreParams = BorderScoreParams(),
    band: BandScoreParams = BandScoreParams(),
    geometry: GridGeometryParams = GridGeometryParams(),
    activity_variance: np.ndarray | None = None,
) -> xr.Dataset:
    """Every score of every unit of a rate-map Dataset (from ``compute_ratemaps``).

    Parameters
    ----------
    rate_ds : Dataset with ``rate (unit, y, x)`` and coordinates x, y (m); ``occupancy (y, x)``
        is used for the spatial variance fraction.
    params : grid-score parameters.
    arena : Arena or corners for the border score; None takes ``rate_ds.attrs["arena_corners"]``
        (flattened [x0, y0, x1, y1, ...]) if present, else the border score is NaN.
    border, band, geometry : parameters of the other scores.
    activity_variance : (U,) variance of each unit's activity over all samples, for the spatial
        variance fraction (NaN if None).

    Returns
    -------
    Dataset over ``unit`` with every output of :func:`score_maps` (see :data:`SCORE_ATTRS`);
    the parameters (incl. the grid-score variant) are stored as attributes.
    """
    rate = rate_ds["rate"].transpose("unit", "y", "x")
    if arena is None and "arena_corners" in rate_ds.attrs:
        arena = np.asarray(rate_ds.attrs["arena_corners"], dtype=np.float64).reshape(-1, 2)
    occ = rate_ds["occupancy"].transpose("y", "x").values if "occupancy" in rate_ds else None
    out = score_maps(rate.values, rate_ds["x"].values, rate_ds["y"].values, arena, params,
                     border, band, geometry, occ, activity_variance)
    ds = scores_to_dataset(out, rate_ds["unit"].values)
    ds["score60"].attrs["definition"] = (
        "mean(c60,c120) - mean(c30,c90,c150)" if params.variant == "mean"
        else "min(c60,c120) - max(c30,c90,c150)") + ", max over annuli"
    ds.attrs.update(score_params_attrs(params, border if arena is not None else None, band,
                                       geometry))
    if "bin_size" in rate_ds.attrs:
        ds.attrs["bin_size"] = rate_ds.attrs["bin_size"]
    return ds


def scores_to_dataset(out: dict, unit: np.ndarray) -> xr.Dataset:
    """Per-unit outputs of :func:`score_maps` as a Dataset on dim ``unit`` with attributes."""
    data = {k: ("unit", np.asarray(v), dict(SCORE_ATTRS.get(k, {}))) for k, v in out.items()
            if np.ndim(v) == 1}
    return xr.Dataset(data, coords={"unit": ("unit", np.asarray(unit))})
