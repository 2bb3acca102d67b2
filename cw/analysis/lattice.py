"""How much of a rate map a hexagonal lattice explains: the grid fit of the cell-type rule (OURS).

A grid cell's map is well described by the sum of three plane cosine waves 60 degrees apart
(Solstad et al. 2006; Blair et al. 2007), ``g(r) = sum_j cos(k_j . (r - r0))`` with
``|k_j| = 4 pi / (sqrt(3) s)`` for spacing ``s``. :func:`lattice_fit` finds, by exhaustive search
over spacing, orientation and the lattice's offset ``r0``, the lattice most correlated with each
map, and returns the variance it explains (``lattice_r2``, the squared Pearson correlation over
the map's valid bins, signed so that a map whose *low* values form the lattice scores below 0).

Why: with 1.5-3 periods across the arena (the paper's grids) the autocorrelogram holds too few
peaks for a reliable lattice, and a smooth random field can pass score60 and its shuffle
threshold. A smooth random field is not a lattice (benchmark: ``lattice_r2`` <= 0.5 for those
that pass score60), a plane wave explains 1/3 of a lattice's variance, and noisy lattices of
1.5-5 periods reach 0.63-0.9 (see :mod:`cw.analysis.benchmark_maps`). A single field (central or in a
corner) is also fitted by a long-spacing lattice with one vertex on it; :func:`field_fit`
gives the variance one Gaussian field explains, and the rule asks the lattice to explain more
(benchmark: single fields 0.0-0.7 less, grids of 1.5 periods 0.16-0.33 more).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import numpy as np

from cw.config import schema_default
from cw.validation import is_real

__all__ = ["LatticeFitParams", "lattice_templates", "lattice_fit", "field_fit", "LATTICE_ATTRS"]


@dataclass(frozen=True)
class LatticeFitParams:
    """Search grid of :func:`lattice_fit` (config keys ``scores.geometry.lattice_<name>``; all OURS).

    min_spacing : float, default 3.0
        Smallest lattice spacing tried, bins of the rate map (the finest grid the bins carry:
        three bins per period).
    min_periods : float, default 1.25
        Largest spacing tried is the arena's width (longer side of the valid bins' bounding
        box) divided by this (a lattice must repeat inside the arena).
    n_spacings : int, default 32
        Spacings tried, log-spaced between the two.
    orientation_step : float, default 3.0
        Step of the orientations tried in [0, 60), degrees.
    n_offsets : int, default 12
        Offsets tried along each of the two lattice vectors (n_offsets^2 per spacing and
        orientation); the worst-case offset error, 1/(2 n_offsets) of the spacing, costs
        < 5 % of the correlation at the default.
    sharpness : tuple of float, default (0, 1, 3)
        Field shapes tried: 0 is the sum of cosines ``S`` itself (broad fields, about half the
        spacing wide), ``beta > 0`` the lattice ``exp(beta (S - 3))`` whose fields narrow as
        beta grows (recorded grid fields are often narrower than the cosine's).
    """

    min_spacing: float = schema_default("scores", "geometry", "lattice_min_spacing")
    min_periods: float = schema_default("scores", "geometry", "lattice_min_periods")
    n_spacings: int = schema_default("scores", "geometry", "lattice_n_spacings")
    orientation_step: float = schema_default("scores", "geometry", "lattice_orientation_step")
    n_offsets: int = schema_default("scores", "geometry", "lattice_n_offsets")
    sharpness: tuple = schema_default("scores", "geometry", "lattice_sharpness")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.name == "sharpness":
                continue
            v = getattr(self, f.name)
            if not is_real(v) or not np.isfinite(v) or v <= 0:
                raise ValueError(f"scores.geometry.lattice_{f.name}: must be a number > 0, got {v!r}")
        for key in ("n_spacings", "n_offsets"):
            v = getattr(self, key)
            if int(v) != v:
                raise ValueError(f"scores.geometry.lattice_{key}: must be an integer >= 1, got {v!r}")
        b = np.asarray(self.sharpness, dtype=np.float64) if not isinstance(
            self.sharpness, (str, bytes)) else np.array([np.nan])
        if b.ndim != 1 or b.size == 0 or not np.all(np.isfinite(b) & (b >= 0)):
            raise ValueError("scores.geometry.lattice_sharpness: must be a list of numbers >= 0, "
                             f"got {self.sharpness!r}")
        object.__setattr__(self, "sharpness", tuple(float(v) for v in b))
        if not self.orientation_step < 60:
            raise ValueError("scores.geometry.lattice_orientation_step: must be < 60 degrees, "
                             f"got {self.orientation_step!r}")


#: netCDF attributes of the outputs of :func:`lattice_fit`.
LATTICE_ATTRS: dict[str, dict] = {
    "lattice_r2": {"long_name": "variance explained by the best-fitting hexagonal cosine "
                                "lattice (signed: < 0 when the map's low values form it)",
                   "units": "1"},
    "lattice_spacing": {"long_name": "spacing of the best-fitting hexagonal lattice",
                        "units": "m"},
    "lattice_orientation": {"long_name": "orientation of its first wave vector, "
                                         "counter-clockwise from +x, modulo 60",
                            "units": "degree"},
    "square_lattice_r2": {"long_name": "variance explained by the best-fitting square cosine "
                                       "lattice (signed as lattice_r2)", "units": "1"},
    "square_lattice_spacing": {"long_name": "period of the best-fitting square lattice",
                               "units": "m"},
    "square_lattice_orientation": {"long_name": "orientation of its first wave vector, "
                                                "counter-clockwise from +x, modulo 90",
                                   "units": "degree"},
    "field_r2": {"long_name": "variance explained by the best-fitting single isotropic "
                              "Gaussian field (signed as lattice_r2)", "units": "1"},
    "field_width": {"long_name": "s.d. of that field", "units": "m"},
}


#: Correlations closer than this are ties (float32 products of unit vectors round at ~1e-7).
TIE_TOL = 1e-6


def _cosine_sums(x: np.ndarray, y: np.ndarray, spacing: float, params: LatticeFitParams,
                 symmetry: int):
    """The cosine sums of one spacing, factored: for each orientation ``o`` of the search, the
    waves' phases at the bins, ``basis (2W, B) = [cos(k_j . r); sin(k_j . r)]``, and the offsets'
    phases, ``coef (n^2, 2W) = [cos(k_j . r0), sin(k_j . r0)]``, so that the sums at every offset
    are ``coef @ basis`` (angle addition). Returns (orientations (O,) degrees, basis list, coef
    list, W)."""
    if symmetry == 6:
        k, waves, vertex_dirs, period = (4.0 * np.pi / (np.sqrt(3.0) * spacing),
                                         np.array([0.0, 60.0, 120.0]), np.array([30.0, 90.0]), 60.0)
    elif symmetry == 4:
        k, waves, vertex_dirs, period = (2.0 * np.pi / spacing, np.array([0.0, 90.0]),
                                         np.array([0.0, 90.0]), 90.0)
    else:
        raise ValueError(f"symmetry: must be 6 or 4, got {symmetry!r}")
    pts = np.stack([np.asarray(x, np.float64), np.asarray(y, np.float64)], -1)  # (B, 2)
    orients = np.arange(0.0, period, float(params.orientation_step))
    n = int(params.n_offsets)
    frac = np.arange(n) / n
    bases, coefs = [], []
    for o in orients:
        a = np.deg2rad(o + waves)
        kv = k * np.stack([np.cos(a), np.sin(a)], -1)                 # (W, 2) wave vectors
        # lattice vectors: peaks of sum cos(k_j . r) sit at r with k_j . r in 2 pi Z
        b = np.deg2rad(o + vertex_dirs)
        lv = spacing * np.stack([np.cos(b), np.sin(b)], -1)           # (2, 2)
        off = (frac[:, None, None] * lv[0] + frac[None, :, None] * lv[1]).reshape(-1, 2)
        ph = pts @ kv.T                                               # (B, W)
        shift = off @ kv.T                                            # (n^2, W)
        # sum_j cos(ph_j - shift_j) = sum_j cos(shift_j) cos(ph_j) + sin(shift_j) sin(ph_j)
        bases.append(np.concatenate([np.cos(ph), np.sin(ph)], axis=1).T)
        coefs.append(np.concatenate([np.cos(shift), np.sin(shift)], axis=1))
    return orients, bases, coefs, len(waves)


def _unit_rows(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows centred, and their norms (1 where a row is constant, so it stays 0)."""
    t = t - t.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(t, axis=1)
    return t, np.where(norm > 0, norm, 1.0)


def lattice_templates(
    x: np.ndarray,
    y: np.ndarray,
    spacing: float,
    params: LatticeFitParams = LatticeFitParams(),
    symmetry: int = 6,
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine lattices of one spacing at every orientation, offset and sharpness of the search.

    Parameters
    ----------
    x, y : (B,) positions of the valid bins (m).
    spacing : lattice spacing (m): distance between neighbouring vertices.
    params : LatticeFitParams.
    symmetry : 6 (hexagonal: three waves 60 degrees apart, orientations in [0, 60)) or 4
        (square: two waves 90 degrees apart, orientations in [0, 90)).

    Returns
    -------
    (templates (T, B), each with zero mean and unit norm; orientations (T,) in degrees)

    Examples
    --------
    >>> t, o = lattice_templates(np.arange(10.0), np.zeros(10), 4.0,
    ...                          LatticeFitParams(orientation_step=30.0, n_offsets=2,
    ...                                           sharpness=(0.0,)))
    >>> t.shape, o.tolist()
    ((8, 10), [0.0, 0.0, 0.0, 0.0, 30.0, 30.0, 30.0, 30.0])
    """
    orients, bases, coefs, top = _cosine_sums(x, y, spacing, params, symmetry)
    out, ori = [], []
    for o, basis, coef in zip(orients, bases, coefs):
        t = coef @ basis                                              # (n^2, B)
        for beta in params.sharpness:
            out.append(t if beta == 0 else np.exp(float(beta) * (t - top)))
            ori.extend([o] * len(t))
    t, norm = _unit_rows(np.concatenate(out))
    return (t / norm[:, None]).astype(np.float32), np.asarray(ori)


def _sharpened(t: np.ndarray, top: float, betas: list[float]) -> np.ndarray:
    """``exp(beta (t - top))`` for each beta, stacked; integer betas as powers of one ``exp``
    (cheaper, and equal to round-off)."""
    e = np.exp(t - top)
    out = []
    for b in betas:
        if b == int(b) and 1 <= b <= 8:
            p = e.copy()
            for _ in range(int(b) - 1):
                p *= e
            out.append(p)
        else:
            out.append(np.exp(b * (t - top)))
    return np.concatenate(out)


def _correlations(m: np.ndarray, x: np.ndarray, y: np.ndarray, spacing: float,
                  params: LatticeFitParams, symmetry: int) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of each map with every template of :func:`lattice_templates` (same
    order): ``(c (U, T) float32, orientations (T,))``, ``m`` (U, B) centred unit-norm maps.

    The plain cosine sums (sharpness 0) are linear in their waves, so their correlations come
    from each map's projections on the 2W waves of an orientation, ``(m @ basis.T) @ coef.T``,
    divided by the templates' norms (a centred map's product with a template equals that with
    the centred template): 2W products per map and orientation instead of n^2. The sharpened
    lattices are products with the templates themselves. Equal to ``m @ t.T`` with the float32
    templates of :func:`lattice_templates` to float32 round-off (``tests/test_lattice.py``).
    """
    orients, bases, coefs, top = _cosine_sums(x, y, spacing, params, symmetry)
    betas = [float(b) for b in params.sharpness]
    sharp = [b for b in betas if b != 0]
    nn, w2 = coefs[0].shape[0], bases[0].shape[0]
    proj = m.astype(np.float64) @ np.concatenate(bases).T             # (U, O * 2W)
    plain, sharpened = [], []
    for basis, coef in zip(bases, coefs):
        t = coef @ basis                                              # (n^2, B)
        _, n0 = _unit_rows(t)
        plain.append(n0)
        if sharp:
            ts, ns = _unit_rows(_sharpened(t, top, sharp))
            sharpened.append((ts / ns[:, None]).astype(np.float32))
    cs = m @ np.concatenate(sharpened).T if sharp else None           # (U, O * len(sharp) n^2)
    blocks, ori = [], []
    for i, o in enumerate(orients):
        for b in betas:
            if b == 0:
                blocks.append(((proj[:, i * w2:(i + 1) * w2] @ coefs[i].T) / plain[i]).astype(np.float32))
            else:
                j = i * len(sharp) + sharp.index(b)
                blocks.append(cs[:, j * nn:(j + 1) * nn])
            ori.extend([o] * nn)
    return np.concatenate(blocks, axis=1), np.asarray(ori)


def _mask_groups(rate: np.ndarray, x: np.ndarray, y: np.ndarray):
    """Maps grouped by validity mask (all units of one network share one): for each group with
    >= 3 valid bins and some variance, yield (unit indices (U',), maps over the valid bins
    centred and scaled to unit norm (U', B), x (B,), y (B,) of those bins)."""
    U = rate.shape[0]
    X, Y = np.meshgrid(np.asarray(x, np.float64), np.asarray(y, np.float64))
    masks, group = np.unique(np.isfinite(rate).reshape(U, -1), axis=0, return_inverse=True)
    for gi, mask in enumerate(masks):
        units = np.flatnonzero(np.ravel(group) == gi)
        if mask.sum() < 3:
            continue
        m = rate[units].reshape(len(units), -1)[:, mask]
        m = m - m.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(m, axis=1)
        ok = norm > 0
        if ok.any():
            yield units[ok], m[ok] / norm[ok, None], X.ravel()[mask], Y.ravel()[mask]


def lattice_fit(
    rate: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    bin_size: float,
    params: LatticeFitParams = LatticeFitParams(),
    symmetry: int = 6,
) -> dict[str, np.ndarray]:
    """The cosine lattice (hexagonal or square) most correlated with each rate map.

    Parameters
    ----------
    rate : (U, ny, nx) rate maps, NaN outside the arena or unvisited.
    x, y : (nx,), (ny,) bin centres (m).
    bin_size : bin side (m).
    params : LatticeFitParams.
    symmetry : 6 (hexagonal lattices; outputs ``lattice_*``) or 4 (square lattices; outputs
        ``square_lattice_*``), see :func:`lattice_templates`.

    Returns
    -------
    dict of (U,) arrays ``lattice_r2`` (signed squared correlation, in [-1, 1]; NaN for maps
    with fewer than 3 valid bins or no variance), ``lattice_spacing`` (m) and
    ``lattice_orientation`` (degrees, modulo 60), or the ``square_lattice_*`` ones.

    Examples
    --------
    A noiseless lattice of spacing 0.8 m at 10 degrees in a 2-m square, found to within the
    search's resolution (orientations every 3 degrees, 12 x 12 offsets):

    >>> from cw.synthetic import cosine_lattice
    >>> c = np.arange(20) * 0.1 + 0.05
    >>> X, Y = np.meshgrid(c, c)
    >>> m = cosine_lattice(X, Y, 0.8, 10.0, 3)[None]
    >>> out = lattice_fit(m, c, c, 0.1, LatticeFitParams(n_spacings=1, min_spacing=8.0))
    >>> round(float(out["lattice_r2"][0]), 2), round(float(out["lattice_spacing"][0]), 2)
    (0.97, 0.8)
    """
    r = np.asarray(rate, dtype=np.float64)
    if r.ndim == 2:
        r = r[None]
    U = r.shape[0]
    pre = "lattice_" if symmetry == 6 else "square_lattice_"
    out = {pre + k: np.full(U, np.nan) for k in ("r2", "spacing", "orientation")}
    for sel, m, bx, by in _mask_groups(r, x, y):
        m = m.astype(np.float32)
        width = max(np.ptp(bx), np.ptp(by)) + bin_size
        lo = float(params.min_spacing) * bin_size
        hi = max(lo, width / float(params.min_periods))
        best = np.zeros(len(m))
        best_s = np.full(len(m), np.nan)
        best_o = np.full(len(m), np.nan)
        for s in np.geomspace(lo, hi, int(params.n_spacings)):
            c, ori = _correlations(m, bx, by, s, params, symmetry)  # (U', T), rows contiguous
            i_hi, i_lo = c.argmax(axis=1), c.argmin(axis=1)
            rows = np.arange(len(m))
            c_hi, c_lo = c[rows, i_hi], c[rows, i_lo]
            # a lattice and its negative (a half-period shift of a square cosine lattice) tie
            # to rounding: the positive one wins within TIE_TOL
            pos = c_hi >= -c_lo - TIE_TOL
            cand = np.where(pos, c_hi, c_lo)
            idx = np.where(pos, i_hi, i_lo)
            upd = np.abs(cand) > np.abs(best) + TIE_TOL
            best[upd] = cand[upd]
            best_s[upd] = s
            best_o[upd] = ori[idx[upd]]
        out[pre + "r2"][sel] = np.sign(best) * best ** 2
        out[pre + "spacing"][sel] = best_s
        out[pre + "orientation"][sel] = best_o
    return out


def field_fit(
    rate: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    bin_size: float,
    widths: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0),
) -> dict[str, np.ndarray]:
    """The single isotropic Gaussian field most correlated with each rate map.

    Parameters
    ----------
    rate : (U, ny, nx) rate maps, NaN outside the arena or unvisited.
    x, y : (nx,), (ny,) bin centres (m).
    bin_size : bin side (m).
    widths : field s.d. tried, bins; the centre is tried at every valid bin.

    Returns
    -------
    dict of (U,) arrays ``field_r2`` (signed squared correlation, in [-1, 1], NaN for maps with
    no variance), ``field_width`` (s.d., m).

    Examples
    --------
    >>> c = np.arange(20) * 0.1 + 0.05
    >>> X, Y = np.meshgrid(c, c)
    >>> m = np.exp(-((X - 0.65) ** 2 + (Y - 1.25) ** 2) / (2 * 0.2 ** 2))[None]
    >>> out = field_fit(m, c, c, 0.1)
    >>> round(float(out["field_r2"][0]), 3), round(float(out["field_width"][0]), 2)
    (1.0, 0.2)
    """
    r = np.asarray(rate, dtype=np.float64)
    if r.ndim == 2:
        r = r[None]
    U = r.shape[0]
    out = {"field_r2": np.full(U, np.nan), "field_width": np.full(U, np.nan)}
    for sel, m, bx, by in _mask_groups(r, x, y):
        d2 = (bx[:, None] - bx[None, :]) ** 2 + (by[:, None] - by[None, :]) ** 2  # (centre, bin)
        best = np.zeros(len(m))
        best_w = np.full(len(m), np.nan)
        for w in widths:
            sd = float(w) * bin_size
            t = np.exp(-d2 / (2.0 * sd * sd))
            t -= t.mean(axis=1, keepdims=True)
            tn = np.linalg.norm(t, axis=1, keepdims=True)
            t /= np.where(tn > 0, tn, 1.0)
            c = t @ m.T
            c_hi, c_lo = c.max(axis=0), c.min(axis=0)
            cand = np.where(c_hi >= -c_lo, c_hi, c_lo)
            upd = np.abs(cand) > np.abs(best)
            best[upd] = cand[upd]
            best_w[upd] = sd
        out["field_r2"][sel] = np.sign(best) * best ** 2
        out["field_width"][sel] = best_w
    return out
