"""Convex polygon arenas (docs/paper-map.md).

An :class:`Arena` is a simple convex polygon whose corners are stored counter-clockwise and
re-centred so that the polygon's area centroid is the origin ``(0, 0)``; the animal starts every
trial there (the paper, docs/paper-map.md: "the animal always starts at the arena centre").

Conventions: positions in metres, angles in radians. Wall ``k`` runs from ``corners[k]`` to
``corners[(k + 1) % K]``; a point ``p`` is inside the closed polygon iff
``normals @ p <= offsets`` for every wall.

Arena sizes are OURS (the paper, docs/paper-map.md: "pick them so that trajectories cover the arena"); they
come from the YAML config, e.g. ``arenas: {square: {shape: square, side: 1.0}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

import numpy as np

__all__ = [
    "Arena",
    "COLLINEAR_TOL",
    "REGULAR_SHAPES",
    "SHAPES",
    "make_arena",
    "regular_polygon",
    "run_arena",
    "segment_distances",
]

#: Numerical tolerance (dimensionless, OURS): consecutive walls whose turning angle has
#: ``|sin| <= COLLINEAR_TOL`` are treated as collinear and rejected.
COLLINEAR_TOL: float = 1e-9

#: Number of sides of the named regular arenas (PAPER: square, equilateral triangle, hexagon).
REGULAR_SHAPES: dict[str, int] = {"square": 4, "triangle": 3, "hexagon": 6}

#: All shapes accepted by :func:`make_arena`.
SHAPES: tuple[str, ...] = ("square", "triangle", "hexagon", "polygon")


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z-component of the 2-D cross product, broadcast over leading axes."""
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _signed_area(corners: np.ndarray) -> float:
    """Shoelace signed area (m^2) of a (K, 2) polygon; positive when counter-clockwise."""
    nxt = np.roll(corners, -1, axis=0)
    return 0.5 * float(np.sum(_cross(corners, nxt)))


def _area_centroid(corners: np.ndarray) -> np.ndarray:
    """Area centroid (2,) in metres of a (K, 2) polygon with non-zero area."""
    nxt = np.roll(corners, -1, axis=0)
    c = _cross(corners, nxt)
    area = 0.5 * np.sum(c)
    return np.sum((corners + nxt) * c[:, None], axis=0) / (6.0 * area)


def _segments_intersect(p1, p2, q1, q2) -> bool:
    """True if closed segments p1-p2 and q1-q2 share at least one point."""

    def orient(a, b, c) -> float:
        return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    def on_segment(a, b, c) -> bool:  # c collinear with a-b: is it within the box of a-b?
        return (min(a[0], b[0]) <= c[0] <= max(a[0], b[0])) and (
            min(a[1], b[1]) <= c[1] <= max(a[1], b[1])
        )

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return (
        (d1 == 0 and on_segment(q1, q2, p1))
        or (d2 == 0 and on_segment(q1, q2, p2))
        or (d3 == 0 and on_segment(p1, p2, q1))
        or (d4 == 0 and on_segment(p1, p2, q2))
    )


def segment_distances(points: Any, corners: Any) -> np.ndarray:
    """Distance (m) from points to every segment of a closed polyline.

    Parameters
    ----------
    points : array_like, shape (..., 2)
        Positions in metres.
    corners : array_like, shape (K, 2)
        Vertices; segment k joins ``corners[k]`` and ``corners[(k + 1) % K]`` (the walls of a
        polygon, or with K = 2 one segment, twice).

    Returns
    -------
    numpy.ndarray, shape (..., K), float64

    >>> segment_distances([[0.5, 0.2], [2.0, 0.0]], [[0, 0], [1, 0], [1, 1], [0, 1]]).round(2).tolist()
    [[0.2, 0.5, 0.8, 0.5], [1.0, 1.0, 1.41, 2.0]]
    """
    p = np.asarray(points, dtype=np.float64)
    a = np.asarray(corners, dtype=np.float64)
    d = np.roll(a, -1, axis=0) - a
    rel = p[..., None, :] - a
    t = np.clip(np.sum(rel * d, axis=-1) / np.sum(d * d, axis=-1), 0.0, 1.0)
    diff = rel - t[..., None] * d
    return np.hypot(diff[..., 0], diff[..., 1])


