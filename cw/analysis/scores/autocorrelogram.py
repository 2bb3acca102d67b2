"""Spatial autocorrelogram of rate maps (step 1 of the grid score, :mod:`cw.analysis.scores`).

Part of :mod:`cw.analysis.scores`, whose docstring describes the definitions.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import scipy.fft as sfft


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

    Examples
    --------
    >>> import numpy as np
    >>> autocorrelogram(np.random.default_rng(0).normal(size=(40, 40))).shape
    (79, 79)
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

    def fft(a):
        # the zero padding of a (.., ny, nx) map to (py, px): the transform along x of its ny rows
        # only (the padded rows are zero), then along y; equal to rfft2(a, s) up to round-off
        return sfft.fft(sfft.rfft(a, n=px, axis=-1), n=py, axis=-2)

    iy = np.arange(-(ny - 1), ny) % py
    ix = np.arange(-(nx - 1), nx) % px

    def circular(Fa, Fb):
        # c[k] = sum_l a[l + k] * b[l] (a is the shifted copy), lag k modulo (py, px)
        return sfft.irfft2(Fa * np.conj(Fb), s=s)

    def xcorr(Fa, Fb):
        return circular(Fa, Fb)[..., iy, :][..., :, ix]

    Fx = fft(x)
    Fx2 = fft(x2)
    stack = valid.reshape(-1, ny, nx)
    tot = x2.sum(axis=(-2, -1), keepdims=True)
    min_pairs = max(int(min_overlap), 2)
    if stack.shape[0] > 1 and np.all(stack == stack[:1]):
        # every map has the same valid bins (the maps of one set of positions: units, shuffles,
        # checkpoints): the pair counts are computed once, and the sums over the shifted copy
        # are those over the unshifted one at the opposite lag, sb(d) = sa(-d); the Pearson
        # step below runs compiled on the circular sums (the same operations, bit for bit)
        Fm = fft(stack[0].astype(np.float64))
        sac = np.empty((stack.shape[0], 2 * ny - 1, 2 * nx - 1))
        _pearson_at_lags()(np.rint(circular(Fm, Fm)), circular(Fx, Fm).reshape(-1, py, px),
                           circular(Fx2, Fm).reshape(-1, py, px),
                           circular(Fx, Fx).reshape(-1, py, px), tot.reshape(-1), ny, nx,
                           min_pairs, sac)
        return sac.reshape(r.shape[:-2] + sac.shape[-2:])
    else:
        Fm = fft(m)
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
    floor = 1e-10 * n * tot
    ok = (n >= min_pairs) & (va > floor) & (vb > floor)
    with np.errstate(invalid="ignore", divide="ignore"):
        sac = cov / np.sqrt(np.where(ok, va * vb, np.nan))
    sac = np.where(ok, np.clip(sac, -1.0, 1.0), np.nan)
    return sac


@lru_cache(maxsize=1)
def _pearson_at_lags():
    """Compiled last step of :func:`autocorrelogram` for maps sharing one validity mask (numba,
    cached beside this module): the Pearson correlation at every lag from the circular sums
    (pair counts ``n (py, px)``; sums of ``a``, ``a^2`` and ``a b``, (N, py, px)), reading the
    lag ``d`` and its opposite ``-d`` in place instead of cropping and flipping copies. The
    operations and their order are those of the numpy expressions of the general path
    (no fused multiply-adds), so the result is the same to the bit (``tests/test_scores_fast_paths.py``)."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def run(n_c, sa_c, saa_c, sab_c, tot, ny, nx, min_pairs, out):
        N, py, px = sa_c.shape
        lag_y = np.arange(-(ny - 1), ny)
        lag_x = np.arange(-(nx - 1), nx)
        fy, by = lag_y % py, (-lag_y) % py  # the lag and its opposite, modulo the padded size
        fx, bx = lag_x % px, (-lag_x) % px
        for k in range(N):
            for i in range(2 * ny - 1):
                iy, jy = fy[i], by[i]
                for j in range(2 * nx - 1):
                    ix, jx = fx[j], bx[j]
                    n = n_c[iy, ix]
                    sa, saa = sa_c[k, iy, ix], saa_c[k, iy, ix]
                    sb, sbb = sa_c[k, jy, jx], saa_c[k, jy, jx]
                    va = n * saa - sa * sa
                    vb = n * sbb - sb * sb
                    cov = n * sab_c[k, iy, ix] - sa * sb
                    floor = 1e-10 * n * tot[k]
                    if n >= min_pairs and va > floor and vb > floor:
                        out[k, i, j] = min(max(cov / math.sqrt(va * vb), -1.0), 1.0)
                    else:
                        out[k, i, j] = np.nan

    return run
