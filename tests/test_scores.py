"""Tests for cw.analysis.scores: NaN-aware autocorrelogram and grid scores on synthetic maps.

Measured values (default GridScoreParams; the test families below: 20/32/40-bin maps,
spacings 0.25/0.35/0.5 of the map width, orientations 0/17/41 deg, 3 phases; "square
map" = unmasked, "masked" = NaN outside a hexagon or triangle):

  family          map     score60 "mean"   score60 "minmax"   score90
  hexagonal grid  square   1.35 .. 1.58     1.34 .. 1.58      -0.11 .. 0.36
                  masked   0.75 .. 1.63     0.72 .. 1.62      -0.58 .. 0.59
                  (masked, spacing <= 0.35: score60 >= 1.33; score60 - score90 >= 0.96)
  square lattice  square  -0.36 .. -0.30   -1.09 .. -0.86      1.08 .. 1.91
                  masked  -0.38 .. -0.13   -1.16 .. -0.64      1.04 .. 1.91
  plane wave      square   0.17 .. 0.31     0.03 .. 0.20       0.06 .. 0.52
                  masked  -0.08 .. 0.37    -0.18 .. 0.28       0.06 .. 0.58
  i.i.d. noise    mean over 20 maps: score60 0.03 .. 0.12, score90 0.09 .. 0.13
                  (the max over 10 annuli biases noise scores slightly positive)

The lowest grid scores (0.72-0.9) are spacing 0.5 in the triangle (about 3 fields inside).
A sweep over 8 random phases gave the same picture (grids: score60 >= 0.75 masked /
1.33 unmasked, score90 <= 0.8 masked / 0.43 unmasked; square lattices score90 >= 1.04;
plane waves score60 <= 0.42, score90 <= 0.58).  The thresholds below sit between these
families with margin.  A perfect hexagonal grid has c90 = c30 (90 = 30 mod 60), which is
positive in some annuli, so its score90 is "low" relative to its score60 (gap > 0.5,
> 0.8 with several periods in the arena) and to square lattices, not always below 0.3.
"""

from __future__ import annotations


import numpy as np
import pytest
import xarray as xr

from cw.analysis.ratemaps import compute_ratemaps
from cw.analysis.scores import GridScoreParams, autocorrelogram, grid_scores, scores_dataset
from cw.synthetic import cosine_lattice

SPACINGS = (0.25, 0.35, 0.5)  # fraction of the map width
ORIENTATIONS = (0.0, 17.0, 41.0)  # degrees
PHASES = ((0.11, -0.07), (-0.23, 0.31), (0.4, 0.05))  # lattice offsets (map widths)


def _coords(n):
    c = (np.arange(n) + 0.5) / n - 0.5
    return np.meshgrid(c, c)


def lattice(n, spacing, theta_deg, n_waves, phase=(0.11, -0.07)):
    """Sum of n_waves cosines: 3 at 60 deg = hexagonal grid (vertex spacing `spacing`),
    2 at 90 deg = square lattice, 1 = plane wave (wavelength `spacing`)."""
    X, Y = _coords(n)
    return cosine_lattice(X, Y, spacing, theta_deg, n_waves, phase)


def _inside_convex(points, corners):
    """Point in convex polygon with ccw corners: left of (or on) every edge."""
    ok = np.ones(points.shape[:-1], dtype=bool)
    for a, b in zip(corners, np.roll(corners, -1, axis=0)):
        ok &= (b[0] - a[0]) * (points[..., 1] - a[1]) - (b[1] - a[1]) * (points[..., 0] - a[0]) >= 0
    return ok


def _polygon_mask(n, kind):
    X, Y = _coords(n)
    if kind == "hexagon":
        ang = np.deg2rad(np.arange(6) * 60.0)
        corners = 0.5 * np.stack([np.cos(ang), np.sin(ang)], 1)
    else:  # triangle, our own corners
        ang = np.deg2rad(90.0 + np.arange(3) * 120.0)
        corners = 0.55 * np.stack([np.cos(ang), np.sin(ang)], 1)
    return _inside_convex(np.stack([X, Y], -1), corners)


