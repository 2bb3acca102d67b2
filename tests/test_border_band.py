"""Border score, band score and grid spacing/orientation on synthetic maps in the three arenas.

Maps are evaluated at the bin centres of the default 5 cm grid and masked by the polygon
(square side 1 m: 20x20 bins; triangle side 1.5 m: 26x30; hexagon side 0.6 m: 21x24).
Measured (cw.analysis.scores defaults), min..max over each family, per arena (square | triangle |
hexagon):

  family                               border score                band score
  field along one wall, s.d. 5 cm      0.86 | 0.85..0.87 | 0.88..0.89   0.27 | 0.16..0.17 | 0.15..0.17
  same, s.d. 10 cm                     0.79 | 0.77       | 0.80..0.81   0.26 | 0.26       | 0.25..0.28
  same (5 cm), activity negated        identical (polarity "both")
  Gaussian field (s.d. 10 cm) near     -1   | -1         | -1           0.00 | 0.01..0.04 | 0.02..0.10
    the centre
  plane waves (3 wavelengths x 7       -0.12..0.53 | -0.20..0.55 | 0.25..0.51   0.78..0.83 | 0.58..0.67 | 0.78..0.82
    orientations)
  same + noise (s.d. 0.5)              -1..0.77    | -1..0.50    | -1..0.75     0.64..0.73 | 0.48..0.57 | 0.64..0.71
  hexagonal grids (3 x 3)              -0.46..0.08 | -0.55..-0.15 | -0.20..0.40  0.00..0.01 | 0.00..0.02 | 0.00..0.01
  square lattices (3 x 3)              -1   | -1         | -1          0.00..0.02 | 0.00..0.04 | 0.00..0.01
  i.i.d. noise (10 maps)               -1   | -1         | -1          -0.01..0.05 | -0.01..0.04 | -0.04..0.04

Lattice contrast (grid_contrast): hexagonal grids 1.12..1.31, square lattices 0.88..1.02, wall
fields 0.00..0.01, i.i.d. noise 0.03..0.15, central Gaussian NaN (no peaks).
Grid spacing and orientation of clean lattices are recovered to < 1 % and < 1 deg at 2.5 cm
bins and within 4 % / 2 deg at the default 5 cm.
"""

from __future__ import annotations

import numpy as np
import pytest

from cw.task.arenas import make_arena
from cw.analysis.celltypes import CellTypeParams
from cw.analysis.ratemaps import bin_edges
from cw.analysis.scores import (
    SCORE_NAMES,
    BandScoreParams,
    BorderScoreParams,
    GridGeometryParams,
    ScoreParams,
    autocorrelogram,
    band_scores,
    border_scores,
    grid_geometry,
    score_maps,
    scores_dataset,
    spatial_variance_fraction,
)
from cw.synthetic import cosine_lattice

#: Arenas of about 1 m^2 at 0.05-m bins (the rate-map grid of about 20 bins across, as the 2-m
#: arenas of config.yaml at 0.1-m bins): the border score's smallest field is 8 bins here too.
BORDER = BorderScoreParams(min_field_area=0.02)

ARENAS = {
    "square": {"shape": "square", "side": 1.0},
    "triangle": {"shape": "triangle", "side": 1.5},
    "hexagon": {"shape": "hexagon", "side": 0.6},
}


BIN = 0.05  # bin size (m) of the test maps


def _grid(arena, bin_size=BIN):
    xe, ye = bin_edges(arena.bounds, bin_size)
    xc, yc = 0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1])
    X, Y = np.meshgrid(xc, yc)
    return xc, yc, X, Y, arena.contains(np.stack([X, Y], -1))


def _wave(X, Y, spacing, theta, n, phase=(0.03, -0.05)):
    return cosine_lattice(X, Y, spacing, theta, n, phase)


def _wall_field(arena, X, Y, k, sigma=0.05):
    d = arena.wall_distances(np.stack([X, Y], -1))[..., k]
    return np.exp(-(d**2) / (2 * sigma**2))


