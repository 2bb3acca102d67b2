"""Cueva's adaptive penalty weights (paper.md section 3).

Cueva's own Hessian-free code adapted the penalty weights of the loss (eq. 3-5) after every
update so that each penalty stays within a band relative to the error E:

    lambda_L2 * R_L2  in [E / 1000, E / 6]
    lambda_FR * R_FR  in [E / 40,   E / 4]

A weight whose penalty lies above its band is multiplied by 2/3, one below its band by 3/2 (one
factor per update, so the weights move gradually).  Starting values 0.25 and 0.05 are the
defaults of :class:`cw.objective.LossParams`.

:func:`adapt_penalty_weights` is a pure function; the training loop decides when to call it (with
the loss terms of the update's batch) and passes the new weights to the next update as tensors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class PenaltyAdaptParams:
    """Settings of the adaptive penalty rule (config section ``training.adapt_penalties``).

    enabled : bool, default True
        Apply the rule (PAPER-hint: Cueva's code did; OURS to adopt).  When False the weights are
        returned unchanged.
    l2_band_low, l2_band_high : float, defaults 1/1000, 1/6
        Band of lambda_L2 * R_L2 as fractions of the error E (dimensionless; PAPER: E/1000, E/6).
    fr_band_low, fr_band_high : float, defaults 1/40, 1/4
        Band of lambda_FR * R_FR as fractions of E (PAPER: E/40, E/4).
    decrease : float, default 2/3
        Factor applied to a weight whose penalty is above its band (PAPER: 2/3).
    increase : float, default 3/2
        Factor applied to a weight whose penalty is below its band (PAPER: 3/2).
    """

    enabled: bool = True
    l2_band_low: float = 1.0 / 1000.0
    l2_band_high: float = 1.0 / 6.0
    fr_band_low: float = 1.0 / 40.0
    fr_band_high: float = 1.0 / 4.0
    decrease: float = 2.0 / 3.0
    increase: float = 3.0 / 2.0

    def __post_init__(self) -> None:
        prefix = "training.adapt_penalties"
        for lo, hi in (("l2_band_low", "l2_band_high"), ("fr_band_low", "fr_band_high")):
            if not 0 <= getattr(self, lo) <= getattr(self, hi):
                raise ValueError(
                    f"{prefix}.{lo}: must be in [0, {hi}] ({getattr(self, hi)}), got {getattr(self, lo)}"
                )
        if not 0 < self.decrease < 1:
            raise ValueError(f"{prefix}.decrease: must be in (0, 1), got {self.decrease}")
        if not self.increase > 1:
            raise ValueError(f"{prefix}.increase: must be > 1, got {self.increase}")

    @classmethod
    def from_dict(cls, d: Mapping) -> "PenaltyAdaptParams":
        return cls(**dict(d))

    def to_dict(self) -> dict:
        return asdict(self)


def _adapt_one(weight: float, penalty: float, error: float, low: float, high: float, p: PenaltyAdaptParams) -> float:
    value = weight * penalty
    if value > high * error:
        return weight * p.decrease
    if value < low * error:
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
    ``high * E``, by ``params.increase`` when below ``low * E``, and kept otherwise.  Unchanged when
    the rule is disabled or any input is not finite.
    """
    vals = (error, r_l2, r_fr, lambda_l2, lambda_fr)
    if not params.enabled or not all(np.isfinite(v) for v in vals):
        return float(lambda_l2), float(lambda_fr)
    new_l2 = _adapt_one(lambda_l2, r_l2, error, params.l2_band_low, params.l2_band_high, params)
    new_fr = _adapt_one(lambda_fr, r_fr, error, params.fr_band_low, params.fr_band_high, params)
    return float(new_l2), float(new_fr)
