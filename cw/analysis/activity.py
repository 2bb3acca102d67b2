"""Activity of a trained network on held-out test trials, as an xarray Dataset."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import xarray as xr

from cw.network.model import ModelParams, encode_inputs


def network_runner(model: ModelParams, batch_size: int = 500):
    """A function ``run(weights, speed, heading) -> (u, y)``: noise-free runs of the network.

    The Euler update of eq. 1-2 in float32 numpy (:func:`cw.network.model.simulate_numpy`, the
    reference the TensorFlow training path is tested against): no TensorFlow import, which
    costs an analysis job more than the simulation itself. The rates equal those of the
    training path's forward pass to float32 round-off (4e-6 on a trained quick network,
    500 trials x 500 steps;
    ``tests/test_model.py::test_analysis_runner_equals_the_training_forward_pass``).

    Parameters
    ----------
    model : architecture (alpha, input encoding, non-linearity)
    batch_size : trials simulated at once (memory bound only)

    The returned function takes weights (WEIGHT_NAMES mapping), speed and heading ((M, T) arrays,
    m/step and rad) and returns u ((M, T, N) float32 firing rates) and y ((M, T, N_out) float32
    network output, m).
    """
    from cw.network.model import WEIGHT_NAMES, simulate_numpy

    alpha = np.float32(model.alpha)

    def run(weights: Mapping[str, np.ndarray], speed: np.ndarray, heading: np.ndarray):
        w = {k: np.asarray(weights[k], dtype=np.float32) for k in WEIGHT_NAMES}
        inputs = encode_inputs(speed, heading, model).astype(np.float32)
        us, ys = [], []
        for start in range(0, inputs.shape[0], batch_size):
            u, y = simulate_numpy(w, inputs[start : start + batch_size], alpha,
                                  nonlinearity=model.nonlinearity)
            us.append(u)
            ys.append(y)
        return np.concatenate(us).astype(np.float32), np.concatenate(ys).astype(np.float32)

    return run


def run_network(
    weights: Mapping[str, np.ndarray],
    speed: np.ndarray,
    heading: np.ndarray,
    model: ModelParams,
    batch_size: int = 500,
) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free run of the network on trials: (u (M, T, N), y (M, T, N_out)); see :func:`network_runner`."""
    return network_runner(model, batch_size)(weights, speed, heading)


def activity_dataset(
    u: np.ndarray,
    y: np.ndarray,
    test: xr.Dataset,
    attrs: Mapping | None = None,
) -> xr.Dataset:
    """Dataset with dims (trial, time, unit): rates, true and decoded position, inputs, boundary flag.

    Parameters
    ----------
    u : (M, T, N) firing rates; y : (M, T, 2) network output
    test : the test trials (variables speed, heading, x, y, boundary on dims trial, time)
    attrs : global attributes (run parameters, provenance)
    """
    m, t, n = u.shape
    coords = {
        "trial": ("trial", np.arange(m), {"long_name": "test trial index"}),
        "time": ("time", np.arange(t), {"long_name": "time step (tau / 10 each)", "units": "step"}),
        "unit": ("unit", np.arange(n), {"long_name": "recurrent unit index"}),
    }

    def var(dims, data, long_name, units):
        return (dims, data, {"long_name": long_name, "units": units})

    tt = ("trial", "time")
    data = {
        "u": var(tt + ("unit",), u, "firing rate u = tanh(x) of each unit", "1"),
        "x": var(tt, test["x"].values, "true x position", "m"),
        "y": var(tt, test["y"].values, "true y position", "m"),
        "output_x": var(tt, y[..., 0], "network estimate of x position", "m"),
        "output_y": var(tt, y[..., 1], "network estimate of y position", "m"),
        "speed": var(tt, test["speed"].values, "speed input (before scaling)", "m step-1"),
        "heading": var(tt, test["heading"].values, "heading direction input", "rad"),
        "boundary": var(tt, test["boundary"].values.astype(np.int8), "boundary interaction (heading re-sampled at a wall)", "1"),
    }
    ds = xr.Dataset(data, coords=coords, attrs=dict(attrs or {}))
    ds["boundary"].attrs.update(flag_values=np.array([0, 1], np.int8), flag_meanings="none wall_resample")
    return ds


def position_error(ds: xr.Dataset) -> float:
    """Root-mean-square distance (m) between network output and true position over all samples."""
    d2 = (ds["output_x"] - ds["x"]) ** 2 + (ds["output_y"] - ds["y"]) ** 2
    return float(np.sqrt(d2.mean()))


# -- the place-cell read-out network --------------------------------------------------------------
def place_network_activity(weights: Mapping[str, np.ndarray], centres: np.ndarray, paths, cells,
                           batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Rates and decoded positions of a place-cell read-out network along walks.

    Parameters
    ----------
    weights : :data:`cw.network.place_rnn.PLACE_WEIGHT_NAMES` mapping; centres : (Np, 2) m
    paths : :class:`cw.task.sorscher_trajectories.Paths` (M walks of T steps)
    cells : PlaceCellParams
    batch_size : walks run at once (memory bound only)

    Returns
    -------
    u : (M, T, Ng) float32 ReLU rates after each step
    decoded : (M, T, 2) float32 position decoded from the place-cell read-out (mean centre of the
        ``cells.decode_k`` most active cells), m
    """
    from cw.network.place_rnn import PLACE_WEIGHT_NAMES, place_forward_numpy
    from cw.task.place_cells import decode_position, place_cell_activity

    # float32 numpy (the reference the TensorFlow training path is tested against): no
    # TensorFlow import in an analysis job
    w = {k: np.asarray(weights[k], dtype=np.float32) for k in PLACE_WEIGHT_NAMES}
    us, ds = [], []
    for s in range(0, paths.velocity.shape[0], batch_size):
        p0 = place_cell_activity(paths.start[s:s + batch_size], centres, cells).astype(np.float32)
        u, logits = place_forward_numpy(w, paths.velocity[s:s + batch_size].astype(np.float32), p0)
        us.append(u.astype(np.float32))
        ds.append(decode_position(logits, centres, cells.decode_k).astype(np.float32))
    return np.concatenate(us), np.concatenate(ds)


def walks_dataset(paths, dt: float) -> xr.Dataset:
    """The test walks of a place-cell run in the variables :func:`activity_dataset` takes
    (``x``, ``y``, ``speed`` m/step, ``heading`` rad, ``boundary`` = the wall rule acted)."""
    tt = ("trial", "time")
    return xr.Dataset({
        "x": (tt, paths.positions[..., 0]), "y": (tt, paths.positions[..., 1]),
        "speed": (tt, np.linalg.norm(paths.velocity, axis=-1)), "heading": (tt, paths.heading),
        "boundary": (tt, paths.near_wall),
    }, attrs={"dt_s": float(dt)})