@pytest.fixture(scope="module", params=list(ARENAS))
def arena_grid(request):
    ar = make_arena(request.param, ARENAS[request.param])
    return (ar,) + _grid(ar)


# ------------------------------------------------------------------------------- border score
def test_border_high_for_a_field_along_each_wall(arena_grid):
    ar, xc, yc, X, Y, inside = arena_grid
    for sigma in (0.05, 0.1):
        maps = np.array([_wall_field(ar, X, Y, k, sigma) for k in range(ar.n_walls)])
        maps = np.where(inside, maps, np.nan)
        out = border_scores(maps, xc, yc, ar, BORDER, bin_size=BIN)
        assert np.all(out["border_score"] > 0.75), out["border_score"]
        np.testing.assert_array_equal(out["border_wall"], np.arange(ar.n_walls))
        assert np.all(out["border_cm"] > 0.95)
        assert np.all(out["border_dm"] < 0.15)
        np.testing.assert_array_equal(out["border_polarity"], 1)
        # the sign of a tanh unit is arbitrary: a wall field of low activity scores the same
        neg = border_scores(-maps, xc, yc, ar, BORDER, bin_size=BIN)
        np.testing.assert_allclose(neg["border_score"], out["border_score"])
        np.testing.assert_array_equal(neg["border_polarity"], -1)
        pos_only = border_scores(-maps, xc, yc, ar, BorderScoreParams(polarity="positive", min_field_area=0.02),
                                 bin_size=BIN)
        assert np.all(pos_only["border_score"] < 0.0)


def test_border_low_for_central_fields_and_noise(arena_grid):
    ar, xc, yc, X, Y, inside = arena_grid
    maps = [np.exp(-((X - cx) ** 2 + (Y - cy) ** 2) / (2 * 0.1**2))
            for cx, cy in [(0.0, 0.0), (0.1, 0.05), (-0.1, 0.0)]]
    out = border_scores(np.where(inside, np.array(maps), np.nan), xc, yc, ar, bin_size=BIN)
    assert np.all(out["border_score"] <= -0.99), out["border_score"]
    rng = np.random.default_rng(0)
    noise = np.where(inside, rng.normal(size=(10,) + X.shape), np.nan)
    assert np.all(border_scores(noise, xc, yc, ar, bin_size=BIN)["border_score"] < 0.3)


def test_border_tolerates_unvisited_wall_bins():
    ar = make_arena("square", ARENAS["square"])
    xc, yc, X, Y, inside = _grid(ar)
    m = np.where(inside, _wall_field(ar, X, Y, 0, 0.1), np.nan)
    m[0, ::3] = np.nan  # a third of the bins along the wall never visited
    out = border_scores(m, xc, yc, ar, bin_size=BIN)
    assert out["border_score"][0] > 0.7 and out["border_cm"][0] > 0.95


def test_border_degenerate_maps():
    ar = make_arena("square", ARENAS["square"])
    xc, yc, X, Y, inside = _grid(ar)
    const = np.where(inside, 0.3, np.nan)
    allnan = np.full(X.shape, np.nan)
    out = border_scores(np.array([const, allnan]), xc, yc, ar, bin_size=BIN)
    assert np.all(np.isnan(out["border_score"]))
    tiny = np.where(inside, 0.0, np.nan)
    tiny[10, 10] = 1.0  # one-bin field: smaller than min_field_area -> no field -> -1
    assert border_scores(tiny, xc, yc, ar, bin_size=BIN)["border_score"][0] == -1.0


def test_border_accepts_corner_array_in_any_orientation():
    ar = make_arena("triangle", ARENAS["triangle"])
    xc, yc, X, Y, inside = _grid(ar)
    m = np.where(inside, _wall_field(ar, X, Y, 1), np.nan)
    a = border_scores(m, xc, yc, ar, bin_size=BIN)
    b = border_scores(m, xc, yc, ar.corners[::-1], bin_size=BIN)
    assert a["border_score"][0] == pytest.approx(b["border_score"][0])


