"""Gauss-Newton curvature-vector products for the CTRNN objective, without forming any matrix.

The loss of :mod:`cw.network.objective` is ``L(theta) = l(y, u) + lambda_L2 * R_L2(theta)`` with the network
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
non-linearity is phi = tanh, so the matching-loss Hessian is ``diag(phi'(x)) = diag(1 - tanh(x)^2)``,
taken from the noise-free rate ``tanh(x)`` also when the noise is on the rates, and 0 where a
rectified ``retanh`` unit is silent):

    S = (1 / M) * sum_{m, t} J_x(m, t)^T diag(phi'(x(m, t))) J_x(m, t)

**Normalisation of S.** The S above, the one :class:`GaussNewton` computes, is per trial: averaged
over the M trials, *summed* over the T steps and N units.  Its weight in the matrix handed to
conjugate gradient is set by the optimiser (:func:`cw.network.optimizers.params.structural_coefficient`):
the damping weight (lambda_L2 under the default ``damping: penalty_weights``, the
Levenberg-Marquardt lambda under ``tikhonov``) times

* ``mu / (T N)`` with the default ``structural_damping_normalisation: per_element``: S is then a
  mean over trials, steps and units like the loss, as in the authors' code (CODE, mu = 1500);
* ``mu`` with ``per_trial``: the per-case convention of Martens & Sutskever (2011), whose
  mu = 0.03 it reproduces (OURS, the earlier default).

The two agree when ``mu_per_trial = mu_per_element / (T N)``: 1500 / (500 * 100) = 0.03.  So by
default the operator is ``G + (mu / (T N)) lambda_L2 S`` (no lambda I), and with ``tikhonov``
``G + lambda I + (mu / (T N)) lambda S``
(``tests/test_curvature.py::test_operator_handed_to_cg_equals_the_explicit_matrices``).

Products are computed without any ``GradientTape`` (the tape's backward pass of a time
loop was most of the cost), per batch chunk (see :class:`cw.network.objective.Objective`):

1. the primal rates u(t) of the forward pass, taken from the last gradient evaluation at the same
   weights, trials and noise (:meth:`cw.network.objective.Objective.trajectory`): conjugate gradient calls
   the product tens of times at one point, so the forward pass is not rerun;
2. a hand-written tangent ("R-op") recurrence of the Euler step in a ``tf.while_loop`` over time
   (the Jacobian-vector product ``J v``; the noise has no tangent), which assembles the output
   gradients ``H J v`` step by step: the read-out part as (N_out, M) and the rest (rate penalty
   and structural damping) as one (M, N) tensor per step;
3. the hand-written back-propagation loop of :meth:`cw.network.objective.Objective._backward_chunk` on
   those output gradients (the vector-Jacobian product ``J^T (H J v)``).

Per step that is four (M x N) @ (N x N)-sized matrix products, against three for a gradient.
Measured with ``python -m benchmarks.bench_speed`` on the 2-core CPU machine (M = T = 500, N = 100,
float32, 2 threads): one product ~0.16 s against ~0.125 s for one loss-and-gradient (1.25x).

Because ``u = phi(x)`` (plus, with rate noise, an ``eta`` that does not depend on the weights),
``J_u = diag(phi'(x)) J_x`` and ``J_x^T diag(phi'(x)) w = J_u^T w``, so the error, firing-rate and
structural terms all go through the same single VJP of the rates ``u``; ``W_out`` enters only the
read-out and is handled in closed form.  ``tf.autodiff.ForwardAccumulator`` (fails on ``tf.scan``
inside ``tf.function``), the double-backward trick (memory grows with T) and ``jit_compile``
(slower on CPU) are deliberately not used.

All functions work on lists of tensors in :data:`cw.network.model.WEIGHT_NAMES` order; :func:`flatten` and
:func:`unflatten` convert to and from one float64 numpy vector, the representation of the
conjugate-gradient solver.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from cw.network.objective import read_step, stack_steps


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
class _Compiled:
    """A public entry point: Python argument handling (caches) around one compiled function.

    ``experimental_get_tracing_count`` is that of the compiled function, as for a ``tf.function``.
    """

    def __init__(self, prepare, compiled):
        self._prepare = prepare
        self.compiled = compiled

    def __call__(self, *args):
        return self.compiled(*self._prepare(*args))

    def experimental_get_tracing_count(self) -> int:
        return self.compiled.experimental_get_tracing_count()


class GaussNewton:
    """Compiled curvature-vector products for an :class:`cw.network.objective.Objective`.

    Every method takes the weights and the direction ``v`` as lists of tensors in
    :data:`~cw.network.model.WEIGHT_NAMES` order (the objective's dtype), the batch ``inputs`` (M, T, N_in)
    and the noise sample ``noise`` (M, T, N), and scalar tensors for the coefficients (so that
    changing them never retraces).  M is whatever batch is passed: the curvature minibatch.

    The primal rates u(t) come from :meth:`cw.network.objective.Objective.trajectory`, which reuses the
    forward pass of the last gradient (or product) at the same weights, inputs and noise tensors:
    conjugate gradient calls :meth:`product` tens of times at one point, and each call runs only
    the tangent and the backward loop.
    """

    def __init__(self, objective):
        self.objective = objective
        self.dtype = objective.dtype
        self._alpha = objective._alpha
        self._keep = objective._keep
        kw = dict(reduce_retracing=True, autograph=False)
        self.jvp = _Compiled(self._args, tf.function(self._jvp, **kw))
        self.product = _Compiled(self._args, tf.function(self._product, **kw))
        self.quadratic_forms = _Compiled(self._args, tf.function(self._quadratic_forms, **kw))

    def _args(self, weights, v, inputs, noise, *scalars):
        obj = self.objective
        weights = obj._tensors(weights)
        inputs = obj._tensor(inputs)
        u_flows = obj.trajectory(weights, inputs, noise)
        return (u_flows, obj._alpha_noise(noise), weights, obj._tensors(v), inputs, *[obj._tensor(s) for s in scalars])

    # ---------------------------------------------------------------------------------------
    def _tangent_chunk(self, u_flow, eta, weights, v, ib, emit, init):
        """Run the tangent (R-op) recurrence of the Euler step over t, for one batch chunk.

        With ``g(t) = phi'(x(t)) = 1 - tanh(x(t))^2`` (0 where a ``retanh`` unit is silent), the
        tangents of the state x, the rates u and the read-out y
        along ``v = (dW_in, dW_rec, db, dW_out)`` obey (the noise has no tangent; dx(-1) = 0)::

            dx(t) = dx(t-1) + alpha * (-dx(t-1) + du(t-1) W_rec + u(t-1) dW_rec + I(t) dW_in + db)
            du(t) = g(t) * dx(t)
            dy(t) = du(t) W_out + u(t) dW_out

        ``u_flow`` holds the primal rates u(t) of the chunk and ``ib`` its inputs (T, M_c,
        N_in + 1) with a column of ones.  With noise on the rates, ``eta`` (T, M_c, N) is that
        noise: u(t) = tanh(x(t)) + eta(t), so g(t) = 1 - (u(t) - eta(t))^2 (else ``eta`` is None).  At every step ``acc = emit(t, acc, dx, du, u_t)`` with
        ``acc`` starting at ``init`` (TensorArrays or running sums), so that callers keep only
        what they need; the final ``acc`` is returned.
        """
        dt = self.dtype
        _, w_rec, _, _ = weights
        dw_in, dw_rec, db, _ = v
        n = w_rec.shape[0]
        n_steps = tf.shape(ib)[0]
        w_a = self._alpha * w_rec
        dw_ib = self._alpha * tf.concat([dw_in, db[None, :]], 0)
        dw_aug = tf.concat([self._alpha * dw_rec, dw_ib], 0)  # [u(t-1), I(t), 1] @ dw_aug
        keep = self._keep

        def clean(t, u_t):
            return u_t if eta is None else u_t - eta[t]

        u0 = read_step(u_flow, 0, [None, n], dt)
        dx = tf.matmul(ib[0], dw_ib)
        slope = self.objective.slope_times
        du = slope(clean(0, u0), dx)
        acc = emit(0, init, dx, du, u0)

        def body(t, dx, du, u_prev, acc):
            u_t = read_step(u_flow, t, [None, n], dt)
            dx = tf.add_n([keep * dx, tf.matmul(du, w_a), tf.matmul(tf.concat([u_prev, ib[t]], 1), dw_aug)])
            du = slope(clean(t, u_t), dx)
            return t + 1, dx, du, u_t, emit(t, acc, dx, du, u_t)

        out = tf.while_loop(lambda t, *_: t < n_steps, body, (tf.constant(1), dx, du, u0, acc))
        return out[-1]

    def _jvp(self, u_flows, axi, weights, v, inputs):
        """Jacobian-vector products of the Euler state, rates and read-out.

        Returns
        -------
        dx, du : (M, T, N) tensors, the directional derivatives of x(t) and u(t) along ``v``
        dy : (M, T, N_out) tensor, that of the read-out y(t)
        """
        dt = self.dtype
        w_out, dw_out = weights[3], v[3]
        n, n_out = weights[1].shape[0], w_out.shape[1]
        parts = []
        for c, (ib, _) in enumerate(self.objective._chunked(inputs)):
            init = tuple(
                tf.TensorArray(dt, size=tf.shape(ib)[0], element_shape=tf.TensorShape([None, None])) for _ in range(3)
            )

            def emit(t, acc, dx, du, u_t):
                dy = tf.matmul(w_out, du, transpose_a=True, transpose_b=True) + tf.matmul(
                    dw_out, u_t, transpose_a=True, transpose_b=True
                )
                return tuple(ta.write(t, z) for ta, z in zip(acc, (dx, du, dy)))

            acc = self._tangent_chunk(u_flows[c], self.objective.rate_eta(axi, c), weights, v, ib, emit, init)
            dx, du = (tf.transpose(stack_steps(ta.flow, [None, n], dt), (1, 0, 2)) for ta in acc[:2])
            dy = tf.transpose(stack_steps(acc[2].flow, [n_out, None], dt), (2, 0, 1))
            parts.append((dx, du, dy))
        return tuple(tf.concat([p[i] for p in parts], 0) for i in range(3))

    def _l2_diagonal(self, weights, lambda_l2):
        """Diagonal of H_L2 as scalars for W_in and W_out (W_rec and b: 0)."""
        w_in, _, _, w_out = weights
        n_in, n = tf.shape(w_in)[0], tf.shape(w_in)[1]
        n_out = tf.shape(w_out)[1]
        h_in = 2.0 * lambda_l2 / tf.cast(n_in * n, self.dtype)
        h_out = 2.0 * lambda_l2 / tf.cast(n * n_out, self.dtype)
        return h_in, h_out

    def _coefficients(self, inputs, weights, lambda_fr, structural, error_weight):
        """H_y, H_u and the coefficient of S per element, for a batch of inputs (M, T, .)."""
        dt = self.dtype
        m, t = tf.shape(inputs)[0], tf.shape(inputs)[1]
        n, n_out = tf.shape(weights[1])[0], tf.shape(weights[3])[1]
        mt = tf.cast(m * t, dt)
        h_y = error_weight * 2.0 / (mt * tf.cast(n_out, dt))
        h_u = 2.0 * lambda_fr / (mt * tf.cast(n, dt))
        c_s = structural / tf.cast(m, dt)
        return h_y, h_u, c_s

    def _product(self, u_flows, axi, weights, v, inputs, lambda_l2, lambda_fr, structural, error_weight):
        """Curvature-vector product ``(G + structural * S) v``.

        Parameters
        ----------
        weights, v : lists of 4 tensors (WEIGHT_NAMES order)
        inputs : (M, T, N_in) tensor; noise : (M, T, N) tensor
        lambda_l2, lambda_fr : scalar tensors, the penalty weights of the loss
        structural : scalar tensor, the coefficient of S (the optimiser passes the damping
            weight times :func:`cw.network.optimizers.params.structural_coefficient`, by default
            lambda_L2 mu / (T N))
        error_weight : scalar tensor multiplying the error block J_y^T H_y J_y (1 for the loss;
            0 isolates the other terms in tests)

        Returns
        -------
        list of 4 tensors, the product in WEIGHT_NAMES layout
        """
        dt = self.dtype
        _, w_rec, _, w_out = weights
        n = w_rec.shape[0]
        h_y, h_u, c_s = self._coefficients(inputs, weights, lambda_fr, structural, error_weight)
        hw_out, hdw_out = h_y * w_out, h_y * v[3]
        w_out_t = tf.transpose(w_out)
        gs, g_outs = [], []
        for c, (ib, _) in enumerate(self.objective._chunked(inputs)):
            n_steps = tf.shape(ib)[0]

            def ta(n_steps=n_steps):
                return tf.TensorArray(dt, size=n_steps, element_shape=tf.TensorShape([None, None]))

            def emit(t, acc, dx, du, u_t):
                gy_ta, r_ta, g_out = acc
                # H_y J_y v, transposed: (N_out, M_c)
                gy = tf.matmul(hw_out, du, transpose_a=True, transpose_b=True) + tf.matmul(
                    hdw_out, u_t, transpose_a=True, transpose_b=True
                )
                # The rest of the output gradient on u(t): the rate penalty and the structural
                # term (J_x^T diag(1 - u^2) w = J_u^T w); J_y^T gy is added in the backward loop.
                r = h_u * du + c_s * dx
                return gy_ta.write(t, gy), r_ta.write(t, r), g_out + tf.matmul(gy, u_t)

            gy_ta, r_ta, g_out = self._tangent_chunk(
                u_flows[c], self.objective.rate_eta(axi, c), weights, v, ib, emit, (ta(), ta(), tf.zeros_like(w_out_t))
            )
            r_flow = r_ta.flow
            gs.append(
                self.objective._backward_chunk(
                    w_rec, u_flows[c], ib, gy_ta.flow, w_out_t,
                    lambda t, u_t, r_flow=r_flow: [read_step(r_flow, t, [None, n], dt)], self.objective.rate_eta(axi, c),
                )
            )
            g_outs.append(g_out)
        g_rec, g_in, g_b = self.objective._split_input_grad(tf.add_n(gs), weights)
        h_in, h_out = self._l2_diagonal(weights, lambda_l2)
        return [g_in + h_in * v[0], g_rec, g_b, tf.transpose(tf.add_n(g_outs)) + h_out * v[3]]

    def _quadratic_forms(self, u_flows, axi, weights, v, inputs, lambda_l2, lambda_fr, error_weight):
        """``(v^T G v, v^T S v)`` from one JVP (no VJP): cheaper than a product."""
        dt = self.dtype
        w_out, dw_out = weights[3], v[3]
        h_y, h_u, c_s = self._coefficients(inputs, weights, lambda_fr, tf.ones([], dt), error_weight)

        def emit(t, acc, dx, du, u_t):
            s_y, s_u, s_x = acc
            dy = tf.matmul(w_out, du, transpose_a=True, transpose_b=True) + tf.matmul(
                dw_out, u_t, transpose_a=True, transpose_b=True
            )
            # (1 - u^2) dx^2 = du dx
            return s_y + tf.nn.l2_loss(dy), s_u + tf.nn.l2_loss(du), s_x + tf.reduce_sum(du * dx)

        zero = tf.zeros([], dt)
        sums = [
            self._tangent_chunk(u_flows[c], self.objective.rate_eta(axi, c), weights, v, ib, emit, (zero, zero, zero))
            for c, (ib, _) in enumerate(self.objective._chunked(inputs))
        ]
        s_y, s_u, s_x = (tf.add_n([s[i] for s in sums]) for i in range(3))
        h_in, h_out = self._l2_diagonal(weights, lambda_l2)
        vgv = (
            2.0 * (h_y * s_y + h_u * s_u)
            + h_in * tf.reduce_sum(tf.square(v[0]))
            + h_out * tf.reduce_sum(tf.square(v[3]))
        )
        return vgv, c_s * s_x
