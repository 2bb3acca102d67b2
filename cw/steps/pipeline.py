"""The pipeline's steps as file-to-file functions, one per Snakemake rule.

Each function takes paths and plain-builtin parameters (as Snakemake's ``params:`` hands them
over), reads its inputs with clear errors, calls the array-level functions of the other ``cw``
modules, and writes its outputs atomically.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

from cw import io

log = logging.getLogger(__name__)



# -- trajectories --------------------------------------------------------------------------------
def make_trajectories(out: str, arena: Mapping, trajectories: Mapping, seed: int) -> None:
    """Held-out test trials of one run -> ``trajectories.nc`` (training trials are generated
    afresh for every update by the training step)."""
    from cw.task.arenas import run_arena
    from cw.seeds import rng_for
    from cw.task.trajectories import TrajectoryParams, generate_trials
    from cw.task.trajectory_files import trials_dataset

    ar = run_arena(arena)
    params = TrajectoryParams.from_dict(trajectories)
    test = generate_trials(ar, int(trajectories["n_test"]), params, rng_for(seed, "test_trials"))
    ds = trials_dataset(test, ar, params, attrs=io.run_attrs(arena=arena, trajectories=trajectories) | {"seed": seed})
    io.write_netcdf(ds, out)
    log.info(
        "%s: %d test trials of %d steps; %.2f boundary interactions per trial",
        out, test.speed.shape[0], params.n_steps, float(test.boundary.sum(1).mean()),
    )


def _read_trials(path: str):
    from cw.task.trajectory_files import trials_from_dataset

    ds = io.open_dataset(path, required=("speed", "heading", "x", "y", "boundary"))
    return ds, trials_from_dataset(ds)


# -- training ------------------------------------------------------------------------------------
def train_model(
    weights_out: str,
    checkpoints_out: str,
    history_out: str,
    arena: Mapping,
    trajectories: Mapping,
    model: Mapping,
    loss: Mapping,
    training: Mapping,
    seed: int,
    label: str,
    keep_state: bool = False,
    progress: bool | str = "lines",
) -> None:
    """Train one run's network on fresh trials; write final weights, checkpoints and history.

    The full training state is kept beside the weights (``training_state.npz``) and the settings
    with their hash in ``settings.json`` (:mod:`cw.network.state`), so that a stopped training resumes
    exactly, also from a state committed to the repository.  ``keep_state`` (networks shipped
    with the repository) keeps the final state too, so that rerunning a finished training only
    rewrites its files, and records the files' checksums (``SHA256SUMS``); otherwise the state is
    removed at the end, so that a rerun (e.g. after the training code changed) trains afresh.
    """
    from cw.network import networks
    from cw.network.state import extend_hash, training_settings
    from cw.network.model import LossParams, ModelParams, init_weights
    from cw.network.training import TrainingParams, fresh_batches, train
    from cw.seeds import rng_for

    mp, lp, tp = ModelParams.from_dict(model), LossParams.from_dict(loss), TrainingParams.from_dict(training)
    run = {"name": label, "arena": arena, "trajectories": trajectories, "model": model, "loss": loss,
           "training": training, "seed": seed}
    folder = Path(weights_out).parent
    settings = training_settings(run)
    h = networks.write_settings(folder, settings)
    batches = fresh_batches(arena, trajectories, mp, tp.batch_size, seed)
    weights0 = init_weights(mp, rng_for(seed, "init"))

    def log_row(row: dict) -> None:
        if row["update"] % tp.log_every == 0 or row["update"] == tp.n_updates:
            log.info("update %d: %s", row["update"], ", ".join(f"{k}={v:.5g}" for k, v in row.items() if k != "update"))

    state = training_state_path(weights_out)
    result = train(
        weights0, batches, mp, lp, tp, seed, settings_hash=h, extend_hash=extend_hash(settings),
        label=label, progress=progress, on_update=log_row, state_path=state,
    )
    attrs = io.run_attrs(arena=arena, trajectories=trajectories, model=model, loss=loss, training=training) | {
        "seed": seed, "run": label, "settings_hash": h,
    }
    io.write_netcdf(io.checkpoints_dataset(result.checkpoint_updates, result.checkpoints, attrs), checkpoints_out)
    io.write_csv(result.history, history_out)
    io.write_netcdf(io.weights_dataset(result.weights, attrs), weights_out)
    if keep_state:  # a shipped network: its checksums follow its files (networks.check_shipped)
        networks.write_checksums(folder)
    else:
        state.unlink(missing_ok=True)


def train_place_model(
    weights_out: str,
    checkpoints_out: str,
    history_out: str,
    arena: Mapping,
    place_cells: Mapping,
    place_rnn: Mapping,
    place_trajectories: Mapping,
    place_training: Mapping,
    seed: int,
    label: str,
    keep_state: bool = False,
) -> None:
    """Train one place-cell read-out network (:func:`cw.network.place_training.train_place`);
    files, state and checksums as :func:`train_model`."""
    from cw.network import networks
    from cw.network.state import extend_hash, training_settings
    from cw.network.place_rnn import PlaceRNNParams
    from cw.network.place_training import PlaceTrainingParams, place_weights_dataset, train_place
    from cw.task.arenas import run_arena
    from cw.task.place_cells import PlaceCellParams
    from cw.task.sorscher_trajectories import SorscherTrajectoryParams

    run = {"name": label, "readout": "place_cells", "arena": arena, "seed": seed, "place_cells": place_cells,
           "place_rnn": place_rnn, "place_trajectories": place_trajectories, "place_training": place_training}
    folder = Path(weights_out).parent
    settings = training_settings(run)
    h = networks.write_settings(folder, settings)
    tp = PlaceTrainingParams.from_dict(place_training)
    ar = run_arena(arena)

    def log_row(row: dict) -> None:
        if row["step"] % (10 * tp.log_every) == 0 or row["step"] == tp.n_steps:
            log.info("step %d: loss %.5g, decoding error %.4f m", row["step"], row["loss"], row["error_m"])

    state = training_state_path(weights_out)
    result = train_place(ar, PlaceCellParams(**place_cells), PlaceRNNParams(**place_rnn),
                         SorscherTrajectoryParams.from_dict(place_trajectories), tp, seed, state_path=state,
                         fingerprint=h, extend_key=extend_hash(settings), label=label, on_row=log_row)
    attrs = io.run_attrs(arena=arena, place_cells=place_cells, place_rnn=place_rnn,
                         place_trajectories=place_trajectories, place_training=place_training) | {
        "seed": seed, "run": label, "settings_hash": h, "readout": "place_cells"}
    io.write_netcdf(place_weights_dataset(None, result.centres, attrs, result.checkpoint_steps, result.checkpoints),
                    checkpoints_out)
    io.write_csv(result.history, history_out)
    io.write_netcdf(place_weights_dataset(result.weights, result.centres, attrs), weights_out)
    if keep_state:
        networks.write_checksums(folder)
    else:
        state.unlink(missing_ok=True)


def training_state_path(weights_out: str) -> Path:
    """Where a training job keeps its resumable state: beside its weights, not a declared output."""
    from cw.network.state import STATE_FILE

    return Path(weights_out).with_name(STATE_FILE)


# -- activity ------------------------------------------------------------------------------------
def extract_activity(trajectories: str, weights: str, out: str, model: Mapping) -> None:
    """Noise-free activity of the trained network on the test trials -> ``activity.nc``."""
    from cw.analysis.activity import activity_dataset, position_error, run_network
    from cw.network.model import ModelParams

    mp = ModelParams.from_dict(model)
    ds, trials = _read_trials(trajectories)
    w = io.read_weights(weights)
    u, y = run_network(w, trials.speed, trials.heading, mp)
    attrs = {k: v for k, v in ds.attrs.items()} | io.params_attrs(model=model)
    act = activity_dataset(u, y, ds, attrs)
    act.attrs["rms_position_error_m"] = position_error(act)
    io.write_netcdf(act, out)
    log.info("%s: RMS position error %.4f m", out, act.attrs["rms_position_error_m"])


def place_test_walks(arena: Mapping, place_trajectories: Mapping, seed: int):
    """The test walks of a place-cell run: ``n_test`` walks of ``n_steps_test`` steps from the
    run's ``test_trials`` stream (the same for the activity and every checkpoint); returns
    (paths, their SorscherTrajectoryParams, the Arena)."""
    from cw.seeds import rng_for
    from cw.task.arenas import run_arena
    from cw.task.sorscher_trajectories import SorscherTrajectoryParams, generate_paths

    ar = run_arena(arena)
    tp = SorscherTrajectoryParams.from_dict(place_trajectories)
    return generate_paths(ar, int(place_trajectories["n_test"]), tp, rng_for(seed, "test_trials"),
                          n_steps=int(place_trajectories["n_steps_test"])), tp, ar


def extract_place_activity(weights: str, out: str, arena: Mapping, place_cells: Mapping, place_rnn: Mapping,
                           place_trajectories: Mapping, seed: int) -> None:
    """Activity of a place-cell read-out network on its test walks -> ``activity.nc`` (the layout
    of :func:`extract_activity`: ``u`` the ReLU rates, ``output_x/y`` the decoded position)."""
    from cw.analysis.activity import activity_dataset, place_network_activity, position_error, walks_dataset
    from cw.network.place_training import read_place_weights
    from cw.task.place_cells import PlaceCellParams
    from cw.task.sorscher_trajectories import fraction_outside

    w, centres = read_place_weights(weights)
    paths, tp, ar = place_test_walks(arena, place_trajectories, seed)
    u, decoded = place_network_activity(w, centres, paths, PlaceCellParams(**place_cells))
    attrs = io.run_attrs(arena=arena, place_cells=place_cells, place_rnn=place_rnn,
                         place_trajectories=place_trajectories) | {"seed": seed, "readout": "place_cells"}
    act = activity_dataset(u, decoded, walks_dataset(paths, tp.dt), attrs)
    act["u"].attrs["long_name"] = "firing rate u = relu(x) of each unit"
    act["output_x"].attrs["long_name"] = "x decoded from the place-cell read-out (mean of the most active centres)"
    act["output_y"].attrs["long_name"] = "y decoded from the place-cell read-out (mean of the most active centres)"
    act["speed"].attrs["long_name"] = "speed (|Cartesian velocity input|)"
    act["boundary"].attrs.update(long_name="the walk's wall rule acted (slowed and turned)",
                                 flag_meanings="none wall_turn")
    act["time"].attrs["long_name"] = f"time step ({tp.dt} s each)"
    act.attrs["rms_position_error_m"] = position_error(act)
    act.attrs["fraction_outside_arena"] = fraction_outside(ar, paths)
    io.write_netcdf(act, out)
    log.info("%s: RMS decoding error %.4f m over %d walks of %d steps", out, act.attrs["rms_position_error_m"],
             u.shape[0], u.shape[1])


# -- rate maps ------------------------------------------------------------------------
def make_ratemaps(activity: str, out: str, arena: Mapping, ratemaps: Mapping) -> None:
    """Rate map of every unit over the test samples after the first ``ratemaps.skip_steps``
    steps of every trial -> ``ratemaps.nc`` (attribute ``skip_steps``)."""
    from cw.task.arenas import run_arena
    from cw.analysis.ratemaps import RatemapParams, compute_ratemaps, trial_samples

    rp = RatemapParams.from_dict(ratemaps)
    ar = run_arena(arena)
    ds = io.open_dataset(activity, required=("u", "x", "y"))
    x, y, u = trial_samples(ds["x"].transpose("trial", "time").values,
                            ds["y"].transpose("trial", "time").values,
                            ds["u"].transpose("trial", "time", "unit").values, rp.skip_steps)
    rm = compute_ratemaps(
        x,
        y,
        u,
        ar,
        bin_size=rp.bin_size,
        min_occupancy=rp.min_occupancy,
        smoothing_sigma=rp.smoothing_sigma,
    )
    rm.attrs.update(io.run_attrs(arena=arena, ratemaps=ratemaps))
    rm.attrs["skip_steps"] = int(rp.skip_steps)
    rm.attrs["arena_corners"] = ar.corners.ravel()
    io.write_netcdf(rm, out)
