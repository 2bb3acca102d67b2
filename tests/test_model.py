"""The CTRNN (eq. 1-2) and its loss (eq. 3-5) against plain numpy references and hand sums."""

import numpy as np
import pytest
import tensorflow as tf

from cw.network.model import (
    LossParams,
    ModelParams,
    encode_inputs,
    init_weights,
    simulate_numpy,
)
from cw.network.objective import Objective, weights_to_tensors
from reference_loss import loss_numpy


def _random_weights(p: ModelParams, rng, scale=0.3):
    w = init_weights(p, rng, np.float64)
    w["b"] = rng.normal(0, scale, w["b"].shape)
    w["W_out"] = rng.normal(0, scale, w["W_out"].shape)
    return w


def _batch(p: ModelParams, rng, m=4, t=15):
    speed = rng.uniform(0, 0.05, (m, t))
    heading = rng.uniform(0, 2 * np.pi, (m, t))
    return encode_inputs(speed, heading, p).astype(np.float64)


def test_euler_step_by_hand():
    """One step from x = 0 is alpha * (I W_in + b + xi); the second adds tanh(x1) W_rec."""
    p = ModelParams(n_units=3, alpha=0.1)
    rng = np.random.default_rng(1)
    w = _random_weights(p, rng)
    inp = _batch(p, rng, m=1, t=2)
    xi = rng.normal(size=(1, 2, 3))
    u, y = simulate_numpy(w, inp, p.alpha, xi)
    x1 = 0.1 * (inp[0, 0] @ w["W_in"] + w["b"] + xi[0, 0])
    x2 = x1 + 0.1 * (-x1 + np.tanh(x1) @ w["W_rec"] + inp[0, 1] @ w["W_in"] + w["b"] + xi[0, 1])
    np.testing.assert_allclose(u[0, 0], np.tanh(x1), rtol=1e-14)
    np.testing.assert_allclose(u[0, 1], np.tanh(x2), rtol=1e-14)
    np.testing.assert_allclose(y[0], np.tanh(np.stack([x1, x2])) @ w["W_out"], rtol=1e-14)


def test_rectified_tanh_units():
    """retanh: max(0, tanh(x)); the TF forward pass matches the numpy reference."""
    from cw.network.model import rate_of

    x = np.array([-2.0, -0.1, 0.0, 0.3, 5.0])
    np.testing.assert_allclose(rate_of(x, "retanh"), [0, 0, 0, np.tanh(0.3), np.tanh(5.0)], rtol=1e-15)
    p = ModelParams(n_units=6, nonlinearity="retanh")
    rng = np.random.default_rng(12)
    w = _random_weights(p, rng)
    inp = _batch(p, rng)
    noise = rng.normal(0, 0.1, inp.shape[:2] + (6,))
    u_ref, _ = simulate_numpy(w, inp, p.alpha, noise, "rate", "retanh")
    u_tf = Objective(p, tf.float64).simulate(weights_to_tensors(w, tf.float64), tf.constant(inp), tf.constant(noise)).numpy()
    np.testing.assert_allclose(u_tf, u_ref, rtol=0, atol=1e-13)
    u0, _ = simulate_numpy(w, inp, p.alpha, None, "rate", "retanh")
    assert (u0 >= 0).all() and (u0 == 0).mean() > 0.1  # silent units exist


def test_rate_noise_step_by_hand():
    """Noise on the rates: u = tanh(x) + eta, and the noisy u drives the recurrence and read-out."""
    p = ModelParams(n_units=3, alpha=0.1, noise_location="rate")
    rng = np.random.default_rng(11)
    w = _random_weights(p, rng)
    inp = _batch(p, rng, m=1, t=2)
    eta = rng.normal(size=(1, 2, 3))
    u, y = simulate_numpy(w, inp, p.alpha, eta, "rate")
    x1 = 0.1 * (inp[0, 0] @ w["W_in"] + w["b"])
    u1 = np.tanh(x1) + eta[0, 0]
    x2 = x1 + 0.1 * (-x1 + u1 @ w["W_rec"] + inp[0, 1] @ w["W_in"] + w["b"])
    u2 = np.tanh(x2) + eta[0, 1]
    np.testing.assert_allclose(u[0], np.stack([u1, u2]), rtol=1e-14)
    np.testing.assert_allclose(y[0], np.stack([u1, u2]) @ w["W_out"], rtol=1e-14)


@pytest.mark.parametrize("location", ["rate", "activation"])
@pytest.mark.parametrize("encoding", ["angle", "cos_sin"])
def test_tensorflow_matches_numpy_reference(encoding, location):
    p = ModelParams(n_units=7, heading_encoding=encoding, noise_location=location)
    rng = np.random.default_rng(2)
    w = _random_weights(p, rng)
    inp = _batch(p, rng)
    noise = rng.normal(0, 0.1, inp.shape[:2] + (p.n_units,))
    u_ref, _ = simulate_numpy(w, inp, p.alpha, noise, location)
    obj = Objective(p, tf.float64)
    u_tf = obj.simulate(weights_to_tensors(w, tf.float64), tf.constant(inp), tf.constant(noise)).numpy()
    np.testing.assert_allclose(u_tf, u_ref, rtol=0, atol=1e-13)


