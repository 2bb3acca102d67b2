"""Hessian-free (truncated Newton) optimisation: Martens (2010), Martens & Sutskever (2011).

Two damping schemes (``HessianFreeParams.damping``).  ``tikhonov`` (Martens 2010; OURS as a
default until the authors' scheme was known), one update on a minibatch (all evaluations see the
same trials and the same noise sample)::

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
structural-damping matrix on the hidden states; see :mod:`cw.network.curvature`.

``penalty_weights`` (CODE: ``train.py`` of the port of the authors' trainer; the first author's
later trainer has the same coupling) has no lambda I.  The damping *is* the loss's penalty
weights, which the training loop hands over already moved by the band rule of
:mod:`cw.network.penalties` (as the port does before CG)::

    A v    := G_E v + lambda_FR G_FR v + lambda_L2 H_L2 v + mu lambda_L2 S v
    rho    <- [f(theta + d) - f(theta)] / [g.d + d^T G_E d / 2], -inf when the loss rose (the
              port: the model with every penalty and damping weight at 0)
    (lambda_L2, lambda_FR) <- x 3/2 if rho < 1/4;  x 2/3 if rho > 3/4   (``lm_weights``: both, as
              the port, or lambda_L2 alone, as the later trainer); the factors are returned as
              ``lambda_l2_factor`` / ``lambda_fr_factor`` for the training loop, which owns the weights

CG, its backtracking and the line search are those of ``tikhonov``.  Where this differs from the
port: the gradient is taken with the banded weights (the port takes it before the band rule, so
its gradient and its curvature belong to different losses); rho and the Armijo test use the
unclipped gradient; CG keeps Martens' stopping rule and save points (the port: relative progress
below 1e-4, saves from iteration 5).  CG vectors, scalars and
dot products are float64 numpy (P ~ 10,500) while the network runs in the objective's dtype.

The pure pieces (:func:`conjugate_gradient`, :func:`backtrack`, :func:`update_damping`,
:func:`line_search`) are separate functions so that they can be tested on their own.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Callable, Mapping, NamedTuple

import numpy as np
import tensorflow as tf

from cw.network.curvature import GaussNewton, flatten, shapes_of, unflatten
from cw.network.optimizers import Batch
from cw.network.optimizers.params import HessianFreeParams, structural_coefficient  # noqa: F401 (re-exported)

#: Codes of the reason CG stopped, as logged under ``cg_stop``.
CG_STOP_CODES = {"max_iters": 0, "martens": 1, "residual": 2, "curvature": 3, "loss_rise": 4}


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
    on_save: Callable[[int, np.ndarray], bool] | None = None,
) -> CGResult:
    """Linear CG on ``A x = b`` (A symmetric positive definite), i.e. minimising
    ``phi(x) = x^T A x / 2 - b^T x``, with Martens' (2010) relative-progress stopping rule.

    Stops after iteration i when (first that applies):

    * ``pAp <= 0`` ("curvature"; the iteration is not taken; cannot happen for a damped GN matrix);
    * ``i >= min_iters``, ``i > k``, ``phi[i-k] < 0`` and ``(phi[i] - phi[i-k]) / phi[i] < k epsilon``
      with ``k = max(min_gap, ceil(gap_ratio i))`` ("martens");
    * ``||r|| <= residual_tol ||b||`` ("residual"; checked at the start too: a warm start at the
      solution runs no iteration);
    * ``on_save(i, x)``, called at each saved iterate, returns True ("loss_rise");
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
                if on_save is not None and on_save(i, saved[-1][1]):
                    stop = "loss_rise"
                    break
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


def penalty_damping_factors(rho: float, weights: str = "l2_fr", **lm_kw) -> tuple[float, float]:
    """Factors of the Levenberg-Marquardt rule for (lambda_L2, lambda_FR) under
    ``penalty_weights`` damping: both get the factor :func:`update_damping` gives a damping of 1
    (``weights="l2_fr"``, CODE: the port's ``update_dampening``), or lambda_L2 alone (``"l2"``,
    CODE-2020).

    >>> penalty_damping_factors(0.9, "l2")
    (0.6666666666666666, 1.0)
    """
    factor = update_damping(1.0, rho, **lm_kw)
    return factor, (factor if weights == "l2_fr" else 1.0)


