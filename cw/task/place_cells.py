"""Place-cell targets for a place-cell read-out (Sorscher et al. 2019, 2023).

The read-out of Sorscher et al. predicts the activity of ``Np`` simulated place cells instead of
the animal's (x, y) position. This module holds the targets only (no network, no training):

* :func:`sample_centres`: ``Np`` centres drawn uniformly in an :class:`~cw.task.arenas.Arena`
  (rejection sampling in its bounding box; SORSCHER draws them uniformly in the square box,
  ``place_cells.py``: ``np.random.uniform(-box_width/2, box_width/2, (Np,))`` per coordinate).
* :func:`place_cell_activity`: the targets at given positions, either

  - ``"gaussian"``: ``softmax_i(-d_i^2 / (2 sigma^2))`` over the cells i (SORSCHER, ``DoG=False``),
  - ``"dos"`` (difference of softmaxes; SORSCHER, ``DoG=True``, their default):
    ``a_i = softmax_i(-d_i^2 / (2 sigma^2)) - softmax_i(-d_i^2 / (2 surround_scale sigma^2))``,
    then, per position, shifted by its minimum over the cells and renormalised:
    ``a_i <- (a_i - min_j a_j) / sum_k (a_k - min_j a_j)``.

  ``d_i`` is the Euclidean distance (m) from the position to centre i (not periodic). What
  "shifted by its minimum" means in SORSCHER (``place_cells.py``, ``get_activation``): the code
  adds ``|min_j a_j|`` to every cell; the two softmaxes each sum to 1, so the difference sums to
  0 and its minimum is never positive, so adding ``|min|`` is subtracting the minimum, as done
  here. After the shift the cell with the lowest value is exactly 0 and the row sums to 1.

  **The surround's width.** SORSCHER's code divides by ``2 * surround_scale * sigma**2`` with
  ``surround_scale = 2``, and its option is documented as the "ratio of sigma2^2 to sigma1^2"
  (``pattern_formation.ipynb``, ``options.surround_scale``): ``surround_scale`` is a ratio of
  *variances*, the surround's s.d. is ``sqrt(2) sigma`` = 0.17 m, not ``2 sigma``. A reading as a
  ratio of s.d. ("-d^2 / (2 (s sigma)^2)") would give 2 sigma; this module follows the code, and :attr:`PlaceCellParams.surround_sd` states the s.d.

* :func:`decode_position`: the mean of the centres of the ``k`` most active cells (SORSCHER,
  ``place_cells.py``, ``get_nearest_cell_pos``, ``k=3``).

Units: positions and lengths in metres; activities are dimensionless and sum to 1 over cells.
No global random state is used: every random draw takes a :class:`numpy.random.Generator`.

Examples
--------
>>> import numpy as np
>>> from cw.task.arenas import make_arena
>>> arena = make_arena("square", {"shape": "square", "side": 2.0})
>>> p = PlaceCellParams()
>>> centres = sample_centres(arena, p.n_cells, np.random.default_rng(0))
>>> centres.shape
(512, 2)
>>> a = place_cell_activity(np.array([[0.1, -0.2], [0.5, 0.5]]), centres, p)
>>> a.shape, bool(np.allclose(a.sum(-1), 1.0)), bool((a >= 0).all())
((2, 512), True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cw.config import schema_default

__all__ = [
    "TARGET_KINDS",
    "PlaceCellParams",
    "sample_centres",
    "place_cell_activity",
    "decode_position",
]

#: Kinds of place-cell targets: ``"dos"`` (difference of softmaxes) and ``"gaussian"``.
TARGET_KINDS: tuple[str, ...] = ("dos", "gaussian")


@dataclass(frozen=True)
class PlaceCellParams:
    """Parameters of the place-cell targets.

    Parameters
    ----------
    n_cells : int, default 512
        Number of place cells Np (SORSCHER: ``options.Np = 512`` in the options of
        ``pattern_formation.ipynb``, the default of ``main.py``).
    sigma : float, default 0.12
        Width (s.d.) of the centre's Gaussian tuning, m (SORSCHER: ``options.place_cell_rf =
        0.12``, "width of place cell center tuning curve (m)", ``pattern_formation.ipynb``
        and ``main.py``).
    surround_scale : float, default 2.0
        Ratio of the surround's *variance* to the centre's, ``sigma_s^2 / sigma^2`` (SORSCHER:
        ``options.surround_scale = 2``, "ratio of sigma2^2 to sigma1^2", used as
        ``-d^2 / (2 surround_scale sigma^2)`` in ``place_cells.py``); > 1. Only used by the
        ``"dos"`` targets.
    kind : {"dos", "gaussian"}, default "dos"
        Difference of softmaxes (SORSCHER: ``options.DoG = True``, ``pattern_formation.ipynb``
        and ``main.py``) or a single Gaussian softmax (SORSCHER: ``DoG = False``,
        ``place_cells.py``).
    decode_k : int, default 3
        Number of most active cells whose centres are averaged by :func:`decode_position`
        (SORSCHER: ``get_nearest_cell_pos(activation, k=3)``, ``place_cells.py``).

    Raises
    ------
    ValueError
        ``place_cells.<field>: ...`` for an invalid value.
    """

    n_cells: int = schema_default("place_cells", "n_cells")
    sigma: float = schema_default("place_cells", "sigma")
    surround_scale: float = schema_default("place_cells", "surround_scale")
    kind: str = schema_default("place_cells", "kind")
    decode_k: int = schema_default("place_cells", "decode_k")

    def __post_init__(self) -> None:
        def bad(field: str, why: str) -> ValueError:
            return ValueError(f"place_cells.{field}: {why}, got {getattr(self, field)!r}")

        for field in ("n_cells", "decode_k"):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise bad(field, "must be an integer >= 1")
        if self.decode_k > self.n_cells:
            raise bad("decode_k", f"must be <= n_cells = {self.n_cells}")
        for field in ("sigma", "surround_scale"):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(v):
                raise bad(field, "must be a finite number")
        if self.sigma <= 0:
            raise bad("sigma", "must be > 0 m")
        if self.surround_scale <= 1:
            raise bad("surround_scale", "must be > 1 (the surround is wider than the centre)")
        if self.kind not in TARGET_KINDS:
            raise bad("kind", f"must be one of {', '.join(TARGET_KINDS)}")

    @property
    def surround_sd(self) -> float:
        """s.d. of the surround's Gaussian, m: ``sqrt(surround_scale) * sigma``."""
        return math.sqrt(self.surround_scale) * self.sigma