def _canonical_corners(
    corners: Any, key: str, collinear_tol: float = COLLINEAR_TOL, recentre: bool = True
) -> np.ndarray:
    """Validate a polygon and return it counter-clockwise, centred at its area centroid (or, with
    ``recentre=False``, where it is).

    Parameters
    ----------
    corners : array_like, shape (K, 2)
        Polygon corners in metres, either orientation.
    key : str
        Config key named in error messages, e.g. ``"arenas.square.corners"``.
    collinear_tol : float
        See :data:`COLLINEAR_TOL`.

    Returns
    -------
    numpy.ndarray, shape (K, 2), float64
        Counter-clockwise corners whose area centroid is at the origin.

    Raises
    ------
    ValueError
        If the corners do not describe a simple convex polygon with >= 3 corners, non-zero area
        and no collinear consecutive corners.
    """
    try:
        c = np.array(corners, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{key}: must be a list of [x, y] pairs of numbers") from None
    if c.ndim != 2 or c.shape[1] != 2:
        raise ValueError(f"{key}: must be a list of [x, y] pairs, got shape {c.shape}")
    k = c.shape[0]
    if k < 3:
        raise ValueError(f"{key}: a polygon needs at least 3 corners, got {k}")
    if not np.all(np.isfinite(c)):
        raise ValueError(f"{key}: corners must be finite numbers")
    edges = np.roll(c, -1, axis=0) - c
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    if np.any(lengths == 0.0):
        i = int(np.flatnonzero(lengths == 0.0)[0])
        raise ValueError(f"{key}: corners {i} and {(i + 1) % k} coincide")
    for i in range(k):  # non-adjacent walls must not touch (simple polygon)
        for j in range(i + 2, k):
            if i == 0 and j == k - 1:
                continue  # adjacent through the wrap-around
            if _segments_intersect(c[i], c[(i + 1) % k], c[j], c[(j + 1) % k]):
                raise ValueError(f"{key}: polygon is self-intersecting (walls {i} and {j})")
    area = _signed_area(c)
    scale = float(np.max(lengths)) ** 2
    if abs(area) <= collinear_tol * scale:
        raise ValueError(f"{key}: polygon has zero area")
    if area < 0:
        c = c[::-1].copy()
        edges = np.roll(c, -1, axis=0) - c
        lengths = np.hypot(edges[:, 0], edges[:, 1])
    # sine of the turning angle at corner i+1, between wall i and wall i+1
    sin_turn = _cross(edges, np.roll(edges, -1, axis=0)) / (lengths * np.roll(lengths, -1))
    if np.any(np.abs(sin_turn) <= collinear_tol):
        i = int(np.flatnonzero(np.abs(sin_turn) <= collinear_tol)[0])
        raise ValueError(f"{key}: consecutive corners around corner {(i + 1) % k} are collinear")
    if np.any(sin_turn < 0):
        raise ValueError(f"{key}: polygon is not convex")
    return c - _area_centroid(c) if recentre else c


@dataclass(frozen=True, eq=False)
class Arena:
    """A simple convex polygon arena, the one owner of the project's polygon geometry.

    Constructing an ``Arena`` validates the corners (see :meth:`from_corners`); clockwise input is
    reversed and the polygon is translated so its area centroid is ``(0, 0)`` (unless
    ``recentre`` is False: a rate map's polygon stays in the map's frame).

    Parameters
    ----------
    name : str
        Arena name (config key under ``arenas``); used in error messages.
    corners : array_like, shape (K, 2)
        Polygon corners in metres, any orientation, any translation.
    recentre : bool, default True
        Translate the polygon so that its area centroid is the origin.

    Attributes
    ----------
    corners : numpy.ndarray, shape (K, 2), float64, read-only
        Counter-clockwise corners (m), area centroid at the origin (when re-centred).
    """

    name: str
    corners: np.ndarray
    recentre: bool = field(default=True, repr=False)

    def __post_init__(self) -> None:
        key = f"arenas.{self.name}.corners"
        canon = _canonical_corners(self.corners, key, recentre=self.recentre)
        canon.setflags(write=False)
        object.__setattr__(self, "corners", canon)

    @classmethod
    def from_corners(cls, name: str, corners: Any, recentre: bool = True) -> "Arena":
        """Validate ``corners`` and build an arena, re-centred at its area centroid by default.

        Parameters
        ----------
        name : str
            Arena name.
        corners : array_like, shape (K, 2)
            Corners in metres; clockwise order is reversed.
        recentre : bool, default True
            False keeps the corners where they are (e.g. a polygon given in a rate map's frame).

        Returns
        -------
        Arena

        Raises
        ------
        ValueError
            ``arenas.<name>.corners: ...`` if the polygon is not simple and convex, has fewer than
            3 corners, zero area, coincident or collinear consecutive corners.
        """
        return cls(name, corners, recentre)

    @classmethod
    def of(cls, arena: Any) -> "Arena":
        """``arena`` itself if it is an Arena, else an Arena of its (K, 2) corners (or their
        flattened ``[x0, y0, x1, ...]``, as in the files' ``arena_corners`` attribute), in the
        frame they are given in.

        >>> Arena.of([0, 0, 0, 1, 1, 1, 1, 0]).corners.tolist()  # clockwise in, counter-clockwise out
        [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
        """
        if isinstance(arena, cls):
            return arena
        c = np.asarray(getattr(arena, "corners", arena), dtype=np.float64)
        if c.ndim == 1 and c.size % 2 == 0:
            c = c.reshape(-1, 2)
        if c.ndim != 2 or c.shape[1] != 2 or len(c) < 3:
            raise ValueError("arena: must be an Arena or a (K >= 3, 2) array of corners")
        return cls("arena", c, recentre=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Arena):
            return NotImplemented
        return self.name == other.name and np.array_equal(self.corners, other.corners)

    def __hash__(self) -> int:
        return hash((self.name, self.corners.tobytes()))

    # ------------------------------------------------------------------ geometry
    @property
    def n_walls(self) -> int:
        """Number of walls (= corners) K."""
        return int(self.corners.shape[0])

    @cached_property
    def edges(self) -> np.ndarray:
        """Walls, shape (K, 2, 2) in metres: ``edges[k] = [corners[k], corners[(k+1) % K]]``."""
        e = np.stack([self.corners, np.roll(self.corners, -1, axis=0)], axis=1)
        e.setflags(write=False)
        return e

    @cached_property
    def normals(self) -> np.ndarray:
        """Outward unit normals of the walls, shape (K, 2)."""
        d = self.edges[:, 1] - self.edges[:, 0]
        n = np.stack([d[:, 1], -d[:, 0]], axis=1)  # rotate by -90 deg: outward for ccw order
        n /= np.hypot(n[:, 0], n[:, 1])[:, None]
        n.setflags(write=False)
        return n

    @cached_property
    def offsets(self) -> np.ndarray:
        """Wall offsets, shape (K,) in metres: inside iff ``normals @ p <= offsets``.

        Because the origin is the area centroid, ``offsets[k]`` is the distance from the centre to
        the line of wall ``k``.
        """
        o = np.einsum("kd,kd->k", self.normals, self.corners)
        o.setflags(write=False)
        return o

    @property
    def area(self) -> float:
        """Polygon area in m^2."""
        return _signed_area(self.corners)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Bounding box ``(xmin, xmax, ymin, ymax)`` in metres."""
        lo = self.corners.min(axis=0)
        hi = self.corners.max(axis=0)
        return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])

    @property
    def width(self) -> float:
        """Bounding-box width ``xmax - xmin`` in metres."""
        xmin, xmax, _, _ = self.bounds
        return xmax - xmin

    @property
    def inradius(self) -> float:
        """Radius (m) of the largest disc centred at the origin that fits inside the arena.

        For regular polygons this is the inradius. From any point of the arena, a straight step
        of length up to this radius aimed at the origin stays inside (convexity), so trajectory
        step lengths are required to be below it.
        """
        return float(np.min(self.offsets))

    def wall_distances(self, points: Any) -> np.ndarray:
        """Signed distance from points to the line of every wall.

        Parameters
        ----------
        points : array_like, shape (..., 2)
            Positions in metres.

        Returns
        -------
        numpy.ndarray, shape (..., K), float64
            ``offsets - normals @ p`` (m): positive inside, zero on the wall's line, negative on
            the outer side of that wall.
        """
        p = np.asarray(points, dtype=np.float64)
        if p.shape[-1:] != (2,):
            raise ValueError(f"points: last axis must have length 2, got shape {p.shape}")
        return self.offsets - p @ self.normals.T

    def contains(self, points: Any, tol: float = 0.0) -> np.ndarray:
        """Whether points lie in the closed polygon (vectorised).

        Parameters
        ----------
        points : array_like, shape (..., 2)
            Positions in metres.
        tol : float, default 0.0
            Margin in metres: ``tol > 0`` accepts points up to ``tol`` outside every wall line,
            ``tol < 0`` requires points to be at least ``-tol`` inside (polygon shrunk).

        Returns
        -------
        numpy.ndarray of bool, shape (...)
            True on and inside the boundary (for ``tol = 0``).
        """
        return np.all(self.wall_distances(points) >= -tol, axis=-1)

    @cached_property
    def chebyshev_radius(self) -> float:
        """Radius (m) of the largest disc anywhere inside the polygon: the largest distance from an
        inside point to its nearest wall.  Equal to :attr:`inradius` for a regular polygon centred
        at the origin (half the side of a square: the border score's normalisation, Solstad et al.
        2008); larger when the area centroid is not the centre of the largest disc."""
        from scipy.optimize import linprog

        # maximise r subject to n_k . c + r <= offset_k
        res = linprog(c=[0.0, 0.0, -1.0], A_ub=np.hstack([self.normals, np.ones((self.n_walls, 1))]),
                      b_ub=self.offsets, bounds=[(None, None), (None, None), (0, None)], method="highs")
        if not res.success:  # pragma: no cover - a valid convex polygon always has a solution
            raise RuntimeError(f"arenas.{self.name}: Chebyshev radius: {res.message}")
        return float(res.x[2])

    def segment_distances(self, points: Any) -> np.ndarray:
        """Distance (m) from points (..., 2) to each wall segment -> (..., K)
        (:func:`segment_distances`)."""
        p = np.asarray(points, dtype=np.float64)
        if p.shape[-1:] != (2,):
            raise ValueError(f"points: last axis must have length 2, got shape {p.shape}")
        return segment_distances(p, self.corners)

    def nearest_wall_distance(self, points: Any) -> np.ndarray:
        """Euclidean distance from points to the nearest wall segment.

        Parameters
        ----------
        points : array_like, shape (..., 2)
            Positions in metres (inside or outside the arena).

        Returns
        -------
        numpy.ndarray, shape (...), float64
            Unsigned distance (m) to the closest point on any wall segment.
        """
        return np.min(self.segment_distances(points), axis=-1)


def regular_polygon(n_sides: int, side: float, rotation: float = 0.0) -> np.ndarray:
    """Corners of a regular polygon centred at the origin.

    With ``rotation = 0`` the bottom wall is horizontal (a square then has walls parallel to the
    axes, a triangle a horizontal bottom wall, a hexagon flat top and bottom walls).

    Parameters
    ----------
    n_sides : int
        Number of sides, >= 3.
    side : float
        Side length in metres, > 0.
    rotation : float, default 0.0
        Counter-clockwise rotation in radians about the centre.

    Returns
    -------
    numpy.ndarray, shape (n_sides, 2), float64
        Counter-clockwise corners in metres.
    """
    if isinstance(n_sides, bool) or int(n_sides) != n_sides or n_sides < 3:
        raise ValueError(f"n_sides: must be an integer >= 3, got {n_sides!r}")
    n = int(n_sides)
    if not np.isfinite(side) or side <= 0:
        raise ValueError(f"side: must be > 0, got {side!r}")
    circumradius = side / (2.0 * np.sin(np.pi / n))
    # first corner at -90 deg - half the central angle puts wall 0 horizontal at the bottom
    angles = -0.5 * np.pi - np.pi / n + 2.0 * np.pi * np.arange(n) / n + rotation
    return circumradius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def make_arena(name: str, spec: Mapping[str, Any]) -> Arena:
    """Build an arena from its YAML config entry ``arenas.<name>``.

    Parameters
    ----------
    name : str
        Arena name (the config key).
    spec : mapping
        ``{"shape": "square" | "triangle" | "hexagon", "side": <m>}`` for a regular polygon
        (square with walls parallel to the axes, triangle with a horizontal bottom wall, hexagon
        with flat top and bottom), or ``{"shape": "polygon", "corners": [[x, y], ...]}`` (m) for
        any simple convex polygon.

    Returns
    -------
    Arena

    Raises
    ------
    ValueError
        With a one-line message naming the offending key, e.g. ``arenas.<name>.side: must be > 0``.
    """
    key = f"arenas.{name}"
    if not isinstance(spec, Mapping):
        raise ValueError(f"{key}: must be a mapping with a 'shape' key")
    if "shape" not in spec:
        raise ValueError(f"{key}.shape: missing (expected {', '.join(SHAPES)})")
    shape = spec["shape"]
    if shape not in SHAPES:
        raise ValueError(f"{key}.shape: unknown shape {shape!r} (expected {', '.join(SHAPES)})")
    allowed = {"shape", "corners"} if shape == "polygon" else {"shape", "side"}
    extra = sorted(set(spec) - allowed)
    if extra:
        raise ValueError(f"{key}.{extra[0]}: not allowed for shape {shape!r}")
    if shape == "polygon":
        if "corners" not in spec:
            raise ValueError(f"{key}.corners: missing (required for shape 'polygon')")
        return Arena.from_corners(name, spec["corners"])
    if "side" not in spec:
        raise ValueError(f"{key}.side: missing (required for shape {shape!r})")
    side = spec["side"]
    if isinstance(side, bool) or not isinstance(side, (int, float, np.integer, np.floating)):
        raise ValueError(f"{key}.side: must be a number in metres, got {side!r}")
    if not np.isfinite(side) or side <= 0:
        raise ValueError(f"{key}.side: must be > 0, got {side!r}")
    return Arena.from_corners(name, regular_polygon(REGULAR_SHAPES[shape], float(side)))


def run_arena(spec: Mapping[str, Any]) -> Arena:
    """The :class:`Arena` of a resolved run's ``arena`` section (:func:`cw.config.resolve_run`):
    its config entry ``arenas.<name>`` together with its ``name``.

    >>> [round(b, 9) for b in run_arena({"name": "box", "shape": "square", "side": 2.0}).bounds]
    [-1.0, 1.0, -1.0, 1.0]
    """
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ValueError("arena: must be the run's arena section, the config entry with its 'name'")
    return make_arena(spec["name"], {k: v for k, v in spec.items() if k != "name"})
