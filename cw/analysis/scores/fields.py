"""Field counting, spatial coherence and the spatial variance fraction (eta^2).

Part of :mod:`cw.analysis.scores`, whose docstring describes the definitions.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi

from cw.analysis.scores.inputs import as_stack


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

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((10, 10))
    >>> m[1:3, 1:3] = 1.0
    >>> m[6:9, 6:9] = 1.0
    >>> count_fields(m)
    array([2])
    """
    r = as_stack(rate)
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

    Examples
    --------
    A smooth grid map is coherent, independent noise in every bin is not:

    >>> import numpy as np
    >>> from cw.synthetic import cosine_lattice
    >>> xc = np.arange(-0.95, 1.0, 0.1)  # centres of 20 bins of 0.1 m across a 2 m square
    >>> X, Y = np.meshgrid(xc, xc)
    >>> noise = np.random.default_rng(0).normal(size=X.shape)
    >>> spatial_coherence(np.stack([cosine_lattice(X, Y, 0.5, 0.0, 3), noise])) > 0.5
    array([ True, False])
    """
    r = as_stack(rate)
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

    Examples
    --------
    Two bins of 10 samples each; the unit's activity (variance 1.25) has bin means -1 and 1:

    >>> import numpy as np
    >>> rate = np.array([[[-1.0, 1.0]]])
    >>> spatial_variance_fraction(rate, np.array([[10, 10]]), np.array([1.25])).round(2)
    array([0.8])
    """
    r = as_stack(rate)
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
