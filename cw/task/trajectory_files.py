"""Trajectories on file: the ``trajectories.nc`` dataset of a run, written and read back.

The dataset holds the train and test trials (positions, speeds, headings), the arena's corners
and the :class:`~cw.task.trajectories.TrajectoryParams` as attributes.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np
import xarray as xr

from cw.task.arenas import Arena
from cw.task.trajectories import _PARAM_ATTR_PREFIX, TrajectoryParams, Trials


def _param_attrs(params: TrajectoryParams) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(params):
        v = getattr(params, f.name)
        if f.name == "speed_max":
            v = params.speed_cap  # netCDF attributes cannot hold None: store the resolved cap
        out[_PARAM_ATTR_PREFIX + f.name] = v
    return out


def trials_dataset(
    trials: Trials,
    arena: Arena,
    params: TrajectoryParams,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """One CF-style dataset of the held-out test trials along ``trial`` (the training trials are
    drawn afresh for every update and never stored).

    Parameters
    ----------
    trials : Trials
        M trials of T steps.
    arena : Arena
        Arena the trials were generated in (stored as global attributes).
    params : TrajectoryParams
        Generator parameters (each field stored as global attribute ``trajectories_<field>``;
        ``speed_max`` is stored resolved, see :attr:`TrajectoryParams.speed_cap`).
    attrs : mapping, optional
        Extra global attributes (e.g. seed, git commit); must not clash with the above.

    Returns
    -------
    xarray.Dataset
        Dims ``trial`` (M) and ``time`` (T); coordinates ``trial`` (index), ``time`` (step
        index); variables ``speed``, ``heading``, ``x``, ``y`` (float32) and ``boundary``
        (int8 flag).
    """
    n_trials, n_steps = trials.n_trials, trials.n_steps
    pos = trials.position.astype(np.float32)
    dims = ("trial", "time")
    data_vars = {
        "speed": (dims, trials.speed.astype(np.float32),
                  {"long_name": "speed travelled on the step", "units": "m step-1"}),
        "heading": (dims, trials.heading.astype(np.float32),
                    {"long_name": "heading direction used on the step, counter-clockwise "
                                  "from the +x axis, in [0, 2 pi)", "units": "rad"}),
        "x": (dims, pos[..., 0],
              {"long_name": "x position after the step, relative to the arena centre",
               "units": "m"}),
        "y": (dims, pos[..., 1],
              {"long_name": "y position after the step, relative to the arena centre",
               "units": "m"}),
        "boundary": (dims, trials.boundary.astype(np.int8),
                     {"long_name": "heading re-sampled at a wall on this step "
                                   "(boundary interaction)",
                      "units": "1",
                      "flag_values": np.array([0, 1], dtype=np.int8),
                      "flag_meanings": "no_interaction boundary_interaction"}),
    }
    coords = {
        "trial": ("trial", np.arange(n_trials, dtype=np.int64),
                  {"long_name": "test trial index", "units": "1"}),
        "time": ("time", np.arange(n_steps, dtype=np.int64),
                 {"long_name": "integration step index (one step = tau / 10)",
                  "units": "step"}),
    }
    gattrs: dict[str, Any] = {
        "Conventions": "CF-1.8",
        "title": "Cueva & Wei (2018) path-integration test trajectories",
        "arena_name": arena.name,
        "arena_corners": arena.corners.reshape(-1).tolist(),
        "arena_corners_note": "flattened [x0, y0, x1, y1, ...] in m, counter-clockwise, "
                              "area centroid at the origin",
    }
    gattrs.update(_param_attrs(params))
    for k, v in dict(attrs or {}).items():
        if k in gattrs:
            raise ValueError(f"attrs.{k}: clashes with a reserved global attribute")
        gattrs[k] = v
    return xr.Dataset(data_vars=data_vars, coords=coords, attrs=gattrs)


def trials_from_dataset(ds: xr.Dataset) -> Trials:
    """The trials of a :func:`trials_dataset` back as :class:`Trials`."""
    pos = np.stack([ds["x"].values, ds["y"].values], axis=-1).astype(np.float32)
    return Trials(
        speed=ds["speed"].values.astype(np.float32),
        heading=ds["heading"].values.astype(np.float32),
        position=pos,
        boundary=ds["boundary"].values.astype(bool),
    )


def params_from_dataset(ds: xr.Dataset) -> TrajectoryParams:
    """Rebuild the :class:`TrajectoryParams` stored in a dataset's global attributes."""
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(TrajectoryParams):
        key = _PARAM_ATTR_PREFIX + f.name
        if key not in ds.attrs:
            raise ValueError(f"{key}: missing global attribute")
        v = ds.attrs[key]
        v = v.item() if isinstance(v, np.generic) else v
        if f.name == "generator":
            kwargs[f.name] = str(v)
        else:
            kwargs[f.name] = int(v) if f.name in ("n_steps", "wall_max_resamples", "wall_growth_every") else float(v)
    return TrajectoryParams(**kwargs)


def arena_from_dataset(ds: xr.Dataset) -> Arena:
    """Rebuild the :class:`~cw.task.arenas.Arena` stored in a dataset's global attributes."""
    corners = np.asarray(ds.attrs["arena_corners"], dtype=np.float64).reshape(-1, 2)
    return Arena(str(ds.attrs["arena_name"]), corners)
