"""Pattern-formation theory of the read-out (Sorscher et al. 2019, 2023): the maps it predicts.

Sorscher et al. explain the grid cells of networks trained to predict place-cell activity as the
solution of a simpler problem: non-negative maps ``g`` over the positions of the arena that
maximise the variance of the targets they capture, ``g^T C g`` with ``||g|| = 1`` and
``g >= 0``, where ``C`` is the targets' spatial covariance (positions x positions). With
difference-of-softmaxes place-cell targets (:mod:`cw.task.place_cells`) the optimal
non-negative maps are hexagonal lattices; with the (x, y) targets of Cueva & Wei the covariance
has rank 2 and the optimal maps are rectified ramps. This module computes both sets of maps in
plain numpy; :mod:`cw.analysis.theory_control` classifies them.

The model, re-implemented from its published definition (SORSCHER: Sorscher et al. 2019, the
"position-encoding Lagrangian" that ganguli-lab/grid-pattern-formation ``pattern_formation.ipynb``
optimises in its "single-cell dynamics" with the symmetry-breaking ReLU, and
``place_cells.py``, ``compute_covariance``; the notebook's update loop was read in a public
adaptation of it, its stored copy holding the code cells behind megabytes of embedded images):

1. **Positions**: the centres of square bins of side ``resolution`` covering the arena's
   bounding box (:func:`cw.analysis.ratemaps.bin_edges`), those inside the polygon kept
   (n positions).
2. **Targets** ``P`` (n x m): ``"dos"``: the place-cell activities of :mod:`cw.task.place_cells`
   (m = Np cells, centres uniform in the arena); ``"gaussian"``: the same with single-softmax
   tuning; ``"cartesian"``: the two coordinates x and y themselves (m = 2; Cueva & Wei's
   read-out).
3. **Covariance** ``C`` (n x n), one of

   * ``"stationary"`` (default for place-cell targets; SORSCHER): the covariance averaged over
     translations, ``C(x, y) = K(y - x)`` with ``K(d)`` the mean of
     ``sum_i P_i(u) P_i(u + d) / m`` over all pairs of positions ``u``, ``u + d`` in the
     arena. SORSCHER's ``compute_covariance`` sums the covariance of every reference position
     rolled to a common origin (periodically); here the average runs over the pairs inside the
     arena, without wrapping, and ``C`` is then used on the arena's positions (walls are real).
   * ``"empirical"``: ``C = P P^T / m`` of the given centres, nothing averaged.

   Both are then mean-centred, ``C <- H C H`` with ``H = I - 1 1^T / n`` (``centre=True``;
   SORSCHER's notebook sets the zero-frequency term of the covariance's Fourier transform to
   zero, ``Ctilde[0,0] = 0``, which is this projection on a periodic grid). For ``"empirical"``
   this is ``Pc Pc^T / m`` with ``Pc`` the targets minus their mean over positions. The
   (x, y) targets always use ``"empirical"``: their translation average is a constant, which
   the centring removes.

   *Why "stationary" is the default* (measured here, square of config.yaml, 512 centres,
   seed 0): with ``"empirical"`` all 32 maps converge to a single field on one place cell
   (``g^T C g`` reaches 0.76 of the top eigenvalue; a map started from a hexagonal cosine
   lattice also decays to a single field) and all 32 are typed spatially irregular: the random
   positions of 512 centres make the covariance lumpy, and a non-negative map gains most by
   sitting on one cell. SORSCHER's theory is that of the translation-invariant covariance (the
   limit of many place cells), which is what their ``compute_covariance`` computes; with it
   the maps are hexagonal.
4. **Maps**: ``Ng`` maps from independent random starts (``relu`` of standard normal values,
   as SORSCHER's ``1e-8 * randn`` followed by the ReLU) follow SORSCHER's single-cell update
   ``g <- relu(g + lr (-g + C g))``. The update is positively homogeneous in ``g``
   (``relu(c v) = c relu(v)`` for ``c > 0``), so only a map's direction matters: every map is
   renormalised to unit length after each update (this leaves the sequence of directions
   unchanged) and the step is expressed in units of ``1 / lambda_max(C)``:
   ``g <- relu(g + step C g / lambda_max)``, ``g <- g / ||g||``, projected gradient ascent of
   ``g^T C g`` on the unit sphere with ``g >= 0``. The maps are independent: no term couples
   them (SORSCHER's single-cell dynamics).
5. **Convergence**: the fraction ``g^T C g / lambda_max`` of the unconstrained optimum that a
   map captures only grows. The updates stop when the mean of that fraction over the maps has
   grown by less than ``tol`` in the last ``window`` updates, or after ``max_iter`` updates.
   Measured (DoS, 32 maps): the lattices form within ~100 updates (2 s in the square) and then
   drift slowly (phase and orientation) towards the arena's best placement; the rule stops
   them after 300 (square) to 700 (triangle) updates.

The maps are returned as ``(Ng, ny, nx)`` arrays over the bins of step 1 (NaN outside the
arena), each scaled to zero mean and unit s.d. over the arena like the benchmark's maps.

Their classification through the project's real path, and the counts it gives, are in
:mod:`cw.analysis.theory_control`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from cw.config import schema_default
import scipy.linalg
from scipy.sparse.linalg import eigsh

from cw.task.place_cells import PlaceCellParams, place_cell_activity, sample_centres

__all__ = [
    "THEORY_TARGETS",
    "COVARIANCES",
    "PatternFormationParams",
    "TheoryMaps",
    "position_grid",
    "target_matrix",
    "empirical_covariance",
    "stationary_covariance",
    "optimise_maps",
    "theory_maps",
]

#: Kinds of targets of the theory control: difference of softmaxes, Gaussian softmax, (x, y).
THEORY_TARGETS: tuple[str, ...] = ("dos", "gaussian", "cartesian")

#: Covariance estimates (module docstring, step 3).
COVARIANCES: tuple[str, ...] = ("stationary", "empirical")

@dataclass(frozen=True)
class PatternFormationParams:
    """Settings of the pattern-formation optimisation (all OURS unless stated).

    Parameters
    ----------
    n_maps : int, default 32
        Number of maps Ng, each optimised independently from its own random start (OURS: a
        fraction of grid-like maps in steps of 1/32, ~10 s of optimisation per arena).
    resolution : float, default 0.05
        Side of the square bins whose centres are the positions of the covariance, m: 40 x 40
        positions in the 2-m square, 2.4 per place-cell width sigma = 0.12 m, half the
        rate-map bin of config.yaml (0.1 m).
    covariance : {"stationary", "empirical"}, default "stationary"
        Translation-averaged covariance (SORSCHER: ``compute_covariance`` in
        ``place_cells.py``) or the covariance of the given centres as it is (module
        docstring, step 3). Ignored for (x, y) targets (always empirical).
    centre : bool, default True
        Mean-centre the covariance over positions (SORSCHER: ``Ctilde[0,0] = 0`` in
        ``pattern_formation.ipynb``).
    step : float, default 1.0
        Step of the ReLU-projected ascent in units of ``1 / lambda_max(C)`` (> 0). Measured:
        steps of 1, 5 and 20 reach the same captured fractions in the same number of updates
        (within 1e-3 after 400 updates).
    max_iter : int, default 2000
        Largest number of updates (>= 1).
    tol : float, default 1e-3
        Convergence: the smallest gain of the mean captured fraction (dimensionless, in
        [0, 1]) over the last ``window`` updates that keeps the optimisation going (> 0).
    window : int, default 100
        Updates over which the gain is measured (>= 1).
    """

    n_maps: int = schema_default("pattern_formation", "n_maps")
    resolution: float = schema_default("pattern_formation", "resolution")
    covariance: str = schema_default("pattern_formation", "covariance")
    centre: bool = schema_default("pattern_formation", "centre")
    step: float = schema_default("pattern_formation", "step")
    max_iter: int = schema_default("pattern_formation", "max_iter")
    tol: float = schema_default("pattern_formation", "tol")
    window: int = schema_default("pattern_formation", "window")

    def __post_init__(self) -> None:
        def bad(field: str, why: str) -> ValueError:
            return ValueError(f"pattern_formation.{field}: {why}, got {getattr(self, field)!r}")

        for field in ("n_maps", "max_iter", "window"):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise bad(field, "must be an integer >= 1")
        for field in ("resolution", "step", "tol"):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(v) or v <= 0:
                raise bad(field, "must be a finite number > 0")
        if not isinstance(self.centre, (bool, np.bool_)):
            raise bad("centre", "must be true or false")
        if self.covariance not in COVARIANCES:
            raise bad("covariance", f"must be one of {', '.join(COVARIANCES)}")


@dataclass
class TheoryMaps:
    """Optimised maps of one arena and one kind of targets.

    Attributes
    ----------
    maps : numpy.ndarray, shape (Ng, ny, nx)
        The maps over the position grid, zero mean and unit s.d. over the arena, NaN outside it.
    x, y : numpy.ndarray, shapes (nx,), (ny,)
        Bin centres of the position grid, m.
    inside : numpy.ndarray of bool, shape (ny, nx)
        Bins whose centre lies in the arena.
    targets : str
        One of :data:`THEORY_TARGETS`.
    covariance : str
        The covariance used, one of :data:`COVARIANCES`.
    iterations : int
        Updates performed.
    converged : bool
        Whether the convergence rule stopped the updates before ``max_iter``.
    captured : numpy.ndarray, shape (Ng,)
        ``g^T C g / lambda_max(C)`` of every unit-length non-negative map: the fraction of the
        unconstrained optimum (the top eigenvector) reached, in [0, 1].
    raw : numpy.ndarray, shape (Ng, ny, nx)
        The optimised maps ``g`` themselves: non-negative, unit Euclidean length over the
        positions inside, NaN outside.
    seconds : float
        Wall time of the covariance and the optimisation, s.
    """

    maps: np.ndarray
    x: np.ndarray
    y: np.ndarray
    inside: np.ndarray
    targets: str
    covariance: str
    iterations: int
    converged: bool
    captured: np.ndarray
    raw: np.ndarray
    seconds: float


def position_grid(arena: Any, resolution: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres of square bins of side ``resolution`` covering the arena, and which are inside.

    Parameters
    ----------
    arena : Arena
        ``bounds`` and ``contains`` are used (:class:`cw.task.arenas.Arena`).
    resolution : float
        Bin side, m.

    Returns
    -------
    x : numpy.ndarray, shape (nx,)
        Bin centres along x, m (the grid of :func:`cw.analysis.ratemaps.bin_edges`).
    y : numpy.ndarray, shape (ny,)
        Bin centres along y, m.
    inside : numpy.ndarray of bool, shape (ny, nx)
        True where the bin centre lies in the closed polygon.
    """
    from cw.analysis.ratemaps import bin_edges

    xe, ye = bin_edges(tuple(float(b) for b in arena.bounds), float(resolution))
    x = 0.5 * (xe[:-1] + xe[1:])
    y = 0.5 * (ye[:-1] + ye[1:])
    gx, gy = np.meshgrid(x, y)
    inside = np.asarray(arena.contains(np.stack([gx, gy], -1)), bool)
    return x, y, inside


