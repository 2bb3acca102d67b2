"""Settings of the optimisers (TensorFlow-free, so that configurations validate quickly)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np
from cw.config import schema_default
from cw.validation import section_from_dict


#: How the structural-damping matrix S is normalised (see HessianFreeParams).
STRUCTURAL_NORMALISATIONS = ("per_element", "per_trial")

#: What the Levenberg-Marquardt rule damps (see HessianFreeParams).
DAMPINGS = ("penalty_weights", "tikhonov")

#: Penalty weights the Levenberg-Marquardt rule multiplies under ``penalty_weights`` damping.
LM_WEIGHTS = ("l2_fr", "l2")


@dataclass(frozen=True)
class AdamParams:
    """Adam settings (all OURS; the paper used Hessian-free).

    learning_rate : step size, in weight units per update (1e-3).
    beta1, beta2 : decay rates of the first and second moment estimates (0.9, 0.999).
    epsilon : added to the root of the second moment, avoids division by zero (1e-8).
    clip_grad_norm : the gradient is rescaled to at most this global L2 norm; 0 disables (10,
        the value of Cueva's own code for Hessian-free, docs/paper-map.md).
    """

    learning_rate: float = schema_default("training", "adam", "learning_rate")
    beta1: float = schema_default("training", "adam", "beta1")
    beta2: float = schema_default("training", "adam", "beta2")
    epsilon: float = schema_default("training", "adam", "epsilon")
    clip_grad_norm: float = schema_default("training", "adam", "clip_grad_norm")

    def __post_init__(self) -> None:
        if self.learning_rate <= 0:
            raise ValueError(f"training.adam.learning_rate: must be > 0, got {self.learning_rate}")
        for key in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise ValueError(f"training.adam.{key}: must be in [0, 1), got {getattr(self, key)}")
        if self.clip_grad_norm < 0:
            raise ValueError(f"training.adam.clip_grad_norm: must be >= 0, got {self.clip_grad_norm}")

    @classmethod
    def from_dict(cls, d: Mapping) -> "AdamParams":
        return section_from_dict(cls, d, "training.adam")


@dataclass(frozen=True)
class HessianFreeParams:
    """Settings of the Hessian-free optimiser (config section ``training.hessian_free``).

    Provenance of each value (CODE, CODE-2020, OURS) as in config.yaml and docs/paper-map.md.
    OURS: our choice, following Martens (2010) / Martens & Sutskever (2011), where the paper and
    the authors' code are silent.

    Damping
    -------
    damping : {"penalty_weights", "tikhonov"}, default "penalty_weights"
        ``penalty_weights`` (CODE: ``train.py`` of the port of the authors' trainer, notes part B;
        CODE-2020: the first author's later trainer, part C): there is no lambda I term.  The
        matrix handed to CG is ``G_E + lambda_FR G_FR + lambda_L2 H_L2 + lambda_SD S`` with
        ``lambda_SD = mu lambda_L2``, and the Levenberg-Marquardt rule multiplies the loss's own
        penalty weights (those of ``lm_weights``) by ``damping_boost`` / ``damping_drop``; the
        penalty band rule (``training.adapt_penalties``) runs on the same weights before CG.
        ``tikhonov`` (OURS, Martens 2010 / Martens & Sutskever 2011; the earlier default): the
        matrix is ``G + lambda I + lambda mu S`` with a separate lambda, and the penalty weights
        follow the band rule alone, after each update.
    lm_weights : {"l2_fr", "l2"}, default "l2_fr"
        With ``penalty_weights``: the weights the Levenberg-Marquardt rule multiplies: lambda_L2
        and lambda_FR (CODE: the port) or lambda_L2 alone (CODE-2020).
    initial_damping : float, default 0.01
        With ``tikhonov``: the damping lambda at the first update, added to the curvature
        of the loss as defined in :mod:`cw.network.objective` (a mean over trials, steps and outputs), so
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
    structural_damping : float, default 1500
        Martens & Sutskever's mu: S, the hidden-state (pre-activation) matching-loss curvature of
        :mod:`cw.network.curvature`, enters with the weight ``mu lambda_L2`` (``penalty_weights``)
        or ``mu lambda`` (``tikhonov``).
        Dimensionless; 0 disables it.  Its scale depends on how S is normalised, see
        ``structural_damping_normalisation`` (CODE: mu = 1500 on pre-activations in the port of
        the authors' trainer; CODE-2020: mu = 3000 in the first author's later code).
    structural_damping_normalisation : {"per_element", "per_trial"}, default "per_element"
        ``per_element``: S is a mean over trials, steps and units, like the loss (CODE: the
        port's convention, with mu = 1500).  ``per_trial``: S is averaged over trials but summed
        over steps and units, as the per-case objectives of Martens & Sutskever (2011), whose
        mu = 0.03 it reproduces (OURS, the previous default).  The two agree when
        ``mu_per_trial = mu_per_element / (T N)``: with T = 500 and N = 100, mu = 1500 per
        element is mu = 0.03 per trial.

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
    cg_stop_after_rises : int, default 0
        0: CG runs until its stopping rule (at the authors' settings: its 50 iterations), then
        backtracks from the last saved iterate while the batch loss falls (CODE, Martens 2010).
        k >= 1: the batch loss is evaluated at each saved iterate while CG runs, and CG stops
        once the loss has risen at k saved iterates in a row after the best one, which is chosen
        (OURS).  Where the loss along the saved iterates has one minimum, both choose the same
        iterate; k >= 1 then spares the CG iterations after it (the cost of an update), and the
        next update's CG starts from the last iterate reached.

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
    curvature_fraction : float, default 0.25
        Fraction of the update's trials (the first ones of the batch, which is already a random
        draw) used for the curvature products and the numerator of rho; the gradient,
        backtracking and line search use the whole batch (OURS: 1/4, as Martens 2010; on the
        paper's triangle task it gave nearly the progress per update of 1.0 at ~1/3 the time of
        an update: ``python -m benchmarks.bench_optimizers --hf curvature_fraction=1 --hf
        curvature_fraction=0.25``).
    """

    damping: str = schema_default("training", "hessian_free", "damping")
    lm_weights: str = schema_default("training", "hessian_free", "lm_weights")
    initial_damping: float = schema_default("training", "hessian_free", "initial_damping")
    damping_boost: float = schema_default("training", "hessian_free", "damping_boost")
    damping_drop: float = schema_default("training", "hessian_free", "damping_drop")
    rho_low: float = schema_default("training", "hessian_free", "rho_low")
    rho_high: float = schema_default("training", "hessian_free", "rho_high")
    structural_damping: float = schema_default("training", "hessian_free", "structural_damping")
    structural_damping_normalisation: str = schema_default("training", "hessian_free", "structural_damping_normalisation")
    cg_max_iters: int = schema_default("training", "hessian_free", "cg_max_iters")
    cg_min_iters: int = schema_default("training", "hessian_free", "cg_min_iters")
    cg_epsilon: float = schema_default("training", "hessian_free", "cg_epsilon")
    cg_gap_ratio: float = schema_default("training", "hessian_free", "cg_gap_ratio")
    cg_min_gap: int = schema_default("training", "hessian_free", "cg_min_gap")
    cg_residual_tol: float = schema_default("training", "hessian_free", "cg_residual_tol")
    cg_warm_start_decay: float = schema_default("training", "hessian_free", "cg_warm_start_decay")
    backtrack_save_ratio: float = schema_default("training", "hessian_free", "backtrack_save_ratio")
    cg_stop_after_rises: int = schema_default("training", "hessian_free", "cg_stop_after_rises")
    line_search_shrink: float = schema_default("training", "hessian_free", "line_search_shrink")
    line_search_c: float = schema_default("training", "hessian_free", "line_search_c")
    line_search_max_tries: int = schema_default("training", "hessian_free", "line_search_max_tries")
    clip_grad_norm: float = schema_default("training", "hessian_free", "clip_grad_norm")
    curvature_fraction: float = schema_default("training", "hessian_free", "curvature_fraction")

    def __post_init__(self) -> None:
        def bad(key, rule):
            raise ValueError(f"training.hessian_free.{key}: must be {rule}, got {getattr(self, key)!r}")

        for key in ("initial_damping", "cg_epsilon", "line_search_c"):
            if not getattr(self, key) > 0:
                bad(key, "> 0")
        for key in ("structural_damping", "cg_gap_ratio", "cg_residual_tol", "clip_grad_norm"):
            if not getattr(self, key) >= 0:
                bad(key, ">= 0")
        for key, allowed in (("damping", DAMPINGS), ("lm_weights", LM_WEIGHTS)):
            if getattr(self, key) not in allowed:
                raise ValueError(
                    f"training.hessian_free.{key}: must be one of {', '.join(allowed)}, got {getattr(self, key)!r}"
                )
        if self.structural_damping_normalisation not in STRUCTURAL_NORMALISATIONS:
            raise ValueError(
                "training.hessian_free.structural_damping_normalisation: must be one of "
                f"{', '.join(STRUCTURAL_NORMALISATIONS)}, got {self.structural_damping_normalisation!r}"
            )
        if not self.damping_boost > 1:
            bad("damping_boost", "> 1")
        if not 0 < self.damping_drop < 1:
            bad("damping_drop", "in (0, 1)")
        if not self.rho_low <= self.rho_high:
            bad("rho_low", f"<= rho_high ({self.rho_high})")
        v = self.cg_stop_after_rises
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            bad("cg_stop_after_rises", "an integer >= 0")
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
        return section_from_dict(cls, d, "training.hessian_free")

    def to_dict(self) -> dict:
        return asdict(self)


def structural_coefficient(params: "HessianFreeParams", n_steps: int, n_units: int) -> float:
    """mu as the coefficient of the per-trial S of :mod:`cw.network.curvature` (dimensionless),
    per unit of the damping weight (lambda with ``tikhonov``, lambda_L2 with ``penalty_weights``).

    ``per_trial``: mu itself; ``per_element``: mu / (T N), S being then a mean over the T steps
    and N units of a trial as well as over trials.  With ``per_element`` and ``penalty_weights``
    the S block is ``lambda_SD / (M T N)`` per pre-activation element, as in the port's ``G``
    (CODE), whose error block ``2 / (2 M T)`` equals that of eq. 3 here.

    Examples
    --------
    >>> structural_coefficient(HessianFreeParams(structural_damping=1500.0), 500, 100)
    0.03
    """
    mu = float(params.structural_damping)
    if params.structural_damping_normalisation == "per_element":
        return mu / (int(n_steps) * int(n_units))
    return mu