# --------------------------------------------------------------------------------- band score
def test_band_high_for_plane_waves_at_any_orientation(arena_grid):
    ar, xc, yc, X, Y, inside = arena_grid
    spacings, thetas = (0.25, 0.35, 0.5), (0.0, 17.0, 41.0, 60.0, 90.0, 123.0, 160.0)
    maps = np.array([_wave(X, Y, s, t, 1) for s in spacings for t in thetas])
    out = band_scores(np.where(inside, maps, np.nan), 0.05)
    assert np.all(out["band_score"] > 0.55), out["band_score"].min()
    # the strongest component is the planted wave: wavelength and orientation
    wl = np.repeat(spacings, len(thetas))
    th = np.tile(thetas, len(spacings)) % 180.0
    np.testing.assert_allclose(out["band_wavelength"], wl, rtol=0.12)
    dth = np.abs((out["band_orientation"] - th + 90.0) % 180.0 - 90.0)
    assert np.all(dth < 6.0), dth.max()
    rng = np.random.default_rng(3)
    noisy = np.where(inside, maps + 0.5 * rng.normal(size=maps.shape), np.nan)
    assert np.all(band_scores(noisy, 0.05)["band_score"] > 0.42)


def test_band_low_for_grids_fields_and_noise(arena_grid):
    ar, xc, yc, X, Y, inside = arena_grid
    grids = [_wave(X, Y, s, t, n) for n in (3, 2) for s in (0.25, 0.35, 0.5)
             for t in (0.0, 17.0, 41.0)]
    out = band_scores(np.where(inside, np.array(grids), np.nan), 0.05)
    assert np.all(out["band_score"] < 0.1), out["band_score"].max()
    walls = [_wall_field(ar, X, Y, k, s) for k in range(ar.n_walls) for s in (0.05, 0.1)]
    assert np.all(band_scores(np.where(inside, np.array(walls), np.nan), 0.05)["band_score"] < 0.33)
    rng = np.random.default_rng(1)
    noise = np.where(inside, rng.normal(size=(10,) + X.shape), np.nan)
    assert np.all(np.abs(band_scores(noise, 0.05)["band_score"]) < 0.15)
    # a pure gradient is removed by the detrending: no band
    ramp = np.where(inside, X + 0.3 * Y + 0.05 * rng.normal(size=X.shape), np.nan)
    assert band_scores(ramp, 0.05)["band_score"][0] < 0.1


def test_band_sign_invariant_and_degenerate():
    ar = make_arena("square", ARENAS["square"])
    xc, yc, X, Y, inside = _grid(ar)
    m = _wave(X, Y, 0.3, 25.0, 1)
    a, b = band_scores(m, 0.05), band_scores(-m, 0.05)
    assert a["band_score"][0] == pytest.approx(b["band_score"][0])
    out = band_scores(np.array([np.full(X.shape, np.nan), np.full(X.shape, 2.0)]), 0.05)
    assert np.all(np.isnan(out["band_score"]))


# ---------------------------------------------------------------------------- grid geometry
@pytest.mark.parametrize("name", list(ARENAS))
def test_grid_spacing_and_orientation(name):
    ar = make_arena(name, ARENAS[name])
    xc, yc, X, Y, inside = _grid(ar)
    for s in (0.25, 0.35, 0.5):
        for t in (0.0, 17.0, 41.0):
            hexg = np.where(inside, _wave(X, Y, s, t, 3), np.nan)
            g = grid_geometry(autocorrelogram(hexg), 0.05, valid=np.isfinite(hexg))
            assert g["grid_spacing"][0] == pytest.approx(s, rel=0.04)
            # real-space axes of three cosines at t, t+60, t+120 lie at t+30 (mod 60)
            d = abs((g["grid_orientation60"][0] - (t + 30.0) + 30.0) % 60.0 - 30.0)
            assert d < 2.0, (s, t, g["grid_orientation60"][0])
            sq = np.where(inside, _wave(X, Y, s, t, 2), np.nan)
            g = grid_geometry(autocorrelogram(sq), 0.05, valid=np.isfinite(sq))
            assert g["grid_spacing"][0] == pytest.approx(s, rel=0.04)
            d = abs((g["grid_orientation90"][0] - t + 45.0) % 90.0 - 45.0)
            assert d < 2.0, (s, t, g["grid_orientation90"][0])