def target_matrix(points: np.ndarray, targets: str, centres: np.ndarray | None = None,
                  place_cells: PlaceCellParams = PlaceCellParams()) -> np.ndarray:
    """Targets ``P`` at the given positions.

    Parameters
    ----------
    points : numpy.ndarray, shape (n, 2)
        Positions, m.
    targets : {"dos", "gaussian", "cartesian"}
        Place-cell targets of that kind (:func:`cw.task.place_cells.place_cell_activity`; the
        ``kind`` of ``place_cells`` is overridden) or the coordinates themselves.
    centres : numpy.ndarray, shape (Np, 2), optional
        Place-cell centres, m (required unless ``targets == "cartesian"``).
    place_cells : PlaceCellParams
        Widths of the place cells.

    Returns
    -------
    numpy.ndarray, shape (n, Np) or (n, 2)
        Place-cell activities (dimensionless, rows sum to 1) or (x, y) in metres.
    """
    pts = np.asarray(points, dtype=np.float64)
    if targets not in THEORY_TARGETS:
        raise ValueError(f"targets: must be one of {', '.join(THEORY_TARGETS)}, got {targets!r}")
    if targets == "cartesian":
        return pts.copy()
    if centres is None:
        raise ValueError(f"targets={targets!r} needs the place-cell centres")
    p = PlaceCellParams(**{**place_cells.__dict__, "kind": targets})
    return place_cell_activity(pts, centres, p)


