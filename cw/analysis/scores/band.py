"""Band score (spectral dominance of one plane wave) and the band ramp fit.

Part of :mod:`cw.analysis.scores`, whose docstring describes the definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

from functools import lru_cache

import numpy as np
import scipy.fft as sfft

from cw.analysis.scores.inputs import as_stack
from cw.config import schema_default


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

    min_wavelength: float = schema_default("scores", "band", "min_wavelength")
    max_wavelength: float = schema_default("scores", "band", "max_wavelength")
    peak_radius: float = schema_default("scores", "band", "peak_radius")
    min_angle: float = schema_default("scores", "band", "min_angle")
    pad_factor: int = schema_default("scores", "band", "pad_factor")

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


@lru_cache(maxsize=16)
def _band_tables(ny: int, nx: int, bin_size: float, params: "BandScoreParams"):
    """Index tables of :func:`band_scores` for one map shape (cached).

    Returns ``n_fft``, the positions of the admissible set A and of the reference set B in the
    half spectrum of a real map (``rfft`` along x: P(k) = P(-k) gives the other half),
    ``kxa, kya, tha`` of A, and two (Na, Na) bool tables: ``disc[i, j]`` = k_j in the disc pair
    of k_i (``|k_j - k_i| <= delta or |k_j + k_i| <= delta``) and ``apart[i, j]`` = the
    orientations of k_i and k_j differ by at least ``min_angle`` (modulo 180 deg).
    """
    n_fft, kx, ky, kk, ann, theta, delta, f_hi = _band_grid(ny, nx, bin_size, params)
    nh = n_fft // 2 + 1

    def half(idx):  # flat index iy * n_fft + ix of the full grid -> of the (n_fft, nh) half grid
        iy, ix = np.divmod(idx, n_fft)
        mirror = ix >= nh
        iy = np.where(mirror, (-iy) % n_fft, iy)
        ix = np.where(mirror, (-ix) % n_fft, ix)
        return iy * nh + ix

    ann_idx = np.flatnonzero(ann)
    kxa, kya, tha = kx[ann_idx], ky[ann_idx], theta[ann_idx]
    d_plus = np.hypot(kxa[None] - kxa[:, None], kya[None] - kya[:, None])
    d_minus = np.hypot(kxa[None] + kxa[:, None], kya[None] + kya[:, None])
    disc = (d_plus <= delta) | (d_minus <= delta)
    dth = np.abs(np.mod(tha[None] - tha[:, None] + np.pi / 2, np.pi) - np.pi / 2)
    apart = dth >= np.deg2rad(params.min_angle) - 1e-12
    return n_fft, half(ann_idx), half(np.flatnonzero(kk <= f_hi)), kxa, kya, tha, disc, apart


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

    Examples
    --------
    A plane wave (wavelength 0.5 m, wave vector at 30 deg) is a band, a hexagonal grid is not:

    >>> import numpy as np
    >>> from cw.synthetic import cosine_lattice
    >>> xc = np.arange(-0.95, 1.0, 0.1)  # centres of 20 bins of 0.1 m across a 2 m square
    >>> X, Y = np.meshgrid(xc, xc)
    >>> maps = np.stack([cosine_lattice(X, Y, 0.5, 30.0, 1), cosine_lattice(X, Y, 0.5, 0.0, 3)])
    >>> out = band_scores(maps, 0.1)
    >>> out["band_score"] > 0.5
    array([ True, False])
    >>> round(float(out["band_wavelength"][0]), 2), round(float(out["band_orientation"][0]))
    (0.5, 30)
    """
    r = as_stack(rate)
    U, ny, nx = r.shape
    out = {k: np.full(U, np.nan) for k in
           ("band_score", "band_wavelength", "band_orientation", "band_power1", "band_power2")}
    if U == 0:
        return out
    n_fft, ann_half, low_half, kxa, kya, tha, disc, apart = _band_tables(ny, nx, float(bin_size), params)
    yy, xx = np.meshgrid(np.arange(ny, dtype=np.float64), np.arange(nx, dtype=np.float64),
                         indexing="ij")
    phi = np.stack([np.ones(ny * nx), xx.ravel() - xx.mean(), yy.ravel() - yy.mean()], axis=1)
    phi2 = (phi[:, :, None] * phi[:, None, :]).reshape(ny * nx, 9)
    for start in range(0, U, chunk):
        sl = slice(start, min(U, start + chunk))
        rc = r[sl].reshape(-1, ny * nx)
        m = np.isfinite(rc)
        mf = m.astype(np.float64)
        z = np.where(m, rc, 0.0)
        G = (mf @ phi2).reshape(-1, 3, 3)  # sum_n m phi_k phi_l
        h = np.einsum("un,nk->uk", z, phi)
        good = mf.sum(axis=1) >= 3
        G[~good] = np.eye(3)
        coef = np.linalg.solve(G + 1e-12 * np.eye(3), h[..., None])[..., 0]
        res = np.where(m, z - coef @ phi.T, 0.0)
        # a map that is (numerically) a plane has nothing left to analyse
        flat = np.sum(res * res, axis=1) <= 1e-20 * np.sum(z * z, axis=1)
        good &= ~flat
        res = res.reshape(-1, ny, nx)
        # the zero-padded spectrum of the real map: along x for its ny rows only, then along y
        F = sfft.fft(sfft.rfft(res, n=n_fft, axis=-1), n=n_fft, axis=-2)
        n = F.shape[0]
        i1 = np.empty(n, np.int64)
        tot, p1, p2 = np.empty(n), np.empty(n), np.empty(n)
        _spectral_peaks()(F.reshape(n, -1), ann_half, low_half, disc, apart, i1, tot, p1, p2)
        k1x, k1y, t1 = kxa[i1], kya[i1], tha[i1]
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


@lru_cache(maxsize=1)
def _spectral_peaks():
    """Compiled steps 3-6 of :func:`band_scores` (numba, cached beside this module), per map
    with its half spectrum ``F (n_fft * nh,)`` (power ``P = re^2 + im^2`` read where needed):
    ``tot = P(B)``, ``i1`` = the first
    argmax of P over A, ``p1 = P(D1)``; ``k2`` = the first argmax over A of P where k is
    outside D1 and apart from k1 (-1 elsewhere, as ``np.argmax`` of that masked array), and
    ``p2 = P(D2 minus D1)`` when it exists (0 otherwise). Sums run in index order: equal to the
    numpy expressions to round-off (``tests/test_border_band.py``)."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def run(F, ann, low, disc, apart, i1_out, tot_out, p1_out, p2_out):
        na = ann.shape[0]
        pa = np.empty(na)
        for u in range(F.shape[0]):
            row = F[u]
            t = 0.0
            for j in range(low.shape[0]):
                v = row[low[j]]
                t += v.real * v.real + v.imag * v.imag
            i1 = 0
            for j in range(na):
                v = row[ann[j]]
                pa[j] = v.real * v.real + v.imag * v.imag
                if pa[j] > pa[i1]:
                    i1 = j
            d1 = disc[i1]
            p1 = 0.0
            i2 = 0
            best = pa[0] if (not d1[0] and apart[i1, 0]) else -1.0
            for j in range(na):
                if d1[j]:
                    p1 += pa[j]
                elif apart[i1, j] and pa[j] > best:
                    best = pa[j]
                    i2 = j
            p2 = 0.0
            if best >= 0:
                d2 = disc[i2]
                for j in range(na):
                    if d2[j] and not d1[j]:
                        p2 += pa[j]
            i1_out[u], tot_out[u], p1_out[u], p2_out[u] = i1, t, p1, p2

    return run


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

    r = as_stack(rate)
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