def test_single_field_has_no_lattice_peaks():
    ar = make_arena("square", ARENAS["square"])
    xc, yc, X, Y, inside = _grid(ar)
    blob = np.exp(-((X - 0.05) ** 2 + (Y - 0.02) ** 2) / (2 * 0.2**2))
    sac = autocorrelogram(blob)
    # at the extreme lags (1 column of overlap) opposite edges correlate perfectly ...
    assert grid_geometry(sac, 0.05)["grid_n_peaks"][0] == 4
    # ... which the overlap condition discards
    assert grid_geometry(sac, 0.05, valid=np.isfinite(blob))["grid_n_peaks"][0] == 0
    assert score_maps(blob[None], xc, yc, bin_size=BIN)["grid_n_peaks"][0] == 0


def test_grid_geometry_without_peaks_is_nan():
    g = grid_geometry(np.full((1, 39, 39), np.nan))
    assert np.isnan(g["grid_spacing"][0]) and g["grid_n_peaks"][0] == 0
    with pytest.raises(ValueError, match="scores.geometry.n_peaks"):
        GridGeometryParams(n_peaks=2)


# ----------------------------------------------------------------------- all scores together
def test_score_maps_and_dataset_hold_every_score():
    import xarray as xr

    ar = make_arena("hexagon", ARENAS["hexagon"])
    xc, yc, X, Y, inside = _grid(ar)
    maps = np.where(inside, np.array([
        _wave(X, Y, 0.3, 10.0, 3), _wave(X, Y, 0.3, 10.0, 1), _wall_field(ar, X, Y, 2)]), np.nan)
    occ = np.where(inside, 50, 0)
    out = score_maps(maps, xc, yc, ar, border=BORDER, occupancy=occ, activity_variance=np.nanvar(maps, axis=(1, 2)),
                     bin_size=BIN)
    for name in SCORE_NAMES:
        assert out[name].shape == (3,)
    assert out["score60"][0] > 1.0
    assert out["band_score"][1] > 0.6 and out["band_score"][0] < 0.1
    assert out["border_score"][2] > 0.8
    # noiseless maps with uniform occupancy: all variance is spatial
    np.testing.assert_allclose(out["spatial_variance_fraction"], 1.0, rtol=1e-9)

    ds = xr.Dataset({"rate": (("unit", "y", "x"), maps), "occupancy": (("y", "x"), occ)},
                    coords={"unit": [4, 5, 6], "x": xc, "y": yc},
                    attrs={"arena_corners": ar.corners.ravel(), "bin_size": 0.05})
    sds = scores_dataset(ds, border=BORDER)
    assert sds["border_score"].values[2] == pytest.approx(out["border_score"][2])
    np.testing.assert_array_equal(sds.unit.values, [4, 5, 6])
    for v in ("grid_spacing", "band_wavelength", "border_score", "band_score"):
        assert "units" in sds[v].attrs and "long_name" in sds[v].attrs
    assert sds.attrs["border_polarity"] == "both" and sds.attrs["band_min_angle"] == 30.0
    assert np.isnan(sds["spatial_variance_fraction"]).all()  # no activity variance given


def test_spatial_variance_fraction_definition():
    rng = np.random.default_rng(2)
    rate = rng.normal(size=(2, 5, 6))
    occ = rng.integers(1, 20, size=(5, 6))
    var = np.array([2.0, 4.0])
    got = spatial_variance_fraction(rate, occ, var)
    for u in range(2):
        mu = np.sum(occ * rate[u]) / occ.sum()
        assert got[u] == pytest.approx(np.sum(occ * (rate[u] - mu) ** 2) / occ.sum() / var[u])


