"""Place-cell targets of the place-cell read-out (cw.task.place_cells):
centres uniform in the arena, difference-of-softmaxes and Gaussian targets (shape,
non-negativity, normalisation, the shift by the minimum, the surround's variance ratio), and the
decoded position (mean of the 3 most active centres)."""

from __future__ import annotations

import numpy as np
import pytest

from cw.task.arenas import make_arena
from cw.task.place_cells import (
    PlaceCellParams,
    decode_position,
    place_cell_activity,
    sample_centres,
)

SQUARE = make_arena("square", {"shape": "square", "side": 2.0})
TRIANGLE = make_arena("triangle", {"shape": "triangle", "side": 3.0393427426063886})


@pytest.fixture(scope="module")
def centres():
    return sample_centres(SQUARE, 512, np.random.default_rng(0))


def test_defaults_are_sorschers():
    p = PlaceCellParams()
    assert (p.n_cells, p.sigma, p.surround_scale, p.kind, p.decode_k) == (512, 0.12, 2.0, "dos", 3)
    assert p.surround_sd == pytest.approx(0.12 * np.sqrt(2.0))


@pytest.mark.parametrize("bad", [dict(n_cells=0), dict(sigma=0.0), dict(sigma=float("nan")),
                                 dict(surround_scale=1.0), dict(kind="dog"), dict(decode_k=0),
                                 dict(n_cells=2, decode_k=3), dict(n_cells=True)])
def test_invalid_parameters_are_refused(bad):
    with pytest.raises(ValueError, match=r"place_cells\."):
        PlaceCellParams(**bad)


def test_centres_are_uniform_in_the_arena_and_reproducible():
    rng = np.random.default_rng(3)
    c = sample_centres(TRIANGLE, 20000, rng)
    assert c.shape == (20000, 2)
    assert TRIANGLE.contains(c).all()
    # uniform: the share of centres in the lower half of the bounding box equals its area share
    x0, x1, y0, y1 = TRIANGLE.bounds
    ym = 0.5 * (y0 + y1)
    g = np.stack(np.meshgrid(np.linspace(x0, x1, 600), np.linspace(y0, y1, 600)), -1)
    inside = TRIANGLE.contains(g)
    share = inside[g[..., 1] < ym].sum() / inside.sum()  # 0.75 for a triangle with a flat base
    assert np.mean(c[:, 1] < ym) == pytest.approx(share, abs=0.01)
    assert share == pytest.approx(0.75, abs=0.01)
    # the generator is the only source of randomness
    a = sample_centres(SQUARE, 50, np.random.default_rng(7))
    np.random.seed(123)
    b = sample_centres(SQUARE, 50, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["dos", "gaussian"])
def test_targets_shape_non_negative_rows_sum_to_one(centres, kind):
    p = PlaceCellParams(kind=kind)
    pos = np.random.default_rng(1).uniform(-1, 1, (7, 30, 2))
    a = place_cell_activity(pos, centres, p)
    assert a.shape == (7, 30, 512)
    assert np.all(a >= 0)
    np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-12)
    if kind == "dos":  # shifted by its minimum: the least active cell is exactly 0
        np.testing.assert_array_equal(a.min(-1), 0.0)
    else:
        assert np.all(a.min(-1) > 0)


@pytest.mark.parametrize("kind", ["dos", "gaussian"])
def test_argmax_at_a_centre_is_that_cell(centres, kind):
    a = place_cell_activity(centres, centres, PlaceCellParams(kind=kind))
    assert a.shape == (512, 512)
    np.testing.assert_array_equal(np.argmax(a, axis=1), np.arange(512))


def test_difference_of_softmaxes_by_hand():
    """At one position, written out: two Gaussians normalised over the cells (variances
    sigma^2 and 2 sigma^2: surround_scale is a ratio of variances, as in SORSCHER's code),
    their difference, minus its minimum, divided by the sum."""
    rng = np.random.default_rng(5)
    c = rng.uniform(-1, 1, (40, 2))
    x = np.array([0.13, -0.27])
    s = 0.12
    d2 = np.sum((c - x) ** 2, axis=1)
    centre = np.exp(-d2 / (2 * s * s))
    surround = np.exp(-d2 / (2 * 2.0 * s * s))
    dos = centre / centre.sum() - surround / surround.sum()
    assert dos.min() < 0 and dos.sum() == pytest.approx(0.0, abs=1e-15)
    want = (dos - dos.min()) / np.sum(dos - dos.min())
    np.testing.assert_allclose(place_cell_activity(x, c), want, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(place_cell_activity(x, c, PlaceCellParams(kind="gaussian")),
                               centre / centre.sum(), rtol=1e-10)
    # far from every centre the softmax stays finite (no 0/0)
    far = place_cell_activity(np.array([50.0, 50.0]), c)
    assert np.all(np.isfinite(far)) and far.sum() == pytest.approx(1.0)


def test_decoded_position_is_the_mean_of_the_three_most_active_centres():
    # three centres equidistant from a known location, the others farther away
    x = np.array([0.3, -0.2])
    ang = np.deg2rad([10.0, 130.0, 250.0])
    near = x + 0.05 * np.stack([np.cos(ang), np.sin(ang)], 1)
    far = np.array([[0.9, 0.9], [-0.9, 0.8], [-0.7, -0.9], [0.8, -0.9], [0.0, 0.6]])
    c = np.concatenate([far[:2], near, far[2:]])
    a = place_cell_activity(x, c)
    np.testing.assert_allclose(decode_position(a, c), x, atol=1e-12)
    np.testing.assert_allclose(decode_position(a, c, k=1), near[np.argmax(a[2:5])], atol=0)
    # any monotone transform of the activity (e.g. logits) decodes the same
    np.testing.assert_allclose(decode_position(np.log(a + 1e-9), c), x, atol=1e-12)


def test_decoded_position_of_known_locations_within_a_few_cm(centres):
    """512 centres in the 2-m square (mean spacing ~9 cm): measured here, the decoded position
    is 3.4 cm from the true one (median), 7.5 cm at the 95th percentile."""
    pos = np.random.default_rng(11).uniform(-1, 1, (4000, 2))
    err = np.linalg.norm(decode_position(place_cell_activity(pos, centres), centres) - pos,
                         axis=1)
    assert np.median(err) < 0.04
    assert np.percentile(err, 95) < 0.09
    # the decoded position is the mean of the centres of the top 3 cells, cell by cell
    a = place_cell_activity(pos[:50], centres)
    top = np.argsort(-a, axis=1)[:, :3]
    np.testing.assert_allclose(decode_position(a, centres), centres[top].mean(1), atol=1e-15)


def test_bad_inputs_are_refused(centres):
    with pytest.raises(ValueError, match="last axis"):
        place_cell_activity(np.zeros((3, 3)), centres)
    with pytest.raises(ValueError, match="centres"):
        place_cell_activity(np.zeros((3, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="k:"):
        decode_position(np.zeros(512), centres, k=0)
    with pytest.raises(ValueError, match="rng"):
        sample_centres(SQUARE, 5, 0)