def _family(n, n_waves, mask_kind, spacings=SPACINGS):
    maps = np.array([lattice(n, s, t, n_waves, phase=ph)
                     for s in spacings for t in ORIENTATIONS for ph in PHASES])
    if mask_kind is not None:
        maps = np.where(_polygon_mask(n, mask_kind)[None], maps, np.nan)
    return maps


def _direct_sac_value(rate, dy, dx):
    ny, nx = rate.shape
    a = rate[max(0, -dy): ny - max(0, dy), max(0, -dx): nx - max(0, dx)]
    b = rate[max(0, dy): ny + min(0, dy), max(0, dx): nx + min(0, dx)]
    ok = np.isfinite(a) & np.isfinite(b)
    return np.corrcoef(a[ok], b[ok])[0, 1], ok.sum()


# ---------------------------------------------------------------------------
# autocorrelogram
# ---------------------------------------------------------------------------
def test_sac_matches_direct_pearson_and_centre_is_one():
    rng = np.random.default_rng(0)
    r = rng.normal(size=(17, 23)) + 5.0
    r[rng.random(r.shape) < 0.2] = np.nan
    r[:3, :5] = np.nan
    sac = autocorrelogram(r, min_overlap=20)
    assert sac.shape == (33, 45)
    assert sac[16, 22] == pytest.approx(1.0, abs=1e-9)
    for dy, dx in [(0, 1), (1, 0), (3, -4), (-5, 7), (10, 15), (-12, -3)]:
        expect, npairs = _direct_sac_value(r, dy, dx)
        got = sac[16 + dy, 22 + dx]
        if npairs >= 20:
            assert got == pytest.approx(expect, abs=1e-9), (dy, dx)
        else:
            assert np.isnan(got)
    # extreme lags have < min_overlap pairs -> NaN
    assert np.isnan(sac[0, 0]) and np.isnan(sac[-1, -1])
    assert np.nanmax(np.abs(sac)) <= 1.0


def test_sac_point_symmetric():
    rng = np.random.default_rng(1)
    r = rng.normal(size=(20, 26))
    r[rng.random(r.shape) < 0.15] = np.nan
    sac = autocorrelogram(r)
    rot = sac[::-1, ::-1]
    np.testing.assert_array_equal(np.isnan(sac), np.isnan(rot))
    fin = np.isfinite(sac)
    np.testing.assert_allclose(sac[fin], rot[fin], atol=1e-9)


def test_sac_of_plane_wave_is_plane_wave():
    n = 30
    # wave along x: the map is constant along y, so the SAC does not depend on dy
    X, Y = _coords(n)
    wave = np.cos(2 * np.pi * X / 0.3)
    sac = autocorrelogram(wave, min_overlap=20)
    for j in range(sac.shape[1]):
        col = sac[:, j]
        col = col[np.isfinite(col)]
        if col.size:
            np.testing.assert_allclose(col, col[0], atol=1e-8)
    # oblique wave: SAC ~ cos(k.d) in the well-sampled centre, and constant along wavefronts
    theta, lam = np.deg2rad(30.0), 0.25
    wave = np.cos(2 * np.pi * (np.cos(theta) * X + np.sin(theta) * Y) / lam)
    sac = autocorrelogram(wave)
    d = np.arange(-(n - 1), n) / n
    DX, DY = np.meshgrid(d, d)
    model = np.cos(2 * np.pi * (np.cos(theta) * DX + np.sin(theta) * DY) / lam)
    central = np.hypot(DX, DY) < 0.5
    c = np.corrcoef(sac[central], model[central])[0, 1]
    assert c > 0.98
    np.testing.assert_allclose(sac[central], model[central], atol=0.15)


def test_sac_degenerate_maps_are_nan():
    assert np.all(np.isnan(autocorrelogram(np.full((10, 10), 3.0))))
    assert np.all(np.isnan(autocorrelogram(np.full((10, 10), np.nan))))
    stack = np.stack([np.random.default_rng(0).normal(size=(8, 8)), np.ones((8, 8))])
    out = autocorrelogram(stack)
    assert out.shape == (2, 15, 15)
    assert out[0, 7, 7] == pytest.approx(1.0) and np.all(np.isnan(out[1]))


