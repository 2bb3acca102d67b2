"""The training objective of Cueva & Wei (2018), eq. 3-5, in TensorFlow.

    E    = 1 / (M T N_out) * sum_{m,t,j} (y_j(t, m) - y_target_j(t, m))^2          (eq. 3)
    R_L2 = 1 / (N N_in) * sum W_in^2 + 1 / (N N_out) * sum W_out^2                   (eq. 4)
    R_FR = 1 / (N T M) * sum_{i,t,m} u_i(t, m)^2                                     (eq. 5)
    loss = E + lambda_L2 * R_L2 + lambda_FR * R_FR

W_rec and b are not penalised (PAPER).  The penalty weights are passed to every call as tensors,
so that optimisers may adapt them without retracing the compiled functions.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from cw.model import WEIGHT_NAMES, LossParams, ModelParams  # noqa: F401 (LossParams re-exported)


def weights_to_tensors(weights: Mapping[str, np.ndarray], dtype=tf.float32) -> list[tf.Tensor]:
    """Weights mapping -> list of tensors in :data:`WEIGHT_NAMES` order."""
    return [tf.convert_to_tensor(np.asarray(weights[k]), dtype=dtype) for k in WEIGHT_NAMES]


def tensors_to_weights(tensors: Sequence) -> dict[str, np.ndarray]:
    """List of tensors/variables in :data:`WEIGHT_NAMES` order -> mapping of numpy arrays."""
    return {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for k, v in zip(WEIGHT_NAMES, tensors)}


class Objective:
    """The CTRNN forward pass and the loss of eq. 3-5 as compiled TensorFlow functions.

    Parameters
    ----------
    model : ModelParams
    dtype : tf.DType
        float32 for training, float64 for exact checks in tests.
    """

    def __init__(self, model: ModelParams, dtype: tf.DType = tf.float32):
        self.model = model
        self.dtype = dtype
        self._alpha = tf.constant(model.alpha, dtype)
        self.simulate = tf.function(self._simulate, reduce_retracing=True)
        self.loss_terms = tf.function(self._loss_terms, reduce_retracing=True)
        self.loss_and_grad = tf.function(self._loss_and_grad, reduce_retracing=True)

    # -- noise ---------------------------------------------------------------------------------
    def noise(self, shape: tuple[int, int], seed: tuple[int, int]) -> tf.Tensor:
        """Intrinsic noise xi of eq. 1 for a batch: (M, T, N), s.d. ``model.noise_std``.

        Drawn from TensorFlow's counter-based generator, so the same ``seed`` pair gives the same
        sample: every evaluation within one optimiser update can see the same noise.
        """
        m, t = shape
        z = tf.random.stateless_normal((m, t, self.model.n_units), seed=seed, dtype=self.dtype)
        return z * tf.cast(self.model.noise_std, self.dtype)

    # -- forward pass --------------------------------------------------------------------------
    def _simulate(self, weights, inputs, noise):
        """Euler integration of eq. 1.

        Parameters
        ----------
        weights : list of tensors (W_in, W_rec, b, W_out)
        inputs : (M, T, N_in) tensor
        noise : (M, T, N) tensor (zeros for a noise-free run)

        Returns
        -------
        u : (M, T, N) firing rates after each step
        """
        w_in, w_rec, b, _ = weights
        drive = tf.einsum("mtk,kn->tmn", inputs, w_in) + b + tf.transpose(noise, (1, 0, 2))
        alpha = self._alpha

        def step(x, d):
            return x + alpha * (-x + tf.matmul(tf.tanh(x), w_rec) + d)

        x0 = tf.zeros_like(drive[0])
        xs = tf.scan(step, drive, initializer=x0)
        return tf.transpose(tf.tanh(xs), (1, 0, 2))

    def _loss_terms(self, weights, inputs, targets, noise, lambda_l2, lambda_fr):
        """Loss terms of eq. 3-5 on a batch; ``targets`` is (M, T, N_out)."""
        u = self._simulate(weights, inputs, noise)
        w_in, _, _, w_out = weights
        y = tf.einsum("mtn,nj->mtj", u, w_out)
        error = tf.reduce_mean(tf.square(y - targets))
        r_l2 = tf.reduce_mean(tf.square(w_in)) + tf.reduce_mean(tf.square(w_out))
        r_fr = tf.reduce_mean(tf.square(u))
        loss = error + lambda_l2 * r_l2 + lambda_fr * r_fr
        return {"loss": loss, "error": error, "r_l2": r_l2, "r_fr": r_fr}

    def _loss_and_grad(self, weights, inputs, targets, noise, lambda_l2, lambda_fr):
        with tf.GradientTape() as tape:
            tape.watch(weights)
            terms = self._loss_terms(weights, inputs, targets, noise, lambda_l2, lambda_fr)
        grads = tape.gradient(terms["loss"], weights)
        return terms, grads

    def outputs(self, weights, inputs) -> tuple[np.ndarray, np.ndarray]:
        """Noise-free run: firing rates (M, T, N) and read-out (M, T, N_out) as numpy arrays."""
        inputs = tf.convert_to_tensor(inputs, self.dtype)
        noise = tf.zeros(tuple(inputs.shape[:2]) + (self.model.n_units,), self.dtype)
        u = self.simulate(list(weights), inputs, noise)
        y = tf.einsum("mtn,nj->mtj", u, weights[3])
        return u.numpy(), y.numpy()
