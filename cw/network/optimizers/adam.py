"""Adam (Kingma & Ba 2015) with optional gradient-norm clipping, on the CTRNN objective.

A first-order baseline beside the paper's Hessian-free optimiser.  The moment estimates are kept
as float64 numpy arrays so that checkpoints can store and restore them exactly.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import tensorflow as tf

from cw.network.model import WEIGHT_NAMES
from cw.network.optimizers import Batch
from cw.network.optimizers.params import AdamParams  # noqa: F401 (re-exported)


class Adam:
    """Adam on the CTRNN objective (see :mod:`cw.network.optimizers` for the interface)."""

    name = "adam"

    def __init__(self, objective, params: AdamParams):
        self.objective = objective
        self.params = params
        self.t = 0
        self.m: list[np.ndarray] | None = None
        self.v: list[np.ndarray] | None = None

    def step(self, weights: list[tf.Tensor], batch: Batch) -> tuple[list[tf.Tensor], dict[str, float]]:
        p = self.params
        terms, grads = self.objective.loss_and_grad(weights, *batch)
        g = [gr.numpy().astype(np.float64) for gr in grads]
        gnorm = float(np.sqrt(sum(np.sum(x * x) for x in g)))
        scale = min(1.0, p.clip_grad_norm / gnorm) if p.clip_grad_norm > 0 and gnorm > 0 else 1.0
        g = [x * scale for x in g]
        if self.m is None:
            self.m = [np.zeros_like(x) for x in g]
            self.v = [np.zeros_like(x) for x in g]
        self.t += 1
        c1 = 1.0 - p.beta1**self.t
        c2 = 1.0 - p.beta2**self.t
        new = []
        for i, (w, gi) in enumerate(zip(weights, g)):
            self.m[i] = p.beta1 * self.m[i] + (1 - p.beta1) * gi
            self.v[i] = p.beta2 * self.v[i] + (1 - p.beta2) * gi * gi
            delta = p.learning_rate * (self.m[i] / c1) / (np.sqrt(self.v[i] / c2) + p.epsilon)
            new.append(tf.convert_to_tensor(w.numpy() - delta.astype(w.dtype.as_numpy_dtype)))
        log = {k: float(v) for k, v in terms.items()}
        log.update(grad_norm=gnorm, grad_scale=scale)
        return new, log

    def get_state(self) -> dict[str, np.ndarray]:
        state = {"t": np.asarray(self.t)}
        if self.m is not None:
            for k, m, v in zip(WEIGHT_NAMES, self.m, self.v):
                state[f"m_{k}"] = m
                state[f"v_{k}"] = v
        return state

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        self.t = int(state["t"])
        if f"m_{WEIGHT_NAMES[0]}" in state:
            self.m = [np.asarray(state[f"m_{k}"], np.float64) for k in WEIGHT_NAMES]
            self.v = [np.asarray(state[f"v_{k}"], np.float64) for k in WEIGHT_NAMES]