def _centred(C: np.ndarray) -> np.ndarray:
    """``H C H`` with ``H = I - 1 1^T / n``: remove the row and column means."""
    C = C - C.mean(axis=0, keepdims=True)
    return C - C.mean(axis=1, keepdims=True)


def empirical_covariance(P: np.ndarray, centre: bool = True) -> np.ndarray:
    """Spatial covariance of targets over positions, ``C = P P^T / m`` (``H C H`` if centred).

    Parameters
    ----------
    P : numpy.ndarray, shape (n, m)
        Targets at n positions (m targets).
    centre : bool, default True
        Subtract every target's mean over the positions first (equivalently ``H C H``).

    Returns
    -------
    numpy.ndarray, shape (n, n), float64
        Symmetric positive semi-definite matrix (units of the targets squared).

    Examples
    --------
    >>> P = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0]])
    >>> C = empirical_covariance(P)
    >>> C.shape, bool(np.allclose(C.sum(axis=1), 0.0))
    ((3, 3), True)
    """
    Pc = np.asarray(P, dtype=np.float64)
    if centre:
        Pc = Pc - Pc.mean(axis=0, keepdims=True)
    return Pc @ Pc.T / Pc.shape[1]


def stationary_covariance(P: np.ndarray, inside: np.ndarray, centre: bool = True) -> np.ndarray:
    """Translation-averaged spatial covariance of targets on a grid of positions.

    ``K(d) = sum over pairs (u, u + d) inside of sum_i P_i(u) P_i(u + d) / m``, divided by the
    number of such pairs; ``C(x, y) = K(y - x)`` for the positions inside (module docstring,
    step 3). The sums are linear autocorrelations computed with zero-padded FFTs.

    Parameters
    ----------
    P : numpy.ndarray, shape (n, m)
        Targets at the n inside positions, in the row-major order of ``inside`` (as
        ``grid[inside]`` orders them).
    inside : numpy.ndarray of bool, shape (ny, nx)
        Which bins of the regular grid are positions (n of them).
    centre : bool, default True
        Return ``H C H`` (row and column means removed).

    Returns
    -------
    numpy.ndarray, shape (n, n), float64
        Symmetric matrix (units of the targets squared).
    """
    inside = np.asarray(inside, bool)
    P = np.asarray(P, dtype=np.float64)
    ny, nx = inside.shape
    n, m = P.shape
    if n != int(inside.sum()):
        raise ValueError(f"P: {n} positions but inside has {int(inside.sum())}")
    shape = (2 * ny - 1, 2 * nx - 1)  # every lag once: linear, not circular, correlation
    grid = np.zeros((m, ny, nx))
    grid[:, inside] = P.T
    power = np.zeros((shape[0], shape[1] // 2 + 1))
    for i in range(0, m, 64):  # chunks bound the memory of the complex spectra
        f = np.fft.rfft2(grid[i:i + 64], s=shape)
        power += np.sum(f.real ** 2 + f.imag ** 2, axis=0)
    S = np.fft.fftshift(np.fft.irfft2(power, s=shape)) / m
    f = np.fft.rfft2(inside.astype(np.float64), s=shape)
    N = np.rint(np.fft.fftshift(np.fft.irfft2(f.real ** 2 + f.imag ** 2, s=shape)))
    K = np.where(N > 0, S / np.maximum(N, 1.0), 0.0)  # lag (dy, dx) at [ny-1+dy, nx-1+dx]
    iy, ix = np.nonzero(inside)
    C = K[iy[None, :] - iy[:, None] + ny - 1, ix[None, :] - ix[:, None] + nx - 1]
    C = 0.5 * (C + C.T)  # exact symmetry (K(d) = K(-d) up to round-off)
    return _centred(C) if centre else C


def _top_eigenvalue(C: np.ndarray, factor: bool) -> float:
    """Largest eigenvalue of ``C`` (symmetric PSD), or of ``C C^T`` if ``factor``."""
    if factor:  # eig(F F^T) = eig(F^T F) on the non-zero part
        r = C.shape[1]
        return float(scipy.linalg.eigh(C.T @ C, eigvals_only=True,
                                       subset_by_index=[r - 1, r - 1])[0])
    # Lanczos from a fixed start (a local generator, no global state): ~30 products with C
    v0 = np.random.default_rng(0).standard_normal(C.shape[0])
    return float(eigsh(C, k=1, which="LA", v0=v0, tol=1e-10, return_eigenvectors=False)[0])


def optimise_maps(C: np.ndarray, n_maps: int, rng: np.random.Generator,
                  params: PatternFormationParams = PatternFormationParams(),
                  factor: bool = False) -> tuple[np.ndarray, int, bool, np.ndarray]:
    """Non-negative unit-length maps that maximise ``g^T C g`` (module docstring, steps 4-5).

    Parameters
    ----------
    C : numpy.ndarray, shape (n, n), or (n, r) if ``factor``
        Symmetric positive semi-definite covariance (positions x positions), or a factor ``F``
        with ``C = F F^T`` (cheaper when r < n, e.g. the 2 centred coordinates / sqrt(2)).
    n_maps : int
        Number of maps Ng.
    rng : numpy.random.Generator
        Source of the random starts.
    params : PatternFormationParams
        ``step``, ``max_iter``, ``tol`` and ``window`` are used.
    factor : bool, default False
        Whether ``C`` is given as the factor ``F``.

    Returns
    -------
    G : numpy.ndarray, shape (n_maps, n), float64
        Non-negative maps of unit Euclidean length.
    iterations : int
        Updates performed.
    converged : bool
        Whether the convergence rule stopped the updates before ``max_iter``.
    captured : numpy.ndarray, shape (n_maps,)
        ``g^T C g / lambda_max(C)`` of every map, in [0, 1].
    """
    C = np.asarray(C, dtype=np.float64)
    n = C.shape[0]
    lam = _top_eigenvalue(C, factor)
    if not lam > 0:
        raise ValueError("optimise_maps: the covariance has no positive eigenvalue")
    if factor:
        F = (C / math.sqrt(lam)).astype(np.float32)  # C / lambda_max = F F^T

        def apply(G: np.ndarray) -> np.ndarray:
            return (G @ F) @ F.T
    else:
        Cn = (C / lam).astype(np.float32)  # float32: twice as fast; the maps need no more

        def apply(G: np.ndarray) -> np.ndarray:
            return G @ Cn
    G = np.maximum(rng.standard_normal((int(n_maps), n)), 0.0).astype(np.float32)
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    history = []
    converged = False
    it = 0
    for it in range(1, params.max_iter + 1):
        CG = apply(G)
        history.append(float(np.mean(np.sum(G * CG, axis=1))))
        new = np.maximum(G + np.float32(params.step) * CG, 0.0)
        norm = np.linalg.norm(new, axis=1, keepdims=True)
        dead = norm[:, 0] == 0
        if dead.any():  # a map lost every positive value: a new random start
            new[dead] = np.abs(rng.standard_normal((int(dead.sum()), n)))
            norm[dead] = np.linalg.norm(new[dead], axis=1, keepdims=True)
        G = new / norm
        if it > params.window and history[-1] - history[-1 - params.window] < params.tol:
            converged = True
            break
    G = G.astype(np.float64)
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    CG = (G @ C) @ C.T if factor else G @ C
    captured = np.einsum("ij,ij->i", CG, G) / lam
    return G, it, converged, captured


def theory_maps(arena: Any, targets: str, rng: np.random.Generator,
                params: PatternFormationParams = PatternFormationParams(),
                place_cells: PlaceCellParams = PlaceCellParams(),
                centres: np.ndarray | None = None) -> TheoryMaps:
    """Pattern-formation maps of one arena for one kind of targets.

    Parameters
    ----------
    arena : Arena
        The arena (:class:`cw.task.arenas.Arena`).
    targets : {"dos", "gaussian", "cartesian"}
        Kind of targets (module docstring).
    rng : numpy.random.Generator
        Draws the place-cell centres (unless given) and the maps' random starts.
    params : PatternFormationParams
        Covariance and optimisation settings.
    place_cells : PlaceCellParams
        Number and widths of the place cells (``kind`` is set by ``targets``).
    centres : numpy.ndarray, shape (Np, 2), optional
        Place-cell centres, m (default: ``place_cells.n_cells`` uniform in the arena).

    Returns
    -------
    TheoryMaps
    """
    x, y, inside = position_grid(arena, params.resolution)
    gx, gy = np.meshgrid(x, y)
    pts = np.stack([gx[inside], gy[inside]], axis=1)
    if targets != "cartesian" and centres is None:
        centres = sample_centres(arena, place_cells.n_cells, rng)
    t0 = time.perf_counter()
    P = target_matrix(pts, targets, centres, place_cells)
    kind = "empirical" if targets == "cartesian" else params.covariance
    if kind == "stationary":
        G, it, conv, captured = optimise_maps(stationary_covariance(P, inside, params.centre),
                                              params.n_maps, rng, params)
    else:  # C = Pc Pc^T / m, passed as its factor Pc / sqrt(m): cheaper when m < n
        Pc = P - P.mean(axis=0, keepdims=True) if params.centre else P
        G, it, conv, captured = optimise_maps(Pc / math.sqrt(P.shape[1]), params.n_maps, rng,
                                              params, factor=True)
    seconds = time.perf_counter() - t0
    maps = np.full((G.shape[0],) + inside.shape, np.nan)
    raw = maps.copy()
    raw[:, inside] = G
    sd = G.std(axis=1, keepdims=True)
    maps[:, inside] = (G - G.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)
    return TheoryMaps(maps, x, y, inside, targets, kind, it, conv, captured, raw, seconds)
