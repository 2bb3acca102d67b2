"""Gauss-Newton curvature-vector products against explicit matrices on a tiny CTRNN (float64).

The explicit matrices are built from full Jacobians (``tape.jacobian``) of an independent,
unrolled forward pass; the implementation under test uses a hand-written tangent recurrence in a
``tf.scan`` plus one tape VJP.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from cw.network.curvature import GaussNewton, flatten, unflatten
from cw.network.model import ModelParams, init_weights, simulate_numpy
from cw.network.objective import Objective

F64 = tf.float64
M, T, N = 3, 7, 5
LAMBDA_L2, LAMBDA_FR = 0.3, 0.2


@pytest.fixture(scope="module", params=[("activation", "tanh"), ("rate", "tanh"), ("rate", "retanh")])
def setup(request):
    """The tiny network, with the noise inside the Euler bracket or on the rates, tanh or
    rectified tanh units."""
    location, nonlinearity = request.param
    model = ModelParams(
        n_units=N, noise_std=0.1, noise_location=location, nonlinearity=nonlinearity,
        init_recurrent="gaussian", init_recurrent_gain=1.5,
    )
    rng = np.random.default_rng(0)
    w = init_weights(model, rng, np.float64)
    w["W_out"] = rng.normal(0, 0.5, w["W_out"].shape)  # non-zero so that every block is exercised
    w["b"] = rng.normal(0, 0.3, w["b"].shape)
    weights = [tf.constant(w[k]) for k in ("W_in", "W_rec", "b", "W_out")]
    inputs = tf.constant(rng.normal(0, 1, (M, T, model.n_inputs)))
    objective = Objective(model, F64)
    noise = objective.noise((M, T), (1, 2))
    gn = GaussNewton(objective)
    jac = _explicit_jacobians(weights, inputs, noise, model.alpha, model.noise_location, model.nonlinearity)
    return dict(model=model, w=w, weights=weights, inputs=inputs, noise=noise, objective=objective, gn=gn, jac=jac)


def _forward(weights, inputs, noise, alpha, location, nonlinearity="tanh"):
    """Unrolled Euler integration (independent of the code under test): x, u, y as (M, T, .).

    ``location="activation"``: x <- x + alpha (-x + u W_rec + I W_in + b + xi), u = tanh(x);
    ``"rate"``: x <- x + alpha (-x + u W_rec + I W_in + b), u = tanh(x) + eta.
    """
    w_in, w_rec, b, w_out = weights
    x = tf.zeros((inputs.shape[0], w_rec.shape[0]), F64)
    u = tf.zeros_like(x)
    xs, us = [], []
    for t in range(inputs.shape[1]):
        xi = noise[:, t] if location == "activation" else 0.0
        x = x + alpha * (-x + u @ w_rec + inputs[:, t] @ w_in + b + xi)
        r = tf.tanh(x) if nonlinearity == "tanh" else tf.maximum(tf.tanh(x), tf.zeros_like(x))
        u = r + (noise[:, t] if location == "rate" else 0.0)
        xs.append(x)
        us.append(u)
    x, u = tf.stack(xs, axis=1), tf.stack(us, axis=1)
    return x, u, tf.einsum("mtn,nj->mtj", u, w_out)


def _explicit_jacobians(weights, inputs, noise, alpha, location, nonlinearity):
    """Full Jacobians of x, u, y (flattened) with respect to the flat parameter vector."""
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(weights)
        x, u, y = _forward(weights, inputs, noise, alpha, location, nonlinearity)
    out = {}
    for name, z in (("x", x), ("u", u), ("y", y)):
        blocks = tape.jacobian(z, weights, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        n_z = int(np.prod(z.shape))
        out[name] = np.concatenate([blk.numpy().reshape(n_z, -1) for blk in blocks], axis=1)
    # slope of the non-linearity at x: 1 - tanh(x)^2, times 0 where a rectified unit is silent
    xv = x.numpy().ravel()
    out["slope"] = (1.0 - np.tanh(xv) ** 2) * ((xv > 0) if nonlinearity == "retanh" else 1.0)
    return out


def _explicit_matrices(s):
    jac, w = s["jac"], s["w"]
    n_out, n_in = w["W_out"].shape[1], w["W_in"].shape[0]
    g_err = jac["y"].T @ jac["y"] * (2.0 / (M * T * n_out))
    g_fr = jac["u"].T @ jac["u"] * (2.0 * LAMBDA_FR / (N * T * M))
    diag = np.concatenate(
        [
            np.full(w["W_in"].size, 2.0 * LAMBDA_L2 / (n_in * N)),
            np.zeros(w["W_rec"].size + w["b"].size),
            np.full(w["W_out"].size, 2.0 * LAMBDA_L2 / (N * n_out)),
        ]
    )
    h_l2 = np.diag(diag)
    s_mat = jac["x"].T @ (jac["slope"][:, None] * jac["x"]) / M
    return g_err, g_fr, h_l2, s_mat


def _impl_product(s, v, lambda_l2, lambda_fr, structural, error_weight):
    vt = unflatten(v, s["weights"], F64)
    c = lambda z: tf.constant(z, F64)
    out = s["gn"].product(
        s["weights"], vt, s["inputs"], s["noise"], c(lambda_l2), c(lambda_fr), c(structural), c(error_weight)
    )
    return flatten(out)


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def test_flatten_roundtrip(setup):
    flat = flatten(setup["weights"])
    back = unflatten(flat, setup["weights"], F64)
    for a, b in zip(back, setup["weights"]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert flat.dtype == np.float64 and flat.size == sum(int(np.prod(t.shape)) for t in setup["weights"])
    with pytest.raises(ValueError):
        unflatten(flat[:-1], setup["weights"], F64)


def test_reference_forward_matches_model(setup):
    s = setup
    loc, nl = s["model"].noise_location, s["model"].nonlinearity
    x, u, y = _forward(s["weights"], s["inputs"], s["noise"], s["model"].alpha, loc, nl)
    u_np, y_np = simulate_numpy(s["w"], s["inputs"].numpy(), s["model"].alpha, s["noise"].numpy(), loc, nl)
    np.testing.assert_allclose(u.numpy(), u_np, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(y.numpy(), y_np, rtol=1e-12, atol=1e-14)


def test_jvp_matches_explicit_jacobian_and_finite_differences(setup):
    s = setup
    rng = np.random.default_rng(1)
    v = rng.normal(size=s["jac"]["y"].shape[1])
    dx, du, dy = s["gn"].jvp(s["weights"], unflatten(v, s["weights"], F64), s["inputs"], s["noise"])
    for name, d in (("x", dx), ("u", du), ("y", dy)):
        assert _rel(d.numpy().ravel(), s["jac"][name] @ v) < 1e-12, name
    # Central finite differences of the model itself (no autodiff).
    eps = 1e-6
    w_flat = flatten(s["weights"])
    alpha = s["model"].alpha

    def run(theta):
        wt = dict(zip(("W_in", "W_rec", "b", "W_out"), [t.numpy() for t in unflatten(theta, s["weights"], F64)]))
        return simulate_numpy(wt, s["inputs"].numpy(), alpha, s["noise"].numpy(), s["model"].noise_location,
                              s["model"].nonlinearity)

    (u_p, y_p), (u_m, y_m) = run(w_flat + eps * v), run(w_flat - eps * v)
    assert _rel(du.numpy(), (u_p - u_m) / (2 * eps)) < 1e-8
    assert _rel(dy.numpy(), (y_p - y_m) / (2 * eps)) < 1e-8
    if s["model"].nonlinearity == "tanh":  # x recovered from the rate (not possible where rectified)
        eta = s["noise"].numpy() if s["model"].noise_location == "rate" else 0.0
        x_fd = (np.arctanh(u_p - eta) - np.arctanh(u_m - eta)) / (2 * eps)
        assert _rel(dx.numpy(), x_fd) < 1e-7


@pytest.mark.parametrize(
    "term",
    ["error", "firing_rate", "l2", "structural", "combined"],
)
def test_product_matches_explicit_gauss_newton(setup, term):
    s = setup
    g_err, g_fr, h_l2, s_mat = _explicit_matrices(s)
    mu_lam = 0.7
    coefs = {
        "error": (0.0, 0.0, 0.0, 1.0, g_err),
        "firing_rate": (0.0, LAMBDA_FR, 0.0, 0.0, g_fr),
        "l2": (LAMBDA_L2, 0.0, 0.0, 0.0, h_l2),
        "structural": (0.0, 0.0, mu_lam, 0.0, mu_lam * s_mat),
        "combined": (LAMBDA_L2, LAMBDA_FR, mu_lam, 1.0, g_err + g_fr + h_l2 + mu_lam * s_mat),
    }[term]
    *args, matrix = coefs
    assert np.abs(matrix).max() > 0
    rng = np.random.default_rng(2)
    for _ in range(3):
        v = rng.normal(size=matrix.shape[0])
        assert _rel(_impl_product(s, v, *args), matrix @ v) < 1e-10


def test_product_operator_is_symmetric_psd(setup):
    """The operator itself, column by column: symmetric and positive semi-definite."""
    s = setup
    p = s["jac"]["y"].shape[1]
    cols = [_impl_product(s, e, LAMBDA_L2, LAMBDA_FR, 0.7, 1.0) for e in np.eye(p)]
    g = np.stack(cols, axis=1)
    assert np.abs(g - g.T).max() < 1e-12 * np.abs(g).max()
    eig = np.linalg.eigvalsh(0.5 * (g + g.T))
    assert eig.min() > -1e-12 * eig.max()
    # Explicit Gauss-Newton matrix without damping: symmetric PSD as well.
    g_err, g_fr, h_l2, _ = _explicit_matrices(s)
    eig = np.linalg.eigvalsh(g_err + g_fr + h_l2)
    assert eig.min() > -1e-12 * eig.max()


def test_quadratic_forms(setup):
    s = setup
    g_err, g_fr, h_l2, s_mat = _explicit_matrices(s)
    v = np.random.default_rng(3).normal(size=g_err.shape[0])
    c = lambda z: tf.constant(z, F64)
    vgv, vsv = s["gn"].quadratic_forms(
        s["weights"], unflatten(v, s["weights"], F64), s["inputs"], s["noise"], c(LAMBDA_L2), c(LAMBDA_FR), c(1.0)
    )
    assert float(vgv) > 0 and float(vsv) > 0
    np.testing.assert_allclose(float(vgv), v @ (g_err + g_fr + h_l2) @ v, rtol=1e-12)
    np.testing.assert_allclose(float(vsv), v @ s_mat @ v, rtol=1e-12)


def test_gradient_directional_derivative(setup):
    """The objective's gradient (used as the CG right-hand side) against central differences."""
    s = setup
    obj = s["objective"]
    c = lambda z: tf.constant(z, F64)
    targets = tf.constant(np.random.default_rng(4).normal(size=(M, T, 2)))
    _, grads = obj.loss_and_grad(s["weights"], s["inputs"], targets, s["noise"], c(LAMBDA_L2), c(LAMBDA_FR))
    v = np.random.default_rng(5).normal(size=flatten(grads).size)
    w_flat, eps = flatten(s["weights"]), 1e-6

    def f(theta):
        wt = unflatten(theta, s["weights"], F64)
        return float(obj.loss_terms(wt, s["inputs"], targets, s["noise"], c(LAMBDA_L2), c(LAMBDA_FR))["loss"])

    fd = (f(w_flat + eps * v) - f(w_flat - eps * v)) / (2 * eps)
    np.testing.assert_allclose(flatten(grads) @ v, fd, rtol=1e-7)


