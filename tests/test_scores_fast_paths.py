"""The fast paths of the scores give the numbers of their definitions: the autocorrelogram and
the grid-score correlations of maps sharing one validity mask against the map-by-map path, the
band score against its direct definition (full spectrum, discs by distance), and threaded
shuffles against one thread."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft as sfft

from cw.analysis.scores import SCORE_NAMES, ScoreParams, score_maps
from cw.analysis.scores.band import BandScoreParams, _band_grid, band_scores
from cw.analysis.scores.grid import GridScoreParams, grid_scores_from_sac, autocorrelogram
from cw.analysis.shuffles import ShiftedRatemaps, shift_offsets, shuffle_null
from cw.synthetic import cosine_lattice
from cw.task.arenas import make_arena


@pytest.fixture(scope="module")
def maps():
    """Maps of one set of positions in a triangle (shared NaN mask outside it): grids, bands,
    a constant map and smooth random fields."""
    arena = make_arena("triangle", {"shape": "triangle", "side": 2.0})
    rng = np.random.default_rng(0)
    x0, x1, y0, y1 = arena.bounds
    pts = rng.uniform([x0, y0], [x1, y1], (60000, 2))
    x, y = pts[arena.contains(pts)].T
    cols = [cosine_lattice(x, y, s, a, 3) for s, a in ((0.4, 0), (0.6, 17))]
    cols += [cosine_lattice(x, y, 0.5, 30, 1), np.ones_like(x)]
    k = rng.normal(0, 4, (12, 2))
    cols += list(np.cos(np.outer(k[:, 0], x) + np.outer(k[:, 1], y)))
    act = np.stack(cols, 1) + 0.3 * rng.normal(size=(x.size, len(cols)))
    act[:, 3] = 1.0  # a constant unit: NaN scores
    b = ShiftedRatemaps(x, y, act, arena, 0.1)
    return arena, b, np.concatenate([b.maps(0), b.maps(5000)])


def test_shared_mask_autocorrelogram_equals_map_by_map(maps):
    _, _, m = maps
    stack = autocorrelogram(m)
    one = np.stack([autocorrelogram(m[i:i + 1])[0] for i in range(len(m))])
    assert np.array_equal(np.isnan(stack), np.isnan(one))
    np.testing.assert_allclose(stack, one, rtol=0, atol=1e-12)


def test_compiled_lag_step_equals_its_numpy_expressions(maps):
    """The compiled Pearson step of the shared-mask autocorrelogram against the numpy
    expressions it replaces (crop the circular sums, flip for the opposite lag), to the bit."""
    import scipy.fft as sfft

    _, _, m = maps
    ny, nx = m.shape[-2:]
    valid = np.isfinite(m)
    mu = np.where(valid, m, 0.0).sum(axis=(-2, -1), keepdims=True) / valid.sum(axis=(-2, -1), keepdims=True)
    x = np.where(valid, m - mu, 0.0)
    x2 = x * x
    py, px = sfft.next_fast_len(2 * ny - 1, real=True), sfft.next_fast_len(2 * nx - 1, real=True)

    def fft(a):
        return sfft.fft(sfft.rfft(a, n=px, axis=-1), n=py, axis=-2)

    iy, ix = np.arange(-(ny - 1), ny) % py, np.arange(-(nx - 1), nx) % px

    def xcorr(Fa, Fb):
        return sfft.irfft2(Fa * np.conj(Fb), s=(py, px))[..., iy, :][..., :, ix]

    Fx, Fx2, Fm = fft(x), fft(x2), fft(valid[0].astype(np.float64))
    n = np.rint(xcorr(Fm, Fm))
    sa, saa, sab = xcorr(Fx, Fm), xcorr(Fx2, Fm), xcorr(Fx, Fx)
    sb, sbb = sa[..., ::-1, ::-1], saa[..., ::-1, ::-1]
    va, vb, cov = n * saa - sa * sa, n * sbb - sb * sb, n * sab - sa * sb
    floor = 1e-10 * n * x2.sum(axis=(-2, -1), keepdims=True)
    ok = (n >= 20) & (va > floor) & (vb > floor)
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = np.where(ok, np.clip(cov / np.sqrt(np.where(ok, va * vb, np.nan)), -1.0, 1.0), np.nan)
    got = autocorrelogram(m)
    assert np.isnan(got).any() and np.isfinite(got).sum() > 1000
    np.testing.assert_array_equal(got, ref)


def test_shared_mask_grid_correlations_equal_map_by_map(maps):
    _, _, m = maps
    sac = autocorrelogram(m)
    p = GridScoreParams()
    stack = grid_scores_from_sac(sac, 20, p)
    one = [grid_scores_from_sac(sac[i:i + 1], 20, p) for i in range(len(m))]
    corr = np.stack([o["corr"][0] for o in one])
    assert np.array_equal(np.isnan(stack["corr"]), np.isnan(corr))
    np.testing.assert_allclose(stack["corr"], corr, rtol=0, atol=1e-12)
    for key in ("score60", "score90", "ring60", "ring90"):
        np.testing.assert_allclose(stack[key], [o[key][0] for o in one], rtol=0, atol=1e-12)
    assert np.isfinite(stack["score60"]).sum() >= len(m) - 2  # the constant map (twice) is NaN


def _band_by_definition(rate, bin_size, params):
    """The band score of the docstring of band_scores, written out directly."""
    U, ny, nx = rate.shape
    n_fft, kx, ky, kk, ann, theta, delta, f_hi = _band_grid(ny, nx, bin_size, params)
    yy, xx = np.meshgrid(np.arange(ny, dtype=float), np.arange(nx, dtype=float), indexing="ij")
    out = np.full(U, np.nan)
    for u in range(U):
        m = np.isfinite(rate[u])
        A = np.stack([np.ones(m.sum()), xx[m] - xx.mean(), yy[m] - yy.mean()], 1)
        coef, *_ = np.linalg.lstsq(A, rate[u][m], rcond=None)
        res = np.zeros((ny, nx))
        res[m] = rate[u][m] - A @ coef
        if np.sum(res ** 2) <= 1e-20 * np.sum(rate[u][m] ** 2):
            continue
        P = (np.abs(sfft.fft2(res, s=(n_fft, n_fft))) ** 2).ravel()
        tot = P[kk <= f_hi].sum()
        ia = np.flatnonzero(ann)
        i1 = ia[np.argmax(P[ia])]

        def disc(i):
            return ((np.hypot(kx - kx[i], ky - ky[i]) <= delta) | (np.hypot(kx + kx[i], ky + ky[i]) <= delta)) & ann

        D1 = disc(i1)
        dth = np.abs(np.mod(theta - theta[i1] + np.pi / 2, np.pi) - np.pi / 2)
        cand = ann & ~D1 & (dth >= np.deg2rad(params.min_angle) - 1e-12)
        p2 = 0.0
        if cand.any():
            i2 = np.flatnonzero(cand)[np.argmax(P[cand])]
            p2 = P[disc(i2) & ~D1].sum()
        out[u] = (P[D1].sum() - p2) / tot
    return out


def test_band_score_equals_its_definition(maps):
    _, b, m = maps
    got = band_scores(m, b.step, BandScoreParams())["band_score"]
    want = _band_by_definition(m, b.step, BandScoreParams())
    assert np.array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    assert got[2] > 0.5 and got[0] < 0.3  # the band is a band, the grid is not


def test_threaded_shuffles_equal_one_thread(maps):
    arena, b, _ = maps
    sp = ScoreParams()

    def fn(stack):
        return score_maps(stack, b.x_centres, b.y_centres, arena, sp.grid, sp.border, sp.band, None, b.occupancy,
                          np.tile(b.variance, stack.shape[0] // b.n_units), bin_size=b.step)

    off = shift_offsets(b.n_samples, 6, 500, np.random.default_rng(1))
    one = shuffle_null(b, fn, off, 2, names=SCORE_NAMES, workers=1)
    two = shuffle_null(b, fn, off, 2, names=SCORE_NAMES, workers=2)
    for k in SCORE_NAMES:
        assert np.array_equal(np.isnan(one[k]), np.isnan(two[k]))
        np.testing.assert_allclose(two[k], one[k], rtol=0, atol=1e-12)