def update_penalty_damping(
    lambda_l2: float, lambda_fr: float, rho: float, weights: str = "l2_fr", **lm_kw
) -> tuple[float, float]:
    """The Levenberg-Marquardt rule acting on the penalty weights: the weights times
    :func:`penalty_damping_factors`.

    Examples
    --------
    >>> update_penalty_damping(0.3, 0.09, 0.9)
    (0.19999999999999998, 0.06)
    >>> update_penalty_damping(0.3, 0.09, -math.inf, "l2")
    (0.44999999999999996, 0.09)
    """
    f_l2, f_fr = penalty_damping_factors(rho, weights, **lm_kw)
    return lambda_l2 * f_l2, lambda_fr * f_fr


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
    """Hessian-free optimiser on the CTRNN objective (see :mod:`cw.network.optimizers` for the interface).

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

    def damped_operator(self, weights: list[tf.Tensor], curv: Batch):
        """The matrix-vector product handed to CG, on the curvature batch ``curv``.

        Returns ``(apply_a, lam, struct_weight)``: ``apply_a(v)`` for a flat float64 ``v`` (P,);
        ``lam`` the weight of the identity (the current damping with ``tikhonov``, 0 with
        ``penalty_weights``); ``struct_weight`` that of the per-trial S of
        :mod:`cw.network.curvature` (``mu lambda`` or ``mu lambda_L2``, mu as
        :func:`structural_coefficient`).  The Gauss-Newton blocks of the penalties carry the
        batch's ``lambda_l2`` and ``lambda_fr``.
        """
        p, dt = self.params, self.objective.dtype
        shapes = shapes_of(weights)
        tikhonov = p.damping == "tikhonov"
        lam = self.damping if tikhonov else 0.0
        mu = structural_coefficient(p, int(curv.inputs.shape[1]), int(weights[1].shape[0]))
        struct_weight = lam * mu if tikhonov else float(curv.lambda_l2) * mu
        struct = tf.constant(struct_weight, dt)
        one = tf.constant(1.0, dt)

        def apply_a(v: np.ndarray) -> np.ndarray:
            gv = self.gn.product(
                weights, unflatten(v, shapes, dt), curv.inputs, curv.noise, curv.lambda_l2, curv.lambda_fr, struct, one
            )
            return flatten(gv) + lam * v if tikhonov else flatten(gv)

        return apply_a, lam, struct_weight

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
        tikhonov = p.damping == "tikhonov"
        apply_a, lam, struct_weight = self.damped_operator(weights, curv)
        one = tf.constant(1.0, dt)

        x0 = None
        if self.prev is not None and p.cg_warm_start_decay > 0 and self.prev.shape == theta.shape:
            x0 = p.cg_warm_start_decay * self.prev
        # CG backtracking on the whole batch: from the last iterate back (Martens), or forward
        # while CG runs, stopping it after cg_stop_after_rises rises past the best iterate.
        evaluated: dict[int, dict] = {}

        def f_iterate(i: int, x: np.ndarray) -> float:
            t = obj.loss_terms(self._shifted(theta, x, 1.0, shapes), *batch)
            evaluated[i] = {k: float(v) for k, v in t.items()}
            return _finite_or_inf(evaluated[i]["loss"])

        best = {"i": -1, "f": math.inf, "rises": 0}

        def on_save(i: int, x: np.ndarray) -> bool:
            f = f_iterate(i, x)
            if f < best["f"]:
                best.update(i=i, f=f, rises=0)
            else:
                best["rises"] += 1
            return best["rises"] >= p.cg_stop_after_rises

        with _single_threaded_blas():
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
                on_save=on_save if p.cg_stop_after_rises > 0 else None,
            )
        self.prev = cg.x

        if p.cg_stop_after_rises > 0:
            if cg.saved[-1][0] not in evaluated:  # CG ended between save points
                on_save(*cg.saved[-1])
            j = [i for i, _ in cg.saved].index(best["i"]) if best["i"] >= 0 else 0  # -1: no finite loss
            f_d, bt_evals = best["f"], len(evaluated)
        else:
            j, f_d, bt_evals = backtrack(cg.saved, f_iterate)
        chosen, d = cg.saved[j]

        # Reduction ratio on the curvature batch, undamped quadratic model (Martens).
        if curv is batch:
            fc0, fcd = f0, f_d
        else:
            fc0 = float(obj.loss_terms(weights, *curv)["loss"])
            fcd = _finite_or_inf(float(obj.loss_terms(self._shifted(theta, d, 1.0, shapes), *curv)["loss"]))
        if tikhonov:  # Martens: the model of the objective (penalties included), without lambda
            l2_q, fr_q = curv.lambda_l2, curv.lambda_fr
        else:  # the port: every penalty and damping weight at 0
            l2_q = fr_q = tf.constant(0.0, dt)
        vgv, _ = self.gn.quadratic_forms(weights, unflatten(d, shapes, dt), curv.inputs, curv.noise, l2_q, fr_q, one)
        slope = float(g @ d)
        model_change = slope + 0.5 * float(vgv)
        # Undefined (NaN) when the model predicts no decrease; -inf when the loss is not finite.
        rho = (fcd - fc0) / model_change if model_change < 0 else float("nan")
        lm_kw = dict(boost=p.damping_boost, drop=p.damping_drop, rho_low=p.rho_low, rho_high=p.rho_high)
        if tikhonov:
            self.damping = update_damping(lam, rho, **lm_kw)
        else:
            if fcd > fc0:  # the port: -inf whenever the loss rose
                rho = -math.inf
            f_l2, f_fr = penalty_damping_factors(rho, p.lm_weights, **lm_kw)

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
        if tikhonov:
            log.update(damping=lam, damping_next=self.damping)
        else:
            log.update(lambda_l2_factor=f_l2, lambda_fr_factor=f_fr)
        log.update(
            structural_damping=struct_weight,
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


def _single_threaded_blas():
    """numpy's BLAS on one thread while CG runs (a context manager).

    CG's vectors have P ~ 10^4 entries, above OpenBLAS's threshold for threading a dot product;
    its worker threads then spin after every dot product and take a core from the TensorFlow
    curvature product that follows (measured: products 15-20 % slower with 2 BLAS threads).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover (threadpoolctl comes with scikit-learn)
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _finite_or_inf(v: float) -> float:
    return v if np.isfinite(v) else float("inf")
