"""Adaptive penalty weights of the loss (eq. 3-5): named rules of the authors' trainers.

After every update the weights lambda_L2 and lambda_FR may be moved by a factor so that each
penalty stays within a band relative to the error E of that update:

* ``code`` (CODE: the port of the authors' Hessian-free trainer of this paper, see the project
  notes on the authors' code): lambda_L2 x ``decrease`` (2/3) when lambda_L2 R_L2 > E/3, x
  ``increase`` (3/2) when it is < E/500; lambda_FR x 2/3 when lambda_FR R_FR > E/3, and never
  raised.  Starting weights 0.5 and 0.1 (CODE, ``loss`` section).
* ``code_2020`` (CODE-2020: the first author's later trainer): lambda_L2 R_L2 kept within
  [E/1000, E/6] and lambda_FR R_FR within [E/40, E/4], both raised and lowered; starting weights
  0.25 and 0.05 in that code.
* ``fixed``: no adaptation; the weights of the ``loss`` section hold for the whole training (for
  ablations and the study of conditions).

One factor per update, so the weights move gradually.  :func:`adapt_penalty_weights` is a pure
function; the training loop calls it with the loss terms of the update's batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np

from cw.config import schema_default
from cw.validation import section_from_dict

#: Bands of each named rule, as fractions of the error E: (low, high) for lambda_L2 R_L2 and
#: for lambda_FR R_FR; a low edge of None means the weight is never raised.
RULES: dict[str, dict[str, tuple[float | None, float]]] = {
    "code": {"l2": (1.0 / 500.0, 1.0 / 3.0), "fr": (None, 1.0 / 3.0)},
    "code_2020": {"l2": (1.0 / 1000.0, 1.0 / 6.0), "fr": (1.0 / 40.0, 1.0 / 4.0)},
}

#: Every rule name accepted by ``training.adapt_penalties.rule``.
RULE_NAMES: tuple[str, ...] = (*RULES, "fixed")


@dataclass(frozen=True)
class PenaltyAdaptParams:
    """Settings of the adaptive penalty rule (config section ``training.adapt_penalties``).

    rule : {"code", "code_2020", "fixed"}, default "code"
        Named rule (see the module docstring; CODE, CODE-2020, or no adaptation).
    decrease : float, default 2/3
        Factor applied to a weight whose penalty is above its band (CODE and CODE-2020: 2/3).
    increase : float, default 3/2
        Factor applied to a weight whose penalty is below its band (CODE and CODE-2020: 3/2).
    """

    rule: str = schema_default("training", "adapt_penalties", "rule")
    decrease: float = schema_default("training", "adapt_penalties", "decrease")
    increase: float = schema_default("training", "adapt_penalties", "increase")

    def __post_init__(self) -> None:
        prefix = "training.adapt_penalties"
        if self.rule not in RULE_NAMES:
            raise ValueError(f"{prefix}.rule: must be one of {', '.join(RULE_NAMES)}, got {self.rule!r}")
        if not 0 < self.decrease < 1:
            raise ValueError(f"{prefix}.decrease: must be in (0, 1), got {self.decrease}")
        if not self.increase > 1:
            raise ValueError(f"{prefix}.increase: must be > 1, got {self.increase}")

    @classmethod
    def from_dict(cls, d: Mapping) -> "PenaltyAdaptParams":
        return section_from_dict(cls, d, "training.adapt_penalties")

    def to_dict(self) -> dict:
        return asdict(self)


def _adapt_one(weight: float, penalty: float, error: float, band, p: PenaltyAdaptParams) -> float:
    low, high = band
    value = weight * penalty
    if value > high * error:
        return weight * p.decrease
    if low is not None and value < low * error:
        return weight * p.increase
    return weight


def adapt_penalty_weights(
    error: float,
    r_l2: float,
    r_fr: float,
    lambda_l2: float,
    lambda_fr: float,
    params: PenaltyAdaptParams = PenaltyAdaptParams(),
) -> tuple[float, float]:
    """New ``(lambda_L2, lambda_FR)`` from the error E and the penalties R_L2, R_FR (eq. 3-5).

    Each weight is multiplied by ``params.decrease`` when its penalty ``lambda * R`` lies above
    its rule's ``high * E``, by ``params.increase`` when below ``low * E`` (if the rule has a low
    edge), and kept otherwise.  Unchanged for the ``fixed`` rule or when any input is not finite.
    """
    vals = (error, r_l2, r_fr, lambda_l2, lambda_fr)
    if params.rule == "fixed" or not all(np.isfinite(v) for v in vals):
        return float(lambda_l2), float(lambda_fr)
    bands = RULES[params.rule]
    new_l2 = _adapt_one(lambda_l2, r_l2, error, bands["l2"], params)
    new_fr = _adapt_one(lambda_fr, r_fr, error, bands["fr"], params)
    return float(new_l2), float(new_fr)


def metabolic_weight_adapted(training: Mapping) -> bool:
    """Whether training moves lambda_FR away from its starting value (the ``loss`` section's).

    Parameters
    ----------
    training : mapping
        A run's ``training`` section (missing keys take the schema defaults).

    Returns
    -------
    bool
        True when the band rule acts (``adapt_penalties.rule`` not ``fixed``) or when the penalty
        weights are the Hessian-free damping and its Levenberg-Marquardt rule multiplies lambda_FR
        (``hessian_free.damping: penalty_weights`` with ``lm_weights: l2_fr``).

    Examples
    --------
    >>> metabolic_weight_adapted({})
    True
    >>> metabolic_weight_adapted({"adapt_penalties": {"rule": "fixed"},
    ...                           "hessian_free": {"damping": "tikhonov"}})
    False
    >>> metabolic_weight_adapted({"adapt_penalties": {"rule": "fixed"},
    ...                           "hessian_free": {"damping": "penalty_weights", "lm_weights": "l2"}})
    False
    """
    from cw.network.optimizers.params import HessianFreeParams

    if PenaltyAdaptParams.from_dict(training.get("adapt_penalties") or {}).rule != "fixed":
        return True
    if training.get("optimizer", schema_default("training", "optimizer")) != "hessian_free":
        return False
    hf = HessianFreeParams.from_dict(training.get("hessian_free") or {})
    return hf.damping == "penalty_weights" and hf.lm_weights == "l2_fr"
