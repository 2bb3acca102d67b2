"""Hessian-free (truncated Newton) optimisation: Martens (2010), Martens & Sutskever (2011).

One update on a minibatch (all evaluations see the same trials and the same noise sample)::

    f0, g  <- loss and gradient on the batch (g rescaled to norm <= clip_grad_norm for CG)
    A v    := G v + lambda v + lambda mu S v        on the curvature batch (a subset of the batch)
    CG on A d = -g from x0 = decay * d_prev, stopped by Martens' relative-progress rule or the cap,
           saving the iterates i = 1, 2, 3, 4, 6, 8, 11, ... (i_{j+1} = ceil(1.3 i_j)) and the last
    d_prev <- last CG iterate
    CG backtracking: walk back over the saved iterates while the loss on the batch keeps falling
    rho    <- [f(theta + d) - f(theta)] / [g.d + d^T G d / 2]   (Martens: undamped model,
              curvature batch, chosen iterate)
    lambda <- lambda * 3/2 if rho < 1/4 (or undefined);  lambda * 2/3 if rho > 3/4
    eta    <- Armijo backtracking line search from 1 (x0.8, c = 1e-2); 0 rejects the step
    theta  <- theta + eta d

G is the Gauss-Newton matrix of the loss (error, firing-rate penalty and L2 penalty) and S the
structural-damping matrix on the hidden states; see :mod:`cw.curvature`.  CG vectors, scalars and
dot products are float64 numpy (P ~ 10,500) while the network runs in the objective's dtype.

The pure pieces (:func:`conjugate_gradient`, :func:`backtrack`, :func:`update_damping`,
:func:`line_search`) are separate functions so that they can be tested on their own.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Mapping, NamedTuple

import numpy as np
import tensorflow as tf

from cw.curvature import GaussNewton, flatten, shapes_of, unflatten
from cw.optimizers import Batch

#: Codes of the reason CG stopped, as logged under ``cg_stop``.
CG_STOP_CODES = {"max_iters": 0, "martens": 1, "residual": 2, "curvature": 3}


@dataclass(frozen=True)
class HessianFreeParams:
    """Settings of the Hessian-free optimiser (config section ``training.hessian_free``).

    PAPER: from paper.md section 3 (the values of Cueva's own HF code of the period).
    OURS: our choice, following Martens (2010) / Martens & Sutskever (2011) and the research notes
    (shared/notes/hessian-free.md), where the paper is silent.

    Damping
    -------
    initial_damping : float, default 0.01
        Tikhonov (Levenberg-Marquardt) damping lambda at the first update, added to the curvature
        of the loss as defined in :mod:`cw.objective` (a mean over trials, steps and outputs), so
        in units of that loss per squared weight (OURS: 0.01.  Sussillo's and drasmuss' codes
        start at 1, but on our mean-normalised loss a path-integration run with N = 100,
        T = M = 100 kept rho ~ 1 for the ~10 updates lambda needed to fall from 1 to ~0.01, and
        after 10 updates reached a 4x higher loss than a start at 0.01.)
    damping_boost : float, default 1.5
        Factor applied to lambda when rho < ``rho_low`` or rho is undefined (PAPER: 3/2).
    damping_drop : float, default 2/3
        Factor applied to lambda when rho > ``rho_high`` (PAPER: 2/3).
    rho_low, rho_high : float, defaults 0.25, 0.75
        Reduction-ratio thresholds of the Levenberg-Marquardt rule (PAPER: 1/4 and 3/4).
    structural_damping : float, default 0.03
        Martens & Sutskever's mu: the matrix damped is ``G + lambda I + lambda mu S`` with S the
        hidden-state matching-loss curvature of :mod:`cw.curvature` (per trial, summed over steps
        and units).  Dimensionless; 0 disables it.  (PAPER: "mu ~ 3000 x the L2 weight" in Cueva's
        code, whose normalisation is unknown; OURS: 0.03, the value of Martens & Sutskever 2011,
        Sutskever's and Boulanger-Lewandowski's codes, which our normalisation of S reproduces.)

    Conjugate gradient
    ------------------
    cg_max_iters : int, default 50
        Maximum CG iterations per update (PAPER: 50 in Cueva's code; Martens: 250).
    cg_min_iters : int, default 1
        The relative-progress rule is not applied before this many iterations (OURS: 1, Martens).
    cg_epsilon : float, default 5e-4
        Martens' stopping rule: stop at iteration i when i > k, phi(x_{i-k}) < 0 and
        (phi(x_i) - phi(x_{i-k})) / phi(x_i) < k * epsilon, phi the damped quadratic model
        (OURS: 5e-4, Martens 2010 section 4.4).
    cg_gap_ratio : float, default 0.1
        k = max(cg_min_gap, ceil(cg_gap_ratio * i)) (OURS: 0.1, Martens).
    cg_min_gap : int, default 10
        See ``cg_gap_ratio`` (OURS: 10, Martens).
    cg_residual_tol : float, default 1e-10
        CG also stops when the residual norm falls below this fraction of the gradient norm
        (dimensionless; OURS, after Sutskever's code, which used an absolute 1e-10).
    cg_warm_start_decay : float, default 0.95
        CG starts from this times the previous update's last CG iterate (PAPER: 0.95).  If that
        start is worse than 0 under the current quadratic model, CG starts from 0 (OURS).  0 turns
        warm starts off.
    backtrack_save_ratio : float, default 1.3
        CG iterates are saved at i = 1 and then i <- ceil(1.3 i) (1, 2, 3, 4, 6, 8, 11, 15, 20, 26,
        34, 45, ...) and at the last iteration, for CG backtracking on the batch (PAPER: 1.3).

    Line search and gradient
    ------------------------
    line_search_shrink : float, default 0.8
        Step size multiplier after a failed Armijo test (PAPER: 0.8).
    line_search_c : float, default 1e-2
        Armijo constant: accept eta when f(theta + eta d) <= f(theta) + c eta g.d (PAPER: 1e-2).
    line_search_max_tries : int, default 60
        Loss evaluations before the step is rejected (eta = 0) (OURS: 60, Martens' code).
    clip_grad_norm : float, default 10.0
        The gradient given to CG is rescaled to at most this global L2 norm; 0 disables.  Its unit
        is that of the loss per weight (PAPER: 10).  rho and the Armijo test use the unclipped
        gradient, since they compare the loss with its quadratic model.

    Minibatches
    -----------
    curvature_fraction : float, default 1.0
        Fraction of the update's trials (the first ones of the batch, which is already a random
        draw) used for the curvature products and the numerator of rho; the gradient,
        backtracking and line search use the whole batch (OURS: 1.0, the safest; Martens used 1/4).
    """

    initial_damping: float = 0.01
    damping_boost: float = 1.5
    damping_drop: float = 2.0 / 3.0
    rho_low: float = 0.25
    rho_high: float = 0.75
    structural_damping: float = 0.03
    cg_max_iters: int = 50
    cg_min_iters: int = 1
    cg_epsilon: float = 5e-4
    cg_gap_ratio: float = 0.1
    cg_min_gap: int = 10
    cg_residual_tol: float = 1e-10
    cg_warm_start_decay: float = 0.95
    backtrack_save_ratio: float = 1.3
    line_search_shrink: float = 0.8
    line_search_c: float = 1e-2
    line_search_max_tries: int = 60
    clip_grad_norm: float = 10.0
    curvature_fraction: float = 1.0

    def __post_init__(self) -> None:
        def bad(key, rule):
            raise ValueError(f"training.hessian_free.{key}: must be {rule}, got {getattr(self, key)!r}")

        for key in ("initial_damping", "cg_epsilon", "line_search_c"):
            if not getattr(self, key) > 0:
                bad(key, "> 0")
        for key in ("structural_damping", "cg_gap_ratio", "cg_residual_tol", "clip_grad_norm"):
            if not getattr(self, key) >= 0:
                bad(key, ">= 0")
        if not self.damping_boost > 1:
            bad("damping_boost", "> 1")
        if not 0 < self.damping_drop < 1:
            bad("damping_drop", "in (0, 1)")
        if not self.rho_low <= self.rho_high:
            bad("rho_low", f"<= rho_high ({self.rho_high})")
        for key in ("cg_max_iters", "cg_min_iters", "cg_min_gap", "line_search_max_tries"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                bad(key, "an integer >= 1")
        if self.cg_min_iters > self.cg_max_iters:
            bad("cg_min_iters", f"<= cg_max_iters ({self.cg_max_iters})")
        if not 0 <= self.cg_warm_start_decay <= 1:
            bad("cg_warm_start_decay", "in [0, 1]")
        if not self.backtrack_save_ratio > 1:
            bad("backtrack_save_ratio", "> 1")
        if not 0 < self.line_search_shrink < 1:
            bad("line_search_shrink", "in (0, 1)")
        if not 0 < self.curvature_fraction <= 1:
            bad("curvature_fraction", "in (0, 1]")

    @classmethod
    def from_dict(cls, d: Mapping) -> "HessianFreeParams":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"training.hessian_free: unknown key(s) {', '.join(unknown)}")
        return cls(**dict(d))

    def to_dict(self) -> dict:
        return asdict(self)


# -- pure pieces ----------------------------------------------------------------------------------
class CGResult(NamedTuple):
    """Outcome of :func:`conjugate_gradient`.

    x : last iterate; saved : (iteration, iterate) pairs in increasing order, the last one is
    ``(iterations, x)``; phi : phi[i] the quadratic model after i iterations (phi[0] at the start);
    iterations : CG iterations run; products : calls of the operator; stop : key of
    :data:`CG_STOP_CODES`; restarted : the warm start was discarded for 0.
    """

    x: np.ndarray
    saved: list
    phi: list
    iterations: int
    products: int
    stop: str
    restarted: bool


def save_schedule(max_iters: int, ratio: float = 1.3) -> list[int]:
    """Iterations at which CG saves its iterate for backtracking: 1, then ceil(ratio * previous)."""
    out, i = [], 1
    while i <= max_iters:
        out.append(i)
        i = max(i + 1, math.ceil(round(i * ratio, 9)))
    return out


def conjugate_gradient(
    apply_a: Callable[[np.ndarray], np.ndarray],
    b: np.ndarray,
    x0: np.ndarray | None = None,
    *,
    max_iters: int = 50,
    min_iters: int = 1,
    epsilon: float = 5e-4,
    gap_ratio: float = 0.1,
    min_gap: int = 10,
    save_ratio: float = 1.3,
    residual_tol: float = 1e-10,
) -> CGResult:
    """Linear CG on ``A x = b`` (A symmetric positive definite), i.e. minimising
    ``phi(x) = x^T A x / 2 - b^T x``, with Martens' (2010) relative-progress stopping rule.

    Stops after iteration i when (first that applies):

    * ``pAp <= 0`` ("curvature"; the iteration is not taken; cannot happen for a damped GN matrix);
    * ``i >= min_iters``, ``i > k``, ``phi[i-k] < 0`` and ``(phi[i] - phi[i-k]) / phi[i] < k epsilon``
      with ``k = max(min_gap, ceil(gap_ratio i))`` ("martens");
    * ``||r|| <= residual_tol ||b||`` ("residual"; checked at the start too: a warm start at the
      solution runs no iteration);
    * ``i = max_iters`` ("max_iters").

    A non-zero ``x0`` with ``phi(x0) >= 0`` is replaced by 0 (``restarted``).  All arithmetic is in
    float64.  ``apply_a`` is called once per iteration, plus once at a non-zero start.
    """
    b = np.asarray(b, np.float64)
    products, restarted = 0, False
    if x0 is not None and np.any(x0):
        x = np.array(x0, np.float64)
        r = b - apply_a(x)
        products += 1
        phi0 = -0.5 * float(x @ (r + b))
        if not phi0 < 0:
            x, r, phi0, restarted = np.zeros_like(b), b.copy(), 0.0, True
    else:
        x, r, phi0 = np.zeros_like(b), b.copy(), 0.0
    phi = [phi0]
    saved: list[tuple[int, np.ndarray]] = []
    schedule = set(save_schedule(max_iters, save_ratio))
    tol = residual_tol * float(np.linalg.norm(b))
    rr = float(r @ r)
    p = r.copy()
    i, stop = 0, "max_iters"
    if math.sqrt(rr) <= tol:
        stop = "residual"
    else:
        for it in range(1, max_iters + 1):
            ap = apply_a(p)
            products += 1
            kappa = float(p @ ap)
            if not kappa > 0:
                stop = "curvature"
                break
            i = it
            a = rr / kappa
            x = x + a * p
            r = r - a * ap
            rr_new = float(r @ r)
            phi.append(-0.5 * float(x @ (r + b)))
            if i in schedule:
                saved.append((i, x.copy()))
            k = max(min_gap, math.ceil(round(gap_ratio * i, 9)))
            if i >= min_iters and i > k and phi[i - k] < 0 and (phi[i] - phi[i - k]) / phi[i] < k * epsilon:
                stop = "martens"
                break
            if math.sqrt(rr_new) <= tol:
                stop = "residual"
                break
            p = r + (rr_new / rr) * p
            rr = rr_new
    if not saved or saved[-1][0] != i:
        saved.append((i, x.copy()))
    return CGResult(x, saved, phi, i, products, stop, restarted)


def backtrack(saved: list, f: Callable[[int, np.ndarray], float]) -> tuple[int, float, int]:
    """CG backtracking (Martens 2010, section 4.6).

    Starting from the last saved iterate, step back while the objective ``f(iteration, x)``
    strictly decreases; returns ``(index into saved, its objective, evaluations)``.
    """
    j = len(saved) - 1
    fj = f(*saved[j])
    evals = 1
    while j > 0:
        f_prev = f(*saved[j - 1])
        evals += 1
        if f_prev < fj:
            j, fj = j - 1, f_prev
        else:
            break
    return j, fj, evals


def update_damping(
    damping: float,
    rho: float,
    *,
    boost: float = 1.5,
    drop: float = 2.0 / 3.0,
    rho_low: float = 0.25,
    rho_high: float = 0.75,
) -> float:
    """Levenberg-Marquardt rule: ``damping * boost`` if rho < rho_low or rho is not finite,
    ``damping * drop`` if rho > rho_high, else unchanged."""
    if not np.isfinite(rho) or rho < rho_low:
        return damping * boost
    if rho > rho_high:
        return damping * drop
    return damping


def line_search(
    f: Callable[[float], float],
    f0: float,
    slope: float,
    *,
    f_at_one: float | None = None,
    shrink: float = 0.8,
    c: float = 1e-2,
    max_tries: int = 60,
) -> tuple[float, float, int]:
    """Armijo backtracking line search: the first eta in 1, shrink, shrink^2, ... with
    ``f(eta) <= f0 + c eta slope``; ``(0, f0)`` if none in ``max_tries`` or if ``slope >= 0``
    (not a descent direction).  ``f_at_one``, when known, saves the first evaluation.

    Returns ``(eta, f(eta), evaluations including a reused f_at_one)``.
    """
    if not slope < 0:
        return 0.0, f0, 0
    eta = 1.0
    for k in range(max_tries):
        fe = f_at_one if (k == 0 and f_at_one is not None) else f(eta)
        if np.isfinite(fe) and fe <= f0 + c * eta * slope:
            return eta, fe, k + 1
        eta *= shrink
    return 0.0, f0, max_tries


# -- the optimiser --------------------------------------------------------------------------------
class HessianFree:
    """Hessian-free optimiser on the CTRNN objective (see :mod:`cw.optimizers` for the interface).

    State between updates: the damping lambda and the last CG iterate (``get_state``).
    """

    name = "hessian_free"

    def __init__(self, objective, params: HessianFreeParams | None = None):
        self.objective = objective
        self.params = params or HessianFreeParams()
        self.gn = GaussNewton(objective)
        self.damping = float(self.params.initial_damping)
        self.prev: np.ndarray | None = None
        self.n_updates = 0

    # ---------------------------------------------------------------------------------------
    def _shifted(self, theta: np.ndarray, d: np.ndarray, eta: float, shapes) -> list[tf.Tensor]:
        return unflatten(theta + eta * d, shapes, self.objective.dtype)

    def _curvature_batch(self, batch: Batch) -> Batch:
        m = int(batch.inputs.shape[0])
        mc = max(1, int(round(self.params.curvature_fraction * m)))
        if mc >= m:
            return batch
        return Batch(batch.inputs[:mc], batch.targets[:mc], batch.noise[:mc], batch.lambda_l2, batch.lambda_fr)

    def step(self, weights: list[tf.Tensor], batch: Batch) -> tuple[list[tf.Tensor], dict[str, float]]:
        t_start = time.perf_counter()
        p, obj, dt = self.params, self.objective, self.objective.dtype
        weights = [tf.convert_to_tensor(w, dt) for w in weights]
        shapes = shapes_of(weights)
        theta = flatten(weights)

        terms0, grads = obj.loss_and_grad(weights, *batch)
        terms0 = {k: float(v) for k, v in terms0.items()}
        f0 = terms0["loss"]
        g = flatten(grads)
        gnorm = float(np.linalg.norm(g))
        scale = min(1.0, p.clip_grad_norm / gnorm) if p.clip_grad_norm > 0 and gnorm > 0 else 1.0

        # Damped curvature on the curvature batch.
        curv = self._curvature_batch(batch)
        lam = self.damping
        struct = tf.constant(lam * p.structural_damping, dt)
        one = tf.constant(1.0, dt)

        def apply_a(v: np.ndarray) -> np.ndarray:
            gv = self.gn.product(
                weights, unflatten(v, shapes, dt), curv.inputs, curv.noise, curv.lambda_l2, curv.lambda_fr, struct, one
            )
            return flatten(gv) + lam * v

        x0 = None
        if self.prev is not None and p.cg_warm_start_decay > 0 and self.prev.shape == theta.shape:
            x0 = p.cg_warm_start_decay * self.prev
        cg = conjugate_gradient(
            apply_a,
            -scale * g,
            x0,
            max_iters=p.cg_max_iters,
            min_iters=p.cg_min_iters,
            epsilon=p.cg_epsilon,
            gap_ratio=p.cg_gap_ratio,
            min_gap=p.cg_min_gap,
            save_ratio=p.backtrack_save_ratio,
            residual_tol=p.cg_residual_tol,
        )
        self.prev = cg.x

        # CG backtracking on the whole batch.
        evaluated: dict[int, dict] = {}

        def f_iterate(i: int, x: np.ndarray) -> float:
            t = obj.loss_terms(self._shifted(theta, x, 1.0, shapes), *batch)
            evaluated[i] = {k: float(v) for k, v in t.items()}
            return _finite_or_inf(evaluated[i]["loss"])

        j, f_d, bt_evals = backtrack(cg.saved, f_iterate)
        chosen, d = cg.saved[j]

        # Reduction ratio on the curvature batch, undamped quadratic model (Martens).
        if curv is batch:
            fc0, fcd = f0, f_d
        else:
            fc0 = float(obj.loss_terms(weights, *curv)["loss"])
            fcd = _finite_or_inf(float(obj.loss_terms(self._shifted(theta, d, 1.0, shapes), *curv)["loss"]))
        vgv, _ = self.gn.quadratic_forms(
            weights, unflatten(d, shapes, dt), curv.inputs, curv.noise, curv.lambda_l2, curv.lambda_fr, one
        )
        slope = float(g @ d)
        model_change = slope + 0.5 * float(vgv)
        # Undefined (NaN) when the model predicts no decrease; -inf when the loss is not finite.
        rho = (fcd - fc0) / model_change if model_change < 0 else float("nan")
        self.damping = update_damping(
            lam, rho, boost=p.damping_boost, drop=p.damping_drop, rho_low=p.rho_low, rho_high=p.rho_high
        )

        # Armijo line search on the whole batch.
        last_terms: dict = {}

        def f_eta(eta: float) -> float:
            t = obj.loss_terms(self._shifted(theta, d, eta, shapes), *batch)
            last_terms.clear()
            last_terms.update({k: float(v) for k, v in t.items()})
            return _finite_or_inf(last_terms["loss"])

        eta, _, ls_evals = line_search(
            f_eta,
            f0,
            slope,
            f_at_one=f_d,
            shrink=p.line_search_shrink,
            c=p.line_search_c,
            max_tries=p.line_search_max_tries,
        )
        if eta == 0.0:
            new_weights, after = weights, terms0
            self.prev = None  # a rejected step discards the warm start (Sutskever, Sussillo)
        else:
            new_weights = self._shifted(theta, d, eta, shapes)
            after = evaluated[chosen] if eta == 1.0 else dict(last_terms)
        self.n_updates += 1

        log = dict(terms0)
        log.update({f"{k}_after": v for k, v in after.items()})
        log.update(
            damping=lam,
            damping_next=self.damping,
            structural_damping=lam * p.structural_damping,
            cg_iters=float(cg.iterations),
            cg_chosen=float(chosen),
            cg_products=float(cg.products),
            cg_stop=float(CG_STOP_CODES[cg.stop]),
            cg_restarted=float(cg.restarted),
            backtrack_evals=float(bt_evals),
            rho=float(rho),
            model_change=model_change,
            step_size=float(eta),
            line_search_evals=float(ls_evals),
            step_norm=float(eta * np.linalg.norm(d)),
            grad_norm=gnorm,
            grad_scale=scale,
            seconds=time.perf_counter() - t_start,
        )
        return new_weights, log

    # ---------------------------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """Damping, the last CG iterate (empty when there is none) and the update count."""
        return {
            "damping": np.asarray(self.damping, np.float64),
            "cg_prev": np.zeros(0) if self.prev is None else self.prev.copy(),
            "n_updates": np.asarray(self.n_updates, np.int64),
        }

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        self.damping = float(state["damping"])
        prev = np.asarray(state.get("cg_prev", np.zeros(0)), np.float64)
        self.prev = prev.copy() if prev.size else None
        self.n_updates = int(state.get("n_updates", 0))


def _finite_or_inf(v: float) -> float:
    return v if np.isfinite(v) else float("inf")
