"""The fast paths of the objective: batch chunks run side by side, and the caches of the
time-major noise and of the forward trajectory, give the same numbers as the plain path."""

import numpy as np
import pytest
import tensorflow as tf

from cw.network.curvature import GaussNewton, flatten
from cw.network.model import WEIGHT_NAMES, ModelParams, init_weights
from cw.network.objective import Objective

F64 = tf.float64


def _setup(m, dtype=F64, seed=0):
    model = ModelParams(n_units=7)
    rng = np.random.default_rng(seed)
    np_dtype = dtype.as_numpy_dtype
    w = init_weights(model, rng, np_dtype)
    w["W_out"] = rng.normal(0, 0.3, w["W_out"].shape).astype(np_dtype)
    w["b"] = rng.normal(0, 0.3, w["b"].shape).astype(np_dtype)
    weights = [tf.constant(w[k]) for k in WEIGHT_NAMES]
    inputs = tf.constant(rng.normal(size=(m, 11, 2)).astype(np_dtype))
    targets = tf.constant(rng.normal(size=(m, 11, 2)).astype(np_dtype))
    v = [tf.constant(rng.normal(size=x.shape).astype(np_dtype)) for x in weights]
    return model, weights, inputs, targets, v


def _everything(obj, weights, inputs, targets, v):
    dt = obj.dtype
    c = lambda x: tf.constant(x, dt)
    m, t = inputs.shape[:2]
    noise = obj.noise((m, t), (3, 4))
    gn = GaussNewton(obj)
    terms, grads = obj.loss_and_grad(weights, inputs, targets, noise, c(0.3), c(0.2))
    loss = obj.loss_terms(weights, inputs, targets, noise, c(0.3), c(0.2))
    prod = gn.product(weights, v, inputs, noise, c(0.3), c(0.2), c(0.7), c(1.0))
    qf = gn.quadratic_forms(weights, v, inputs, noise, c(0.3), c(0.2), c(1.0))
    jvp = gn.jvp(weights, v, inputs, noise)
    u = obj.simulate(weights, inputs, noise)
    return np.concatenate(
        [[float(terms["loss"]), float(loss["loss"]), float(loss["error"]), float(loss["r_fr"])],
         flatten(grads), flatten(prod), [float(q) for q in qf]]
        + [j.numpy().ravel() for j in jvp] + [u.numpy().ravel()]
    )


@pytest.mark.parametrize("m", [1, 2, 5])
def test_batch_chunks_give_the_same_results(m):
    model, weights, inputs, targets, v = _setup(m)
    ref = _everything(Objective(model, F64, chunks=1), weights, inputs, targets, v)
    for k in (2, 3):
        out = _everything(Objective(model, F64, chunks=k), weights, inputs, targets, v)
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-14)


def test_cached_trajectory_and_noise_are_exact():
    """A product that reuses the gradient's forward pass equals one that runs its own, bit for
    bit; so does a loss whose noise is passed as a fresh (uncached) array."""
    model, weights, inputs, targets, v = _setup(4, tf.float32)
    c = lambda x: tf.constant(x, tf.float32)
    args = (c(0.3), c(0.2), c(0.7), c(1.0))
    a = Objective(model, chunks=2)
    noise = a.noise((4, 11), (5, 6))
    a.loss_and_grad(weights, inputs, targets, noise, c(0.3), c(0.2))  # fills the trajectory cache
    cached = flatten(GaussNewton(a).product(weights, v, inputs, noise, *args))
    b = Objective(model, chunks=2)
    fresh = flatten(GaussNewton(b).product(weights, v, inputs, noise, *args))
    np.testing.assert_array_equal(cached, fresh)
    assert a.trajectory(weights, inputs, noise) is a.trajectory(weights, inputs, noise)
    # Other weight tensors (even with equal values) are not confused with the cached ones.
    other = [tf.identity(w) for w in weights]
    assert a.trajectory(other, inputs, noise) is not a.trajectory(weights, inputs, noise)
    l1 = a.loss_terms(weights, inputs, targets, noise, c(0.3), c(0.2))["loss"]
    l2 = a.loss_terms(weights, inputs.numpy(), targets.numpy(), noise.numpy(), c(0.3), c(0.2))["loss"]
    assert float(l1) == float(l2)
