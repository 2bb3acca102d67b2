"""The training objective of Cueva & Wei (2018), eq. 3-5, in TensorFlow.

    E    = 1 / (M T N_out) * sum_{m,t,j} (y_j(t, m) - y_target_j(t, m))^2          (eq. 3)
    R_L2 = 1 / (N N_in) * sum W_in^2 + 1 / (N N_out) * sum W_out^2                   (eq. 4)
    R_FR = 1 / (N T M) * sum_{i,t,m} u_i(t, m)^2                                     (eq. 5)
    loss = E + lambda_L2 * R_L2 + lambda_FR * R_FR

W_rec and b are not penalised (PAPER).  The penalty weights are passed to every call as tensors,
so that optimisers may adapt them without retracing the compiled functions.

The intrinsic noise (``model.noise_location``, :class:`cw.network.model.ModelParams`) is by default
on the firing rates, ``u(t) = tanh(x(t)) + eta(t)`` (CODE: the authors' code), so the read-out,
the recurrence and R_FR all see the noisy rates; with ``activation`` it is xi inside the Euler
bracket of eq. 1 (``+ alpha xi(t)`` on x; OURS, the earlier default).

Implementation (speed).  Every pass is a compiled ``tf.while_loop`` over time on
time-major data, written by hand rather than recorded on a ``GradientTape``:

* the Euler step is ``x(t) = (1 - alpha) x(t-1) + [u(t-1), I(t), 1] (alpha [W_rec; W_in; b])``
  (``+ alpha xi(t)`` with noise on the activation) and ``u(t) = tanh(x(t))`` (``+ eta(t)`` with
  noise on the rates): one matrix product (the input drive rides along as extra columns), one
  ``AddN`` and one ``tanh`` per step;
* the loss is summed inside the same loop (the read-out error computed as W_out^T u^T, the
  cheap orientation of that thin product, and ``l2_loss`` of the error and of the rates), so a
  loss evaluation stores nothing of size (T, M, N);
* the gradient is back-propagation through time by hand: the forward loop keeps the rates u(t)
  in a ``TensorArray`` (no copies), the backward loop runs ``delta_u(t) = dl/du(t) + delta_x(t+1)
  (alpha W_rec)^T`` (the read-out error term rides along in the same product), ``delta_x(t) =
  phi'(x(t)) delta_u(t) + (1 - alpha) delta_x(t+1)`` with ``phi'(x) = 1 - tanh(x)^2`` from the
  noise-free rate (one ``TanhGrad``; 0 where a ``retanh`` unit is silent) and accumulates the
  weight gradients step by step with one product ``[u(t-1), I(t), 1]^T delta_x(t)``;
* the batch is cut into ``chunks`` groups of trials, each its own time loop, which TensorFlow's
  inter-op threads run side by side: the per-step products are too small to split well inside
  one operation, so this is how two cores are used (:func:`cw.runtime.configure_threads`);
* the noise, the only (M, T, N) input, is transposed to time-major (and scaled by alpha when it is
  on the activation) once per noise tensor and cached (:class:`_IdentityCache`): all the evaluations of one optimiser update
  share one noise sample, so they share the transposed copy too;
* the rates of the last gradient evaluation are kept (:meth:`Objective.trajectory`) so that the
  Gauss-Newton products of :mod:`cw.network.curvature` at the same weights, trials and noise do not rerun
  the forward pass.

Caches are keyed by the *identity* of immutable eager tensors (weights, inputs, noise) and hold
references to them, so an entry is never confused with another tensor; a computation with or
without a cache hit gives bit-identical results (the cached values are those the same compiled
code would recompute).  ``python -m benchmarks.bench_speed`` measures these passes against the
matrix-product floor.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from cw.network.model import WEIGHT_NAMES, ModelParams


def weights_to_tensors(weights: Mapping[str, np.ndarray], dtype=tf.float32) -> list[tf.Tensor]:
    """Weights mapping -> list of tensors in :data:`WEIGHT_NAMES` order."""
    return [tf.convert_to_tensor(np.asarray(weights[k]), dtype=dtype) for k in WEIGHT_NAMES]


def tensors_to_weights(tensors: Sequence) -> dict[str, np.ndarray]:
    """List of tensors/variables in :data:`WEIGHT_NAMES` order -> mapping of numpy arrays."""
    return {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for k, v in zip(WEIGHT_NAMES, tensors)}


def read_step(flow, t, shape, dtype):
    """Element ``t`` of a TensorList ``flow`` written by a time loop; ``shape`` is its static
    shape, None for a dimension unknown at tracing time."""
    item = tf.raw_ops.TensorListGetItem(
        input_handle=flow, index=t, element_shape=[-1 if d is None else d for d in shape], element_dtype=dtype
    )
    item.set_shape(shape)
    return item


def stack_steps(flow, shape, dtype):
    """The T elements of a TensorList as one (T, *shape) tensor."""
    out = tf.raw_ops.TensorListStack(
        input_handle=flow, element_shape=[-1 if d is None else d for d in shape], element_dtype=dtype
    )
    out.set_shape([None, *shape])
    return out


def default_chunks() -> int:
    """Batch chunks run side by side: TensorFlow's inter-op threads when set (see
    :func:`cw.runtime.configure_threads`), else 1; always 1 on a GPU (one large batch suits it)."""
    if tf.config.list_physical_devices("GPU"):
        return 1
    return max(1, int(tf.config.threading.get_inter_op_parallelism_threads()))


class _IdentityCache:
    """A tiny cache keyed by the identity of immutable tensors (it holds them, so ids stay unique)."""

    def __init__(self, size: int):
        self.size = size
        self.entries: list[tuple[tuple, object]] = []

    @staticmethod
    def cacheable(objs) -> bool:
        # Eager tensors are immutable; variables and numpy arrays are not (or are converted
        # anew), and symbolic tensors (a caller's tf.function) must not outlive their graph.
        return tf.executing_eagerly() and all(
            isinstance(o, tf.Tensor) and not isinstance(o, tf.Variable) for o in objs
        )

    @staticmethod
    def _same(a: tuple, b: tuple) -> bool:
        return len(a) == len(b) and all(x is y for x, y in zip(a, b))

    def get(self, key: tuple):
        for k, v in self.entries:
            if self._same(k, key):
                return v
        return None

    def put(self, key: tuple, value) -> None:
        self.entries = [(k, v) for k, v in self.entries if not self._same(k, key)]
        self.entries.insert(0, (key, value))
        del self.entries[self.size :]

    def clear(self) -> None:
        self.entries = []


def _dim(x, axis):
    """Static size of ``x`` along ``axis`` if known, else a scalar tensor."""
    d = x.shape[axis]
    return tf.shape(x)[axis] if d is None else d


class Objective:
    """The CTRNN forward pass and the loss of eq. 3-5 as compiled TensorFlow functions.

    Parameters
    ----------
    model : ModelParams
    dtype : tf.DType
        float32 for training, float64 for exact checks in tests.
    chunks : int, optional
        The batch is cut into this many chunks of trials, each run as its own time loop, so that
        TensorFlow's inter-op threads run them side by side (default: the inter-op thread count
        set by :func:`cw.runtime.configure_threads`, 1 if unset).  Results depend on it only
        through the order of floating-point sums.
    """

    def __init__(self, model: ModelParams, dtype: tf.DType = tf.float32, chunks: int | None = None):
        self.model = model
        self.dtype = dtype
        self.chunks = default_chunks() if chunks is None else max(1, int(chunks))
        self._alpha = tf.constant(model.alpha, dtype)
        self._keep = tf.constant(1.0 - model.alpha, dtype)
        #: True when the noise is added to the rates u = tanh(x) + eta (CODE), False when it is
        #: added to the activation inside the Euler bracket (alpha * xi, the paper's eq. 1).
        self.rate_noise = model.noise_location == "rate"
        self.rectified = model.nonlinearity == "retanh"
        self._noise_scale = tf.constant(1.0 if self.rate_noise else model.alpha, dtype)
        kw = dict(reduce_retracing=True, autograph=False)
        self._noise_fn = tf.function(self._noise, **kw)
        self._noise_tm_fn = tf.function(self._noise_time_major, **kw)
        self._simulate_fn = tf.function(self._simulate, **kw)
        self._loss_fn = tf.function(self._loss_terms, **kw)
        self._grad_fn = tf.function(self._loss_and_grad, **kw)
        self._trajectory_fn = tf.function(self._trajectory, **kw)
        self._noise_cache = _IdentityCache(2)
        self._trajectory_cache = _IdentityCache(1)

    # -- the non-linearity ---------------------------------------------------------------------
    def phi(self, x):
        """Firing rate of the activation: tanh(x) (PAPER) or max(0, tanh(x)) (``retanh``)."""
        r = tf.tanh(x)
        return tf.nn.relu(r) if self.rectified else r

    def slope_times(self, r, dy):
        """``phi'(x) * dy`` from the noise-free rate ``r = phi(x)``: (1 - r^2) dy, and 0 where
        a rectified unit is silent (r = 0, i.e. x <= 0)."""
        g = tf.raw_ops.TanhGrad(y=r, dy=dy)
        return tf.where(r > 0, g, tf.zeros_like(g)) if self.rectified else g

    # -- noise ---------------------------------------------------------------------------------
    def noise(self, shape: tuple[int, int], seed: tuple[int, int]) -> tf.Tensor:
        """The intrinsic noise for a batch: (M, T, N), s.d. ``model.noise_std``: eta added to the
        rates, ``u = tanh(x) + eta``, with ``noise_location: rate`` (the default, CODE), or xi
        inside the Euler bracket of eq. 1 with ``activation`` (the step then adds ``alpha xi``).

        Drawn from TensorFlow's counter-based generator, so the same ``seed`` pair gives the same
        sample: every evaluation within one optimiser update can see the same noise.
        """
        m, t = shape
        return self._noise_fn(
            tf.constant([int(m), int(t), self.model.n_units], tf.int32),
            tf.constant([int(seed[0]), int(seed[1])], tf.int64),
            tf.constant(self.model.noise_std, self.dtype),
        )

    def _noise(self, shape, seed, std):
        return tf.random.stateless_normal(shape, seed=seed, dtype=self.dtype) * std

    def _noise_time_major(self, noise):
        """Per batch chunk, each (T, M_chunk, N): ``alpha * xi`` (noise on the activation) or
        ``eta`` itself (noise on the rates)."""
        bounds = self._bounds(noise)
        return tuple(
            tf.transpose(noise[a:b], (1, 0, 2)) * self._noise_scale for a, b in zip(bounds[:-1], bounds[1:])
        )

    def _alpha_noise(self, noise):
        """:meth:`_noise_time_major`, cached for the last two noise tensors (None: no noise)."""
        if noise is None:
            return None
        if not _IdentityCache.cacheable([noise]):
            return self._noise_tm_fn(tf.convert_to_tensor(noise, self.dtype))
        hit = self._noise_cache.get((noise,))
        if hit is None:
            hit = self._noise_tm_fn(noise)
            self._noise_cache.put((noise,), hit)
        return hit

    # -- argument handling ---------------------------------------------------------------------
    def _tensors(self, weights):
        return [tf.convert_to_tensor(w, self.dtype) for w in weights]

    def _tensor(self, x):
        return tf.convert_to_tensor(x, self.dtype)

    def _bounds(self, batch):
        """Chunk boundaries along the first axis of ``batch`` (M trials)."""
        m, k = _dim(batch, 0), self.chunks  # chunks may be empty when M < k
        return [(m * i) // k for i in range(k + 1)]

    def _chunked(self, inputs, targets=None):
        """Per chunk: inputs as (T, M_c, N_in + 1) with a column of ones (the bias input), and
        targets as (T, N_out, M_c) (or None)."""
        ones = tf.ones_like(inputs[..., :1])
        ib = tf.transpose(tf.concat([inputs, ones], -1), (1, 0, 2))
        tgt = None if targets is None else tf.transpose(targets, (1, 2, 0))
        bounds = self._bounds(inputs)
        out = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            out.append((ib[:, a:b], None if tgt is None else tgt[:, :, a:b]))
        return out

    # -- the loops (one batch chunk, time-major) -----------------------------------------------
    def _forward_chunk(self, weights, ib, axi, tgt=None, keep_u=True, keep_err=False):
        """Euler integration over t of one chunk, with the loss sums if ``tgt`` is given.

        ``ib`` (T, M_c, N_in + 1) inputs with ones; ``axi`` (T, M_c, N) the time-major noise of
        :meth:`_noise_time_major` or None (with noise on the rates, the rates kept and used
        everywhere are the noisy ones, ``u(t) = tanh(x(t)) + eta(t)``);
        ``tgt`` (T, N_out, M_c) targets or None.  Returns a dict with ``u`` (TensorList of the
        rates u(t), (M_c, N), if ``keep_u``), ``s_e`` and ``s_u`` (sums of e^2 / 2 and u^2 / 2),
        and if ``keep_err``: ``e`` (TensorList of e(t)^T = (y(t) - target(t))^T, (N_out, M_c)) and
        ``g_out`` (sum_t e(t)^T u(t), (N_out, N)).
        """
        w_in, w_rec, b, w_out = weights
        dt = self.dtype
        n_steps = tf.shape(ib)[0]
        w_ib = self._alpha * tf.concat([w_in, b[None, :]], 0)  # (N_in + 1, N)
        w_aug = tf.concat([self._alpha * w_rec, w_ib], 0)  # [u(t-1), I(t), 1] @ w_aug
        keep = self._keep
        loss = tgt is not None

        def ta():
            return tf.TensorArray(dt, size=n_steps, element_shape=tf.TensorShape([None, None]))

        rate_noise = self.rate_noise and axi is not None
        x = tf.matmul(ib[0], w_ib)
        if axi is not None and not rate_noise:
            x = x + axi[0]
        u = self.phi(x) + axi[0] if rate_noise else self.phi(x)
        state = {}
        if keep_u:
            state["u"] = ta()
        if loss:
            state["s_e"] = tf.zeros([], dt)
            state["s_u"] = tf.zeros([], dt)
        if keep_err:
            state["e"] = ta()
            state["g_out"] = tf.zeros(tf.shape(tf.transpose(w_out)), dt)

        def emit(t, u, state):
            state = dict(state)
            if keep_u:
                state["u"] = state["u"].write(t, u)
            if loss:
                e_t = tf.matmul(w_out, u, transpose_a=True, transpose_b=True) - tgt[t]  # (N_out, M_c)
                state["s_e"] = state["s_e"] + tf.nn.l2_loss(e_t)
                state["s_u"] = state["s_u"] + tf.nn.l2_loss(u)
                if keep_err:
                    state["e"] = state["e"].write(t, e_t)
                    state["g_out"] = state["g_out"] + tf.matmul(e_t, u)
            return state

        state = emit(0, u, state)

        def body(t, x, u, state):
            terms = [keep * x, tf.matmul(tf.concat([u, ib[t]], 1), w_aug)]
            if axi is not None and not rate_noise:
                terms.append(axi[t])
            x = tf.add_n(terms)
            u = self.phi(x) + axi[t] if rate_noise else self.phi(x)
            return t + 1, x, u, emit(t, u, state)

        _, _, _, state = tf.while_loop(lambda t, *_: t < n_steps, body, (tf.constant(1), x, u, state))
        out = {k: (v.flow if isinstance(v, tf.TensorArray) else v) for k, v in state.items()}
        return out

    def _backward_chunk(self, w_rec, u_flow, ib, small_flow, small_w, full_terms, eta=None):
        """Back-propagation through time of output gradients on the rates u(t), one chunk.

        The output gradient on u(t) is ``s(t)^T small_w + sum(full_terms(t, u(t)))`` with
        ``s(t)`` (N_out, M_c) the elements of the TensorList ``small_flow`` and ``small_w``
        (N_out, N).  Returns the gradient of ``[W_rec; W_in; b]`` ((N + N_in + 1, N)).

        With delta(t) = dL/dx(t):  delta(T) = 0,
        ``delta(t) = phi'(x(t)) (g_u(t) + delta(t+1) (alpha W_rec)^T) + (1 - alpha) delta(t+1)``,
        ``phi'(x(t)) = 1 - r(t)^2`` from the noise-free rate ``r(t) = u(t) - eta(t)`` (``eta`` the
        rate noise, None when the noise is on the activation; 0 where a ``retanh`` unit is silent),
        and dL/d[W_rec; W_in; b] = alpha sum_t [u(t-1), I(t), 1]^T delta(t).
        """
        dt = self.dtype
        n = w_rec.shape[0]
        n_small = small_w.shape[0]
        n_steps = tf.shape(ib)[0]
        w_back = tf.concat([tf.transpose(self._alpha * w_rec), small_w], 0)  # (N + N_out, N)
        keep = self._keep
        u_last = read_step(u_flow, n_steps - 1, [None, n], dt)

        def delta(t, u_t, dx_next):
            s_t = read_step(small_flow, t, [n_small, None], dt)
            q = tf.matmul(tf.concat([dx_next, tf.transpose(s_t)], 1), w_back)
            du = tf.add_n([q] + full_terms(t, u_t))
            r_t = u_t if eta is None else u_t - eta[t]
            return self.slope_times(r_t, du) + keep * dx_next

        def body(t, dx_next, u_t, g):
            dx = delta(t, u_t, dx_next)
            u_prev = read_step(u_flow, t - 1, [None, n], dt)
            g = g + tf.matmul(tf.concat([u_prev, ib[t]], 1), dx, transpose_a=True)
            return t - 1, dx, u_prev, g

        g0 = tf.zeros([tf.shape(w_rec)[0] + tf.shape(ib)[2], tf.shape(w_rec)[1]], dt)
        _, dx1, u0, g = tf.while_loop(
            lambda t, *_: t > 0, body, (n_steps - 1, tf.zeros_like(u_last), u_last, g0)
        )
        dx0 = delta(0, u0, dx1)  # t = 0: u(-1) = 0
        g = g + tf.matmul(tf.concat([tf.zeros_like(u0), ib[0]], 1), dx0, transpose_a=True)
        return self._alpha * g

    def rate_eta(self, axi, c):
        """The time-major rate noise of chunk ``c`` (for the slope of tanh), or None."""
        return axi[c] if (self.rate_noise and axi is not None) else None

    def _split_input_grad(self, g, weights):
        """(N + N_in + 1, N) gradient -> W_rec, W_in, b parts."""
        n, n_in = tf.shape(weights[1])[0], tf.shape(weights[0])[0]
        return g[:n], g[n : n + n_in], g[n + n_in]

    def _loss_values(self, s_e, s_u, inputs, weights, lambda_l2, lambda_fr):
        dt = self.dtype
        w_in, w_rec, _, w_out = weights
        mt = tf.cast(tf.shape(inputs)[0] * tf.shape(inputs)[1], dt)
        error = 2.0 * s_e / (mt * tf.cast(tf.shape(w_out)[1], dt))
        r_fr = 2.0 * s_u / (mt * tf.cast(tf.shape(w_rec)[0], dt))
        r_l2 = tf.reduce_mean(tf.square(w_in)) + tf.reduce_mean(tf.square(w_out))
        loss = error + lambda_l2 * r_l2 + lambda_fr * r_fr
        return {"loss": loss, "error": error, "r_l2": r_l2, "r_fr": r_fr}

    # -- compiled passes -----------------------------------------------------------------------
    def _simulate(self, weights, inputs, axi):
        n = weights[1].shape[0]
        us = []
        for c, (ib, _) in enumerate(self._chunked(inputs)):
            out = self._forward_chunk(weights, ib, None if axi is None else axi[c])
            us.append(tf.transpose(stack_steps(out["u"], [None, n], self.dtype), (1, 0, 2)))
        return us[0] if len(us) == 1 else tf.concat(us, 0)

    def _loss_terms(self, weights, inputs, targets, axi, lambda_l2, lambda_fr):
        outs = [
            self._forward_chunk(weights, ib, None if axi is None else axi[c], tgt, keep_u=False)
            for c, (ib, tgt) in enumerate(self._chunked(inputs, targets))
        ]
        s_e = tf.add_n([o["s_e"] for o in outs])
        s_u = tf.add_n([o["s_u"] for o in outs])
        return self._loss_values(s_e, s_u, inputs, weights, lambda_l2, lambda_fr)

    def _loss_and_grad(self, weights, inputs, targets, axi, lambda_l2, lambda_fr):
        dt = self.dtype
        w_in, w_rec, _, w_out = weights
        m, n_steps = tf.shape(inputs)[0], tf.shape(inputs)[1]
        n, n_out, n_in = tf.shape(w_rec)[0], tf.shape(w_out)[1], tf.shape(w_in)[0]
        mt = tf.cast(m * n_steps, dt)
        h_y = 2.0 / (mt * tf.cast(n_out, dt))  # dE/dy = h_y e
        h_u = 2.0 * lambda_fr / (mt * tf.cast(n, dt))  # d(lambda_FR R_FR)/du = h_u u
        small_w = h_y * tf.transpose(w_out)
        outs, gs = [], []
        for c, (ib, tgt) in enumerate(self._chunked(inputs, targets)):
            o = self._forward_chunk(weights, ib, None if axi is None else axi[c], tgt, keep_u=True, keep_err=True)
            gs.append(
                self._backward_chunk(
                    w_rec, o["u"], ib, o["e"], small_w, lambda t, u_t: [h_u * u_t], self.rate_eta(axi, c)
                )
            )
            outs.append(o)
        s_e = tf.add_n([o["s_e"] for o in outs])
        s_u = tf.add_n([o["s_u"] for o in outs])
        terms = self._loss_values(s_e, s_u, inputs, weights, lambda_l2, lambda_fr)
        g_rec, g_in, g_b = self._split_input_grad(tf.add_n(gs), weights)
        g_out = tf.transpose(tf.add_n([o["g_out"] for o in outs]))
        l2_in = 2.0 * lambda_l2 / tf.cast(n_in * n, dt)
        l2_out = 2.0 * lambda_l2 / tf.cast(n * n_out, dt)
        grads = [g_in + l2_in * w_in, g_rec, g_b, h_y * g_out + l2_out * w_out]
        return terms, grads, tuple(o["u"] for o in outs)

    def _trajectory(self, weights, inputs, axi):
        return tuple(
            self._forward_chunk(weights, ib, None if axi is None else axi[c])["u"]
            for c, (ib, _) in enumerate(self._chunked(inputs))
        )

    # -- public API ----------------------------------------------------------------------------
    def simulate(self, weights, inputs, noise):
        """Euler integration of eq. 1.

        Parameters
        ----------
        weights : list of tensors (W_in, W_rec, b, W_out)
        inputs : (M, T, N_in) tensor
        noise : (M, T, N) tensor, or None for a noise-free run

        Returns
        -------
        u : (M, T, N) firing rates after each step
        """
        return self._simulate_fn(self._tensors(weights), self._tensor(inputs), self._alpha_noise(noise))

    def loss_terms(self, weights, inputs, targets, noise, lambda_l2, lambda_fr) -> dict:
        """Loss terms of eq. 3-5 on a batch (scalar tensors ``loss, error, r_l2, r_fr``);
        ``targets`` is (M, T, N_out), ``noise`` (M, T, N) or None (noise-free)."""
        return self._loss_fn(
            self._tensors(weights), self._tensor(inputs), self._tensor(targets), self._alpha_noise(noise),
            self._tensor(lambda_l2), self._tensor(lambda_fr),
        )

    def loss_and_grad(self, weights, inputs, targets, noise, lambda_l2, lambda_fr):
        """``(loss_terms, gradient)``: the terms as :meth:`loss_terms` and the gradient of the loss,
        a list of 4 tensors in WEIGHT_NAMES order.  The rates of this forward pass are kept for
        :meth:`trajectory` (the Gauss-Newton products at the same point reuse them)."""
        weights = self._tensors(weights)
        inputs = self._tensor(inputs)
        terms, grads, u_flows = self._grad_fn(
            weights, inputs, self._tensor(targets), self._alpha_noise(noise),
            self._tensor(lambda_l2), self._tensor(lambda_fr),
        )
        key = (*weights, inputs, noise)
        if _IdentityCache.cacheable(key):
            self._trajectory_cache.put(key, u_flows)
        return terms, grads

    def trajectory(self, weights, inputs, noise):
        """The rates u(t) of a run, per batch chunk a TensorList of T (M_c, N) tensors, reused
        from the last :meth:`loss_and_grad` / :meth:`trajectory` call at the same tensors."""
        weights = self._tensors(weights)
        inputs = self._tensor(inputs)
        key = (*weights, inputs, noise)
        cacheable = _IdentityCache.cacheable(key)
        hit = self._trajectory_cache.get(key) if cacheable else None
        if hit is None:
            hit = self._trajectory_fn(weights, inputs, self._alpha_noise(noise))
            if cacheable:
                self._trajectory_cache.put(key, hit)
        return hit

    def outputs(self, weights, inputs) -> tuple[np.ndarray, np.ndarray]:
        """Noise-free run: firing rates (M, T, N) and read-out (M, T, N_out) as numpy arrays."""
        weights = self._tensors(weights)
        u = self.simulate(weights, inputs, None)
        y = tf.einsum("mtn,nj->mtj", u, weights[3])
        return u.numpy(), y.numpy()