# ---------------------------------------------------------------------------
# grid scores on synthetic families
# ---------------------------------------------------------------------------
CASES = [(20, None), (40, None), (20, "hexagon"), (32, "hexagon"), (20, "triangle"),
         (40, "triangle")]


@pytest.mark.parametrize("variant", ["mean", "minmax"])
@pytest.mark.parametrize("n,mask", CASES)
def test_hexagonal_grids_score_high(n, mask, variant):
    p = GridScoreParams(variant=variant)
    out = grid_scores(_family(n, 3, mask), p)
    s60, s90 = out["score60"], out["score90"]
    # all spacings incl. 0.5 of the map width (only ~3 fields inside the triangle)
    assert np.all(s60 > 0.7), s60
    assert np.all(s60 - s90 > 0.5), s60 - s90
    # grids with several periods in the arena (or unmasked maps) clear 1.0 comfortably
    small = grid_scores(_family(n, 3, mask, spacings=SPACINGS[:2]), p)
    assert np.all(small["score60"] > 1.0), small["score60"]
    assert np.all(small["score60"] - small["score90"] > 0.8)
    if mask is None:
        assert np.all(s60 > 1.2), s60
        assert np.all(s90 < 0.5), s90
    else:
        assert np.all(s90 < 0.9), s90


@pytest.mark.parametrize("variant", ["mean", "minmax"])
@pytest.mark.parametrize("n,mask", CASES)
def test_square_lattices_score90_high(n, mask, variant):
    out = grid_scores(_family(n, 2, mask), GridScoreParams(variant=variant))
    s60, s90 = out["score60"], out["score90"]
    assert np.all(s90 > 0.95), s90
    assert np.all(s60 < -0.05), s60
    if variant == "minmax":
        assert np.all(s60 < -0.5), s60


@pytest.mark.parametrize("variant", ["mean", "minmax"])
@pytest.mark.parametrize("n,mask", CASES)
def test_plane_waves_score_low(n, mask, variant):
    out = grid_scores(_family(n, 1, mask), GridScoreParams(variant=variant))
    s60, s90 = out["score60"], out["score90"]
    assert np.all(np.abs(s60) < 0.5), s60
    assert np.all(s90 < 0.7), s90


@pytest.mark.parametrize("variant", ["mean", "minmax"])
def test_orderings_between_families(variant):
    p = GridScoreParams(variant=variant)
    for n, mask in CASES:
        hexg = grid_scores(_family(n, 3, mask), p)
        sq = grid_scores(_family(n, 2, mask), p)
        pw = grid_scores(_family(n, 1, mask), p)
        # score60: every grid beats every plane wave beats every square lattice
        assert hexg["score60"].min() > pw["score60"].max() > sq["score60"].max()
        assert pw["score60"].min() > sq["score60"].max()
        # score90: every square lattice beats every grid and every plane wave
        assert sq["score90"].min() > max(hexg["score90"].max(), pw["score90"].max())


def test_noise_maps_score_near_zero():
    rng = np.random.default_rng(7)
    for variant in ("mean", "minmax"):
        p = GridScoreParams(variant=variant)
        for n, mask in [(32, None), (32, "hexagon"), (20, None)]:
            maps = rng.normal(size=(20, n, n))
            if mask is not None:
                maps = np.where(_polygon_mask(n, mask)[None], maps, np.nan)
            out = grid_scores(maps, p)
            assert np.all(np.isfinite(out["score60"]))
            assert abs(out["score60"].mean()) < 0.2, out["score60"].mean()
            assert abs(out["score90"].mean()) < 0.25, out["score90"].mean()
            assert np.all(np.abs(out["score60"]) < 0.6)


def test_minmax_never_exceeds_mean_variant():
    maps = np.concatenate([_family(20, 3, None), _family(20, 1, "triangle")])
    a = grid_scores(maps, GridScoreParams(variant="mean"))
    b = grid_scores(maps, GridScoreParams(variant="minmax"))
    # min <= mean and max >= mean per ring, hence per maximum over rings
    assert np.all(b["score60"] <= a["score60"] + 1e-12)
    np.testing.assert_allclose(a["score90"], b["score90"])


