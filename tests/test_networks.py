"""Settings hashes of trained networks and the checks on shipped ones (cw.network.networks)."""

import copy
import json

import numpy as np
import pytest

from cw.network import networks
from cw.config import resolve_run
from cw.steps.settings import load_config


@pytest.fixture(scope="module")
def run():
    return resolve_run(load_config("config.yaml"), "square")


def test_hash_follows_every_training_setting_and_only_those(run):
    h = networks.settings_hash(networks.training_settings(run))
    assert len(h) == 16 and h == networks.settings_hash(networks.training_settings(copy.deepcopy(run)))
    for section, key, value in [
        ("loss", "lambda_fr", 0.2), ("model", "noise_std", 0.3), ("training", "n_updates", 10),
        ("trajectories", "heading_std", 0.5), ("seed", None, 9),
    ]:
        other = copy.deepcopy(run)
        if key is None:
            other[section] = value
        else:
            other[section][key] = value
        assert networks.settings_hash(networks.training_settings(other)) != h, (section, key)
    for section, key, value in [
        ("training", "log_every", 3), ("training", "state_every_minutes", 0.5), ("trajectories", "n_test", 7),
        ("ratemaps", "bin_size", 0.2), ("scores", "n_rings", 3),
    ]:
        other = copy.deepcopy(run)
        other[section][key] = value
        assert networks.settings_hash(networks.training_settings(other)) == h, (section, key)


def test_a_new_key_at_its_neutral_value_keeps_the_hash(run, monkeypatch):
    h = networks.settings_hash(networks.training_settings(run))
    other = copy.deepcopy(run)
    other["model"]["future_option"] = "old_behaviour"
    assert networks.settings_hash(networks.training_settings(other)) != h
    monkeypatch.setitem(networks.NEUTRAL_DEFAULTS, ("model", "future_option"), "old_behaviour")
    assert networks.settings_hash(networks.training_settings(other)) == h
    other["model"]["future_option"] = "new_behaviour"
    assert networks.settings_hash(networks.training_settings(other)) != h


def test_check_shipped_refuses_missing_foreign_and_unfinished_networks(run, tmp_path):
    folder = tmp_path / "square"
    with pytest.raises(networks.NetworkError, match="no shipped network for run 'square'"):
        networks.check_shipped(folder, run)
    networks.write_settings(folder, networks.training_settings(run))
    np.savez(folder / networks.STATE_FILE, __meta__=np.frombuffer(json.dumps({"update": 7, "n_updates": 1900}).encode(), np.uint8))
    with pytest.raises(networks.NetworkError, match=r"not finished \(update 7 of 1900"):
        networks.check_shipped(folder, run)
    for f in networks.MODEL_FILES:
        (folder / f).write_text("x")
    networks.check_shipped(folder, run)  # complete and matching: accepted
    other = copy.deepcopy(run)
    other["loss"]["lambda_fr"] = 0.0
    with pytest.raises(networks.NetworkError, match="trained with other settings") as exc:
        networks.check_shipped(folder, other)
    assert "\n" not in str(exc.value)


def test_snapshot_of_an_unfinished_training(tmp_path, run):
    """An unfinished training's state becomes weights, checkpoints and history that the
    analysis accepts (settings hash unchanged)."""
    import xarray as xr

    from cw.network.model import LossParams, ModelParams, init_weights
    from cw.network.training import TrainingParams, fresh_batches, train
    from cw.seeds import rng_for

    mp = ModelParams(n_units=6)
    folder = tmp_path / "net" / "square"
    networks.write_settings(folder, networks.training_settings(run))
    tp = TrainingParams(optimizer="adam", n_updates=3, batch_size=4, n_checkpoints=3, state_every_minutes=0)
    arena = {"name": "square", "shape": "square", "side": 1.0}
    res = train(init_weights(mp, rng_for(1, "init")), fresh_batches(arena, {"n_steps": 20, "speed_max": 0.1}, mp, 4, 1),
                mp, LossParams(), tp, 1, progress=False, state_path=folder / networks.STATE_FILE)
    update = networks.snapshot(folder, tmp_path / "snap" / "square")
    assert update == 3
    with xr.open_dataset(tmp_path / "snap/square/weights.nc") as w:
        np.testing.assert_array_equal(w["W_rec"].values, res.weights["W_rec"])
        assert w.attrs["snapshot_update"] == 3
    with xr.open_dataset(tmp_path / "snap/square/checkpoints.nc") as c:
        assert list(c["update"].values) == res.checkpoint_updates
    networks.check_shipped(tmp_path / "snap" / "square", run)  # accepted by shipped mode
