"""The place-cell read-out network of Sorscher et al. (2019, 2023): a ReLU RNN that integrates
Cartesian velocity and reports place-cell activity (the positive control of the read-out).

Model (SORSCHER: ``model.py`` of ganguli-lab/grid-pattern-formation, re-implemented from its
published definition)::

    g(0) = p(x_0) W_enc                              the start position's place-cell code, encoded
    g(t) = relu(g(t-1) W_rec + v(t) W_in),  t = 1..T  no biases
    logits(t) = g(t) W_dec,  p_hat(t) = softmax(logits(t))

with ``v(t)`` the Cartesian velocity (m/step) and ``p(x)`` the place-cell targets of
:mod:`cw.task.place_cells`.  In the terms of eq. 1 of Cueva & Wei this is the Euler step with
``alpha = dt / tau = 1`` (the state forgets itself each step, ``x(t) = g(t-1) W_rec + v W_in``),
``phi = relu``, no bias, no noise, and a learned initial state; the read-out is linear into a
softmax instead of linear into (x, y).

Loss (SORSCHER: ``compute_loss``): the softmax cross-entropy of the predicted against the target
place-cell activity, averaged over trials and steps, plus ``weight_decay * sum(W_rec^2)`` (the
recurrent weights only)::

    L = -(1 / (B T)) sum_{b, t} sum_i p_i(x_t) log p_hat_i(t)  +  weight_decay ||W_rec||^2

The decoded position of :func:`cw.task.place_cells.decode_position` (mean centre of the three
most active cells) gives the position error.

Initialisation (``place_rnn.initialisation``): ``pytorch``, the default layers of SORSCHER's
PyTorch code (``model.py``: ``torch.nn.Linear`` and ``torch.nn.RNN``), every weight uniform in
``+-1/sqrt(fan_in)`` with fan-in Np for ``W_enc``, Ng for ``W_in``, ``W_rec`` and ``W_dec``
(``torch.nn.RNN`` scales its input weights by the hidden size too); or ``keras``, the default
layers of SORSCHER's earlier TensorFlow code: Glorot-uniform ``W_enc``, ``W_in`` and ``W_dec``,
orthogonal ``W_rec``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from cw.config import schema_default

__all__ = ["PlaceRNNParams", "PLACE_WEIGHT_NAMES", "init_place_weights", "place_forward_numpy",
           "place_loss_numpy", "PlaceObjective"]

#: The trainable weights, in the order used by every function here.
PLACE_WEIGHT_NAMES: tuple[str, ...] = ("W_enc", "W_in", "W_rec", "W_dec")


@dataclass(frozen=True)
class PlaceRNNParams:
    """Settings of the place-cell network.

    n_units : int, default 512
        Recurrent units Ng (SORSCHER: 4,096 in ``main.py``; OURS: 512, the size a CPU trains in
        hours; Schaeffer et al.'s sweeps used 1,024).
    weight_decay : float, default 1e-4
        Weight of ``||W_rec||^2`` in the loss, 1/weight^2 (SORSCHER: ``options.weight_decay``).
    initialisation : {"pytorch", "keras"}, default "pytorch"
        Initial weights (module docstring). SORSCHER: the PyTorch code of the repository's
        current version; ``keras`` is its earlier TensorFlow version.
    """

    n_units: int = schema_default("place_rnn", "n_units")
    weight_decay: float = schema_default("place_rnn", "weight_decay")
    initialisation: str = schema_default("place_rnn", "initialisation")

    def __post_init__(self) -> None:
        v = self.n_units
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"place_rnn.n_units: must be an integer >= 1, got {v!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"place_rnn.weight_decay: must be a finite number >= 0, got {self.weight_decay!r}")
        if self.initialisation not in ("pytorch", "keras"):
            raise ValueError(f"place_rnn.initialisation: must be 'pytorch' or 'keras', got {self.initialisation!r}")


def _glorot(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    lim = math.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-lim, lim, (n_in, n_out))


def init_place_weights(params: PlaceRNNParams, n_place: int, rng: np.random.Generator,
                       dtype=np.float32) -> dict[str, np.ndarray]:
    """Initial weights (module docstring): ``W_enc`` (Np, Ng), ``W_in`` (2, Ng), ``W_rec`` (Ng, Ng),
    ``W_dec`` (Ng, Np).

    >>> w = init_place_weights(PlaceRNNParams(n_units=8), 5, np.random.default_rng(0), np.float64)
    >>> [w[k].shape for k in PLACE_WEIGHT_NAMES]
    [(5, 8), (2, 8), (8, 8), (8, 5)]
    >>> bool(np.abs(w["W_rec"]).max() <= 8 ** -0.5)
    True
    >>> w = init_place_weights(PlaceRNNParams(n_units=8, initialisation="keras"), 5, np.random.default_rng(0))
    >>> bool(np.allclose(w["W_rec"] @ w["W_rec"].T, np.eye(8), atol=1e-6))
    True
    """
    ng = int(params.n_units)
    if params.initialisation == "pytorch":
        def uniform(fan_in: int, shape: tuple[int, int]) -> np.ndarray:
            lim = 1.0 / math.sqrt(fan_in)
            return rng.uniform(-lim, lim, shape)

        w = {"W_enc": uniform(n_place, (n_place, ng)), "W_in": uniform(ng, (2, ng)),
             "W_rec": uniform(ng, (ng, ng)), "W_dec": uniform(ng, (ng, n_place))}
        return {k: v.astype(dtype) for k, v in w.items()}
    q, r = np.linalg.qr(rng.standard_normal((ng, ng)))
    q = q * np.sign(np.diag(r))  # a uniformly distributed orthogonal matrix
    w = {"W_enc": _glorot(rng, n_place, ng), "W_in": _glorot(rng, 2, ng), "W_rec": q,
         "W_dec": _glorot(rng, ng, n_place)}
    return {k: v.astype(dtype) for k, v in w.items()}


def place_forward_numpy(weights: Mapping[str, np.ndarray], velocity: np.ndarray,
                        p0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain numpy run of the network: the reference implementation.

    Parameters
    ----------
    weights : mapping with :data:`PLACE_WEIGHT_NAMES`
    velocity : (B, T, 2) Cartesian velocity, m/step
    p0 : (B, Np) place-cell targets at the start positions

    Returns
    -------
    g : (B, T, Ng) rates after each step; logits : (B, T, Np)
    """
    g = p0 @ weights["W_enc"]
    out = []
    for t in range(velocity.shape[1]):
        g = np.maximum(g @ weights["W_rec"] + velocity[:, t] @ weights["W_in"], 0.0)
        out.append(g)
    g = np.stack(out, axis=1)
    return g, g @ weights["W_dec"]


def place_loss_numpy(weights: Mapping[str, np.ndarray], velocity: np.ndarray, p0: np.ndarray,
                     targets: np.ndarray, weight_decay: float) -> float:
    """The loss of the module docstring in numpy; ``targets`` (B, T, Np)."""
    _, logits = place_forward_numpy(weights, velocity, p0)
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    ce = -(targets * log_p).sum(axis=-1).mean()
    return float(ce + weight_decay * np.sum(weights["W_rec"] ** 2))


class PlaceObjective:
    """Compiled loss and gradient of the place-cell network (TensorFlow).

    Parameters
    ----------
    params : PlaceRNNParams
    dtype : TensorFlow dtype of the computation (float32 for training, float64 in tests)
    """

    def __init__(self, params: PlaceRNNParams = PlaceRNNParams(), dtype=None):
        import tensorflow as tf

        self.params = params
        self.dtype = dtype or tf.float32
        self._grad = tf.function(self._loss_and_grad, reduce_retracing=True)

    def _forward(self, weights, velocity, p0):
        import tensorflow as tf

        w_enc, w_in, w_rec, w_dec = weights
        g = tf.matmul(p0, w_enc)
        drive = tf.einsum("btk,kn->btn", velocity, w_in)  # (B, T, Ng)
        out = []
        # the loop is unrolled (T is static): its graph runs ~2x faster on a CPU than tf.scan
        for t in range(velocity.shape[1]):
            g = tf.nn.relu(tf.matmul(g, w_rec) + drive[:, t])
            out.append(g)
        g = tf.stack(out, axis=1)  # (B, T, Ng)
        return g, tf.einsum("btn,np->btp", g, w_dec)

    def _loss(self, weights, velocity, p0, targets):
        import tensorflow as tf

        _, logits = self._forward(weights, velocity, p0)
        ce = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=logits))
        return ce + tf.cast(self.params.weight_decay, self.dtype) * tf.reduce_sum(tf.square(weights[2]))

    def _loss_and_grad(self, weights, velocity, p0, targets):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(weights)
            loss = self._loss(weights, velocity, p0, targets)
        return loss, tape.gradient(loss, weights)

    def loss_and_grad(self, weights, velocity, p0, targets):
        """``(loss, [dL/dW for W in PLACE_WEIGHT_NAMES])`` on a batch: ``velocity`` (B, T, 2) m/step,
        ``p0`` (B, Np), ``targets`` (B, T, Np); ``weights`` a list in :data:`PLACE_WEIGHT_NAMES`
        order."""
        import tensorflow as tf

        c = lambda a: tf.convert_to_tensor(a, self.dtype)  # noqa: E731
        return self._grad([c(w) for w in weights], c(velocity), c(p0), c(targets))

    def targets(self, positions, centres, cells):
        """Place-cell activity (..., Np) at ``positions`` (..., 2) in the graph: the function of
        :func:`cw.task.place_cells.place_cell_activity` (``cells``: PlaceCellParams)."""
        import tensorflow as tf

        d2 = tf.reduce_sum(tf.square(positions[..., None, :] - centres), axis=-1)
        out = tf.nn.softmax(-d2 / (2.0 * cells.sigma ** 2), axis=-1)
        if cells.kind == "dos":
            out = out - tf.nn.softmax(-d2 / (2.0 * cells.surround_scale * cells.sigma ** 2), axis=-1)
            out = out - tf.reduce_min(out, axis=-1, keepdims=True)
            out = out / tf.reduce_sum(out, axis=-1, keepdims=True)
        return out

    def decoding_error(self, logits, positions, centres, k):
        """Mean distance (m) between ``positions`` (B, T, 2) and the mean centre of the ``k`` cells
        with the largest logits (:func:`cw.task.place_cells.decode_position`)."""
        import tensorflow as tf

        idx = tf.math.top_k(logits, k=k).indices
        decoded = tf.reduce_mean(tf.gather(centres, idx), axis=-2)
        return tf.reduce_mean(tf.norm(decoded - positions, axis=-1))

    def rates(self, weights, velocity, p0) -> tuple[np.ndarray, np.ndarray]:
        """Rates g (B, T, Ng) and logits (B, T, Np) as numpy arrays."""
        import tensorflow as tf

        c = lambda a: tf.convert_to_tensor(a, self.dtype)  # noqa: E731
        g, logits = self._forward([c(w) for w in weights], c(velocity), c(p0))
        return g.numpy(), logits.numpy()
