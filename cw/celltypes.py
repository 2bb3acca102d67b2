"""Cell types from spatial scores and their shuffle thresholds (paper.md sections 4-5; OURS).

The paper sorted units by eye into grid-like, band-like, border and spatially irregular units.
Here every unit gets exactly one type by the following rule, applied in this order (the first
rule that matches wins). "Significant" means above the unit's own shuffle threshold (the
``shuffles.percentile``-th percentile of its circular time-shift null, :mod:`cw.shuffles`);
every score must also reach an absolute minimum:

1. **non_spatial** unless the spatial variance fraction (eta^2, :func:`cw.scores.spatial_variance_fraction`)
   is significant and >= ``min_spatial_variance_fraction``. (A NaN score, e.g. a silent unit
   with constant activity, is never significant.)
2. **band_like** if the band score is significant and >= ``min_band_score``.
3. **border** if the border score is significant and >= ``min_border_score``.
4. **grid_like** if score60 is significant and >= ``min_grid_score``, or (``use_score90``)
   score90 is significant and >= ``min_grid_score`` (square arenas give square grids, paper
   section 4), and the autocorrelogram shows a lattice: ``grid_contrast >= min_grid_contrast``
   (:func:`cw.scores.grid_geometry`: the median, over the 6 nearest SAC peaks, of the peak's
   correlation minus that halfway back to the centre). The lattice condition guards against
   two known false positives of the grid scores: the triangle's own 6-fold autocorrelation,
   which gives a single smooth field in a triangle score60 > 1, and smooth gradients plus
   noise in a square box, whose cross-shaped SAC passes score90 and its shuffle threshold
   (both have no SAC peaks with troughs before them: contrast ~0).
5. **spatially_irregular** otherwise (spatial, but none of the above).

Why this order: band-like before border and grid-like because a plane wave with a stripe along
a wall can reach a border score above 0.5 and a score90 above 0.3, while a single wall field
stays below a band score of 0.3 and grids have band scores near 0 (numbers in
``tests/test_border_band.py``); border before grid-like because border fields do not produce
lattice peaks but grids with fields on the walls can reach border scores of ~0.4.

Defaults (OURS): ``min_grid_score`` 0.3 (the lowest threshold in the literature, paper.md
section 5), ``min_border_score`` 0.5 (Solstad et al. 2008), ``min_band_score`` 0.4 (between the
wall fields' <= 0.3 and clean plane waves' >= 0.58 on the synthetic families),
``min_spatial_variance_fraction`` 0.1.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import xarray as xr

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
    """Absolute minima of the cell-type rule (config section ``celltypes``; all OURS).

    min_spatial_variance_fraction : float, default 0.1
        Spatial units explain at least this fraction of their activity variance by position
        (eta^2, in [0, 1]).
    min_band_score : float, default 0.4
        Band-like units have a band score of at least this (in [-1, 1]).
    min_border_score : float, default 0.5
        Border units have a border score of at least this (Solstad et al. 2008: 0.5).
    min_grid_score : float, default 0.3
        Grid-like units have score60 (or score90) of at least this.
    use_score90 : bool, default True
        Accept square grids (significant score90) as grid-like.
    min_grid_contrast : float, default 0.2
        Grid-like units have a lattice contrast (``grid_contrast``) of at least this (OURS:
        between <= 0.05 for the false positives above and >= 0.35 for synthetic grids with noise
        as strong as the grid).
    """

    min_spatial_variance_fraction: float = 0.1
    min_band_score: float = 0.4
    min_border_score: float = 0.5
    min_grid_score: float = 0.3
    use_score90: bool = True
    min_grid_contrast: float = 0.2

    def __post_init__(self) -> None:
        for key in ("min_spatial_variance_fraction", "min_band_score", "min_border_score",
                    "min_grid_score", "min_grid_contrast"):
            v = getattr(self, key)
            if not is_real(v) or not np.isfinite(v):
                raise ValueError(f"celltypes.{key}: must be a finite number, got {v!r}")
        if not 0.0 <= self.min_spatial_variance_fraction <= 1.0:
            raise ValueError("celltypes.min_spatial_variance_fraction: must be in [0, 1], "
                             f"got {self.min_spatial_variance_fraction!r}")
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


def classify(
    scores: Mapping[str, np.ndarray],
    significant: Mapping[str, np.ndarray],
    params: CellTypeParams = CellTypeParams(),
) -> np.ndarray:
    """Cell type of every unit by the rule of the module docstring.

    Parameters
    ----------
    scores : per-unit arrays ``spatial_variance_fraction``, ``band_score``, ``border_score``,
        ``score60``, ``score90`` and ``grid_contrast`` (missing ``grid_contrast`` = no lattice
        condition; NaN = no lattice).
    significant : per-unit bool arrays for the first five names (True = above the shuffle
        threshold).
    params : CellTypeParams.

    Returns
    -------
    (U,) array of str, each one of :data:`CELL_TYPES`.
    """
    spatial = _passes(scores, significant, "spatial_variance_fraction",
                      params.min_spatial_variance_fraction)
    band = _passes(scores, significant, "band_score", params.min_band_score)
    border = _passes(scores, significant, "border_score", params.min_border_score)
    grid = _passes(scores, significant, "score60", params.min_grid_score)
    if params.use_score90:
        grid |= _passes(scores, significant, "score90", params.min_grid_score)
    if "grid_contrast" in scores:
        gc = np.asarray(scores["grid_contrast"], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            grid &= np.isfinite(gc) & (gc >= params.min_grid_contrast)
    out = np.full(spatial.shape, "spatially_irregular", dtype=object)
    out[grid] = "grid_like"
    out[border] = "border"
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
        "long_name": "cell type (rule in cw.celltypes)",
        "flag_meanings": " ".join(CELL_TYPES)})
    ds = ds.assign_coords(unit=("unit", np.asarray(unit)))
    ds.attrs.update({f"celltypes_{k}": (int(v) if isinstance(v, (bool, np.bool_)) else v)
                     for k, v in dataclasses.asdict(params).items()})
    ds.attrs["celltypes_rule"] = (
        "first match: non_spatial unless spatial_variance_fraction significant and >= min; "
        "band_like if band_score significant and >= min; border if border_score significant "
        "and >= min; grid_like if (score60 or score90) significant and >= min_grid_score and "
        "grid_contrast >= min_grid_contrast; else spatially_irregular")
    for t, c in type_counts(ct).items():
        ds.attrs[f"count_{t}"] = c
    return ds


def analyse_units(
    x: np.ndarray,
    y: np.ndarray,
    activity: np.ndarray,
    arena,
    ratemaps=None,
    scores=None,
    shuffles=None,
    celltypes: CellTypeParams = CellTypeParams(),
    rng: np.random.Generator | None = None,
    keep_null: bool = True,
    unit: np.ndarray | None = None,
) -> tuple[xr.Dataset, xr.DataArray]:
    """Rate maps, every score, shuffle thresholds, significance and cell types of a unit set.

    Parameters
    ----------
    x, y : (S,) positions (m) of the concatenated test samples; activity : (S, U).
    arena : Arena (polygon walls for the border score, mask for the maps).
    ratemaps : :class:`cw.ratemaps.RatemapParams` (default: its defaults).
    scores : :class:`cw.scores.ScoreParams`; shuffles : :class:`cw.shuffles.ShuffleParams`.
    celltypes : CellTypeParams.
    rng : numpy Generator for the shuffle offsets (required).
    keep_null : store the null distributions (``null_<score>`` (shuffle, unit)).
    unit : unit labels (default 0..U-1).

    Returns
    -------
    (scores Dataset over ``unit`` -- every output of :func:`cw.scores.score_maps`,
    ``threshold_/significant_/p_/null_<score>`` for each of :data:`cw.scores.SCORE_NAMES`,
    ``cell_type`` and the summary table ``type_count`` over ``cell_type_label`` --,
    rate maps DataArray ``rate`` (unit, y, x)).
    """
    from cw.ratemaps import RatemapParams
    from cw.scores import (
        SCORE_NAMES,
        ScoreParams,
        score_maps,
        score_params_attrs,
        scores_to_dataset,
    )
    from cw.shuffles import (
        ShiftedRatemaps,
        ShuffleParams,
        shift_offsets,
        shuffle_null,
        significance_dataset,
    )

    if rng is None:
        raise ValueError("analyse_units: pass a seeded numpy Generator as rng")
    rp = ratemaps or RatemapParams()
    sp_ = scores or ScoreParams()
    shp = shuffles or ShuffleParams()
    binner = ShiftedRatemaps(x, y, activity, arena, rp.bin_size, rp.min_occupancy,
                             rp.smoothing_sigma)
    U = binner.n_units
    unit = np.arange(U) if unit is None else np.asarray(unit)
    xc, yc = binner.x_centres, binner.y_centres
    rate = binner.maps(0)
    sc = score_maps(rate, xc, yc, arena, sp_.grid, sp_.border, sp_.band, sp_.geometry,
                    binner.occupancy, binner.variance)

    def score_fn(maps):
        reps = maps.shape[0] // max(U, 1)
        return score_maps(maps, xc, yc, arena, sp_.grid, sp_.border, sp_.band, None,
                          binner.occupancy, np.tile(binner.variance, reps))

    offsets = shift_offsets(binner.n_samples, shp.n_shuffles, shp.min_shift, rng)
    null = shuffle_null(binner, score_fn, offsets, shp.batch_size, names=SCORE_NAMES)
    sig = significance_dataset(sc, null, offsets, unit, shp, keep_null=keep_null)
    significant = {n: sig[f"significant_{n}"].values for n in SCORE_NAMES}
    ct = celltype_dataset(sc, significant, unit, celltypes)
    ds = xr.merge([scores_to_dataset(sc, unit), sig, ct], combine_attrs="no_conflicts")
    ds.attrs.update(score_params_attrs(sp_.grid, sp_.border, sp_.band, sp_.geometry))
    ds.attrs.update({f"ratemaps_{k}": v for k, v in dataclasses.asdict(rp).items()})
    ds.attrs["n_samples"] = int(binner.n_samples)
    rate_da = xr.DataArray(
        rate, dims=("unit", "y", "x"),
        coords={"unit": unit, "y": ("y", yc, {"units": "m", "long_name": "bin centre y"}),
                "x": ("x", xc, {"units": "m", "long_name": "bin centre x"})},
        attrs={"long_name": "mean activity per spatial bin", "units": "1"}, name="rate")
    return ds, rate_da