@pytest.mark.parametrize("damping", ["penalty_weights", "tikhonov"])
def test_operator_handed_to_cg_equals_the_explicit_matrices(setup, damping):
    """The optimiser's damped operator, column by column, against the explicit matrices:
    penalty_weights (CODE): G_E + lambda_FR G_FR + lambda_L2 H_L2 + mu lambda_L2 S, no identity;
    tikhonov (OURS): G + lambda I + lambda mu S."""
    from cw.network.optimizers import Batch
    from cw.network.optimizers.hessian_free import HessianFree, HessianFreeParams

    s = setup
    g_err, g_fr, h_l2, s_mat = _explicit_matrices(s)
    mu = 1500.0
    params = HessianFreeParams(damping=damping, structural_damping=mu, initial_damping=0.02, curvature_fraction=1.0)
    hf = HessianFree(s["objective"], params)
    c = lambda z: tf.constant(z, F64)
    targets = tf.zeros((M, T, 2), F64)
    batch = Batch(s["inputs"], targets, s["noise"], c(LAMBDA_L2), c(LAMBDA_FR))
    s["objective"].loss_and_grad(s["weights"], *batch)  # the rates of this point, as in a step
    apply_a, lam, struct_weight = hf.damped_operator(s["weights"], batch)
    mu_el = mu / (T * N)  # per_element: S a mean over steps and units as well as trials
    if damping == "penalty_weights":
        assert lam == 0.0 and struct_weight == pytest.approx(mu_el * LAMBDA_L2, rel=1e-15)
        want = g_err + g_fr + h_l2 + mu_el * LAMBDA_L2 * s_mat
    else:
        assert lam == 0.02 and struct_weight == pytest.approx(mu_el * 0.02, rel=1e-15)
        want = g_err + g_fr + h_l2 + 0.02 * np.eye(g_err.shape[0]) + mu_el * 0.02 * s_mat
    got = np.stack([apply_a(e) for e in np.eye(g_err.shape[0])], axis=1)
    assert np.abs(got - want).max() < 1e-10 * np.abs(want).max()
