"""Spatial autocorrelogram and grid scores (paper section 5, "Grid score"; OURS).

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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.fft as sfft
import scipy.ndimage as ndi
import xarray as xr

__all__ = [
    "autocorrelogram",
    "GridScoreParams",
    "grid_scores",
    "scores_dataset",
    "ring_masks",
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
            raise ValueError(f"variant must be 'mean' or 'minmax', got {self.variant!r}")
        object.__setattr__(self, "outer_radii", tuple(float(v) for v in self.outer_radii))
        if len(self.outer_radii) == 0:
            raise ValueError("outer_radii must not be empty")
        if any(o <= self.inner_radius for o in self.outer_radii):
            raise ValueError("every outer radius must exceed inner_radius")
        if not 0 <= int(self.order) <= 5:
            raise ValueError("order must be in 0..5")


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


def _rotate_stack(sac: np.ndarray, valid: np.ndarray, angle: float, order: int):
    """Normalised-interpolation rotation of a (U, H, W) SAC stack about its centre."""
    vf = valid.astype(np.float64)
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


def _masked_pearson(a, b, w, masks_flat, min_pairs):
    """Pearson r between a and b over bins with w=1 inside each mask.

    a, b, w : (U, N) with w in {0, 1} and a, b finite; masks_flat : (N, R) float.
    Returns (U, R).
    """
    n = w @ masks_flat
    wa, wb = w * a, w * b
    sa = wa @ masks_flat
    sb = wb @ masks_flat
    saa = (wa * a) @ masks_flat
    sbb = (wb * b) @ masks_flat
    sab = (wa * b) @ masks_flat
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
    r = np.asarray(rate, dtype=np.float64)
    if r.ndim == 2:
        r = r[None]
    if r.ndim != 3:
        raise ValueError(f"rate must be (U, ny, nx), got shape {r.shape}")
    U, ny, nx = r.shape
    sac = autocorrelogram(r, min_overlap=params.min_overlap)  # (U, H, W)
    H, W = sac.shape[-2:]
    valid = np.isfinite(sac)
    masks, radii = ring_masks((H, W), max(ny, nx), params)
    masks_flat = masks.reshape(len(radii), -1).T.astype(np.float64)  # (N, R)

    a = np.where(valid, sac, 0.0).reshape(U, -1)
    corr = np.full((U, len(_ANGLES), len(radii)), np.nan)
    if U > 0:
        for k, ang in enumerate(_ANGLES):
            rot, rok = _rotate_stack(sac, valid, ang, int(params.order))
            w = (valid & rok).reshape(U, -1).astype(np.float64)
            corr[:, k] = _masked_pearson(a, rot.reshape(U, -1), w, masks_flat,
                                         params.min_ring_pairs)

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


def scores_dataset(
    rate_ds: xr.Dataset, params: GridScoreParams = GridScoreParams()
) -> xr.Dataset:
    """Grid scores of every unit of a rate-map Dataset (from ``compute_ratemaps``).

    Returns a Dataset over ``unit`` with ``score60``, ``score90``, ``ring60``,
    ``ring90``; the parameters (incl. the variant) are stored as attributes.
    """
    rate = rate_ds["rate"].transpose("unit", "y", "x")
    out = grid_scores(rate.values, params)
    unit = rate_ds["unit"].values
    desc60 = (
        "mean(c60,c120) - mean(c30,c90,c150)" if params.variant == "mean"
        else "min(c60,c120) - max(c30,c90,c150)"
    )
    ds = xr.Dataset(
        data_vars={
            "score60": ("unit", out["score60"], {
                "long_name": "grid score (60 deg, hexagonal symmetry)",
                "units": "1", "definition": desc60 + ", max over annuli"}),
            "score90": ("unit", out["score90"], {
                "long_name": "grid score (90 deg, square symmetry)",
                "units": "1", "definition": "c90 - mean(c45,c135), max over annuli"}),
            "ring60": ("unit", out["ring60"], {
                "long_name": "outer radius of the best annulus for score60",
                "units": "bins"}),
            "ring90": ("unit", out["ring90"], {
                "long_name": "outer radius of the best annulus for score90",
                "units": "bins"}),
        },
        coords={"unit": ("unit", unit)},
    )
    p = asdict(params)
    ds.attrs.update({
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
    })
    if "bin_size" in rate_ds.attrs:
        ds.attrs["bin_size"] = rate_ds.attrs["bin_size"]
    return ds