def test_scores_rotation_and_radius_outputs():
    n = 20
    maps = _family(n, 3, None)
    out = grid_scores(maps)
    radii = out["outer_radii_bins"]
    np.testing.assert_allclose(radii, np.linspace(0.4, 1.0, 10) * n)
    assert np.all(np.isin(out["ring60"], radii))
    assert out["corr"].shape == (len(maps), 7, 10)
    # a hexagonal grid correlates with its 60 and 120 deg rotations (~1) in every ring
    c = out["corr"]
    assert np.all(c[:, 2] > 0.85) and np.all(c[:, 4] > 0.85)  # measured min 0.875
    assert np.median(c[:, [2, 4]]) > 0.98


def test_degenerate_maps_give_nan_not_exception():
    n = 20
    maps = np.stack([
        np.full((n, n), 2.0),                    # constant
        np.full((n, n), np.nan),                 # all NaN
        np.where(np.eye(n, dtype=bool), 1.0, np.nan),  # too few valid bins
        lattice(n, 0.35, 10.0, 3),               # a normal grid alongside
    ])
    out = grid_scores(maps)
    for key in ("score60", "score90", "ring60", "ring90"):
        assert np.all(np.isnan(out[key][:3])), key
    assert out["score60"][3] > 1.0
    single = grid_scores(lattice(n, 0.35, 10.0, 3))  # a single (ny, nx) map
    assert single["score60"].shape == (1,)
    assert single["score60"][0] == pytest.approx(out["score60"][3])


def test_params_validation():
    with pytest.raises(ValueError):
        GridScoreParams(variant="median")
    with pytest.raises(ValueError):
        GridScoreParams(inner_radius=0.5, outer_radii=(0.4, 0.6))
    p = GridScoreParams(outer_radii=np.linspace(0.4, 1.0, 5))
    assert isinstance(p.outer_radii, tuple) and len(p.outer_radii) == 5


# ---------------------------------------------------------------------------
# end to end: trajectory samples -> rate maps -> scores dataset
# ---------------------------------------------------------------------------
def test_scores_dataset_end_to_end(tmp_path):
    try:
        from cw.task.arenas import make_arena

        arena = make_arena("square", {"shape": "square", "side": 1.0})
    except ImportError:
        arena = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    rng = np.random.default_rng(5)
    S = 100_000
    x = rng.uniform(-0.5, 0.5, S)
    y = rng.uniform(-0.5, 0.5, S)

    def wave_sum(nw, spacing, theta):
        if nw == 3:
            k, step = 4 * np.pi / (np.sqrt(3) * spacing), 60.0
        else:
            k, step = 2 * np.pi / spacing, 90.0
        z = 0.0
        for i in range(nw):
            a = np.deg2rad(theta + step * i)
            z = z + np.cos(k * (np.cos(a) * x + np.sin(a) * y))
        return z

    act = np.stack([wave_sum(3, 0.35, 12.0), wave_sum(2, 0.3, 5.0), wave_sum(1, 0.3, 20.0),
                    rng.normal(size=S)], axis=1)
    rds = compute_ratemaps(x, y, act, arena, 0.05)
    for variant in ("mean", "minmax"):
        sds = scores_dataset(rds, GridScoreParams(variant=variant))
        assert sds.score60.dims == ("unit",)
        np.testing.assert_array_equal(sds.unit.values, rds.unit.values)
        s60, s90 = sds.score60.values, sds.score90.values
        assert s60[0] > 1.0 and s60[0] > s60[1:].max()
        assert s90[1] > 0.9 and s90[1] > max(s90[0], s90[2], s90[3])
        assert sds.score60.attrs["units"] == "1" and "long_name" in sds.score90.attrs
        assert sds.attrs["grid_score_variant"] == variant
        assert sds.attrs["grid_score_inner_radius"] == 0.2
        np.testing.assert_allclose(sds.attrs["grid_score_outer_radii"],
                                   np.linspace(0.4, 1.0, 10))
        path = tmp_path / f"scores_{variant}.nc"
        sds.to_netcdf(path)
        back = xr.load_dataset(path)
        np.testing.assert_allclose(back.score60.values, s60)
        assert back.attrs["grid_score_variant"] == variant
