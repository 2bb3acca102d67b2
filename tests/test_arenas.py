"""Tests for cw.task.arenas: geometry against closed-form ground truth and input validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cw.task.arenas import Arena, make_arena, regular_polygon

SQRT3 = math.sqrt(3.0)


def _signed_area(c: np.ndarray) -> float:
    x, y = c[:, 0], c[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _centroid(c: np.ndarray) -> np.ndarray:
    nxt = np.roll(c, -1, axis=0)
    cr = c[:, 0] * nxt[:, 1] - nxt[:, 0] * c[:, 1]
    return np.sum((c + nxt) * cr[:, None], axis=0) / (3.0 * np.sum(cr))


# ---------------------------------------------------------------- regular arenas
@pytest.mark.parametrize(
    ("shape", "side", "area", "inradius"),
    [
        ("square", 1.0, 1.0, 0.5),
        ("square", 2.5, 6.25, 1.25),
        ("triangle", 1.5, SQRT3 / 4 * 1.5**2, 1.5 / (2 * SQRT3)),
        ("hexagon", 0.6, 3 * SQRT3 / 2 * 0.6**2, 0.6 * SQRT3 / 2),
    ],
)
def test_regular_arena_area_centroid_inradius(shape, side, area, inradius):
    a = make_arena(shape, {"shape": shape, "side": side})
    assert a.n_walls == {"square": 4, "triangle": 3, "hexagon": 6}[shape]
    assert a.area == pytest.approx(area, rel=1e-12)
    np.testing.assert_allclose(_centroid(a.corners), 0.0, atol=1e-12)
    assert _signed_area(a.corners) > 0  # counter-clockwise
    assert a.inradius == pytest.approx(inradius, rel=1e-12)
    # every side has the requested length
    lengths = np.linalg.norm(a.edges[:, 1] - a.edges[:, 0], axis=1)
    np.testing.assert_allclose(lengths, side, rtol=1e-12)


def test_square_axis_aligned_and_bounds():
    a = make_arena("sq", {"shape": "square", "side": 1.0})
    assert a.bounds == pytest.approx((-0.5, 0.5, -0.5, 0.5), abs=1e-12)
    assert a.width == pytest.approx(1.0)
    expected = {(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)}
    assert {tuple(np.round(c, 12) + 0.0) for c in a.corners} == expected


def test_triangle_has_horizontal_bottom_wall():
    s = 1.5
    a = make_arena("tri", {"shape": "triangle", "side": s})
    xmin, xmax, ymin, ymax = a.bounds
    # centroid at one third of the height above the bottom wall
    assert ymin == pytest.approx(-s * SQRT3 / 6, abs=1e-12)
    assert ymax == pytest.approx(s * SQRT3 / 3, abs=1e-12)
    assert a.width == pytest.approx(s)
    assert np.sum(np.isclose(a.corners[:, 1], ymin, atol=1e-12)) == 2
    np.testing.assert_allclose(a.normals[0], [0.0, -1.0], atol=1e-12)


def test_hexagon_has_flat_top_and_bottom():
    s = 0.6
    a = make_arena("hex", {"shape": "hexagon", "side": s})
    xmin, xmax, ymin, ymax = a.bounds
    assert (ymin, ymax) == pytest.approx((-s * SQRT3 / 2, s * SQRT3 / 2), abs=1e-12)
    assert a.width == pytest.approx(2 * s)
    assert np.sum(np.isclose(a.corners[:, 1], ymax, atol=1e-12)) == 2
    assert np.sum(np.isclose(a.corners[:, 1], ymin, atol=1e-12)) == 2


def test_regular_polygon_rotation():
    c0 = regular_polygon(4, 1.0)
    c1 = regular_polygon(4, 1.0, rotation=math.pi / 4)  # diamond: a corner on the +x axis
    assert np.max(c1[:, 0]) == pytest.approx(math.sqrt(0.5))
    np.testing.assert_allclose(np.linalg.norm(c0, axis=1), math.sqrt(0.5))
    with pytest.raises(ValueError, match="n_sides"):
        regular_polygon(2, 1.0)
    with pytest.raises(ValueError, match="side"):
        regular_polygon(3, 0.0)


# ---------------------------------------------------------------- normals, distances, contains
@pytest.mark.parametrize("shape", ["square", "triangle", "hexagon"])
def test_normals_unit_and_outward(shape):
    a = make_arena(shape, {"shape": shape, "side": 1.0})
    np.testing.assert_allclose(np.linalg.norm(a.normals, axis=1), 1.0, rtol=1e-12)
    mid = a.edges.mean(axis=1)  # (K, 2) wall midpoints
    eps = 1e-6
    assert not np.any(a.contains(mid + eps * a.normals))
    assert np.all(a.contains(mid - eps * a.normals))
    # each normal is perpendicular to its wall and each corner lies on its wall lines
    d = a.edges[:, 1] - a.edges[:, 0]
    np.testing.assert_allclose(np.sum(d * a.normals, axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.einsum("kd,kd->k", a.normals, a.edges[:, 0]), a.offsets)
    np.testing.assert_allclose(np.einsum("kd,kd->k", a.normals, a.edges[:, 1]), a.offsets)


def test_square_wall_distances_known_points():
    a = make_arena("sq", {"shape": "square", "side": 1.0})
    # walls: bottom, right, top, left (counter-clockwise from the lower-left corner)
    np.testing.assert_allclose(a.wall_distances([0.2, 0.1]), [0.6, 0.3, 0.4, 0.7], atol=1e-12)
    np.testing.assert_allclose(a.wall_distances([0.0, 0.0]), [0.5] * 4, atol=1e-12)
    # outside the right wall: negative distance to that wall only
    np.testing.assert_allclose(a.wall_distances([0.8, 0.0]), [0.5, -0.3, 0.5, 1.3], atol=1e-12)
    pts = np.zeros((3, 5, 2))
    assert a.wall_distances(pts).shape == (3, 5, 4)


def test_nearest_wall_distance_to_segments():
    a = make_arena("sq", {"shape": "square", "side": 1.0})
    pts = np.array([[0.0, 0.0], [0.2, 0.1], [0.8, 0.0], [1.0, 1.0], [0.5, 0.5]])
    expected = [0.5, 0.3, 0.3, math.sqrt(0.5), 0.0]  # (1, 1) is nearest to the corner
    np.testing.assert_allclose(a.nearest_wall_distance(pts), expected, atol=1e-12)
    # the segment distance differs from the line distance beyond a corner
    assert a.nearest_wall_distance([0.5, 2.0]) == pytest.approx(1.5)
    assert a.nearest_wall_distance([1.5, 1.5]) == pytest.approx(math.sqrt(2.0))
    assert a.nearest_wall_distance(np.zeros((4, 3, 2))).shape == (4, 3)


def test_contains_inside_outside_boundary():
    a = make_arena("sq", {"shape": "square", "side": 1.0})
    pts = np.array(
        [
            [0.0, 0.0],  # centre
            [0.49, -0.49],  # inside near a corner
            [0.5, 0.0],  # on a wall
            [0.5, 0.5],  # a corner
            [0.5 + 1e-9, 0.0],  # just outside
            [0.0, -0.51],
            [2.0, 2.0],
        ]
    )
    np.testing.assert_array_equal(a.contains(pts), [True, True, True, True, False, False, False])
    # tol > 0 enlarges, tol < 0 shrinks
    assert a.contains([0.55, 0.0], tol=0.1)
    assert not a.contains([0.45, 0.0], tol=-0.1)
    assert a.contains([0.35, 0.0], tol=-0.1)
    assert a.contains(np.zeros((2, 3, 2))).shape == (2, 3)

    tri = make_arena("tri", {"shape": "triangle", "side": 1.0})
    h = SQRT3 / 2
    # apex at (0, 2h/3); points just beside the apex at its height minus a little are outside
    assert tri.contains([0.0, 2 * h / 3])
    assert not tri.contains([0.1, 2 * h / 3 - 0.01])
    assert tri.contains([0.0, -h / 3])  # bottom wall midpoint
    assert not tri.contains([0.0, -h / 3 - 1e-9])


# ---------------------------------------------------------------- irregular polygons
def test_polygon_recentred_at_area_centroid():
    # trapezoid: area 6, centroid (2, 8/9)
    a = make_arena("trap", {"shape": "polygon", "corners": [[0, 0], [4, 0], [3, 2], [1, 2]]})
    assert a.area == pytest.approx(6.0)
    np.testing.assert_allclose(a.corners[0], [-2.0, -8.0 / 9.0], atol=1e-12)
    np.testing.assert_allclose(_centroid(a.corners), 0.0, atol=1e-12)
    assert a.width == pytest.approx(4.0)


def test_clockwise_input_reversed():
    ccw = Arena.from_corners("t", [[0, 0], [3, 0], [0, 3]])
    cw_ = Arena.from_corners("t", [[0, 0], [0, 3], [3, 0]])
    assert _signed_area(cw_.corners) > 0
    assert cw_.area == pytest.approx(4.5)
    np.testing.assert_allclose(ccw.corners, [[-1, -1], [2, -1], [-1, 2]], atol=1e-12)
    assert {tuple(np.round(c, 12)) for c in cw_.corners} == {
        tuple(np.round(c, 12)) for c in ccw.corners
    }
    assert np.all(cw_.contains(np.zeros(2)))


def test_arena_is_immutable_and_comparable():
    a = make_arena("sq", {"shape": "square", "side": 1.0})
    b = make_arena("sq", {"shape": "square", "side": 1.0})
    assert a == b and hash(a) == hash(b)
    assert a != make_arena("sq", {"shape": "square", "side": 2.0})
    with pytest.raises(ValueError):
        a.corners[0, 0] = 1.0  # read-only array


@pytest.mark.parametrize(
    ("corners", "match"),
    [
        ([[0, 0], [1, 1]], "at least 3 corners"),
        ([[0, 0], [2, 0], [1, 0.5], [2, 2], [0, 2]], "not convex"),
        ([[0, 0], [1, 1], [1, 0], [0, 1]], "self-intersecting"),  # bow tie
        (regular_polygon(5, 1.0)[[0, 2, 4, 1, 3]], "self-intersecting"),  # pentagram
        ([[0, 0], [1, 0], [2, 0]], "zero area"),
        ([[0, 0], [1, 0], [2, 0], [2, 2], [0, 2]], "collinear"),
        ([[0, 0], [1, 0], [1, 0], [0, 1]], "coincide"),
        ([[0, 0], [1, 0], [float("nan"), 1]], "finite"),
        ([[0, 0, 0], [1, 0, 0], [0, 1, 0]], "pairs"),
        ([["a", 0], [1, 0], [0, 1]], "pairs"),
    ],
)
def test_bad_polygons_raise_naming_key(corners, match):
    with pytest.raises(ValueError, match=rf"^arenas\.bad\.corners: .*{match}"):
        make_arena("bad", {"shape": "polygon", "corners": corners})


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"shape": "circle", "side": 1.0}, r"arenas\.x\.shape: unknown shape 'circle' \(expected "
         r"square, triangle, hexagon, polygon\)"),
        ({"side": 1.0}, r"arenas\.x\.shape: missing"),
        ({"shape": "square", "side": 0.0}, r"arenas\.x\.side: must be > 0"),
        ({"shape": "square", "side": -1.0}, r"arenas\.x\.side: must be > 0"),
        ({"shape": "square", "side": float("inf")}, r"arenas\.x\.side: must be > 0"),
        ({"shape": "square", "side": "1"}, r"arenas\.x\.side: must be a number"),
        ({"shape": "square"}, r"arenas\.x\.side: missing"),
        ({"shape": "polygon"}, r"arenas\.x\.corners: missing"),
        ({"shape": "square", "side": 1.0, "corners": [[0, 0]]}, r"arenas\.x\.corners: not allowed"),
    ],
)
def test_bad_specs_raise_naming_key(spec, match):
    with pytest.raises(ValueError, match=match):
        make_arena("x", spec)


# ---------------------------------------------------------------- the one polygon geometry
def test_chebyshev_radius_is_the_largest_inscribed_disc():
    # right triangle 3-4-5: incircle radius (a + b - c) / 2 = 1, centred at (1, 1), not at the
    # area centroid (4/3, 1), whose disc is smaller (Arena.inradius: its distance to the nearest wall)
    tri = Arena.from_corners("t", [[0, 0], [4, 0], [0, 3]])
    assert tri.chebyshev_radius == pytest.approx(1.0, rel=1e-9)
    assert tri.inradius == pytest.approx((12 - 3 * 4 / 3 - 4 * 1) / 5, rel=1e-9)  # the hypotenuse, 0.8 away
    for shape, side in (("square", 2.0), ("triangle", 3.0), ("hexagon", 1.0)):
        ar = make_arena(shape, {"shape": shape, "side": side})
        assert ar.chebyshev_radius == pytest.approx(ar.inradius, rel=1e-9), shape


def test_arena_of_corners_keeps_their_frame():
    ar = Arena.of([[0, 0], [0, 2], [2, 2], [2, 0]])  # clockwise, centroid at (1, 1)
    assert ar.bounds == (0.0, 2.0, 0.0, 2.0) and ar.area == pytest.approx(4.0)
    np.testing.assert_array_equal(ar.corners, [[2, 0], [2, 2], [0, 2], [0, 0]])  # reversed, not moved
    assert Arena.of(ar) is ar
    np.testing.assert_array_equal(Arena.of(ar.corners.ravel()).corners, ar.corners)
    with pytest.raises(ValueError, match="arena: must be an Arena"):
        Arena.of([[0, 0], [1, 1]])
    with pytest.raises(ValueError, match="not convex"):
        Arena.of([[0, 0], [2, 0], [1, 0.2], [2, 2], [0, 2]])


def test_segment_distances_to_each_wall():
    ar = Arena.of([[0, 0], [2, 0], [2, 1], [0, 1]])
    d = ar.segment_distances([[0.5, 0.25], [3.0, 2.0]])
    r2 = math.sqrt(2.0)
    np.testing.assert_allclose(d, [[0.25, 1.5, 0.75, 0.5], [math.sqrt(5.0), r2, r2, math.sqrt(10.0)]], rtol=1e-12)
    np.testing.assert_allclose(ar.nearest_wall_distance([[0.5, 0.25], [3.0, 2.0]]), [0.25, r2], rtol=1e-12)
