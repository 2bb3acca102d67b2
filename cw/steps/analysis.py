"""The spatial analyses as file-to-file functions, one per Snakemake rule.

Style of :mod:`cw.steps.pipeline`: paths and plain-builtin parameters in (as Snakemake's ``params:``
hands them over: one mapping per config section), inputs read with :func:`cw.io.open_dataset`,
outputs written atomically with :func:`cw.io.write_netcdf`, every parameter recorded in the
global attributes (one JSON string per config section, plus provenance).

Config sections used (every key documented in the dataclass named):

* ``arenas.<name>`` (as ``arena``, with its ``name``) -> :func:`cw.task.arenas.run_arena`
* ``ratemaps`` -> :class:`cw.analysis.ratemaps.RatemapParams`
* ``scores`` -> :class:`cw.analysis.scores.ScoreParams` (flat grid-score keys; sub-sections ``border``,
  ``band``, ``geometry``)
* ``shuffles`` -> :class:`cw.analysis.shuffles.ShuffleParams`
* ``celltypes`` -> :class:`cw.analysis.celltypes.CellTypeParams`
* these four travel together as ``analysis``, one mapping ``{"ratemaps": ..., "scores": ...,
  "shuffles": ..., "celltypes": ...}`` (missing sections: their defaults), made into one
  :class:`cw.analysis.units.AnalysisSettings` per step and passed whole below it
* ``tuning`` -> :class:`cw.analysis.tuning.TuningParams`
* ``development`` -> :class:`cw.analysis.development.DevelopmentParams`
* ``boundary`` -> :class:`cw.analysis.boundary.BoundaryParams`
* ``trajectories`` -> :class:`cw.task.trajectories.TrajectoryParams` (``n_test`` ignored)
* ``model`` -> :class:`cw.network.model.ModelParams`
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Mapping

import numpy as np

from cw import io
from cw.seeds import rng_for
from cw.task.arenas import run_arena

log = logging.getLogger(__name__)

__all__ = ["analyse_scores", "analyse_tuning", "analyse_development", "analyse_boundary"]




def _samples(act, skip_steps: int = 0):
    """Concatenated (x, y, u) of an activity Dataset, in trial order, without the first
    ``skip_steps`` steps of every trial (``ratemaps.skip_steps``)."""
    from cw.analysis.ratemaps import trial_samples

    u = act["u"].transpose("trial", "time", "unit").values
    x = act["x"].transpose("trial", "time").values
    y = act["y"].transpose("trial", "time").values
    return trial_samples(x, y, u, skip_steps)


# -- scores, significance, cell types ------------------------------------------------------------
def analyse_scores(
    activity: str,
    out: str,
    arena: Mapping,
    analysis: Mapping | None = None,
    seed: int = 0,
) -> None:
    """Every spatial score, its shuffle threshold, significance and the cell type of every unit
    -> ``scores.nc``.

    Variables (dim ``unit``): ``score60``, ``score90``, ``ring60``, ``ring90``, ``grid_spacing``
    (m), ``grid_orientation60/90`` (deg), ``grid_n_peaks``, ``grid_contrast``, ``border_score``, ``border_cm``,
    ``border_dm``, ``border_wall``, ``border_polarity``, ``band_score``, ``band_wavelength`` (m),
    ``band_orientation`` (deg), ``band_power1/2``, ``spatial_variance_fraction`` and the
    structure measures of the cell-type rule (``spatial_coherence``, ``n_fields``,
    ``grid_hex_order/ratio``, ``grid_square_order/ratio``, ``grid_score_status`` (why a grid
    score is NaN), ``band_wave_r2``, ``band_ramp_r2``, ``band_periods``, ``border_profile_r2``,
    ``border_profile_halfwidth``, ``border_field_width``, ``border_field_fraction``,
    ``border_field_share``), all from the samples after the first ``ratemaps.skip_steps`` steps
    of every trial; per score of
    :data:`cw.analysis.scores.SCORE_NAMES`: ``threshold_<s>``, ``significant_<s>``, ``p_<s>``,
    ``null_<s>`` (shuffle, unit); ``cell_type`` (str); the summary table ``type_count``,
    ``type_fraction`` (dim ``cell_type_label``) and the counts as attributes ``count_<type>``.
    The shuffle offsets come from the stream ``"shuffles"`` of the run's seed.
    """
    from cw.analysis.units import AnalysisSettings, analyse_units

    settings = AnalysisSettings.from_config(**(analysis or {}))
    ar = run_arena(arena)
    act = io.open_dataset(activity, required=("u", "x", "y"))
    x, y, u = _samples(act, settings.ratemaps.skip_steps)
    t0 = time.perf_counter()
    ds, _ = analyse_units(x, y, u, ar, settings, rng_for(seed, "shuffles"),
                          keep_null=True, unit=act["unit"].values)
    ds.attrs.update(io.run_attrs(arena=arena, **(analysis or {})))
    ds.attrs["seed"] = int(seed)
    ds.attrs["arena_corners"] = ar.corners.ravel()
    io.write_netcdf(ds, out)
    log.info("%s: %s (%.1f s)", out, ", ".join(
        f"{k[6:]}={ds.attrs[k]}" for k in ds.attrs if k.startswith("count_")),
        time.perf_counter() - t0)


# -- tuning --------------------------------------------------------------------------------------
def analyse_tuning(activity: str, out: str, tuning: Mapping | None = None) -> None:
    """Direction and speed tuning curves of every unit -> ``tuning.nc``
    (:func:`cw.analysis.tuning.tuning_dataset`)."""
    from cw.analysis.tuning import TuningParams, tuning_dataset

    tp = TuningParams.from_dict(tuning)
    act = io.open_dataset(activity, required=("u", "speed", "heading"))
    ds = tuning_dataset(act, tp)
    ds.attrs.update(io.run_attrs(tuning=tuning))
    io.write_netcdf(ds, out)
    log.info("%s: median resultant length %.3f, median |speed r| %.3f", out,
             float(np.nanmedian(ds["resultant_length"])), float(np.nanmedian(np.abs(ds["speed_r"]))))


# -- development ---------------------------------------------------------------------------------
def _checkpoint_weights(ds, k: int) -> dict[str, np.ndarray]:
    from cw.network.model import WEIGHT_NAMES

    return {name: ds[name].isel(checkpoint=k).values.astype(np.float32) for name in WEIGHT_NAMES}


def analyse_development(
    checkpoints: str,
    trajectories: str,
    out: str,
    model: Mapping,
    arena: Mapping,
    analysis: Mapping | None = None,
    development: Mapping | None = None,
    seed: int = 0,
) -> None:
    """Rate maps, scores, cell types and counts at every checkpoint, and the t-SNE of the units
    across early/intermediate/late checkpoints -> ``development.nc``
    (:func:`cw.analysis.development.development_dataset`). Each checkpoint is run noise-free on the test
    trials of ``trajectories.nc``."""
    from cw.analysis.development import DevelopmentParams, development_dataset
    from cw.analysis.units import AnalysisSettings
    from cw.network.model import WEIGHT_NAMES, ModelParams
    from cw.task.trajectory_files import trials_from_dataset

    mp = ModelParams.from_dict(model)
    dp = DevelopmentParams.from_dict(development)
    settings = AnalysisSettings.from_config(**(analysis or {}))
    rp = settings.ratemaps
    ar = run_arena(arena)
    ck = io.open_dataset(checkpoints, required=WEIGHT_NAMES)
    tr = io.open_dataset(trajectories, required=("speed", "heading", "x", "y", "boundary"))
    test = trials_from_dataset(tr)
    pos = test.position.reshape(-1, 2).astype(np.float64)
    acts, errors = [], []
    from cw.analysis.activity import network_runner
    from cw.analysis.ratemaps import trial_samples

    run = network_runner(mp)
    px = test.position[..., 0].astype(np.float64)
    py = test.position[..., 1].astype(np.float64)
    for k in range(ck.sizes["checkpoint"]):
        u, yhat = run(_checkpoint_weights(ck, k), test.speed, test.heading)
        # the RMS error over every step (as the training loss); maps without the start transient
        errors.append(float(np.sqrt(np.mean(np.sum((yhat.reshape(-1, 2) - pos) ** 2, axis=1)))))
        xs, ys, us = trial_samples(px, py, np.asarray(u).reshape(*px.shape, -1), rp.skip_steps)
        acts.append(us)
    updates = ck["update"].values if "update" in ck.coords else np.arange(len(acts))
    ds = development_dataset(acts, updates, xs, ys, ar, errors, settings, dp, seed)
    ds.attrs.update(io.run_attrs(model=model, arena=arena, development=development, **(analysis or {})))
    io.write_netcdf(ds, out)
    counts = ds["type_count"].sel(cell_type_label=["border", "band_like", "grid_like"]).values
    log.info("%s: border / band-like / grid-like units per checkpoint (update 0 = untrained): %s",
             out, ", ".join(f"{int(u)}: {b}/{n}/{g}" for u, (b, n, g) in zip(updates, counts)))


def analyse_place_development(
    checkpoints: str,
    out: str,
    arena: Mapping,
    place_cells: Mapping,
    place_rnn: Mapping,
    place_trajectories: Mapping,
    analysis: Mapping | None = None,
    development: Mapping | None = None,
    seed: int = 0,
) -> None:
    """:func:`analyse_development` for a place-cell read-out network: every checkpoint run on the
    run's test walks (:func:`cw.steps.pipeline.place_test_walks`) -> ``development.nc``."""
    from cw.analysis.activity import place_network_activity
    from cw.analysis.development import DevelopmentParams, development_dataset
    from cw.analysis.ratemaps import trial_samples
    from cw.analysis.units import AnalysisSettings
    from cw.network.place_training import read_place_weights
    from cw.steps.pipeline import place_test_walks
    from cw.task.place_cells import PlaceCellParams

    dp = DevelopmentParams.from_dict(development)
    settings = AnalysisSettings.from_config(**(analysis or {}))
    rp = settings.ratemaps
    paths, _, ar = place_test_walks(arena, place_trajectories, seed)
    cells = PlaceCellParams(**place_cells)
    ck = io.open_dataset(checkpoints, required=("W_rec", "centres"))
    px, py = paths.positions[..., 0], paths.positions[..., 1]
    acts, errors = [], []
    for k in range(ck.sizes["checkpoint"]):
        w, centres = read_place_weights(checkpoints, checkpoint=k)
        u, decoded = place_network_activity(w, centres, paths, cells)
        errors.append(float(np.sqrt(np.mean(np.sum((decoded - paths.positions) ** 2, axis=-1)))))
        xs, ys, us = trial_samples(px, py, u, rp.skip_steps)
        acts.append(us)
    updates = ck["update"].values
    ds = development_dataset(acts, updates, xs, ys, ar, errors, settings, dp, seed)
    ds.attrs.update(io.run_attrs(arena=arena, place_cells=place_cells, place_rnn=place_rnn,
                                 place_trajectories=place_trajectories, development=development, **(analysis or {})))
    ds.attrs["readout"] = "place_cells"
    io.write_netcdf(ds, out)
    counts = ds["type_count"].sel(cell_type_label=["border", "band_like", "grid_like"]).values
    log.info("%s: border / band-like / grid-like units per checkpoint (Adam steps): %s",
             out, ", ".join(f"{int(u)}: {b}/{n}/{g}" for u, (b, n, g) in zip(updates, counts)))


