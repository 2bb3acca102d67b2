"""Spatial scores of rate maps (docs/paper-map.md; OURS): grid, border, band, spatial variance.

Contents (one module per concept)
--------------------------------
* :func:`autocorrelogram` -- the spatial autocorrelogram (step 1 below);
* :func:`grid_scores` -- grid scores 60 and 90 (below);
* :func:`grid_geometry` -- grid spacing and orientation from the autocorrelogram peaks;
* :func:`border_scores` -- Solstad et al. (2008) border score with the polygon's edges as walls;
* :func:`band_scores` -- the project's band score (spectral dominance of one plane wave);
* :func:`spatial_variance_fraction` -- eta^2, the variance explained by position;
* :func:`score_maps` -- all of them at once (one autocorrelogram per map), the function the
  shuffles (:mod:`cw.analysis.shuffles`) call; :func:`scores_dataset` -- as an xarray Dataset.

All scores are invariant under a sign flip of the map (tanh units have no meaningful sign, see
:class:`BorderScoreParams`), constant or all-NaN maps give NaN, never an exception.

Grid score
----------
Re-implemented from the published definitions (Sargolini et al. 2006; the variant
used by Banino et al. 2018 / DeepMind ``scores.py`` and Sorscher et al. 2019):

1. Spatial autocorrelogram (SAC) of a rate map: for every lag, the Pearson
   correlation between the map and its shifted copy over the pairs of bins that
   are valid (finite) in both.  Computed with FFTs of the centred map, its square
   and the validity mask.  Lags with fewer than ``min_overlap`` valid pairs are NaN.
2. The SAC is rotated about its centre (the zero-lag bin) by 30, 45, 60, 90, 120,
   135 and 150 degrees.
3. For every annulus ``inner < r <= outer`` (radii in bins of the rate map, as
   fractions of the map size), the Pearson correlation c(theta) between the SAC
   and its rotated copy is computed over bins valid in both.
4. score60 = mean(c60, c120) - mean(c30, c90, c150)   (variant "mean", default), or
   score60 = min(c60, c120) - max(c30, c90, c150)    (variant "minmax");
   score90 = c90 - mean(c45, c135).
   Each score is the maximum over the annuli (separately for 60 and 90).

Deliberate differences from the DeepMind implementation (documented choices, OURS):

* NaN handling.  DeepMind replaces NaN SAC values by 0 and rotates with cubic
  splines and zero fill.  Here NaN is "missing": the SAC is rotated by *normalised*
  interpolation (rotate ``sac * valid`` and ``valid``, divide; a rotated bin is
  valid where the rotated mask >= 0.5), with bilinear interpolation by default
  (``order=1``: non-negative weights, so the normalised interpolation is a proper
  weighted average and no spline ringing leaks across the NaN border).
* Correlation.  DeepMind divides the cross-covariance by the variance of the
  unrotated SAC (same mean for both copies); here it is the symmetric Pearson
  correlation over the bins valid in both copies within the annulus.
* Map size.  The ring radii are fractions of ``max(ny, nx)`` (identical to
  DeepMind's ``nbins`` for square maps).
* Speed (same numbers).  With ``order=1`` the rotation is one sparse matrix per map shape and
  angle (identical to ``scipy.ndimage.rotate(..., order=1, mode="constant")``) applied to the
  whole stack of maps, and the annulus sums are cumulative sums over the rings between
  consecutive outer radii (the annuli are nested).

Caveat (measured, see ``tests/test_border_band.py``): in a triangle the autocorrelogram of a
single smooth field inherits the triangle's own 6-fold symmetry and can reach score60 > 1;
:mod:`cw.analysis.celltypes` therefore also requires a lattice in the autocorrelogram
(``grid_contrast``, see :func:`grid_geometry`).
"""

from cw.analysis.scores.autocorrelogram import autocorrelogram
from cw.analysis.scores.grid import (
    GridScoreParams,
    ring_masks,
    grid_scores,
)
from cw.analysis.scores.geometry import (
    GridGeometryParams,
    grid_geometry,
)
from cw.analysis.scores.border import (
    POLARITIES,
    WALL_POINT_SPACING_BINS,
    BorderScoreParams,
    border_scores,
    border_profile_fit,
)
from cw.analysis.scores.band import (
    BandScoreParams,
    band_scores,
    band_ramp_fit,
)
from cw.analysis.scores.fields import (
    count_fields,
    spatial_coherence,
    spatial_variance_fraction,
)
from cw.analysis.scores.maps import (
    SCORE_NAMES,
    score_maps,
    ScoreParams,
    SCORE_ATTRS,
    grid_score_status,
    score_params_attrs,
    scores_dataset,
    scores_to_dataset,
)

__all__ = [
    "autocorrelogram",
    "GridScoreParams",
    "ring_masks",
    "grid_scores",
    "GridGeometryParams",
    "grid_geometry",
    "POLARITIES",
    "WALL_POINT_SPACING_BINS",
    "BorderScoreParams",
    "border_scores",
    "border_profile_fit",
    "BandScoreParams",
    "band_scores",
    "band_ramp_fit",
    "count_fields",
    "spatial_coherence",
    "spatial_variance_fraction",
    "SCORE_NAMES",
    "score_maps",
    "ScoreParams",
    "SCORE_ATTRS",
    "grid_score_status",
    "score_params_attrs",
    "scores_dataset",
    "scores_to_dataset",
]
