"""Settings hashes of trained networks and the checks on shipped ones (cw.network.networks)."""

import copy
import json

import numpy as np
import pytest

from cw.network import networks, state
from cw.config import resolve_run
from cw.steps.settings import load_config


@pytest.fixture(scope="module")
def run():
    return resolve_run(load_config("config.yaml"), "square")


def test_hash_follows_every_training_setting_and_only_those(run):
    h = state.settings_hash(state.training_settings(run))
    assert len(h) == 16 and h == state.settings_hash(state.training_settings(copy.deepcopy(run)))
    for section, key, value in [
        ("loss", "lambda_fr", 0.2), ("model", "noise_std", 0.3), ("training", "n_updates", 10),
        ("trajectories", "heading_std", 0.5), ("seed", None, 9),
    ]:
        other = copy.deepcopy(run)
        if key is None:
            other[section] = value
        else:
            other[section][key] = value
        assert state.settings_hash(state.training_settings(other)) != h, (section, key)
    for section, key, value in [
        ("training", "log_every", 3), ("training", "state_every_minutes", 0.5), ("trajectories", "n_test", 7),
        ("ratemaps", "bin_size", 0.2), ("scores", "n_rings", 3),
    ]:
        other = copy.deepcopy(run)
        other[section][key] = value
        assert state.settings_hash(state.training_settings(other)) == h, (section, key)


def test_a_new_key_at_its_neutral_value_keeps_the_hash(run, monkeypatch):
    h = state.settings_hash(state.training_settings(run))
    other = copy.deepcopy(run)
    other["model"]["future_option"] = "old_behaviour"
    assert state.settings_hash(state.training_settings(other)) != h
    monkeypatch.setitem(state.NEUTRAL_DEFAULTS, ("model", "future_option"), "old_behaviour")
    assert state.settings_hash(state.training_settings(other)) == h
    other["model"]["future_option"] = "new_behaviour"
    assert state.settings_hash(state.training_settings(other)) != h


def test_check_shipped_refuses_missing_foreign_and_unfinished_networks(run, tmp_path):
    folder = tmp_path / "square"
    with pytest.raises(networks.NetworkError, match="no shipped network for run 'square'"):
        networks.check_shipped(folder, run)
    networks.write_settings(folder, state.training_settings(run))
    np.savez(folder / state.STATE_FILE, __meta__=np.frombuffer(json.dumps({"update": 7, "n_updates": 1900}).encode(), np.uint8))
    with pytest.raises(networks.NetworkError, match=r"not finished \(update 7 of 1900.*continue it with make train-networks$"):
        networks.check_shipped(folder, run)
    with pytest.raises(networks.NetworkError, match=r"continue it with make study ONLY=square$"):
        networks.check_shipped(folder, run, "make study ONLY=square")
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
    networks.write_settings(folder, state.training_settings(run))
    tp = TrainingParams(optimizer="adam", n_updates=3, batch_size=4, n_checkpoints=3, state_every_minutes=0)
    arena = {"name": "square", "shape": "square", "side": 1.0}
    res = train(init_weights(mp, rng_for(1, "init")), fresh_batches(arena, {"n_steps": 20, "speed_max": 0.1}, mp, 4, 1),
                mp, LossParams(), tp, 1, progress=False, state_path=folder / state.STATE_FILE)
    update = networks.snapshot(folder, tmp_path / "snap" / "square")
    assert update == 3
    with xr.open_dataset(tmp_path / "snap/square/weights.nc") as w:
        np.testing.assert_array_equal(w["W_rec"].values, res.weights["W_rec"])
        assert w.attrs["snapshot_update"] == 3
    with xr.open_dataset(tmp_path / "snap/square/checkpoints.nc") as c:
        assert list(c["update"].values) == res.checkpoint_updates
    networks.check_shipped(tmp_path / "snap" / "square", run)  # accepted by shipped mode