def test_params_validation_names_config_keys():
    with pytest.raises(ValueError, match="scores.border.field_threshold"):
        BorderScoreParams(field_threshold=1.5)
    with pytest.raises(ValueError, match="scores.border.polarity"):
        BorderScoreParams(polarity="up")
    with pytest.raises(ValueError, match="scores.border.max_field_fraction"):
        BorderScoreParams(max_field_fraction=0.0)
    with pytest.raises(ValueError, match="scores.band.min_wavelength"):
        BandScoreParams(min_wavelength=1.0)
    with pytest.raises(ValueError, match="scores.band.pad_factor"):
        BandScoreParams(pad_factor=0)
    with pytest.raises(ValueError, match="scores.variant"):
        ScoreParams.from_dict({"variant": "median"})
    with pytest.raises(ValueError, match="scores.border.width"):
        ScoreParams.from_dict({"border": {"width": 1}})
    with pytest.raises(ValueError, match="scores.colour"):
        ScoreParams.from_dict({"colour": 1})
    with pytest.raises(ValueError, match=r"^scores.geometry.n_peak: unknown key$"):
        ScoreParams.from_dict({"geometry": {"n_peak": 6}})
    with pytest.raises(ValueError, match="scores.band: must be a mapping"):
        ScoreParams.from_dict({"band": [1]})
    ar = make_arena("square", ARENAS["square"])
    xc, yc, X, Y, inside = _grid(ar)
    with pytest.raises(ValueError, match="bin_size: the bin centres x, y are not spaced by bin_size = 0.1"):
        score_maps(X[None], xc, yc, ar, bin_size=0.1)
    with pytest.raises(ValueError, match="bin_size: must be a number > 0"):
        border_scores(X[None], xc, yc, ar, bin_size=0)
    with pytest.raises(ValueError, match="scores.n_rings"):
        ScoreParams.from_dict({"n_rings": 0})
    with pytest.raises(ValueError, match="scores.outer_radius_max"):
        ScoreParams.from_dict({"outer_radius_min": 0.8, "outer_radius_max": 0.5})
    p = ScoreParams.from_dict({"inner_radius": 0.2, "outer_radius_min": 0.4, "outer_radius_max": 1.0,
                               "n_rings": 4, "variant": "minmax", "band": {"min_angle": 40}})
    assert p.grid.outer_radii == pytest.approx((0.4, 0.6, 0.8, 1.0))
    assert p.grid.variant == "minmax" and p.band.min_angle == 40


def test_triangle_single_field_scores_high_but_has_no_lattice():
    """The caveat of cw.analysis.scores: the triangle's own 6-fold autocorrelation gives one smooth
    central field score60 ~ 1.4; the missing lattice peaks expose it (cw.analysis.celltypes)."""
    ar = make_arena("triangle", ARENAS["triangle"])
    xc, yc, X, Y, inside = _grid(ar)
    blob = np.where(inside, np.exp(-(X**2 + Y**2) / (2 * 0.1**2)), np.nan)
    out = score_maps(blob[None], xc, yc, ar, bin_size=BIN)
    assert out["score60"][0] > 1.0
    assert out["grid_n_peaks"][0] == 0 and np.isnan(out["grid_contrast"][0])
    hexg = np.where(inside, _wave(X, Y, 0.35, 10.0, 3), np.nan)
    out = score_maps(hexg[None], xc, yc, ar, bin_size=BIN)
    assert out["grid_n_peaks"][0] >= 6 and out["grid_contrast"][0] > 0.9


