"""All scores of a stack of rate maps at once (:func:`score_maps`), their parameters and datasets.

Part of :mod:`cw.analysis.scores`, whose docstring describes the definitions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np
import xarray as xr

from cw.analysis.lattice import LATTICE_ATTRS, field_fit, lattice_fit
from cw.analysis.ratemaps import bin_step
from cw.analysis.scores.band import BandScoreParams, band_ramp_fit, band_scores
from cw.analysis.scores.border import BorderScoreParams, border_profile_fit, border_scores
from cw.analysis.scores.fields import count_fields, spatial_coherence, spatial_variance_fraction
from cw.analysis.scores.geometry import GridGeometryParams, grid_geometry
from cw.analysis.scores.grid import (GridScoreParams, GridScoreSettings, grid_scores_from_sac,
                                     autocorrelogram, ring_masks)
from cw.analysis.scores.inputs import as_stack, checked_bin_size
from cw.validation import section_from_dict


SCORE_NAMES: tuple[str, ...] = (
    "score60", "score90", "border_score", "band_score", "spatial_variance_fraction",
)


def score_maps(
    rate: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    arena=None,
    grid: GridScoreParams = GridScoreParams(),
    border: BorderScoreParams = BorderScoreParams(),
    band: BandScoreParams = BandScoreParams(),
    geometry: GridGeometryParams | None = GridGeometryParams(),
    occupancy: np.ndarray | None = None,
    activity_variance: np.ndarray | None = None,
    *,
    bin_size: float,
) -> dict[str, np.ndarray]:
    """Every spatial score of a stack of rate maps (one SAC per map, shared).

    Parameters
    ----------
    rate : (U, ny, nx) maps; x, y : bin centres (m).
    bin_size : side of the square bins (m): the spacing of the bin centres (``step`` of
        :class:`cw.analysis.ratemaps.SpatialBins`, the ``ratemaps.bin_size`` up to round-off).
    arena : Arena or corners for the border score (None: border scores are NaN).
    grid, border, band : score parameters.
    geometry : GridGeometryParams for grid spacing/orientation, or None to skip them (shuffles).
    occupancy, activity_variance : for the spatial variance fraction (NaN if either is None).

    Returns
    -------
    dict of (U,) arrays: every name in :data:`SCORE_NAMES`, plus ``ring60``, ``ring90``, the
    border and band by-products of :func:`border_scores` / :func:`band_scores` and, if
    ``geometry`` is given, those of :func:`grid_geometry`.

    Examples
    --------
    A hexagonal cosine grid (spacing 0.5 m) scores as a grid, not as a band or a border map
    (``geometry=None`` leaves out the slower lattice fits):

    >>> import numpy as np
    >>> from cw.synthetic import cosine_lattice
    >>> xc = np.arange(-0.95, 1.0, 0.1)  # centres of 20 bins of 0.1 m across a 2 m square
    >>> X, Y = np.meshgrid(xc, xc)
    >>> square = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]])
    >>> grid = cosine_lattice(X, Y, 0.5, 0.0, 3)
    >>> out = score_maps(grid[None], xc, xc, square, geometry=None, bin_size=0.1)
    >>> bool(out["score60"][0] > 0.5), bool(out["band_score"][0] < 0.3), bool(out["border_score"][0] < 0.3)
    (True, True, True)
    """
    r = as_stack(rate)
    U, ny, nx = r.shape
    xc, yc = np.asarray(x, np.float64), np.asarray(y, np.float64)
    bin_size = checked_bin_size(bin_size, xc, yc)
    sac = autocorrelogram(r, min_overlap=grid.min_overlap)
    g = grid_scores_from_sac(sac, max(ny, nx), grid)
    out = {k: g[k] for k in ("score60", "score90", "ring60", "ring90")}
    if geometry is not None:
        out.update(grid_geometry(sac, bin_size, geometry, np.isfinite(r)))
        out["grid_score_status"] = grid_score_status(r, sac, out["score60"], grid)
    if arena is not None:
        out.update(border_scores(r, xc, yc, arena, border, bin_size=bin_size))
        if geometry is not None:  # by-products of the observed maps only
            out.update(border_profile_fit(r, xc, yc, arena, out["border_wall"],
                                          out["border_polarity"], out["border_cm"],
                                          out["border_field_fraction"], bin_size=bin_size))
    else:
        out.update({"border_score": np.full(U, np.nan), "border_cm": np.full(U, np.nan),
                    "border_dm": np.full(U, np.nan), "border_wall": np.full(U, -1, np.int64),
                    "border_polarity": np.zeros(U, np.int8),
                    "border_field_fraction": np.full(U, np.nan),
                    "border_field_share": np.full(U, np.nan)})
    out.update(band_scores(r, bin_size, band))
    if geometry is not None:  # by-products of the observed maps only (not needed for shuffles)
        out.update(band_ramp_fit(r, bin_size, out["band_orientation"], out["band_wavelength"]))
        out["spatial_coherence"] = spatial_coherence(r)
        out["n_fields"] = count_fields(r, geometry.field_threshold, geometry.min_field_bins)
        out.update(lattice_fit(r, xc, yc, bin_size, geometry.lattice, 6))
        out.update(lattice_fit(r, xc, yc, bin_size, geometry.lattice, 4))
        out.update(field_fit(r, xc, yc, bin_size, geometry.field_fit_widths))
    if occupancy is not None and activity_variance is not None:
        out["spatial_variance_fraction"] = spatial_variance_fraction(r, occupancy, activity_variance)
    else:
        out["spatial_variance_fraction"] = np.full(U, np.nan)
    return out


@dataclass(frozen=True)
class ScoreParams:
    """All score parameters together (config section ``scores``).

    The grid-score keys are flat in the section (``inner_radius``, ``outer_radius_min``,
    ``outer_radius_max``, ``n_rings``, ``variant``: :class:`GridScoreSettings`); the others are
    sub-sections ``scores.border``, ``scores.band`` and ``scores.geometry`` (see
    :class:`BorderScoreParams`, :class:`BandScoreParams`, :class:`GridGeometryParams`).
    :meth:`from_dict` loads each of them through :func:`cw.validation.section_from_dict`.
    """

    grid: GridScoreParams = GridScoreParams()
    border: BorderScoreParams = BorderScoreParams()
    band: BandScoreParams = BandScoreParams()
    geometry: GridGeometryParams = GridGeometryParams()

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "ScoreParams":
        d = dict(d or {})
        subs = {name: d.pop(name, None) or {} for name in ("border", "band", "geometry")}
        grid = section_from_dict(GridScoreSettings, d, "scores").params()
        for name, v in subs.items():
            if not isinstance(v, Mapping):
                raise ValueError(f"scores.{name}: must be a mapping")
        return cls(grid, section_from_dict(BorderScoreParams, subs["border"], "scores.border"),
                   section_from_dict(BandScoreParams, subs["band"], "scores.band"),
                   section_from_dict(GridGeometryParams, subs["geometry"], "scores.geometry"))


#: netCDF attributes of every per-unit output of :func:`score_maps`.
SCORE_ATTRS: dict[str, dict] = {
    "score60": {"long_name": "grid score (60 deg, hexagonal symmetry)", "units": "1"},
    "score90": {"long_name": "grid score (90 deg, square symmetry)", "units": "1",
                "definition": "c90 - mean(c45,c135), max over annuli"},
    "ring60": {"long_name": "outer radius of the best annulus for score60", "units": "bins"},
    "ring90": {"long_name": "outer radius of the best annulus for score90", "units": "bins"},
    "grid_spacing": {"long_name": "grid spacing: median distance of the nearest "
                                  "autocorrelogram peaks", "units": "m"},
    "grid_orientation60": {"long_name": "orientation of the hexagonal grid axes, "
                                        "counter-clockwise from +x, modulo 60", "units": "degree"},
    "grid_orientation90": {"long_name": "orientation of the square lattice axes, "
                                        "counter-clockwise from +x, modulo 90", "units": "degree"},
    "grid_n_peaks": {"long_name": "number of autocorrelogram peaks found", "units": "1"},
    "grid_contrast": {"long_name": "median over the nearest autocorrelogram peaks of "
                                   "SAC(peak) - SAC(halfway to the centre)", "units": "1"},
    "border_score": {"long_name": "border score (cM - dM) / (cM + dM), walls = polygon edges",
                     "units": "1"},
    "border_cm": {"long_name": "largest fraction of one wall covered by one field", "units": "1"},
    "border_dm": {"long_name": "rate-weighted mean distance of field bins to the nearest wall, "
                               "over the arena's Chebyshev radius", "units": "1"},
    "border_wall": {"long_name": "index k of the best-covered wall (corners k to k+1), -1 none",
                    "units": "1"},
    "border_polarity": {"long_name": "sign of the activity of the border fields "
                                     "(+1 high, -1 low activity, 0 undefined)", "units": "1"},
    "band_score": {"long_name": "band score (P(D1) - P(D2)) / P(B) of the spatial spectrum",
                   "units": "1"},
    "band_wavelength": {"long_name": "wavelength of the strongest plane-wave component",
                        "units": "m"},
    "band_orientation": {"long_name": "orientation of its wave vector, counter-clockwise from "
                                      "+x, modulo 180 (stripes run perpendicular)",
                         "units": "degree"},
    "band_power1": {"long_name": "fraction of spectral power P(B) in the strongest "
                                 "plane-wave peak pair", "units": "1"},
    "band_power2": {"long_name": "fraction of spectral power P(B) in the strongest peak "
                                 "pair of another orientation", "units": "1"},
    "spatial_variance_fraction": {"long_name": "fraction of activity variance explained by "
                                               "position (eta squared)", "units": "1"},
    "grid_hex_order": {"long_name": "six-fold order |mean exp(6i theta)| of the nearest "
                                    "autocorrelogram peaks (NaN: fewer than 4 peaks)", "units": "1"},
    "grid_hex_ratio": {"long_name": "largest / smallest distance of the nearest autocorrelogram "
                                    "peaks", "units": "1"},
    "grid_square_order": {"long_name": "four-fold order |mean exp(4i theta)| of the 4 nearest "
                                       "autocorrelogram peaks", "units": "1"},
    "grid_square_ratio": {"long_name": "largest / smallest distance of the 4 nearest "
                                       "autocorrelogram peaks", "units": "1"},
    "grid_score_status": {
        "long_name": "why score60/score90 are defined or NaN", "units": "1",
        "flag_values": np.array([0, 1, 2, 3], dtype=np.int8),
        "flag_meanings": "defined constant_or_empty_map flat_autocorrelogram too_few_valid_pairs",
        "comment": "NaN grid scores mean 'no score', never 'irregular': 1 = the map has no "
                   "variance (silent unit or no finite bin); 2 = every autocorrelogram value in "
                   "the annuli is the same (a linear ramp: every lag correlates 1), so the "
                   "rotated correlations are undefined; 3 = too few valid bin pairs"},
    "n_fields": {"long_name": "separate fields (components >= half the map's range, either "
                              "sign, >= 2 bins)", "units": "1"},
    "spatial_coherence": {"long_name": "correlation of each bin with the mean of its 8 "
                                       "neighbours (Muller & Kubie 1989)", "units": "1"},
    "band_wave_r2": {"long_name": "variance explained by the plane wave at the band's wave "
                                  "vector", "units": "1"},
    "band_ramp_r2": {"long_name": "variance explained by the best monotone function along the "
                                  "band's wave vector", "units": "1"},
    "band_periods": {"long_name": "periods of the band's wavelength inside the arena along its "
                                  "wave vector", "units": "1"},
    "border_field_fraction": {"long_name": "fraction of the valid bins in the best border field",
                              "units": "1"},
    "border_field_share": {"long_name": "fraction of the rate-weighted field mass in the best "
                                        "border field", "units": "1"},
    "border_profile_r2": {"long_name": "variance explained by a decreasing function of the "
                                       "distance to the best wall", "units": "1"},
    "border_field_width": {"long_name": "area of the best border field / length of wall it "
                                        "covers", "units": "m"},
    "border_profile_halfwidth": {"long_name": "distance from the best wall at which the fitted "
                                              "decreasing wall profile falls to half its range",
                                 "units": "m"},
    **LATTICE_ATTRS,
}


def grid_score_status(rate: np.ndarray, sac: np.ndarray, score60: np.ndarray,
                      params: "GridScoreParams") -> np.ndarray:
    """Why each grid score is defined or NaN (``SCORE_ATTRS["grid_score_status"]``).

    Parameters
    ----------
    rate : (U, ny, nx) maps; sac : (U, 2ny-1, 2nx-1) their autocorrelograms; score60 : (U,).
    params : GridScoreParams (the annuli).

    Returns
    -------
    (U,) int8: 0 defined, 1 constant or empty map, 2 flat autocorrelogram inside the annuli
    (a linear ramp), 3 too few valid pairs.
    """
    r = as_stack(rate)
    U, ny, nx = r.shape
    out = np.zeros(U, dtype=np.int8)
    masks, _ = ring_masks(sac.shape[-2:], max(ny, nx), params)
    ring = masks.any(axis=0)
    for u in range(U):
        if np.isfinite(score60[u]):
            continue
        v = r[u][np.isfinite(r[u])]
        if v.size == 0 or not np.ptp(v) > 0:
            out[u] = 1
            continue
        a = sac[u][ring]
        a = a[np.isfinite(a)]
        out[u] = 2 if a.size >= 2 and np.ptp(a) <= 1e-6 else 3
    return out


def score_params_attrs(
    grid: GridScoreParams = GridScoreParams(),
    border: BorderScoreParams | None = BorderScoreParams(),
    band: BandScoreParams | None = BandScoreParams(),
    geometry: GridGeometryParams | None = GridGeometryParams(),
) -> dict:
    """Global attributes recording every score parameter (netCDF-friendly types)."""
    p = asdict(grid)
    attrs = {
        "grid_score_inner_radius": float(p["inner_radius"]),
        "grid_score_outer_radii": np.asarray(p["outer_radii"], dtype=np.float64),
        "grid_score_radii_reference": "fractions of max(ny, nx) of the rate map (bins)",
        "grid_score_variant": str(p["variant"]),
        "grid_score_rotation_order": int(p["order"]),
        "grid_score_min_overlap": int(p["min_overlap"]),
        "grid_score_min_ring_pairs": int(p["min_ring_pairs"]),
        "grid_score_method": (
            "NaN-aware SAC; rotations 30,45,60,90,120,135,150 deg "
            "(scipy.ndimage.rotate, reshape=False, normalised interpolation); "
            "Pearson r in annuli inner<r<=outer over bins valid in both"
        ),
    }
    for prefix, obj in (("grid_geometry_", geometry), ("border_", border), ("band_", band)):
        if obj is None:
            continue
        for k, v in asdict(obj).items():
            attrs[prefix + k] = v if isinstance(v, (str, int, float)) else str(v)
    if border is not None:
        attrs["border_method"] = (
            "Solstad et al. 2008 on polygon walls: fields = 4-connected bins with normalised "
            "rate >= field_threshold and area >= min_field_area; cM = max coverage of one wall by "
            "one field; dM = rate-weighted mean distance to the nearest wall / Chebyshev radius"
        )
    if band is not None:
        attrs["band_method"] = (
            "(P(D1) - P(D2)) / P(B) of the power spectrum of the plane-detrended map; "
            "see cw.analysis.scores.band_scores"
        )
    return attrs


def scores_dataset(
    rate_ds: xr.Dataset,
    params: GridScoreParams = GridScoreParams(),
    arena=None,
    border: BorderScoreParams = BorderScoreParams(),
    band: BandScoreParams = BandScoreParams(),
    geometry: GridGeometryParams = GridGeometryParams(),
    activity_variance: np.ndarray | None = None,
) -> xr.Dataset:
    """Every score of every unit of a rate-map Dataset (from ``compute_ratemaps``).

    Parameters
    ----------
    rate_ds : Dataset with ``rate (unit, y, x)``, coordinates x, y (m, bin centres whose step
        is the bin size) and the attribute ``bin_size``; ``occupancy (y, x)`` is used for the
        spatial variance fraction.
    params : grid-score parameters.
    arena : Arena or corners for the border score; None takes ``rate_ds.attrs["arena_corners"]``
        (flattened [x0, y0, x1, y1, ...]) if present, else the border score is NaN.
    border, band, geometry : parameters of the other scores.
    activity_variance : (U,) variance of each unit's activity over all samples, for the spatial
        variance fraction (NaN if None).

    Returns
    -------
    Dataset over ``unit`` with every output of :func:`score_maps` (see :data:`SCORE_ATTRS`);
    the parameters (incl. the grid-score variant) are stored as attributes.
    """
    rate = rate_ds["rate"].transpose("unit", "y", "x")
    if arena is None and "arena_corners" in rate_ds.attrs:
        arena = np.asarray(rate_ds.attrs["arena_corners"], dtype=np.float64).reshape(-1, 2)
    occ = rate_ds["occupancy"].transpose("y", "x").values if "occupancy" in rate_ds else None
    out = score_maps(rate.values, rate_ds["x"].values, rate_ds["y"].values, arena, params,
                     border, band, geometry, occ, activity_variance,
                     bin_size=bin_step(rate_ds["x"].values, rate_ds["y"].values))
    ds = scores_to_dataset(out, rate_ds["unit"].values)
    ds["score60"].attrs["definition"] = (
        "mean(c60,c120) - mean(c30,c90,c150)" if params.variant == "mean"
        else "min(c60,c120) - max(c30,c90,c150)") + ", max over annuli"
    ds.attrs.update(score_params_attrs(params, border if arena is not None else None, band,
                                       geometry))
    ds.attrs["bin_size"] = rate_ds.attrs["bin_size"]
    return ds


def scores_to_dataset(out: dict, unit: np.ndarray) -> xr.Dataset:
    """Per-unit outputs of :func:`score_maps` as a Dataset on dim ``unit`` with attributes."""
    data = {k: ("unit", np.asarray(v), dict(SCORE_ATTRS.get(k, {}))) for k, v in out.items()
            if np.ndim(v) == 1}
    return xr.Dataset(data, coords={"unit": ("unit", np.asarray(unit))})