def _shipped_copy(tmp_path, run):
    """A finished network folder like a shipped one: real model files (those of the tracked
    networks/quick/hexagon, copied: the repository's own files are never touched), the run's
    settings, and its SHA256SUMS."""
    import shutil

    from pathlib import Path

    src = Path(__file__).resolve().parent.parent / "networks" / "quick" / "hexagon"
    folder = tmp_path / "networks" / "square"
    folder.mkdir(parents=True)
    for f in networks.CHECKSUMMED_FILES:
        shutil.copy(src / f, folder / f)
    networks.write_settings(folder, state.training_settings(run))
    assert networks.main(["--write-checksums", str(folder)]) == 0
    return folder


def test_checksum_manifest_lists_every_model_file_in_sha256sum_format(run, tmp_path):
    import hashlib

    folder = _shipped_copy(tmp_path, run)
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    assert [ln.split("  ")[1] for ln in lines] == list(networks.CHECKSUMMED_FILES)
    for ln in lines:
        digest, name = ln.split("  ")
        assert digest == hashlib.sha256((folder / name).read_bytes()).hexdigest()
    assert networks.read_checksums(folder) == {ln.split("  ")[1]: ln.split("  ")[0] for ln in lines}
    networks.check_shipped(folder, run)  # intact: accepted
    # settings.json, and so its hash, are not part of the manifest and stay as they were
    assert "settings.json" not in (folder / "SHA256SUMS").read_text()
    assert networks.main(["--write-checksums", str(tmp_path / "empty")]) == 1


@pytest.mark.parametrize("name", networks.CHECKSUMMED_FILES)
def test_a_damaged_shipped_file_is_one_line_that_says_how_to_restore_it(run, tmp_path, name):
    """One changed byte in any model file of a shipped network stops the analysis before it
    starts, naming the file and the git command that restores it."""
    folder = _shipped_copy(tmp_path, run)
    path = folder / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(networks.NetworkError) as exc:
        networks.check_shipped(folder, run)
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: content differs from its checksum in {folder / 'SHA256SUMS'}")
    assert f"restore the shipped file with git checkout -- {path}" in msg
    path.unlink()
    with pytest.raises(networks.NetworkError, match=r"missing \(listed in .*SHA256SUMS\); restore the shipped file "
                                                    r"with git checkout -- "):
        networks.check_checksums(folder)


def test_a_network_without_a_manifest_is_not_content_checked(run, tmp_path):
    """Networks shipped before the manifests still pass (their settings are checked as before)."""
    folder = _shipped_copy(tmp_path, run)
    (folder / "SHA256SUMS").unlink()
    (folder / "history.csv").write_text("changed\n")
    networks.check_shipped(folder, run)
    (folder / "SHA256SUMS").write_text("not a checksum line\n")
    with pytest.raises(networks.NetworkError, match=r"SHA256SUMS:1: not a '<sha256>  <file>' line"):
        networks.check_checksums(folder)


def test_damaged_file_message_restores_shipped_files_and_remakes_generated_ones(run, tmp_path):
    """cw.io's 'cannot read' error: restore with git for a shipped file (listed in SHA256SUMS, or
    tracked by git), delete and rerun for a file the workflow makes."""
    import shutil
    import subprocess

    from cw import io

    folder = _shipped_copy(tmp_path, run)
    weights = folder / "weights.nc"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(io.InputFileError) as exc:
        io.read_weights(weights)
    msg = str(exc.value)
    assert "cannot read netCDF" in msg and "\n" not in msg
    assert msg.endswith(f"it is a shipped file: restore it with git checkout -- {weights}")
    made = tmp_path / "results" / "square" / "activity.nc"
    made.parent.mkdir(parents=True)
    made.write_bytes(b"CDF\x01 cut")
    with pytest.raises(io.InputFileError, match=r"delete it and rerun snakemake to make it again$"):
        io.open_dataset(made)
    # tracked by git, no manifest
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    tracked = repo / "weights.nc"
    tracked.write_bytes(b"CDF\x01 cut")
    subprocess.run(["git", "add", "weights.nc"], cwd=repo, check=True)
    assert io.is_shipped(tracked) and not io.is_shipped(made)
    with pytest.raises(io.InputFileError, match=r"restore it with git checkout -- .*weights\.nc$"):
        io.open_dataset(tracked)
    # a damaged training state of a shipped network
    state_file = folder / state.STATE_FILE
    state_file.write_bytes(b"PK\x03\x04 cut")
    with pytest.raises(networks.NetworkError, match=r"cannot read training state .*restore it with git checkout -- "):
        networks.state_meta(folder)
    assert networks.CHECKSUM_FILE == io.CHECKSUM_FILE


