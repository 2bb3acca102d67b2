"""Gauss-Newton curvature-vector products for the CTRNN objective, without forming any matrix.

The loss of :mod:`cw.objective` is ``L(theta) = l(y, u) + lambda_L2 * R_L2(theta)`` with the network
outputs ``y`` (read-out) and ``u`` (firing rates) and ``l(y, u) = E(y) + lambda_FR * R_FR(u)`` a convex
quadratic of them.  Its generalised Gauss-Newton matrix (Schraudolph 2002; Martens 2010 section 4.2) is

    G = J_y^T H_y J_y + J_u^T H_u J_u + H_L2

with the constant diagonal Hessians

    H_y  = 2 / (M T N_out)                          on every read-out element (eq. 3),
    H_u  = 2 lambda_FR / (N T M)                    on every rate element (eq. 5; the metabolic
                                                    cost's own Gauss-Newton term),
    H_L2 = 2 lambda_L2 / (N_in N) on W_in entries,  2 lambda_L2 / (N N_out) on W_out entries,
           0 on W_rec and b                         (eq. 4; exact, R_L2 is quadratic).

G is symmetric positive semi-definite.  Martens & Sutskever's (2011) structural damping adds the
Gauss-Newton matrix of a matching loss on the hidden states (here the Euler state ``x``, whose
non-linearity is tanh, so the matching-loss Hessian is ``diag(1 - tanh(x)^2) = diag(1 - u^2)``):

    S = (1 / M) * sum_{m, t} J_x(m, t)^T diag(1 - u(m, t)^2) J_x(m, t)

**Normalisation of S (OURS).** S is averaged over trials and *summed* over steps and units, i.e.
per trial, as the per-case objectives of Martens & Sutskever (2011) and Sutskever's code are.  The
damped system ``G + lambda I + lambda mu S`` then equals theirs divided by the loss normalisation
(for ours, ``E`` is a mean over ``T N_out`` elements per trial); since the Levenberg-Marquardt
lambda adapts to that scale, the literature's ``mu`` (0.03) keeps its meaning.  Normalising S like
``E`` (``1 / (M T N_out)`` instead of ``1 / M``) would need ``mu`` larger by ``T N_out``.

Products are computed as in the research notes (shared/notes/hessian-free.md, section 3.3):

1. a hand-written tangent ("R-op") recurrence of the Euler step, run in a ``tf.while_loop`` over
   time like the model's loop (the Jacobian-vector product ``J v``; the noise has no tangent),
   which also assembles ``H J v`` step by step so that only one (T, M, N) tensor is stored;
2. one ``tf.GradientTape`` vector-Jacobian product with ``output_gradients = H J v`` through the
   model's own forward pass (:meth:`cw.objective.Objective._simulate`), recorded on the tape.

Measured on the 2-core CPU machine (M = T = 500, N = 100, float32): one product 0.5 s against
0.45 s for one loss-and-gradient, i.e. about 1.1x the gradient.

Because ``u = tanh(x)``, ``J_x^T diag(1 - u^2) w = J_u^T w``, so the error, firing-rate and
structural terms all go through the same single VJP of the rates ``u``; ``W_out`` enters only the
read-out and is handled in closed form.  ``tf.autodiff.ForwardAccumulator`` (fails on ``tf.scan``
inside ``tf.function``), the double-backward trick (memory grows with T) and ``jit_compile``
(slower on CPU) are deliberately not used.

All functions work on lists of tensors in :data:`cw.model.WEIGHT_NAMES` order; :func:`flatten` and
:func:`unflatten` convert to and from one float64 numpy vector, the representation of the
conjugate-gradient solver.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf


# -- flat vectors ---------------------------------------------------------------------------------
def flatten(tensors: Sequence) -> np.ndarray:
    """List of tensors/arrays -> one float64 vector (concatenation of the C-order ravels)."""
    return np.concatenate(
        [np.asarray(t.numpy() if hasattr(t, "numpy") else t, dtype=np.float64).ravel() for t in tensors]
    )


def shapes_of(tensors: Sequence) -> list[tuple[int, ...]]:
    """Shapes of a list of tensors/arrays."""
    return [tuple(int(d) for d in t.shape) for t in tensors]


def unflatten(vector: np.ndarray, like: Sequence, dtype: tf.DType = tf.float32) -> list[tf.Tensor]:
    """Inverse of :func:`flatten`.

    Parameters
    ----------
    vector : (P,) array
    like : list of tensors or of shapes giving the target shapes
    dtype : dtype of the returned tensors
    """
    shapes = [tuple(s) for s in like] if like and isinstance(like[0], (tuple, list)) else shapes_of(like)
    sizes = [int(np.prod(s)) for s in shapes]
    vector = np.asarray(vector)
    if vector.shape != (sum(sizes),):
        raise ValueError(f"unflatten: vector of shape {vector.shape}, expected ({sum(sizes)},)")
    out, start = [], 0
    np_dtype = tf.as_dtype(dtype).as_numpy_dtype
    for shape, size in zip(shapes, sizes):
        out.append(tf.convert_to_tensor(vector[start : start + size].reshape(shape).astype(np_dtype)))
        start += size
    return out


# -- curvature products ---------------------------------------------------------------------------
class GaussNewton:
    """Compiled curvature-vector products for an :class:`cw.objective.Objective`.

    Every method takes the weights and the direction ``v`` as lists of tensors in
    :data:`~cw.model.WEIGHT_NAMES` order (the objective's dtype), the batch ``inputs`` (M, T, N_in)
    and the noise sample ``noise`` (M, T, N), and scalar tensors for the coefficients (so that
    changing them never retraces).  M is whatever batch is passed: the curvature minibatch.
    """

    def __init__(self, objective):
        self.objective = objective
        self.dtype = objective.dtype
        self._alpha = tf.constant(objective.model.alpha, self.dtype)
        self.jvp = tf.function(self._jvp, reduce_retracing=True)
        self.product = tf.function(self._product, reduce_retracing=True)
        self.quadratic_forms = tf.function(self._quadratic_forms, reduce_retracing=True)

    # ---------------------------------------------------------------------------------------
    def _tangent_loop(self, weights, v, inputs, u, emit, init):
        """Run the tangent (R-op) recurrence of the Euler step over t.

        With ``g(t) = 1 - u(t)^2``, the tangents of the state x, the rates u and the read-out y
        along ``v = (dW_in, dW_rec, db, dW_out)`` obey (the noise has no tangent; dx(-1) = 0)::

            dx(t) = dx(t-1) + alpha * (-dx(t-1) + du(t-1) W_rec + u(t-1) dW_rec + I(t) dW_in + db)
            du(t) = g(t) * dx(t)
            dy(t) = du(t) W_out + u(t) dW_out

        ``u`` (M, T, N) are the primal rates.  At every step ``acc = emit(t, acc, dx, du, dy, u_t)``
        with ``acc`` starting at ``init`` (TensorArrays or running sums), so that callers keep only
        what they need; the final ``acc`` is returned.
        """
        _, w_rec, _, w_out = weights
        dw_in, dw_rec, db, dw_out = v
        alpha = self._alpha
        keep = 1.0 - alpha
        w_rec_a = alpha * w_rec
        u_tm = tf.transpose(u, (1, 0, 2))  # (T, M, N)
        i_tm = tf.transpose(inputs, (1, 0, 2))  # (T, M, N_in)
        n_steps = tf.shape(u_tm)[0]
        zeros = tf.zeros_like(u_tm[0])

        def body(t, dx, du, u_prev, acc):
            u_now = u_tm[t]
            drive = tf.matmul(u_prev, dw_rec) + tf.matmul(i_tm[t], dw_in) + db
            dx = keep * dx + tf.matmul(du, w_rec_a) + alpha * drive
            du = (1.0 - tf.square(u_now)) * dx
            dy = tf.matmul(du, w_out) + tf.matmul(u_now, dw_out)
            return t + 1, dx, du, u_now, emit(t, acc, dx, du, dy, u_now)

        out = tf.while_loop(
            lambda t, *_: t < n_steps, body, (tf.constant(0), zeros, zeros, zeros, init)
        )
        return out[-1]

    def _jvp(self, weights, v, inputs, noise):
        """Jacobian-vector products of the Euler state, rates and read-out.

        Returns
        -------
        dx, du : (M, T, N) tensors, the directional derivatives of x(t) and u(t) along ``v``
        dy : (M, T, N_out) tensor, that of the read-out y(t)
        """
        u = self.objective._simulate(weights, inputs, noise)
        n_steps = tf.shape(u)[1]
        init = tuple(tf.TensorArray(self.dtype, size=n_steps) for _ in range(3))

        def emit(t, acc, dx, du, dy, u_now):
            return tuple(ta.write(t, z) for ta, z in zip(acc, (dx, du, dy)))

        acc = self._tangent_loop(weights, v, inputs, u, emit, init)
        return tuple(tf.transpose(ta.stack(), (1, 0, 2)) for ta in acc)

    def _l2_diagonal(self, weights, lambda_l2):
        """Diagonal of H_L2 as scalars for W_in and W_out (W_rec and b: 0)."""
        w_in, _, _, w_out = weights
        n_in, n = w_in.shape[0], w_in.shape[1]
        n_out = w_out.shape[1]
        h_in = 2.0 * lambda_l2 / tf.cast(n_in * n, self.dtype)
        h_out = 2.0 * lambda_l2 / tf.cast(n * n_out, self.dtype)
        return h_in, h_out

    def _coefficients(self, u, n_out, lambda_fr, structural, error_weight):
        """H_y, H_u and the coefficient of S per element, for a batch of rates ``u`` (M, T, N)."""
        shape = tf.shape(u)
        m, t, n = shape[0], shape[1], shape[2]
        mt = tf.cast(m * t, self.dtype)
        h_y = error_weight * 2.0 / (mt * tf.cast(n_out, self.dtype))
        h_u = 2.0 * lambda_fr / (mt * tf.cast(n, self.dtype))
        c_s = structural / tf.cast(m, self.dtype)
        return h_y, h_u, c_s

    def _product(self, weights, v, inputs, noise, lambda_l2, lambda_fr, structural, error_weight):
        """Curvature-vector product ``(G + structural * S) v``.

        Parameters
        ----------
        weights, v : lists of 4 tensors (WEIGHT_NAMES order)
        inputs : (M, T, N_in) tensor; noise : (M, T, N) tensor
        lambda_l2, lambda_fr : scalar tensors, the penalty weights of the loss
        structural : scalar tensor, the coefficient of S (the optimiser passes lambda * mu)
        error_weight : scalar tensor multiplying the error block J_y^T H_y J_y (1 for the loss;
            0 isolates the other terms in tests)

        Returns
        -------
        list of 4 tensors, the product in WEIGHT_NAMES layout
        """
        dt = self.dtype
        lambda_l2, lambda_fr = tf.cast(lambda_l2, dt), tf.cast(lambda_fr, dt)
        structural, error_weight = tf.cast(structural, dt), tf.cast(error_weight, dt)
        w_in, w_rec, b, w_out = weights
        with tf.GradientTape() as tape:
            tape.watch([w_in, w_rec, b])
            u = self.objective._simulate([w_in, w_rec, b, w_out], inputs, noise)  # (M, T, N)
        # The tape stopped recording at the end of the block: the tangent pass is not taped.
        h_y, h_u, c_s = self._coefficients(u, w_out.shape[1], lambda_fr, structural, error_weight)
        w_out_t = tf.transpose(w_out)

        def emit(t, acc, dx, du, dy, u_now):
            ta, g_out = acc
            gy = h_y * dy  # H_y J_y v
            # Output gradient on u(t): J_y^T through y = u W_out, the rate penalty, and the
            # structural term (J_x^T diag(1 - u^2) w = J_u^T w).
            gu = tf.matmul(gy, w_out_t) + h_u * du + c_s * dx
            return ta.write(t, gu), g_out + tf.matmul(u_now, gy, transpose_a=True)

        init = (tf.TensorArray(dt, size=tf.shape(u)[1]), tf.zeros_like(w_out))
        ta, g_out = self._tangent_loop(weights, v, inputs, u, emit, init)
        gu = tf.transpose(ta.stack(), (1, 0, 2))
        g_in, g_rec, g_b = tape.gradient(
            u, [w_in, w_rec, b], output_gradients=gu, unconnected_gradients=tf.UnconnectedGradients.ZERO
        )
        h_in, h_out = self._l2_diagonal(weights, lambda_l2)
        return [g_in + h_in * v[0], g_rec, g_b, g_out + h_out * v[3]]

    def _quadratic_forms(self, weights, v, inputs, noise, lambda_l2, lambda_fr, error_weight):
        """``(v^T G v, v^T S v)`` from one JVP (no VJP): cheaper than a product."""
        dt = self.dtype
        lambda_l2, lambda_fr = tf.cast(lambda_l2, dt), tf.cast(lambda_fr, dt)
        error_weight = tf.cast(error_weight, dt)
        u = self.objective._simulate(weights, inputs, noise)
        h_y, h_u, c_s = self._coefficients(u, weights[3].shape[1], lambda_fr, tf.ones([], dt), error_weight)

        def emit(t, acc, dx, du, dy, u_now):
            s_y, s_u, s_x = acc
            return (
                s_y + tf.reduce_sum(tf.square(dy)),
                s_u + tf.reduce_sum(tf.square(du)),
                s_x + tf.reduce_sum((1.0 - tf.square(u_now)) * tf.square(dx)),
            )

        zero = tf.zeros([], dt)
        s_y, s_u, s_x = self._tangent_loop(weights, v, inputs, u, emit, (zero, zero, zero))
        h_in, h_out = self._l2_diagonal(weights, lambda_l2)
        vgv = (
            h_y * s_y
            + h_u * s_u
            + h_in * tf.reduce_sum(tf.square(v[0]))
            + h_out * tf.reduce_sum(tf.square(v[3]))
        )
        return vgv, c_s * s_x