def test_float32_forward_close_to_float64():
    p = ModelParams(n_units=20)
    rng = np.random.default_rng(3)
    w = _random_weights(p, rng)
    inp = _batch(p, rng, m=5, t=100)
    u_ref, _ = simulate_numpy(w, inp, p.alpha)
    u32, _ = Objective(p).outputs(weights_to_tensors(w), inp.astype(np.float32))
    assert np.abs(u32 - u_ref).max() < 1e-4


def test_loss_matches_equations_3_to_5_by_hand():
    p = ModelParams(n_units=6)
    lp = LossParams(lambda_l2=0.3, lambda_fr=0.7)
    rng = np.random.default_rng(4)
    w = _random_weights(p, rng)
    inp = _batch(p, rng, m=3, t=11)
    targets = rng.normal(0, 0.3, (3, 11, 2))
    noise = np.zeros((3, 11, 6))
    u, y = simulate_numpy(w, inp, p.alpha)
    # explicit triple sums with the paper's normalisations
    m, t, n, n_out, n_in = 3, 11, 6, 2, 2
    e = sum((y[a, b, j] - targets[a, b, j]) ** 2 for a in range(m) for b in range(t) for j in range(n_out)) / (m * t * n_out)
    rl2 = sum(w["W_in"][k, i] ** 2 for i in range(n) for k in range(n_in)) / (n * n_in) + sum(
        w["W_out"][i, j] ** 2 for i in range(n) for j in range(n_out)
    ) / (n * n_out)
    rfr = sum(u[a, b, i] ** 2 for a in range(m) for b in range(t) for i in range(n)) / (n * t * m)
    ref = loss_numpy(w, u, y, targets, lp)
    assert ref["error"] == pytest.approx(e, rel=1e-12)
    assert ref["r_l2"] == pytest.approx(rl2, rel=1e-12)
    assert ref["r_fr"] == pytest.approx(rfr, rel=1e-12)
    obj = Objective(p, tf.float64)
    terms = obj.loss_terms(
        weights_to_tensors(w, tf.float64), tf.constant(inp), tf.constant(targets), tf.constant(noise),
        tf.constant(0.3, tf.float64), tf.constant(0.7, tf.float64),
    )
    assert float(terms["loss"]) == pytest.approx(e + 0.3 * rl2 + 0.7 * rfr, rel=1e-12)
    for k in ("error", "r_l2", "r_fr"):
        assert float(terms[k]) == pytest.approx(ref[k], rel=1e-12)


@pytest.mark.parametrize("location, nonlinearity", [("rate", "tanh"), ("activation", "tanh"), ("rate", "retanh")])
def test_gradient_matches_finite_differences(location, nonlinearity):
    p = ModelParams(n_units=5, noise_location=location, nonlinearity=nonlinearity)
    rng = np.random.default_rng(5)
    w = _random_weights(p, rng)
    inp = tf.constant(_batch(p, rng, m=2, t=12))
    targets = tf.constant(rng.normal(0, 0.3, (2, 12, 2)))
    noise = tf.constant(rng.normal(0, 0.1, (2, 12, 5)))
    lam = (tf.constant(0.2, tf.float64), tf.constant(0.4, tf.float64))
    obj = Objective(p, tf.float64)
    wt = weights_to_tensors(w, tf.float64)
    _, grads = obj.loss_and_grad(wt, inp, targets, noise, *lam)
    v = [tf.constant(rng.normal(size=g.shape)) for g in grads]
    eps = 1e-6
    f = lambda s: float(obj.loss_terms([a + s * b for a, b in zip(wt, v)], inp, targets, noise, *lam)["loss"])  # noqa: E731
    fd = (f(eps) - f(-eps)) / (2 * eps)
    analytic = sum(float(tf.reduce_sum(g * d)) for g, d in zip(grads, v))
    assert analytic == pytest.approx(fd, rel=1e-7)


def test_initialisation_follows_the_paper():
    rng = np.random.default_rng(6)
    p = ModelParams(n_units=100)
    w = init_weights(p, rng, np.float64)
    assert not w["b"].any() and not w["W_out"].any()
    assert w["W_in"].shape == (2, 100) and w["W_out"].shape == (100, 2)
    assert np.var(w["W_in"]) == pytest.approx(1 / 2, rel=0.15)  # N(0, 1/N_in)
    np.testing.assert_allclose(w["W_rec"] @ w["W_rec"].T, np.eye(100), atol=1e-12)  # orthogonal
    g = init_weights(ModelParams(n_units=100, init_recurrent="gaussian", init_recurrent_gain=1.5), rng, np.float64)
    assert np.var(g["W_rec"]) == pytest.approx(1.5**2 / 100, rel=0.05)  # N(0, 1.5^2/N)