def sample_centres(arena: Any, n_cells: int, rng: np.random.Generator) -> np.ndarray:
    """Place-cell centres uniform in the arena.

    Points are drawn uniformly in the arena's bounding box and those outside the (closed)
    polygon are rejected, until ``n_cells`` are inside; the result is therefore uniform in the
    polygon.

    Parameters
    ----------
    arena : Arena
        Any object with ``bounds`` ``(xmin, xmax, ymin, ymax)`` (m) and
        ``contains(points (..., 2)) -> bool (...)``, e.g. :class:`cw.task.arenas.Arena`.
    n_cells : int
        Number of centres Np (>= 1).
    rng : numpy.random.Generator
        The only source of randomness.

    Returns
    -------
    numpy.ndarray, shape (n_cells, 2), float64
        Centres (m), in the order drawn.
    """
    if isinstance(n_cells, bool) or not isinstance(n_cells, (int, np.integer)) or n_cells < 1:
        raise ValueError(f"n_cells: must be an integer >= 1, got {n_cells!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng: must be a numpy.random.Generator")
    x0, x1, y0, y1 = (float(b) for b in arena.bounds)
    out = np.empty((0, 2))
    while out.shape[0] < n_cells:
        m = 2 * (n_cells - out.shape[0]) + 16
        pts = np.stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)], axis=1)
        out = np.concatenate([out, pts[np.asarray(arena.contains(pts), bool)]])
    return out[:n_cells]


def _softmax_neg_sq(d2: np.ndarray, variance: float) -> np.ndarray:
    """``softmax`` over the last axis of ``-d2 / (2 variance)`` (numerically stable)."""
    z = -d2 / (2.0 * variance)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def place_cell_activity(
    positions: np.ndarray, centres: np.ndarray, params: PlaceCellParams = PlaceCellParams()
) -> np.ndarray:
    """Place-cell targets at given positions (module docstring).

    Parameters
    ----------
    positions : array_like, shape (..., 2)
        Positions in metres.
    centres : array_like, shape (Np, 2)
        Place-cell centres in metres (:func:`sample_centres`).
    params : PlaceCellParams
        ``sigma``, ``surround_scale`` and ``kind`` are used (``n_cells`` is not checked against
        ``len(centres)``).

    Returns
    -------
    numpy.ndarray, shape (..., Np), float64
        Non-negative activities that sum to 1 over the cells at every position. For ``"dos"``
        the least active cell of every position is exactly 0.
    """
    pos = np.asarray(positions, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    if pos.shape[-1:] != (2,):
        raise ValueError(f"positions: last axis must have length 2, got shape {pos.shape}")
    if c.ndim != 2 or c.shape[1] != 2:
        raise ValueError(f"centres: must have shape (Np, 2), got {c.shape}")
    d2 = np.sum((pos[..., None, :] - c) ** 2, axis=-1)  # (..., Np), m^2
    out = _softmax_neg_sq(d2, params.sigma ** 2)
    if params.kind == "dos":
        out = out - _softmax_neg_sq(d2, params.surround_scale * params.sigma ** 2)
        out = out - out.min(axis=-1, keepdims=True)  # the minimum is <= 0: the row sums to 0
        out = out / out.sum(axis=-1, keepdims=True)
    return out


def decode_position(activity: np.ndarray, centres: np.ndarray, k: int = 3) -> np.ndarray:
    """Decoded position: the mean of the centres of the ``k`` most active place cells.

    Parameters
    ----------
    activity : array_like, shape (..., Np)
        Place-cell activity (targets or a network's read-out; any monotone scale, e.g. logits).
    centres : array_like, shape (Np, 2)
        Place-cell centres, m.
    k : int, default 3
        Number of most active cells averaged (SORSCHER: 3); among equal activities the choice
        is arbitrary.

    Returns
    -------
    numpy.ndarray, shape (..., 2), float64
        Decoded positions, m.
    """
    a = np.asarray(activity, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    if a.shape[-1] != c.shape[0]:
        raise ValueError(f"activity: last axis {a.shape[-1]} != number of centres {c.shape[0]}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= c.shape[0]:
        raise ValueError(f"k: must be an integer in [1, {c.shape[0]}], got {k!r}")
    idx = np.argpartition(-a, k - 1, axis=-1)[..., :k]  # the k largest, any order
    return c[idx].mean(axis=-2)
