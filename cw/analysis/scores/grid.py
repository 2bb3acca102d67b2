"""Grid scores 60 and 90 from the spatial autocorrelogram (Sargolini et al. 2006; Banino et al. 2018).

Part of :mod:`cw.analysis.scores`, whose docstring describes the definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.ndimage as ndi
import scipy.sparse as sp

from cw.analysis.scores.autocorrelogram import autocorrelogram
from cw.analysis.scores.inputs import as_stack
from cw.config import schema_default


_ANGLES = (30, 45, 60, 90, 120, 135, 150)


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

    inner_radius: float = schema_default("scores", "inner_radius")
    outer_radii: tuple = tuple(np.linspace(schema_default("scores", "outer_radius_min"),
                                           schema_default("scores", "outer_radius_max"),
                                           schema_default("scores", "n_rings")).tolist())
    variant: str = schema_default("scores", "variant")
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


@dataclass(frozen=True)
class GridScoreSettings:
    """The grid-score keys of the config section ``scores`` (flat in it, beside the sub-sections
    ``border``, ``band`` and ``geometry``); :meth:`params` gives the :class:`GridScoreParams`.

    The outer radii are ``n_rings`` values from ``outer_radius_min`` to ``outer_radius_max``
    (linearly spaced, fractions of the map size).
    """

    inner_radius: float = schema_default("scores", "inner_radius")
    outer_radius_min: float = schema_default("scores", "outer_radius_min")
    outer_radius_max: float = schema_default("scores", "outer_radius_max")
    n_rings: int = schema_default("scores", "n_rings")
    variant: str = schema_default("scores", "variant")

    def __post_init__(self):
        n = self.n_rings
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"scores.n_rings: must be an integer >= 1, got {n!r}")
        lo, hi = float(self.outer_radius_min), float(self.outer_radius_max)
        if hi < lo:
            raise ValueError(f"scores.outer_radius_max: must be >= scores.outer_radius_min ({lo})")

    def params(self) -> GridScoreParams:
        return GridScoreParams(
            inner_radius=float(self.inner_radius),
            outer_radii=tuple(np.linspace(float(self.outer_radius_min), float(self.outer_radius_max),
                                          int(self.n_rings)).tolist()),
            variant=self.variant,
        )


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
    return _pearson_from_sums(n, sa, sb, saa, sbb, sab, min_pairs)


def _pearson_from_sums(n, sa, sb, saa, sbb, sab, min_pairs):
    """Pearson r from the pair count and the sums of a, b, a^2, b^2, ab (broadcasting arrays);
    NaN with fewer than ``min_pairs`` pairs or (numerically) no variance on either side."""
    va = n * saa - sa * sa
    vb = n * sbb - sb * sb
    cov = n * sab - sa * sb
    scale = np.maximum(n * saa, n * sbb)
    ok = (n >= min_pairs) & (va > 1e-12 * scale) & (vb > 1e-12 * scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(np.where(ok, va * vb, np.nan))
    return np.where(ok, r, np.nan)


def _shared_mask_corr(filled_t, valid_col, a, vsel_col, sel, H, W, cuts, min_pairs):
    """c(theta) of :func:`grid_scores_from_sac` for autocorrelograms that share one validity
    mask: (U, 7, R) from ``filled_t`` (H*W, U) (NaN -> 0), the shared mask ``valid_col``
    (H*W,) float, ``a = filled_t[sel]`` and ``vsel_col = valid_col[sel] > 0``.

    The rotated mask is the same for all maps, so one compiled pass per angle
    (:func:`_ring_sums`) rotates each selected bin (the sparse operator's row, in its storage
    order, as scipy's product adds it), divides by the rotated mask and adds the five sums of
    :func:`_masked_pearson` to the bin's ring; the annuli are cumulative sums over the rings.
    The same sums as the map-by-map path, added in another order (``tests/test_scores_fast_paths.py``)."""
    U = filled_t.shape[1]
    N = sel.size
    cuts = np.asarray(cuts, dtype=np.int64)
    ring = np.searchsorted(cuts, np.arange(N), side="right").astype(np.int64)  # first annulus
    out = np.empty((U, len(_ANGLES), len(cuts)))
    a = np.ascontiguousarray(a, dtype=np.float64)
    filled_t = np.ascontiguousarray(filled_t, dtype=np.float64)
    for k, ang in enumerate(_ANGLES):
        R = _rotation_operator(H, W, float(ang))[sel].tocsr()
        den = R @ valid_col
        use = vsel_col & (den >= 0.5)
        ring_sums = np.zeros((len(cuts), 5, U))
        _ring_sums()(R.indptr.astype(np.int64), R.indices.astype(np.int64), R.data, den,
                     use, ring, a, filled_t, ring_sums)
        n = np.cumsum(np.bincount(ring[use], minlength=len(cuts))[: len(cuts)]).astype(np.float64)
        sa, sb, saa, sbb, sab = np.cumsum(ring_sums, axis=0).transpose(1, 0, 2)  # (R, U) each
        out[:, k] = _pearson_from_sums(n[:, None], sa, sb, saa, sbb, sab, min_pairs).T
    return out


@lru_cache(maxsize=1)
def _ring_sums():
    """Compiled inner loop of :func:`_shared_mask_corr` (numba, cached beside this module)."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def run(indptr, indices, data, den, use, ring, a, filled, out):
        n_units = a.shape[1]
        rot = np.empty(n_units)
        for i in range(a.shape[0]):
            if not use[i]:
                continue
            rot[:] = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                c, v = indices[p], data[p]
                for u in range(n_units):
                    rot[u] += v * filled[c, u]
            d = den[i]
            o = out[ring[i]]
            for u in range(n_units):
                x = a[i, u]
                y = rot[u] / d
                o[0, u] += x
                o[1, u] += y
                o[2, u] += x * x
                o[3, u] += y * y
                o[4, u] += x * y

    return run


def _nanmax_arg(s: np.ndarray, radii: np.ndarray):
    """Max over the last axis ignoring NaN, and the radius where it occurs (NaN if none): the
    smallest annulus within 1e-12 of the max, so that annuli adding no valid bin (equal scores up
    to the round-off of their sums) never decide the radius."""
    allnan = np.all(np.isnan(s), axis=-1)
    filled = np.where(np.isnan(s), -np.inf, s)
    top = np.max(filled, axis=-1, keepdims=True)
    idx = np.argmax(filled >= top - 1e-12, axis=-1)
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

    Examples
    --------
    >>> import numpy as np
    >>> from cw.synthetic import cosine_lattice
    >>> xc = np.linspace(-1, 1, 40)
    >>> rate = cosine_lattice(*np.meshgrid(xc, xc), 0.5, 0.0, 3)  # hexagonal lattice
    >>> s = grid_scores(rate)
    >>> round(float(s["score60"][0]), 2), round(float(s["score90"][0]), 2)
    (1.36, 0.27)
    """
    r = as_stack(rate)
    sac = autocorrelogram(r, min_overlap=params.min_overlap)  # (U, H, W)
    return grid_scores_from_sac(sac, max(r.shape[-2:]), params)


def grid_scores_from_sac(
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
    # maps whose autocorrelograms are valid on the same lags (the maps of one set of positions,
    # but for the rare lag where one map has no variance) share every rotated mask: their
    # annulus sums are products with one (annuli x bins) weight matrix
    shared = np.zeros(U, bool)
    if U > 1 and int(params.order) == 1:
        shared = np.all(vsel == vsel[:, :1], axis=0) & np.all(valid_t == valid_t[:, :1], axis=0)
        if shared.sum() > 1:
            corr[shared] = _shared_mask_corr(filled_t[:, shared], valid_t[:, 0], a[:, shared], vsel[:, 0],
                                             sel, H, W, cuts, params.min_ring_pairs)
        else:
            shared[:] = False
    rest = np.flatnonzero(~shared)
    if rest.size:
        filled_t, valid_t, a, vsel = filled_t[:, rest], valid_t[:, rest], a[:, rest], vsel[:, rest]
        sac_r, valid_r = sac[rest], valid[rest]
        for k, ang in enumerate(_ANGLES):
            if int(params.order) == 1:
                R = _rotation_operator(H, W, float(ang))[sel]
                num, den = R @ filled_t, R @ valid_t  # (N_sel, U)
                rok = den >= 0.5
                with np.errstate(invalid="ignore", divide="ignore"):
                    rot = np.where(rok, num / np.where(rok, den, 1.0), 0.0)
            else:
                rot3, rok3 = _rotate_stack(sac_r, valid_r, ang, int(params.order))
                rot = rot3.reshape(rest.size, -1).T[sel]
                rok = rok3.reshape(rest.size, -1).T[sel]
            w = (vsel & rok).astype(np.float64)
            corr[rest, k] = _masked_pearson(a, rot, w, cuts, params.min_ring_pairs)

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
