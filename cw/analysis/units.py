"""One analysis of a set of units: rate maps, every score, the shuffle thresholds, significance
and cell types, with the settings of a run bundled once (:class:`AnalysisSettings`).

The final network's units (:func:`cw.steps.analysis.analyse_scores`), every training checkpoint
(:mod:`cw.analysis.development`), the labelled benchmark (:mod:`cw.analysis.benchmark_maps`) and
the theory control (:mod:`cw.analysis.theory_control`) all go through :func:`analyse_units`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import xarray as xr

from cw.analysis.celltypes import CellTypeParams, celltype_dataset
from cw.analysis.ratemaps import RatemapParams
from cw.analysis.scores import SCORE_NAMES, ScoreParams, score_maps, score_params_attrs, scores_to_dataset
from cw.analysis.shuffles import ShiftedRatemaps, ShuffleParams, shift_offsets, shuffle_null, significance_dataset

__all__ = ["AnalysisSettings", "analyse_units"]


@dataclass(frozen=True)
class AnalysisSettings:
    """The settings every unit analysis of a run takes (config sections ``ratemaps``, ``scores``,
    ``shuffles`` and ``celltypes``; each default is its section's).

    Examples
    --------
    >>> s = AnalysisSettings.from_config(shuffles={"n_shuffles": 20})
    >>> s.shuffles.n_shuffles, s.ratemaps == RatemapParams()
    (20, True)
    >>> s.with_shuffles(5).shuffles.n_shuffles
    5
    """

    ratemaps: RatemapParams = field(default_factory=RatemapParams)
    scores: ScoreParams = field(default_factory=ScoreParams)
    shuffles: ShuffleParams = field(default_factory=ShuffleParams)
    celltypes: CellTypeParams = field(default_factory=CellTypeParams)

    @classmethod
    def from_config(cls, ratemaps: Mapping | None = None, scores: Mapping | None = None,
                    shuffles: Mapping | None = None, celltypes: Mapping | None = None) -> "AnalysisSettings":
        """The bundle from a run's config sections (plain mappings; None: the defaults), each
        checked by its dataclass."""
        return cls(RatemapParams.from_dict(ratemaps), ScoreParams.from_dict(scores),
                   ShuffleParams.from_dict(shuffles), CellTypeParams.from_dict(celltypes))

    def with_shuffles(self, n_shuffles: int | None) -> "AnalysisSettings":
        """The same settings with ``n_shuffles`` shuffles per unit (None: unchanged)."""
        if n_shuffles is None:
            return self
        return dataclasses.replace(self, shuffles=dataclasses.replace(self.shuffles, n_shuffles=int(n_shuffles)))


def analyse_units(
    x: np.ndarray,
    y: np.ndarray,
    activity: np.ndarray,
    arena,
    settings: AnalysisSettings,
    rng: np.random.Generator | None = None,
    keep_null: bool = True,
    unit: np.ndarray | None = None,
    observed: Mapping[str, np.ndarray] | None = None,
    bins=None,
) -> tuple[xr.Dataset, xr.DataArray]:
    """Rate maps, every score, shuffle thresholds, significance and cell types of a unit set.

    Parameters
    ----------
    x, y : (S,) positions (m) of the concatenated test samples; activity : (S, U).
    arena : Arena (polygon walls for the border score, mask for the maps).
    settings : AnalysisSettings (rate maps, scores, shuffles, cell types).
    rng : numpy Generator for the shuffle offsets (required).
    keep_null : store the null distributions (``null_<score>`` (shuffle, unit)).
    unit : unit labels (default 0..U-1).
    observed : the scores of these units' own maps, as :func:`cw.analysis.scores.score_maps`
        returns them with the ``scores`` parameters (geometry included), when already computed
        (a development analysis scores every checkpoint's maps in one call); None computes them.
    bins : a :class:`cw.analysis.ratemaps.SpatialBins` of ``x, y`` to share (None builds it).

    Returns
    -------
    (scores Dataset over ``unit`` -- every output of :func:`cw.analysis.scores.score_maps`,
    ``threshold_/significant_/p_/null_<score>`` for each of :data:`cw.analysis.scores.SCORE_NAMES`,
    ``cell_type`` and the summary table ``type_count`` over ``cell_type_label`` --,
    rate maps DataArray ``rate`` (unit, y, x)).
    """
    if rng is None:
        raise ValueError("analyse_units: pass a seeded numpy Generator as rng")
    rp, sp_, shp = settings.ratemaps, settings.scores, settings.shuffles
    binner = ShiftedRatemaps(x, y, activity, arena, rp.bin_size, rp.min_occupancy,
                             rp.smoothing_sigma, bins=bins)
    U = binner.n_units
    unit = np.arange(U) if unit is None else np.asarray(unit)
    xc, yc = binner.x_centres, binner.y_centres
    rate = binner.maps(0)
    if observed is None:
        sc = score_maps(rate, xc, yc, arena, sp_.grid, sp_.border, sp_.band, sp_.geometry,
                        binner.occupancy, binner.variance, bin_size=binner.step)
    else:
        sc = {k: np.asarray(v) for k, v in observed.items()}
        if any(v.shape[:1] != (U,) for v in sc.values()):
            raise ValueError(f"analyse_units: observed scores are not given for {U} units")

    def score_fn(maps):
        reps = maps.shape[0] // max(U, 1)
        return score_maps(maps, xc, yc, arena, sp_.grid, sp_.border, sp_.band, None,
                          binner.occupancy, np.tile(binner.variance, reps), bin_size=binner.step)

    offsets = shift_offsets(binner.n_samples, shp.n_shuffles, shp.min_shift, rng)
    null = shuffle_null(binner, score_fn, offsets, shp.batch_size, names=SCORE_NAMES)
    sig = significance_dataset(sc, null, offsets, unit, shp, keep_null=keep_null)
    significant = {n: sig[f"significant_{n}"].values for n in SCORE_NAMES}
    ct = celltype_dataset(sc, significant, unit, settings.celltypes)
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
