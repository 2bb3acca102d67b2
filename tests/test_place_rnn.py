"""The place-cell read-out network (cw.network.place_rnn): forward pass against the numpy
reference, the cross-entropy and the whole gradient against central finite differences (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from cw.network.place_rnn import (
    PLACE_WEIGHT_NAMES,
    PlaceObjective,
    PlaceRNNParams,
    init_place_weights,
    place_forward_numpy,
    place_loss_numpy,
)
from cw.task.place_cells import PlaceCellParams, decode_position, place_cell_activity, sample_centres
from cw.task.arenas import make_arena

B, T, NG, NP = 3, 6, 7, 9


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    params = PlaceRNNParams(n_units=NG, weight_decay=0.05)
    w = init_place_weights(params, NP, rng, np.float64)
    arena = make_arena("square", {"shape": "square", "side": 2.0})
    centres = sample_centres(arena, NP, rng)
    pos = np.cumsum(rng.normal(0, 0.05, (B, T + 1, 2)), axis=1)
    vel = np.diff(pos, axis=1) * 10.0  # velocities large enough that units switch on and off
    pc = PlaceCellParams(n_cells=NP)
    p0 = place_cell_activity(pos[:, 0], centres, pc)
    targets = place_cell_activity(pos[:, 1:], centres, pc)
    return dict(params=params, w=w, vel=vel, p0=p0, targets=targets, centres=centres,
                obj=PlaceObjective(params, tf.float64))


def test_forward_matches_the_numpy_reference(setup):
    s = setup
    w = [s["w"][k] for k in PLACE_WEIGHT_NAMES]
    g, logits = s["obj"].rates(w, s["vel"], s["p0"])
    g_ref, logits_ref = place_forward_numpy(s["w"], s["vel"], s["p0"])
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(logits, logits_ref, rtol=1e-12, atol=1e-14)
    assert g.min() >= 0 and 0 < (g > 0).mean() < 1  # ReLU units, some silent, some not


def test_loss_and_gradient_against_finite_differences(setup):
    s = setup
    w = [s["w"][k] for k in PLACE_WEIGHT_NAMES]
    loss, grads = s["obj"].loss_and_grad(w, s["vel"], s["p0"], s["targets"])
    ref = place_loss_numpy(s["w"], s["vel"], s["p0"], s["targets"], s["params"].weight_decay)
    assert float(loss) == pytest.approx(ref, rel=1e-8)
    rng = np.random.default_rng(1)
    eps = 1e-6
    for i, name in enumerate(PLACE_WEIGHT_NAMES):
        d = rng.normal(size=s["w"][name].shape)
        plus = dict(s["w"], **{name: s["w"][name] + eps * d})
        minus = dict(s["w"], **{name: s["w"][name] - eps * d})
        fd = (place_loss_numpy(plus, s["vel"], s["p0"], s["targets"], s["params"].weight_decay)
              - place_loss_numpy(minus, s["vel"], s["p0"], s["targets"], s["params"].weight_decay)) / (2 * eps)
        assert float(np.sum(grads[i].numpy() * d)) == pytest.approx(fd, rel=1e-6, abs=1e-10), name


def test_cross_entropy_gradient_is_prediction_minus_target():
    """d CE / d logits = (softmax(logits) - p) / (B T): the read-out's gradient, in closed form."""
    rng = np.random.default_rng(2)
    logits = tf.constant(rng.normal(size=(2, 3, NP)))
    p = rng.random((2, 3, NP))
    p = tf.constant(p / p.sum(-1, keepdims=True))
    with tf.GradientTape() as tape:
        tape.watch(logits)
        ce = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=p, logits=logits))
    got = tape.gradient(ce, logits).numpy()
    want = (tf.nn.softmax(logits).numpy() - p.numpy()) / 6.0
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_decoded_targets_recover_the_positions(setup):
    """With the targets themselves as the read-out, the decoded position is within a few cm of the
    true one (512 DoS cells in the 2 m square)."""
    rng = np.random.default_rng(3)
    arena = make_arena("square", {"shape": "square", "side": 2.0})
    centres = sample_centres(arena, 512, rng)
    pos = rng.uniform(-0.8, 0.8, (200, 2))
    dec = decode_position(place_cell_activity(pos, centres), centres, k=3)
    err = np.linalg.norm(dec - pos, axis=-1)
    assert np.median(err) < 0.06 and err.max() < 0.15


def test_params_are_checked():
    with pytest.raises(ValueError, match="place_rnn.n_units"):
        PlaceRNNParams(n_units=0)
    with pytest.raises(ValueError, match="place_rnn.weight_decay"):
        PlaceRNNParams(weight_decay=float("nan"))