# -- boundary interactions and the long path -----------------------------------------------------
def analyse_boundary(
    activity: str,
    weights: str,
    out: str,
    model: Mapping,
    arena: Mapping,
    trajectories: Mapping,
    boundary: Mapping | None = None,
    seed: int = 0,
) -> None:
    """Fig. 6 -> ``boundary.nc``: error against the time since the last boundary interaction,
    since the trial start and against the number of recent interactions (test trials of
    ``activity.nc``), and the error over one long path of ``boundary.long_path_factor`` x
    ``trajectories.n_steps`` steps in windows of ``boundary.window_steps`` against the best
    constant output. The long path comes from the stream ``"long_path"`` of the run's seed."""
    import xarray as xr

    from cw.analysis.boundary import BoundaryParams, boundary_dataset, long_path_dataset, simulate_long, \
        windowed_error
    from cw.network.model import ModelParams
    from cw.task.long_path import generate_long_trial
    from cw.task.trajectories import TrajectoryParams

    bp = BoundaryParams.from_dict(boundary)
    mp = ModelParams.from_dict(model)
    tp = TrajectoryParams.from_dict(trajectories)
    ar = run_arena(arena)
    act = io.open_dataset(activity, required=("x", "y", "output_x", "output_y", "boundary"))
    w = io.read_weights(weights)
    ds = boundary_dataset(act, bp)
    n_long = int(bp.long_path_factor) * int(tp.n_steps)
    t0 = time.perf_counter()
    trial = generate_long_trial(ar, dataclasses.replace(tp, n_steps=n_long), rng_for(seed, "long_path"))
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    yhat = simulate_long(w, trial.speed[0], trial.heading[0], mp, bp.chunk_steps)
    t_sim = time.perf_counter() - t0
    wd = windowed_error(yhat, trial.position[0], bp.window_steps)
    ds = xr.merge([ds, long_path_dataset(wd, bp, n_long, int(trial.boundary.sum()))],
                  combine_attrs="no_conflicts")
    ds.attrs.update(io.run_attrs(model=model, arena=arena, trajectories=trajectories,
                               boundary=boundary))
    ds.attrs.update({"seed": int(seed), "long_path_generate_s": t_gen, "long_path_simulate_s": t_sim})
    io.write_netcdf(ds, out)
    log.info("%s: long path of %d steps (generated in %.1f s, simulated in %.1f s): MSE %.4g m^2 "
             "vs best constant %.4g m^2", out, n_long, t_gen, t_sim, wd["mse"], wd["const_mse"])