def test_continuing_a_shipped_network_records_its_new_checksums(tmp_path):
    """train_model with keep_state (networks_mode continue, the folder of a shipped network)
    rewrites the model files and their SHA256SUMS together, so check_shipped accepts the result."""
    from cw.steps.pipeline import train_model

    kw = dict(arena={"name": "square", "shape": "square", "side": 1.0}, trajectories={"n_steps": 20, "speed_max": 0.1},
              model={"n_units": 6}, loss={}, seed=1, label="square", progress=False,
              training={"optimizer": "adam", "n_updates": 2, "batch_size": 4, "n_checkpoints": 2,
                        "state_every_minutes": 0})
    folder = tmp_path / "networks" / "square"
    train_model(str(folder / "weights.nc"), str(folder / "checkpoints.nc"), str(folder / "history.csv"),
                keep_state=True, **kw)
    assert set(networks.read_checksums(folder)) == set(networks.CHECKSUMMED_FILES)
    networks.check_checksums(folder)


PRESETS = (None, "quick", "study", "tikhonov", "placecells", "multiseed")


def _committed_runs():
    """(preset, run, resolved run, folder) of every network folder committed under networks/."""
    from pathlib import Path

    from snakemake.utils import update_config

    from cw.config import read_yaml

    root = Path(__file__).resolve().parents[1]
    out = []
    for preset in PRESETS:
        cfg = read_yaml(root / "config.yaml")
        if preset:
            update_config(cfg, read_yaml(root / "workflow" / "presets" / f"{preset}.yaml"))
        cfg = load_config(cfg)
        for name in cfg["runs"]:
            folder = root / cfg["networks_dir"] / name
            if (folder / networks.SETTINGS_FILE).is_file():
                out.append((preset or "default", name, resolve_run(cfg, name), folder))
    return out


def test_every_committed_network_and_state_still_belongs_to_its_run():
    """The settings hash of every network folder in the repository equals its run's under this
    code, and its training state has the keys the trainer computes now: a change to the hashing
    or to the state's keys would otherwise retrain (or refuse) hours of committed training."""
    from cw.network.model import LossParams, ModelParams, init_weights
    from cw.network.training import TrainingParams, _state_keys
    from cw.seeds import rng_for

    runs = _committed_runs()
    assert len(runs) >= 20
    for preset, name, run, folder in runs:
        settings = state.training_settings(run)
        h = state.settings_hash(settings)
        assert json.loads((folder / networks.SETTINGS_FILE).read_text())["hash"] == h, (preset, name)
        meta = state.TrainingState.read_meta(folder / state.STATE_FILE)
        if meta is None:
            continue
        if run.get("readout") == "place_cells":
            keys = (h, state.extend_hash(settings))
        else:
            mp = ModelParams.from_dict(run["model"])
            keys = _state_keys(init_weights(mp, rng_for(run["seed"], "init")), mp, LossParams.from_dict(run["loss"]),
                               TrainingParams.from_dict(run["training"]), run["seed"], h, state.extend_hash(settings))
        assert meta["fingerprint"] == keys[0], (preset, name)
        assert meta.get("extend_key", keys[1]) == keys[1], (preset, name)  # states from before extend keys have none
