"""Lattice and single-field fits (cw.analysis.lattice) on maps of known geometry."""

from __future__ import annotations

import numpy as np
import pytest

from cw.analysis.lattice import LatticeFitParams, field_fit, lattice_fit, lattice_templates
from cw.synthetic import cosine_lattice

C = np.arange(20) * 0.1 + 0.05          # 2-m square, 0.1-m bins
X, Y = np.meshgrid(C, C)


@pytest.mark.parametrize("spacing, orientation", [(0.5, 0.0), (0.8, 21.0), (1.3, 42.0)])
def test_recovers_spacing_and_orientation_of_a_hexagonal_lattice(spacing, orientation):
    m = cosine_lattice(X, Y, spacing, orientation, 3, (0.37, -0.21))
    out = lattice_fit(m[None], C, C, 0.1)
    assert out["lattice_r2"][0] > 0.93
    grid = np.geomspace(0.4, 2.0 / 1.25, 32)
    # within one step of the search (few periods constrain the spacing less)
    assert abs(out["lattice_spacing"][0] - spacing) <= spacing * (grid[1] / grid[0] - 1)
    d = (out["lattice_orientation"][0] - orientation + 30) % 60 - 30
    assert abs(d) <= 1.5 + 1e-9


def test_inverted_lattice_scores_negative_and_noise_scores_low():
    m = cosine_lattice(X, Y, 0.8, 10.0, 3)
    rng = np.random.default_rng(0)
    out = lattice_fit(np.stack([m, -m, rng.normal(size=m.shape)]), C, C, 0.1)
    assert out["lattice_r2"][0] > 0.9
    assert out["lattice_r2"][1] < 0                  # the low values form the lattice
    assert abs(out["lattice_r2"][2]) < 0.15          # white noise: 400 bins


def test_a_plane_wave_is_a_third_of_a_lattice():
    # one of three equal waves: correlation 1/sqrt(3) with the matching lattice
    m = cosine_lattice(X, Y, 0.5, 0.0, 1)
    p = LatticeFitParams(sharpness=(0.0,))
    r2 = lattice_fit(m[None], C, C, 0.1, p)["lattice_r2"][0]
    assert abs(r2) == pytest.approx(1 / 3, abs=0.08)  # either sign: a wave is symmetric


def test_square_lattice_fit_and_sharpened_fields():
    sq = cosine_lattice(X, Y, 0.5, 30.0, 2)
    out = lattice_fit(sq[None], C, C, 0.1, symmetry=4)
    assert out["square_lattice_r2"][0] > 0.93
    assert out["square_lattice_spacing"][0] == pytest.approx(0.5, rel=0.06)
    hexa = lattice_fit(sq[None], C, C, 0.1)["lattice_r2"][0]
    assert hexa < 0.6                                # a square lattice is not hexagonal
    # narrow fields on a hexagonal lattice: the sharpened templates fit them better
    sharp = np.exp(1.0 * (cosine_lattice(X, Y, 0.8, 5.0, 3) - 3.0))
    plain = lattice_fit(sharp[None], C, C, 0.1, LatticeFitParams(sharpness=(0.0,)))["lattice_r2"][0]
    both = lattice_fit(sharp[None], C, C, 0.1)["lattice_r2"][0]
    assert both > 0.9 and both > plain + 0.1


def test_templates_are_normalised_and_invalid_symmetry_refused():
    t, o = lattice_templates(X.ravel(), Y.ravel(), 0.8)
    assert t.shape == (20 * 12 * 12 * 3, 400) and o.shape == (t.shape[0],)
    assert t.dtype == np.float32                     # single precision: correlations to ~1e-6
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(t.mean(axis=1), 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="symmetry"):
        lattice_templates(X.ravel(), Y.ravel(), 0.8, symmetry=5)
    with pytest.raises(ValueError, match="scores.geometry.lattice_sharpness"):
        LatticeFitParams(sharpness=(-1.0,))
    with pytest.raises(ValueError, match="scores.geometry.lattice_n_offsets"):
        LatticeFitParams(n_offsets=2.5)


def test_field_fit_finds_a_single_field_and_masks_are_respected():
    f = np.exp(-((X - 0.65) ** 2 + (Y - 1.25) ** 2) / (2 * 0.3 ** 2))
    g = cosine_lattice(X, Y, 0.5, 0.0, 3)
    masked = np.where(X + Y < 2.0, f, np.nan)        # a triangle: its own template set
    out = field_fit(np.stack([f, g]), C, C, 0.1)
    assert out["field_r2"][0] == pytest.approx(1.0, abs=1e-9)
    assert out["field_width"][0] == pytest.approx(0.3)
    assert abs(out["field_r2"][1]) < 0.3             # a 4-period grid is not one field
    out2 = field_fit(np.stack([f, masked, np.full_like(f, 2.0)]), C, C, 0.1)
    assert out2["field_r2"][1] == pytest.approx(1.0, abs=1e-9)
    assert np.isnan(out2["field_r2"][2])             # a constant map has no fit
    assert np.isnan(lattice_fit(np.full((1, 20, 20), 2.0), C, C, 0.1)["lattice_r2"][0])


def test_a_square_lattice_and_its_negative_tie_to_the_positive_fit():
    """A square cosine lattice's negative is the same lattice shifted by half a period along both
    waves, so the best positive and negative correlations tie up to rounding: the fit reports the
    positive one, with the variance the lattice explains (1 for a noiseless map)."""
    from cw.analysis.lattice import LatticeFitParams, lattice_fit
    from cw.synthetic import cosine_lattice

    c = np.arange(20) * 0.1 + 0.05
    X, Y = np.meshgrid(c, c)
    maps = np.stack([s * cosine_lattice(X, Y, 0.5, 0.0, 2, phase=(0.05, 0.05)) for s in (1.0, -1.0)])
    p = LatticeFitParams(n_spacings=1, min_spacing=5.0, n_offsets=10, orientation_step=30.0, sharpness=(0.0,))
    out = lattice_fit(maps, c, c, 0.1, p, symmetry=4)
    np.testing.assert_allclose(out["square_lattice_r2"], [1.0, 1.0], atol=1e-5)
    np.testing.assert_allclose(out["square_lattice_spacing"], [0.5, 0.5])


@pytest.mark.parametrize("symmetry", [6, 4])
def test_factored_correlations_equal_products_with_the_templates(symmetry):
    """The search's correlations (plain cosine sums from the maps' projections on the waves,
    sharpened lattices as products) equal the products with the templates themselves, in the
    templates' order, over an irregular set of valid bins; sharpness 2.5 takes the exp path."""
    from cw.analysis.lattice import _correlations

    rng = np.random.default_rng(5)
    c = np.arange(12) * 0.1 + 0.05
    X, Y = np.meshgrid(c, c)
    keep = (X + Y < 2.0).ravel()                             # a triangle of valid bins
    bx, by = X.ravel()[keep], Y.ravel()[keep]
    m = rng.normal(size=(7, bx.size))
    m -= m.mean(axis=1, keepdims=True)
    m = (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)
    p = LatticeFitParams(orientation_step=15.0, n_offsets=5, sharpness=(0.0, 1.0, 2.5, 3.0))
    t, ori = lattice_templates(bx, by, 0.45, p, symmetry)
    cc, ori2 = _correlations(m, bx, by, 0.45, p, symmetry)
    assert cc.shape == (7, t.shape[0]) and cc.dtype == np.float32
    np.testing.assert_array_equal(ori2, ori)
    np.testing.assert_allclose(cc, m @ t.T, rtol=0, atol=2e-6)
    assert np.abs(cc).max() > 0.3
