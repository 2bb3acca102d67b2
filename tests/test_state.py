"""The training-state file (cw.network.state.TrainingState): what is saved comes back, the first
layout of the place-cell states is read, and resume / continue / restart follow the keys."""

import json

import numpy as np
import pytest

from cw.network.state import (LENGTH_KEYS, NON_NUMERICAL_TRAINING_KEYS, PLACE_LENGTH_KEYS, StateFileError,
                              TrainingState, extend_hash, settings_hash)


def _state(update=3, n=5, fp="f", ek="e"):
    rng = np.random.default_rng(0)
    w = {"W_rec": rng.normal(size=(4, 4)).astype(np.float32), "b": rng.normal(size=4).astype(np.float32)}
    return TrainingState(fp, ek, update=update, n_updates=n, weights=w, checkpoint_updates=[0, 2],
                         checkpoints=[{k: v * 0 for k, v in w.items()}, {k: v + 1 for k, v in w.items()}],
                         history=[{"update": 1, "error": 0.5}], optimizer={"damping": np.array(0.1)},
                         scalars={"lambda_l2": 0.25, "lambda_fr": 1e-80}, arrays={"centres": np.ones((3, 2))})


def test_what_is_saved_comes_back(tmp_path):
    s = _state()
    s.save(tmp_path / "s.npz")
    got = TrainingState.load(tmp_path / "s.npz")
    assert (got.fingerprint, got.extend_key, got.update, got.n_updates) == ("f", "e", 3, 5)
    for k in s.weights:
        np.testing.assert_array_equal(got.weights[k], s.weights[k])
        assert got.weights[k].dtype == np.float32
        for a, b in zip(got.checkpoints, s.checkpoints):
            np.testing.assert_array_equal(a[k], b[k])
    assert got.checkpoint_updates == [0, 2] and got.history == s.history
    assert got.scalars == {"lambda_l2": 0.25, "lambda_fr": 1e-80}
    assert float(got.optimizer["damping"]) == 0.1 and got.arrays["centres"].shape == (3, 2)
    assert TrainingState.read_meta(tmp_path / "s.npz")["update"] == 3
    assert TrainingState.load(tmp_path / "none.npz") is None and TrainingState.read_meta(tmp_path / "none.npz") is None


def test_the_first_layout_of_place_cell_states_is_read(tmp_path):
    """Adam moments as m_<name> / v_<name>, checkpoint_steps and step (before one layout)."""
    w = np.arange(4.0).reshape(2, 2)
    meta = {"fingerprint": "a", "extend_key": "b", "step": 7, "update": 7, "n_updates": 9,
            "history": [{"step": 5}], "checkpoint_steps": [0, 5]}
    np.savez(tmp_path / "old.npz", __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8), centres=np.zeros((3, 2)),
             w_W_rec=w, m_W_rec=w + 1, v_W_rec=w + 2, ckpt0_W_rec=w * 0, ckpt1_W_rec=w * 5)
    got = TrainingState.load(tmp_path / "old.npz")
    assert got.update == 7 and got.checkpoint_updates == [0, 5] and got.scalars == {}
    np.testing.assert_array_equal(got.optimizer["m_W_rec"], w + 1)
    np.testing.assert_array_equal(got.optimizer["v_W_rec"], w + 2)
    np.testing.assert_array_equal(got.checkpoints[1]["W_rec"], w * 5)
    assert set(got.arrays) == {"centres"}


def test_resume_continue_restart(tmp_path, caplog):
    path = tmp_path / "s.npz"
    assert TrainingState.resume(path, "f", "e", 5) is None  # no file
    _state(update=3, n=5).save(path)
    assert TrainingState.resume(path, "f", "e", 5).update == 3  # same training
    assert TrainingState.resume(path, "longer", "e", 9).update == 3  # the same run, more updates
    with pytest.raises(ValueError, match="beyond training.n_updates = 2"):
        TrainingState.resume(path, "shorter", "e", 2)
    assert TrainingState.resume(path, "other", "other", 5) is None  # other settings: afresh
    assert "belongs to other settings" in caplog.text
    path.write_bytes(b"PK\x03\x04 cut")
    with pytest.raises(StateFileError, match="s.npz: cannot read training state"):
        TrainingState.resume(path, "f", "e", 5)


def test_the_key_lists_nest_and_the_extend_hash_ignores_the_length():
    assert set(NON_NUMERICAL_TRAINING_KEYS) < set(LENGTH_KEYS) and set(NON_NUMERICAL_TRAINING_KEYS) < set(PLACE_LENGTH_KEYS)
    a = {"seed": 1, "training": {"n_updates": 400, "batch_size": 500}}
    b = {"seed": 1, "training": {"n_updates": 1900, "batch_size": 500}}
    c = {"seed": 1, "training": {"n_updates": 400, "batch_size": 250}}
    assert settings_hash(a) != settings_hash(b) and extend_hash(a) == extend_hash(b) != extend_hash(c)
    p = {"place_training": {"n_steps": 10, "batch_size": 2}}
    assert extend_hash(p) == extend_hash({"place_training": {"n_steps": 99, "batch_size": 2}})
