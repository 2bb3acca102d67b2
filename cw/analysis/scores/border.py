"""Border score (Solstad et al. 2008) with the polygon's edges as walls, and the border profile fit.

Part of :mod:`cw.analysis.scores`, whose docstring describes the definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage as ndi

from cw.analysis.scores.inputs import as_stack, checked_bin_size
from cw.config import schema_default
from cw.task.arenas import Arena


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

    field_threshold: float = schema_default("scores", "border", "field_threshold")
    min_field_area: float = schema_default("scores", "border", "min_field_area")
    max_field_fraction: float = schema_default("scores", "border", "max_field_fraction")
    wall_search: float = schema_default("scores", "border", "wall_search")
    polarity: str = schema_default("scores", "border", "polarity")

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

    def __init__(self, xc, yc, valid, arena: Arena, bin_size, params: BorderScoreParams):
        gx, gy = np.meshgrid(xc, yc)
        centres = np.stack([gx, gy], axis=-1).reshape(-1, 2)
        self.n_bins = centres.shape[0]
        self.dwall = arena.nearest_wall_distance(centres)
        self.dwall = np.where(valid.ravel(), self.dwall, 0.0)
        self.d_norm = arena.chebyshev_radius
        corners = arena.corners
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
    *,
    bin_size: float,
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
    x, y : (nx,), (ny,) bin centres (m).
    arena : Arena or (K, 2) polygon corners (m) in the maps' frame.
    params : BorderScoreParams.
    bin_size : side of the square bins (m), the spacing of the bin centres.

    Returns
    -------
    dict of (U,) arrays: ``border_score``, ``border_cm``, ``border_dm``, ``border_wall`` (index k
    of the wall from ``corners[k]`` to ``corners[k+1]`` with the best coverage, -1 if none) and
    ``border_polarity`` (+1 positive, -1 negative field; 0 if the score is NaN).

    Examples
    --------
    A field along the wall from corner 0 to corner 1 against a central field:

    >>> import numpy as np
    >>> xc = np.arange(-0.95, 1.0, 0.1)  # centres of 20 bins of 0.1 m across a 2 m square
    >>> X, Y = np.meshgrid(xc, xc)
    >>> square = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]])
    >>> wall = np.exp(-(Y + 1) ** 2 / (2 * 0.15**2))
    >>> centre = np.exp(-(X**2 + Y**2) / (2 * 0.2**2))
    >>> out = border_scores(np.stack([wall, centre]), xc, xc, square, bin_size=0.1)
    >>> out["border_score"].round(2), out["border_wall"]
    (array([ 0.84, -1.  ]), array([ 0, -1]))
    """
    r = as_stack(rate)
    U, ny, nx = r.shape
    xc = np.asarray(x, dtype=np.float64)
    yc = np.asarray(y, dtype=np.float64)
    if xc.shape != (nx,) or yc.shape != (ny,):
        raise ValueError(f"x, y must have lengths nx={nx}, ny={ny}, got {xc.shape}, {yc.shape}")
    bin_size = checked_bin_size(bin_size, xc, yc)
    arena = Arena.of(arena)
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
        geom = _BorderGeometry(xc, yc, valid[sel[0]], arena, bin_size, params)
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
    *,
    bin_size: float,
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
    bin_size : side of the square bins (m).

    Returns
    -------
    dict of (U,) arrays ``border_profile_r2`` (in [0, 1]), ``border_profile_halfwidth`` and
    ``border_field_width`` (m); NaN where the map has no border field (wall -1).
    """
    from scipy.optimize import isotonic_regression

    r = as_stack(rate)
    U = r.shape[0]
    xc, yc = np.asarray(x, np.float64), np.asarray(y, np.float64)
    bin_size = checked_bin_size(bin_size, xc, yc)
    arena = Arena.of(arena)
    gx, gy = np.meshgrid(xc, yc)
    dist = arena.segment_distances(np.stack([gx, gy], axis=-1))  # (ny, nx, K)
    wall_length = np.hypot(*(arena.edges[:, 1] - arena.edges[:, 0]).T)  # (K,)
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
        area = float(field_fraction[u]) * m.sum() * bin_size ** 2
        if cm[u] > 0:
            out["border_field_width"][u] = area / (float(cm[u]) * float(wall_length[k]))
    return out
