"""Optimisers for the CTRNN objective.

Every optimiser implements the same small interface so that :mod:`cw.network.training` can drive any of
them, checkpoint them and resume them:

``step(weights, batch) -> (new_weights, log)``
    one parameter update on one minibatch; ``weights`` and ``new_weights`` are lists of tensors in
    :data:`cw.network.model.WEIGHT_NAMES` order, ``log`` a flat dict of floats describing the update (the
    batch's loss terms before the update first).
``get_state() -> dict[str, numpy array]`` / ``set_state(state)``
    everything needed to resume the optimiser exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, NamedTuple, Protocol

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf


class Batch(NamedTuple):
    """One minibatch, fixed for the whole of one update (same trials, same noise sample).

    inputs : (M, T, N_in) tensor; targets : (M, T, N_out) tensor, m; noise : (M, T, N) tensor;
    lambda_l2, lambda_fr : scalar tensors, the penalty weights of the loss.
    """

    inputs: Any
    targets: Any
    noise: Any
    lambda_l2: Any
    lambda_fr: Any


class Optimizer(Protocol):
    name: str

    def step(self, weights: list[tf.Tensor], batch: Batch) -> tuple[list[tf.Tensor], dict[str, float]]: ...

    def get_state(self) -> dict[str, np.ndarray]: ...

    def set_state(self, state: Mapping[str, np.ndarray]) -> None: ...


OPTIMIZERS = ("adam", "hessian_free")


def make_optimizer(name: str, settings: Mapping, objective) -> Optimizer:
    """Build the optimiser called ``name`` with its config section ``settings``."""
    if name == "adam":
        from cw.network.optimizers.adam import Adam, AdamParams

        return Adam(objective, AdamParams.from_dict(settings))
    if name == "hessian_free":
        from cw.network.optimizers.hessian_free import HessianFree, HessianFreeParams

        return HessianFree(objective, HessianFreeParams.from_dict(settings))
    raise ValueError(f"training.optimizer: unknown optimiser '{name}' (expected {', '.join(OPTIMIZERS)})")
