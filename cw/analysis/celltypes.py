"""Cell types from spatial scores and their shuffle thresholds (docs/paper-map.md; OURS).

The paper sorted units by eye into grid-like, band-like, border and spatially irregular units.
Here every unit gets exactly one type by the following rule, applied in this order (the first
rule that matches wins). "Significant" means above the unit's own shuffle threshold (the
``shuffles.percentile``-th percentile of its circular time-shift null, :mod:`cw.analysis.shuffles`);
every score must also reach an absolute minimum. A NaN score is never significant and never
reaches a minimum (NaN grid scores of linear ramps and constant maps: see
``grid_score_status`` in :mod:`cw.analysis.scores`).

1. **non_spatial** unless the spatial variance fraction (eta^2, :func:`cw.analysis.scores.spatial_variance_fraction`)
   is significant and >= ``min_spatial_variance_fraction``.
2. Types 3-5 need contiguous fields: spatial coherence (:func:`cw.analysis.scores.spatial_coherence`)
   >= ``min_spatial_coherence``; independent values in every bin (salt-and-pepper) have ~0.2.
   Grids finer than ``grid_coherence_exempt_spacing`` (their fitted lattice's spacing) are
   exempt: at 3-4.5 bins per period neighbouring bins anti-correlate (coherence -0.6 to 0.1 for
   perfect grids), and the lattice fit they must pass instead is out of reach of salt and pepper.
3. **band_like** if the band score is significant and >= ``min_band_score``, the arena holds at
   least ``min_band_periods`` periods along the wave vector (``band_periods``) and a plane wave
   explains at least ``min_band_wave_margin`` more of the map's variance than the best monotone
   function along the same direction (``band_wave_r2 - band_ramp_r2``,
   :func:`cw.analysis.scores.band_ramp_fit`): a saturating ramp leaks its power to the longest admissible
   wavelength (band score up to 0.6) but is monotone, not repeating.
4. **grid_like** if the map is a regular lattice with several fields:

   * hexagonal: score60 significant and >= ``min_grid_score``, a hexagonal cosine lattice
     explains at least ``min_lattice_r2`` of the map's variance (``|lattice_r2|``,
     :func:`cw.analysis.lattice.lattice_fit`; the sign only says whether high or low activity forms
     the lattice), it explains at least ``min_lattice_margin`` more than a single Gaussian
     field does (``|lattice_r2| - |field_r2|``, :func:`cw.analysis.lattice.field_fit`: a central or
     corner field is fitted by a long-spacing lattice with one vertex on it) and the map has
     at least ``min_hex_fields`` fields (``n_fields``); or
   * (``use_score90``) square: score90 significant and >= ``min_grid_score``, the 4 nearest
     SAC peaks have four-fold order ``grid_square_order`` >= ``min_square_order`` and
     distances within ``max_square_spacing_ratio``, ``grid_contrast >= min_grid_contrast``
     (peaks stand above the SAC halfway back to the centre), ``n_fields >= min_grid_fields``,
     and a square lattice explains at least ``min_square_lattice_r2`` of the variance and
     ``min_lattice_margin`` more than one field (``square_lattice_r2``).

   Smooth random fields (Gaussian noise smoothed 5-10 cm) pass score60 or score90 and their
   shuffle thresholds 1 time in 4; no lattice explains more than half of their variance, and
   their SAC has no regular square lattice. Grids of 1.5-2 periods (the paper's grids) have
   too few SAC peaks for a reliable hexagon of peaks but are fitted by the lattice (benchmark:
   ``lattice_r2`` 0.63-0.9). The triangle's own 6-fold autocorrelation (a single field there
   reaches score60 > 1) fails the field count.
5. **border** if the border score is significant and >= ``min_border_score`` and its best field
   is a field along a wall: it covers at least ``min_border_coverage`` of that wall
   (``border_cm``), the map is a function of the distance to that wall falling off away from
   it (``border_profile_r2 >= min_border_profile_r2``, :func:`cw.analysis.scores.border_profile_fit`;
   a random field that touches a wall is not) and that profile falls to half its range within
   ``max_border_halfwidth`` of the wall (``border_profile_halfwidth``, m; the low half of a
   saturating ramp is wider).
6. **spatially_irregular** otherwise (spatial, but none of the above).

Why this order: band-like first because a plane wave with a stripe along a wall reaches a
border score above 0.5 and its SAC has peaks; grid-like before border because grids with fields
along the walls reach border scores above 0.6 while a border field never has a regular lattice.

Every threshold was chosen on the labelled synthetic benchmark :mod:`cw.analysis.benchmark_maps`
(hexagonal and square grids incl. 1.5-period ones, bands, wall fields, linear and tanh ramps,
corner and central fields, smooth random fields, salt-and-pepper, sampled along real
trajectories in the three arenas with noise, through the same path as real units); its
confusion matrix is asserted in ``tests/test_benchmark_maps.py`` and printed by
``python -m cw.analysis.benchmark_maps``. Defaults: see :class:`CellTypeParams` (all OURS; the grid
score minimum 0.37 is the field-standard threshold of e.g. Langston et al. 2010 and Banino et
al. 2018, the border score minimum 0.5 that of Solstad et al. 2008).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import xarray as xr

from cw.config import schema_default
from cw.validation import is_real, section_from_dict

__all__ = [
    "CELL_TYPES",
    "CellTypeParams",
    "classify",
    "type_counts",
    "counts_dataset",
    "celltype_dataset",
]

#: Every cell type, in the order of the summary table.
CELL_TYPES: tuple[str, ...] = (
    "grid_like", "band_like", "border", "spatially_irregular", "non_spatial",
)



@dataclass(frozen=True)
class CellTypeParams:
    """Absolute minima of the cell-type rule (config section ``celltypes``; all OURS, chosen on
    the benchmark of :mod:`cw.analysis.benchmark_maps` unless stated).

    min_spatial_variance_fraction : float, default 0.1
        Spatial units explain at least this fraction of their activity variance by position
        (eta^2, in [0, 1]).
    min_spatial_coherence : float, default 0.35
        Band-like, grid-like and border units have a spatial coherence (correlation of each bin
        with its 8 neighbours' mean, in [-1, 1]) of at least this (benchmark: salt-and-pepper
        <= 0.28; grids with 5 periods >= 0.44).
    min_band_score : float, default 0.4
        Band-like units have a band score of at least this (in [-1, 1]; benchmark bands >= 0.47).
    min_band_periods : float, default 1.5
        ... and at least this many periods along the wave vector inside the arena.
    min_band_wave_margin : float, default 0.2
        ... and a plane wave explains at least this much more variance (fraction, in [-1, 1])
        than the best monotone function along the same direction (rejects ramps).
    min_grid_score : float, default 0.37
        Grid-like units have score60 (or score90) of at least this (literature: 0.3-0.37).
    use_score90 : bool, default True
        Accept square grids (significant score90 and a square lattice) as grid-like.
    min_lattice_r2 : float, default 0.5
        Hexagonal grids: a hexagonal lattice (cosine or sharpened, :mod:`cw.analysis.lattice`) explains
        at least this fraction of the map's variance (``|lattice_r2|``, in [0, 1]; benchmark:
        cosine grids of 1.5-5 periods >= 0.64, Gaussian-field grids >= 0.52, smooth random
        fields that pass score60 <= 0.47 but for 1 in 144 (0.64), plane waves ~0.33).
    min_square_lattice_r2 : float, default 0.6
        Square grids: a square lattice explains at least this (``|square_lattice_r2|``;
        benchmark square lattices >= 0.67, smooth random fields <= 0.6 but for 1 in 144).
    min_lattice_margin : float, default 0.1
        ... and the lattice explains at least this much more variance than one Gaussian
        field (``|lattice_r2| - |field_r2|``; benchmark grids of 1.5 periods 0.16-0.33,
        central and corner fields <= 0).
    min_hex_fields : int, default 2
        Hexagonal grids have at least this many separate fields (``n_fields``; a single
        central field is fitted by a lattice with one peak in the arena).
    grid_coherence_exempt_spacing : float, default 0.45
        Grids whose fitted lattice (``lattice_spacing``, ``square_lattice_spacing``) is finer than
        this (m) need no ``min_spatial_coherence`` (at the default 0.1 m bins: below 4.5 bins per
        period, where a perfect grid's coherence falls below 0.35; benchmark grids of 3-3.5 bins
        per period -0.6 to 0.1, 5 periods in 2 m >= 0.44).
    min_grid_contrast : float, default 0.55
        Square grids have a lattice contrast (``grid_contrast``: SAC peak minus the SAC
        halfway back to the centre) of at least this (benchmark: square lattices >= 0.68,
        smooth random fields with a square-looking SAC 0.4-0.5).
    min_square_order : float, default 0.9
        Square lattice: |mean exp(4 i theta)| over the 4 nearest SAC peaks (in [0, 1]).
    max_square_spacing_ratio : float, default 1.2
        Square lattice: largest / smallest distance of those 4 peaks (>= 1).
    min_grid_fields : int, default 3
        Square grids have at least this many separate fields (``n_fields``).
    min_border_score : float, default 0.5
        Border units have a border score of at least this (Solstad et al. 2008: 0.5).
    min_border_coverage : float, default 0.4
        ... their best field covers at least this fraction of one wall (``border_cm``;
        benchmark wall fields >= 0.41).
    min_border_profile_r2 : float, default 0.6
        ... the map is a decreasing function of the distance to that wall: variance explained
        at least this (in [0, 1]; benchmark wall fields >= 0.68, random fields <= 0.32, corner
        fields <= 0.51).
    max_border_halfwidth : float, default 0.3
        ... and that profile falls to half its range within this distance of the wall, m
        (benchmark wall fields with decay lengths 0.04-0.08 m: <= 0.13 m; the low half of a
        tanh ramp that passes the other conditions: 0.18-0.5 m).
    """

    min_spatial_variance_fraction: float = schema_default("celltypes", "min_spatial_variance_fraction")
    min_spatial_coherence: float = schema_default("celltypes", "min_spatial_coherence")
    min_band_score: float = schema_default("celltypes", "min_band_score")
    min_band_periods: float = schema_default("celltypes", "min_band_periods")
    min_band_wave_margin: float = schema_default("celltypes", "min_band_wave_margin")
    min_grid_score: float = schema_default("celltypes", "min_grid_score")
    use_score90: bool = schema_default("celltypes", "use_score90")
    min_lattice_r2: float = schema_default("celltypes", "min_lattice_r2")
    min_square_lattice_r2: float = schema_default("celltypes", "min_square_lattice_r2")
    min_lattice_margin: float = schema_default("celltypes", "min_lattice_margin")
    min_hex_fields: int = schema_default("celltypes", "min_hex_fields")
    grid_coherence_exempt_spacing: float = schema_default("celltypes", "grid_coherence_exempt_spacing")
    min_grid_contrast: float = schema_default("celltypes", "min_grid_contrast")
    min_square_order: float = schema_default("celltypes", "min_square_order")
    max_square_spacing_ratio: float = schema_default("celltypes", "max_square_spacing_ratio")
    min_grid_fields: int = schema_default("celltypes", "min_grid_fields")
    min_border_score: float = schema_default("celltypes", "min_border_score")
    min_border_coverage: float = schema_default("celltypes", "min_border_coverage")
    min_border_profile_r2: float = schema_default("celltypes", "min_border_profile_r2")
    max_border_halfwidth: float = schema_default("celltypes", "max_border_halfwidth")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.name == "use_score90":
                continue
            v = getattr(self, f.name)
            if not is_real(v) or not np.isfinite(v):
                raise ValueError(f"celltypes.{f.name}: must be a finite number, got {v!r}")
        for key in ("min_spatial_variance_fraction", "min_lattice_r2", "min_square_lattice_r2",
                    "min_square_order",
                    "min_border_coverage", "min_border_profile_r2"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ValueError(f"celltypes.{key}: must be in [0, 1], got {getattr(self, key)!r}")
        if not self.max_border_halfwidth > 0.0:
            raise ValueError("celltypes.max_border_halfwidth: must be > 0 m, "
                             f"got {self.max_border_halfwidth!r}")
        if not self.max_square_spacing_ratio >= 1.0:
            raise ValueError("celltypes.max_square_spacing_ratio: must be >= 1, "
                             f"got {self.max_square_spacing_ratio!r}")
        if not self.grid_coherence_exempt_spacing >= 0:
            raise ValueError("celltypes.grid_coherence_exempt_spacing: must be >= 0 m, "
                             f"got {self.grid_coherence_exempt_spacing!r}")
        if not self.min_band_periods >= 0:
            raise ValueError(f"celltypes.min_band_periods: must be >= 0, got {self.min_band_periods!r}")
        for key in ("min_grid_fields", "min_hex_fields"):
            v = getattr(self, key)
            if isinstance(v, bool) or int(v) != v or v < 0:
                raise ValueError(f"celltypes.{key}: must be an integer >= 0, got {v!r}")
        if not isinstance(self.use_score90, (bool, np.bool_)):
            raise ValueError(f"celltypes.use_score90: must be true or false, got {self.use_score90!r}")

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "CellTypeParams":
        return section_from_dict(cls, d, "celltypes")


def _passes(scores, significant, name, minimum) -> np.ndarray:
    s = np.asarray(scores[name], dtype=np.float64)
    sig = np.asarray(significant[name], dtype=bool)
    with np.errstate(invalid="ignore"):
        return sig & np.isfinite(s) & (s >= minimum)


def _below(scores, name: str, limit: float, shape) -> np.ndarray:
    """``scores[name] < limit`` (False where NaN or absent)."""
    if name not in scores:
        return np.zeros(shape, bool)
    v = np.asarray(scores[name], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(v) & (v < limit)


def _at_least(scores, name, minimum, shape) -> np.ndarray:
    """``scores[name] >= minimum`` (False for NaN); all True if the score is missing (maps
    scored without the by-products, e.g. hand-made score tables)."""
    if name not in scores:
        return np.ones(shape, dtype=bool)
    v = np.asarray(scores[name], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(v) & (v >= minimum)


def _at_most(scores, name, maximum, shape) -> np.ndarray:
    if name not in scores:
        return np.ones(shape, dtype=bool)
    v = np.asarray(scores[name], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(v) & (v <= maximum)


def classify(
    scores: Mapping[str, np.ndarray],
    significant: Mapping[str, np.ndarray],
    params: CellTypeParams = CellTypeParams(),
) -> np.ndarray:
    """Cell type of every unit by the rule of the module docstring.

    Parameters
    ----------
    scores : per-unit (U,) arrays ``spatial_variance_fraction``, ``band_score``,
        ``border_score``, ``score60``, ``score90`` and the by-products of
        :func:`cw.analysis.scores.score_maps` used by the rule (``spatial_coherence``, ``band_periods``,
        ``band_wave_r2``, ``band_ramp_r2``, ``lattice_r2``, ``square_lattice_r2``, ``field_r2``, ``grid_contrast``, ``grid_square_order``, ``grid_square_ratio``, ``n_fields``,
        ``border_cm``, ``border_profile_r2``, ``border_profile_halfwidth``). A missing by-product
        skips its condition; a NaN one fails it.
    significant : per-unit bool arrays for the first five names (True = above the shuffle
        threshold).
    params : CellTypeParams.

    Returns
    -------
    (U,) array of str, each one of :data:`CELL_TYPES`.

    Examples
    --------
    Scores alone (no by-products, so only their thresholds and significance apply): a
    significant grid score, a significant border score, a spatial unit without significant
    scores, and a unit whose activity position hardly explains:

    >>> import numpy as np
    >>> scores = {"spatial_variance_fraction": np.array([0.6, 0.6, 0.6, 0.02]),
    ...           "score60": np.array([1.2, -0.1, 0.0, 0.9]), "score90": np.zeros(4),
    ...           "band_score": np.zeros(4), "border_score": np.array([-0.5, 0.8, -0.9, -1.0])}
    >>> significant = {k: np.array([True, True, False, False]) for k in scores}
    >>> classify(scores, significant).tolist()
    ['grid_like', 'border', 'non_spatial', 'non_spatial']
    """
    p = params
    spatial = _passes(scores, significant, "spatial_variance_fraction",
                      p.min_spatial_variance_fraction)
    sh = spatial.shape
    coherent = _at_least(scores, "spatial_coherence", p.min_spatial_coherence, sh)
    band = _passes(scores, significant, "band_score", p.min_band_score) & coherent
    band &= _at_least(scores, "band_periods", p.min_band_periods, sh)
    if "band_wave_r2" in scores and "band_ramp_r2" in scores:
        margin = (np.asarray(scores["band_wave_r2"], dtype=np.float64)
                  - np.asarray(scores["band_ramp_r2"], dtype=np.float64))
        band &= _at_least({"m": margin}, "m", p.min_band_wave_margin, sh)
    hexagonal = _passes(scores, significant, "score60", p.min_grid_score)
    if "lattice_r2" in scores:
        fit = np.abs(np.asarray(scores["lattice_r2"], dtype=np.float64))
        hexagonal &= _at_least({"f": fit}, "f", p.min_lattice_r2, sh)
        if "field_r2" in scores:
            one = np.abs(np.asarray(scores["field_r2"], dtype=np.float64))
            hexagonal &= _at_least({"m": fit - one}, "m", p.min_lattice_margin, sh)
    hexagonal &= _at_least(scores, "n_fields", p.min_hex_fields, sh)
    hexagonal &= coherent | _below(scores, "lattice_spacing", p.grid_coherence_exempt_spacing, sh)
    grid = hexagonal
    if p.use_score90:
        square = _passes(scores, significant, "score90", p.min_grid_score)
        square &= _at_least(scores, "grid_square_order", p.min_square_order, sh)
        square &= _at_most(scores, "grid_square_ratio", p.max_square_spacing_ratio, sh)
        square &= _at_least(scores, "grid_contrast", p.min_grid_contrast, sh)
        square &= _at_least(scores, "n_fields", p.min_grid_fields, sh)
        if "square_lattice_r2" in scores:
            fit = np.abs(np.asarray(scores["square_lattice_r2"], dtype=np.float64))
            square &= _at_least({"f": fit}, "f", p.min_square_lattice_r2, sh)
            if "field_r2" in scores:
                one = np.abs(np.asarray(scores["field_r2"], dtype=np.float64))
                square &= _at_least({"m": fit - one}, "m", p.min_lattice_margin, sh)
        square &= coherent | _below(scores, "square_lattice_spacing", p.grid_coherence_exempt_spacing, sh)
        grid = grid | square
    border = _passes(scores, significant, "border_score", p.min_border_score) & coherent
    border &= _at_least(scores, "border_cm", p.min_border_coverage, sh)
    border &= _at_least(scores, "border_profile_r2", p.min_border_profile_r2, sh)
    border &= _at_most(scores, "border_profile_halfwidth", p.max_border_halfwidth, sh)
    out = np.full(sh, "spatially_irregular", dtype=object)
    out[border] = "border"
    out[grid] = "grid_like"
    out[band] = "band_like"
    out[~spatial] = "non_spatial"
    return out.astype(str)


def type_counts(cell_types: np.ndarray) -> dict[str, int]:
    """Number of units of every type in :data:`CELL_TYPES` (zeros included)."""
    ct = np.asarray(cell_types).astype(str)
    unknown = sorted(set(ct.tolist()) - set(CELL_TYPES))
    if unknown:
        raise ValueError(f"unknown cell type(s): {', '.join(unknown)}")
    return {t: int(np.sum(ct == t)) for t in CELL_TYPES}


def counts_dataset(cell_types: np.ndarray, dim: str = "cell_type_label") -> xr.Dataset:
    """The per-run summary table: ``type_count`` and ``type_fraction`` over dim ``dim``."""
    counts = type_counts(cell_types)
    n = max(1, len(np.asarray(cell_types)))
    labels = np.array(CELL_TYPES)
    c = np.array([counts[t] for t in CELL_TYPES], dtype=np.int64)
    return xr.Dataset(
        {"type_count": (dim, c, {"long_name": "number of units of each cell type",
                                 "units": "1"}),
         "type_fraction": (dim, c / n, {"long_name": "fraction of units of each cell type",
                                        "units": "1"})},
        coords={dim: (dim, labels, {"long_name": "cell type"})},
    )


def celltype_dataset(
    scores: Mapping[str, np.ndarray],
    significant: Mapping[str, np.ndarray],
    unit: np.ndarray,
    params: CellTypeParams = CellTypeParams(),
) -> xr.Dataset:
    """``cell_type`` (unit, str) plus the summary table and attributes recording the rule,
    the parameters and the counts (``count_<type>``)."""
    ct = classify(scores, significant, params)
    ds = counts_dataset(ct)
    ds["cell_type"] = ("unit", ct, {
        "long_name": "cell type (rule in cw.analysis.celltypes)",
        "flag_meanings": " ".join(CELL_TYPES)})
    ds = ds.assign_coords(unit=("unit", np.asarray(unit)))
    ds.attrs.update({f"celltypes_{k}": (int(v) if isinstance(v, (bool, np.bool_)) else v)
                     for k, v in dataclasses.asdict(params).items()})
    ds.attrs["celltypes_rule"] = (
        "first match: non_spatial unless spatial_variance_fraction significant and >= min; "
        "band_like if coherent and band_score significant and >= min with >= min_band_periods "
        "and a plane wave beating a monotone ramp by min_band_wave_margin; grid_like if coherent "
        "and (score60 significant >= min_grid_score with |lattice_r2| >= min_lattice_r2, "
        "|lattice_r2| - |field_r2| >= min_lattice_margin and n_fields >= min_hex_fields, or score90 significant >= min_grid_score with a regular "
        "square SAC lattice, grid_contrast >= min and n_fields >= min_grid_fields); "
        "border if coherent and border_score significant >= min with one field covering >= "
        "min_border_coverage of a wall, the map a falling function of the distance to that wall "
        "(min_border_profile_r2) with a half-width <= max_border_halfwidth; else spatially_irregular (see cw.analysis.celltypes)")
    for t, c in type_counts(ct).items():
        ds.attrs[f"count_{t}"] = c
    return ds