def test_inputs_encoding():
    p = ModelParams(speed_scale=10.0, heading_encoding="angle")
    speed = np.array([[0.0, 0.02]])
    heading = np.array([[0.5, 3.0]])
    np.testing.assert_allclose(encode_inputs(speed, heading, p)[0], [[0, 0.5], [0.2, 3.0]], rtol=1e-6)
    q = ModelParams(heading_encoding="cos_sin", speed_scale=10.0)
    np.testing.assert_allclose(encode_inputs(speed, heading, q)[0, 1], [0.2, np.cos(3.0), np.sin(3.0)], rtol=1e-6)
    assert q.n_inputs == 3 and p.n_inputs == 2


def test_noise_is_reproducible_and_scaled():
    obj = Objective(ModelParams(n_units=50, noise_std=0.3))
    a = obj.noise((20, 30), (7, 1)).numpy()
    b = obj.noise((20, 30), (7, 1)).numpy()
    c = obj.noise((20, 30), (7, 2)).numpy()
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.std() == pytest.approx(0.3, rel=0.03)


@pytest.mark.parametrize(
    "kwargs, key",
    [({"n_units": 0}, "model.n_units"), ({"alpha": 1.5}, "model.alpha"), ({"noise_std": -1}, "model.noise_std"),
     ({"init_recurrent": "eye"}, "model.init_recurrent"), ({"noise_location": "input"}, "model.noise_location"),
     ({"nonlinearity": "relu"}, "model.nonlinearity"), ({"heading_encoding": "deg"}, "model.heading_encoding")],
)
def test_bad_model_params_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        ModelParams(**kwargs)


def test_heading_in_turns_and_raw_speed():
    """The authors' inputs (CODE): heading / (2 pi) wrapped to [0, 1), the speed unscaled."""
    from cw.network.model import encode_inputs

    p = ModelParams()  # the defaults: turns, speed_scale 1
    assert p.heading_encoding == "turns" and p.speed_scale == 1.0 and p.n_inputs == 2
    heading = np.array([[0.0, np.pi / 2, np.pi, -np.pi / 2, 2 * np.pi, -1e-3, 7 * np.pi, -np.nextafter(0, 1)]])
    speed = np.array([[0.0, 0.05, 0.2, 0.1, 0.0, 0.0, 0.0, 0.0]])
    x = encode_inputs(speed, heading, p)
    assert x.shape == (1, 8, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, 0], speed[0], rtol=1e-7)
    np.testing.assert_allclose(x[0, :6, 1], [0.0, 0.25, 0.5, 0.75, 0.0, 1.0 - 1e-3 / (2 * np.pi)], atol=1e-7)
    assert x[0, 6, 1] == pytest.approx(0.5, abs=1e-7)
    assert x[0, 7, 1] == 0.0  # just below a whole turn: rounds to 1 in float32, wrapped to 0
    rng = np.random.default_rng(0)
    h = rng.uniform(-50, 50, (20, 300))
    t = encode_inputs(np.zeros_like(h), h, p)[..., 1]
    assert t.min() >= 0.0 and t.max() < 1.0  # in [0, 1), also after float32 rounding
    np.testing.assert_allclose(np.cos(2 * np.pi * t), np.cos(h), atol=2e-5)  # the same direction
    # angle (rad) and speed x 10: the earlier default
    q = ModelParams(heading_encoding="angle", speed_scale=10.0)
    np.testing.assert_allclose(encode_inputs(speed, heading, q)[0], np.stack([10 * speed[0], heading[0]], -1), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("nonlinearity", ["tanh", "retanh"])
def test_analysis_runner_equals_the_training_forward_pass(nonlinearity):
    """The analysis runs networks in float32 numpy (no TensorFlow import): the rates and the
    read-out equal the float32 TensorFlow forward pass of training to round-off, over a long
    run of a recurrent network with gain 1.5 (where round-off grows fastest)."""
    from cw.analysis.activity import network_runner

    p = ModelParams(n_units=50, nonlinearity=nonlinearity, init_recurrent_gain=1.5)
    rng = np.random.default_rng(4)
    w = _random_weights(p, rng)
    speed, heading = rng.uniform(0, 0.05, (6, 300)), rng.uniform(0, 2 * np.pi, (6, 300))
    u, y = network_runner(p, batch_size=4)(w, speed, heading)
    u_tf, y_tf = Objective(p).outputs(weights_to_tensors(w), encode_inputs(speed, heading, p).astype(np.float32))
    assert u.dtype == np.float32 and u.shape == (6, 300, 50) and y.shape == (6, 300, 2)
    assert np.abs(u - u_tf).max() < 1e-5
    assert np.abs(y - y_tf).max() < 1e-5
    assert np.abs(u).max() > 0.5  # the network is active
