"""Adam training of the place-cell read-out (cw.network.place_training): the in-graph targets and
decoding error against the numpy definitions, the Adam step against a numpy Adam, exact resumption."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from cw.network.place_rnn import PLACE_WEIGHT_NAMES, PlaceObjective, PlaceRNNParams, init_place_weights
from cw.network.place_training import PlaceBatches, PlaceTrainingParams, train_place
from cw.seeds import rng_for
from cw.task.arenas import make_arena
from cw.task.place_cells import PlaceCellParams, decode_position, place_cell_activity, sample_centres
from cw.task.sorscher_trajectories import SorscherTrajectoryParams

BOX = make_arena("square", {"shape": "square", "side": 2.2})
CELLS = PlaceCellParams(n_cells=24)
RNN = PlaceRNNParams(n_units=10)
WALKS = SorscherTrajectoryParams(n_steps=5)


@pytest.mark.parametrize("kind", ["dos", "gaussian"])
def test_targets_in_the_graph_equal_the_numpy_definition(kind):
    cells = PlaceCellParams(n_cells=24, kind=kind)
    rng = np.random.default_rng(0)
    centres = sample_centres(BOX, 24, rng)
    pos = rng.uniform(-1.1, 1.1, (4, 3, 2))
    got = PlaceObjective(RNN, tf.float64).targets(tf.constant(pos), tf.constant(centres), cells).numpy()
    np.testing.assert_allclose(got, place_cell_activity(pos, centres, cells), atol=1e-12)


def test_decoding_error_equals_the_numpy_decoder():
    rng = np.random.default_rng(1)
    centres = sample_centres(BOX, 24, rng)
    logits = rng.normal(size=(3, 4, 24))
    pos = rng.uniform(-1, 1, (3, 4, 2))
    got = float(PlaceObjective(RNN, tf.float64).decoding_error(tf.constant(logits), tf.constant(pos),
                                                                 tf.constant(centres), 3))
    want = np.linalg.norm(decode_position(logits, centres, 3) - pos, axis=-1).mean()
    assert got == pytest.approx(want, rel=1e-12)


def _numpy_adam(n_steps: int, tp: PlaceTrainingParams, seed: int) -> dict:
    """The weights after ``n_steps`` steps of Adam written out in numpy, gradients from the
    float64 objective (itself checked against finite differences in test_place_rnn)."""
    centres = sample_centres(BOX, CELLS.n_cells, rng_for(seed, "place_centres"))
    w = {k: v.astype(np.float64) for k, v in
         init_place_weights(RNN, CELLS.n_cells, rng_for(seed, "init"), np.float32).items()}
    obj = PlaceObjective(RNN, tf.float64)
    batches = PlaceBatches(BOX, WALKS, tp.batch_size, seed)
    m = {k: np.zeros_like(v) for k, v in w.items()}
    v = {k: np.zeros_like(x) for k, x in w.items()}
    for t in range(1, n_steps + 1):
        vel, start, pos = (a.astype(np.float64) for a in batches(t))
        p0 = place_cell_activity(start, centres, CELLS)
        targets = place_cell_activity(pos, centres, CELLS)
        _, grads = obj.loss_and_grad([w[k] for k in PLACE_WEIGHT_NAMES], vel, p0, targets)
        for k, g in zip(PLACE_WEIGHT_NAMES, grads):
            g = g.numpy()
            m[k] = tp.beta1 * m[k] + (1 - tp.beta1) * g
            v[k] = tp.beta2 * v[k] + (1 - tp.beta2) * g * g
            w[k] = w[k] - tp.learning_rate * (m[k] / (1 - tp.beta1 ** t)) / (
                np.sqrt(v[k] / (1 - tp.beta2 ** t)) + tp.epsilon)
    return w


def test_adam_steps_equal_a_numpy_adam():
    tp = PlaceTrainingParams(n_steps=3, batch_size=6, learning_rate=1e-2, log_every=1)
    got = train_place(BOX, CELLS, RNN, WALKS, tp, seed=4)
    want = _numpy_adam(3, tp, seed=4)
    w0 = init_place_weights(RNN, CELLS.n_cells, rng_for(4, "init"), np.float32)
    for k in PLACE_WEIGHT_NAMES:
        moved = np.abs(want[k] - w0[k]).max()
        assert moved > 1e-3  # the steps did move every weight (lr 1e-2)
        np.testing.assert_allclose(got.weights[k], want[k], atol=2e-5 * max(1.0, moved) + 1e-5)
    assert [r["step"] for r in got.history] == [1, 2, 3]
    assert got.checkpoint_steps == [0, 3]


def test_a_stopped_training_resumes_exactly(tmp_path):
    whole = train_place(BOX, CELLS, RNN, WALKS, PlaceTrainingParams(n_steps=6, batch_size=5, checkpoint_every=2,
                                                                    log_every=1), seed=2)
    state = tmp_path / "state.npz"
    part = PlaceTrainingParams(n_steps=3, batch_size=5, checkpoint_every=2, log_every=1, state_every_minutes=0)
    train_place(BOX, CELLS, RNN, WALKS, part, seed=2, state_path=state, fingerprint="a", extend_key="e")
    rest = train_place(BOX, CELLS, RNN, WALKS, PlaceTrainingParams(n_steps=6, batch_size=5, checkpoint_every=2,
                                                                   log_every=1), seed=2,
                       state_path=state, fingerprint="b", extend_key="e")
    for k in PLACE_WEIGHT_NAMES:
        np.testing.assert_array_equal(rest.weights[k], whole.weights[k])
    assert [r["loss"] for r in rest.history] == [r["loss"] for r in whole.history]
    assert rest.checkpoint_steps == [0, 2, 3, 4, 6]  # the shorter run's last step stays a checkpoint
    np.testing.assert_array_equal(rest.checkpoints[1]["W_rec"], whole.checkpoints[1]["W_rec"])
    # a state of other settings is not resumed: the training starts afresh (and replaces it)
    fresh = PlaceTrainingParams(n_steps=2, batch_size=5, checkpoint_every=2, log_every=1)
    again = train_place(BOX, CELLS, RNN, WALKS, fresh, seed=2, state_path=state, fingerprint="c", extend_key="other")
    for k in PLACE_WEIGHT_NAMES:
        np.testing.assert_array_equal(again.weights[k], train_place(BOX, CELLS, RNN, WALKS, fresh, seed=2).weights[k])
    assert [r["step"] for r in again.history] == [1, 2]
    with pytest.raises(ValueError, match="beyond place_training.n_steps = 1"):
        train_place(BOX, CELLS, RNN, WALKS, PlaceTrainingParams(n_steps=1, batch_size=5), seed=2,
                    state_path=state, fingerprint="d", extend_key="other")


def test_bad_settings_name_their_key():
    with pytest.raises(ValueError, match="place_training.batch_size"):
        PlaceTrainingParams(batch_size=0)
    with pytest.raises(ValueError, match="place_training.foo"):
        PlaceTrainingParams.from_dict({"foo": 1})


def test_a_snapshot_of_an_unfinished_training_holds_its_weights(tmp_path):
    import json

    from cw.network import networks
    from cw.network.place_training import read_place_weights

    folder = tmp_path / "pc"
    folder.mkdir()
    (folder / networks.SETTINGS_FILE).write_text(json.dumps({"hash": "h", "settings": {}}))
    tp = PlaceTrainingParams(n_steps=4, batch_size=4, checkpoint_every=2, log_every=1, state_every_minutes=0)
    res = train_place(BOX, CELLS, RNN, WALKS, tp, seed=1, state_path=folder / networks.STATE_FILE)
    assert networks.snapshot(folder, tmp_path / "snap") == 4
    w, centres = read_place_weights(tmp_path / "snap" / "weights.nc")
    np.testing.assert_array_equal(w["W_rec"], res.weights["W_rec"])
    np.testing.assert_array_equal(centres, res.centres.astype(np.float32))  # netCDF stores float32
    w2, _ = read_place_weights(tmp_path / "snap" / "checkpoints.nc", checkpoint=1)
    np.testing.assert_array_equal(w2["W_dec"], res.checkpoints[1]["W_dec"])