def test_lattice_contrast_separates_grids_from_smooth_maps_with_noise():
    rng = np.random.default_rng(6)
    for name in ARENAS:
        ar = make_arena(name, ARENAS[name])
        xc, yc, X, Y, inside = _grid(ar)
        grids = [_wave(X, Y, s, t, n) + rng.normal(size=X.shape)  # noise as strong as the grid
                 for n in (3, 2) for s in (0.25, 0.35, 0.5) for t in (0.0, 17.0, 41.0)]
        out = score_maps(np.where(inside, np.array(grids), np.nan), xc, yc, bin_size=BIN)
        assert np.all(out["grid_contrast"] >= 0.3), (name, out["grid_contrast"].min())
        smooth = [X + 0.3 * rng.normal(size=X.shape), Y - X + 0.3 * rng.normal(size=X.shape),
                  np.exp(-((X - 0.1) ** 2 + Y**2) / (2 * 0.25**2)) + 0.1 * rng.normal(size=X.shape)]
        out = score_maps(np.where(inside, np.array(smooth), np.nan), xc, yc, bin_size=BIN)
        # gradients: no peaks with troughs before them; the central field may get spurious
        # peaks at the map's edges (contrast up to ~0.25) but never a regular lattice of fields
        assert np.all(~(out["grid_contrast"][:2] >= 0.15)), (name, out["grid_contrast"])
        p = CellTypeParams()
        with np.errstate(invalid="ignore"):
            fit = np.abs(out["lattice_r2"])
            hexagonal = (fit >= p.min_lattice_r2) & (out["n_fields"] >= p.min_hex_fields) \
                & (fit - np.abs(out["field_r2"]) >= p.min_lattice_margin)
            square = (out["grid_contrast"] >= p.min_grid_contrast) \
                & (out["grid_square_order"] >= p.min_square_order) \
                & (out["grid_square_ratio"] <= p.max_square_spacing_ratio) \
                & (out["n_fields"] >= p.min_grid_fields) \
                & (np.abs(out["square_lattice_r2"]) >= p.min_square_lattice_r2)
        assert not (hexagonal | square).any(), (name, out["lattice_r2"], out["n_fields"])


def test_compiled_spectral_peaks_equal_the_numpy_expressions():
    """Steps 3-6 of the band score (compiled) against their numpy expressions over the same
    tables: ties broken by the first index, no second peak when nothing is apart from k1."""
    import scipy.fft as sfft

    from cw.analysis.scores.band import BandScoreParams, _band_tables, _spectral_peaks

    rng = np.random.default_rng(4)
    xc = np.arange(-0.95, 1.0, 0.1)
    X, Y = np.meshgrid(xc, xc)
    maps = np.concatenate([rng.normal(size=(40, 20, 20)), np.stack(
        [cosine_lattice(X, Y, w, o, k) for w in (0.3, 0.7) for o in (0.0, 40.0) for k in (1, 2, 3)]),
        np.zeros((1, 20, 20))])
    n_fft, ann, low, *_, disc, apart = _band_tables(20, 20, 0.1, BandScoreParams())
    F = sfft.fft(sfft.rfft(maps, n=n_fft, axis=-1), n=n_fft, axis=-2).reshape(len(maps), -1)
    n = len(maps)
    i1, tot, p1, p2 = np.empty(n, np.int64), np.empty(n), np.empty(n), np.empty(n)
    _spectral_peaks()(F, ann, low, disc, apart, i1, tot, p1, p2)
    P = F.real ** 2 + F.imag ** 2
    Pa = P[:, ann]
    r1 = np.argmax(Pa, axis=1)
    D1 = disc[r1]
    P2c = np.where(~D1 & apart[r1], Pa, -1.0)
    r2 = np.argmax(P2c, axis=1)
    has2 = P2c[np.arange(n), r2] >= 0
    np.testing.assert_array_equal(i1, r1)
    np.testing.assert_allclose(tot, P[:, low].sum(axis=1), rtol=1e-12, atol=0)
    np.testing.assert_allclose(p1, np.sum(Pa * D1, axis=1), rtol=1e-12, atol=0)
    np.testing.assert_allclose(p2, np.sum(Pa * (disc[r2] & ~D1 & has2[:, None]), axis=1),
                               rtol=1e-12, atol=1e-300)
    assert i1[-1] == 0 and tot[-1] == 0 and p2[-1] == 0  # an all-zero map: first index, no power
    assert np.count_nonzero(p2 > 0) > 40
