"""Training of the place-cell read-out network (:mod:`cw.network.place_rnn`) with Adam.

SORSCHER (``trainer.py`` and ``main.py`` of ganguli-lab/grid-pattern-formation, re-implemented):
every step draws a fresh batch of walks (:mod:`cw.task.sorscher_trajectories`), computes the
place-cell targets along them (:mod:`cw.task.place_cells`) and takes one Adam step on the
cross-entropy loss plus weight decay.  The walks of step k come from the ``train_trials`` stream
and k alone (:func:`cw.seeds.update_rng`), so a stopped training resumes with exactly the batches
it would have seen; the full state (weights, Adam moments, history, checkpoints) is saved every
few minutes and on SIGINT/SIGTERM (:class:`cw.network.state.TrainingState`).

All arithmetic is float32 (as SORSCHER's TensorFlow code).
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from cw.config import schema_default
from cw.network.place_rnn import PLACE_WEIGHT_NAMES, PlaceRNNParams, init_place_weights
from cw.seeds import rng_for, update_rng
from cw.task.place_cells import PlaceCellParams, sample_centres
from cw.task.sorscher_trajectories import SorscherTrajectoryParams, generate_paths

log = logging.getLogger(__name__)

__all__ = ["PlaceTrainingParams", "PlaceTrainingResult", "PlaceBatches", "train_place",
           "place_checkpoint_steps"]


@dataclass(frozen=True)
class PlaceTrainingParams:
    """Settings of the Adam training (config section ``place_training``).

    Parameters
    ----------
    n_steps : int, default 100000
        Adam steps, each on a fresh batch (SORSCHER: ``n_epochs = 100`` x ``n_steps = 1000``,
        ``main.py``).
    batch_size : int, default 200
        Walks per step (SORSCHER: ``options.batch_size = 200``).
    learning_rate : float, default 1e-4
        Adam step size (SORSCHER: ``options.learning_rate = 1e-4``).
    beta1, beta2, epsilon : float, defaults 0.9, 0.999, 1e-8
        Adam's moment decays and denominator offset (SORSCHER: the defaults of
        ``torch.optim.Adam`` in ``trainer.py``; its earlier TensorFlow code had Keras' 1e-7).
    checkpoint_every : int, default 5000
        Steps between saved weight sets (OURS), besides step 0 and the last step.
    log_every : int, default 100
        Steps per row of the history (mean loss and decoding error over those steps) (OURS).
    state_every_minutes : float, default 5
        Wall-clock minutes between saves of the resumable state (OURS).
    """

    n_steps: int = schema_default("place_training", "n_steps")
    batch_size: int = schema_default("place_training", "batch_size")
    learning_rate: float = schema_default("place_training", "learning_rate")
    beta1: float = schema_default("place_training", "beta1")
    beta2: float = schema_default("place_training", "beta2")
    epsilon: float = schema_default("place_training", "epsilon")
    checkpoint_every: int = schema_default("place_training", "checkpoint_every")
    log_every: int = schema_default("place_training", "log_every")
    state_every_minutes: float = schema_default("place_training", "state_every_minutes")

    def __post_init__(self) -> None:
        for f in ("n_steps", "batch_size", "checkpoint_every", "log_every"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"place_training.{f}: must be an integer >= 1, got {v!r}")
        for f, lo, hi in (("learning_rate", 0, math.inf), ("beta1", 0, 1), ("beta2", 0, 1),
                          ("epsilon", 0, math.inf), ("state_every_minutes", 0, math.inf)):
            v = getattr(self, f)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and lo <= v < hi) \
                    or (v == 0 and f in ("learning_rate", "epsilon")):
                raise ValueError(f"place_training.{f}: must be a finite number in [{lo}, {hi}), got {v!r}")

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any] | None) -> "PlaceTrainingParams":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg or {}) - names)
        if unknown:
            raise ValueError(f"place_training.{unknown[0]}: unknown key")
        return cls(**dict(cfg or {}))


def place_checkpoint_steps(n_steps: int, every: int) -> list[int]:
    """Steps whose weights are saved: 0, every ``every`` steps, and ``n_steps``.

    >>> place_checkpoint_steps(12, 5)
    [0, 5, 10, 12]
    """
    return sorted(set(range(0, n_steps + 1, every)) | {0, n_steps})


class PlaceBatches:
    """``batches(k)``: the walks and targets of step k (float32 arrays).

    Parameters
    ----------
    arena : Arena
    centres : (Np, 2) place-cell centres, m
    trajectories : SorscherTrajectoryParams
    batch_size : int
    seed : int, the run's seed (step k draws from :func:`cw.seeds.update_rng` (seed, k))

    Returns of a call
    -----------------
    velocity (B, T, 2) m/step, start (B, 2) m, positions (B, T, 2) m
    """

    def __init__(self, arena, trajectories: SorscherTrajectoryParams, batch_size: int, seed: int):
        self.arena, self.params, self.batch_size, self.seed = arena, trajectories, int(batch_size), int(seed)

    def __call__(self, step: int):
        p = generate_paths(self.arena, self.batch_size, self.params, update_rng(self.seed, step))
        f = lambda a: a.astype(np.float32)  # noqa: E731
        return f(p.velocity), f(p.start), f(p.positions)


@dataclass
class PlaceTrainingResult:
    """Final weights (dict of float32 arrays), the centres (Np, 2), the checkpoint steps and their
    weights, and the history rows (dicts: step, loss, error_m)."""

    weights: dict
    centres: np.ndarray
    checkpoint_steps: list
    checkpoints: list
    history: list


class _StepFunction:
    """One compiled Adam step of the place network, targets computed in the graph."""

    def __init__(self, rnn: PlaceRNNParams, cells: PlaceCellParams, tp: PlaceTrainingParams,
                 centres: np.ndarray):
        import tensorflow as tf

        from cw.network.place_rnn import PlaceObjective

        self.tf = tf
        self.objective = PlaceObjective(rnn, tf.float32)
        self.centres = tf.constant(centres, tf.float32)
        self.cells, self.tp = cells, tp
        # XLA fuses the elementwise work of the step: 1.7x faster on a CPU core than the plain graph
        self._step = tf.function(self._adam_step, reduce_retracing=True, jit_compile=True)

    def _adam_step(self, w, m, v, t, velocity, start, positions):
        tf = self.tf
        ob = self.objective
        p0 = ob.targets(start, self.centres, self.cells)
        targets = ob.targets(positions, self.centres, self.cells)
        with tf.GradientTape() as tape:
            weights = [x.read_value() for x in w]
            tape.watch(weights)
            _, logits = ob._forward(weights, velocity, p0)
            ce = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=logits))
            loss = ce + tf.cast(ob.params.weight_decay, tf.float32) * tf.reduce_sum(tf.square(weights[2]))
        grads = tape.gradient(loss, weights)
        tp = self.tp
        t.assign_add(1.0)
        c1 = 1.0 - tf.pow(tf.constant(tp.beta1, tf.float32), t)
        c2 = 1.0 - tf.pow(tf.constant(tp.beta2, tf.float32), t)
        for wi, mi, vi, g in zip(w, m, v, grads):
            mi.assign(tp.beta1 * mi + (1.0 - tp.beta1) * g)
            vi.assign(tp.beta2 * vi + (1.0 - tp.beta2) * tf.square(g))
            wi.assign_sub(tp.learning_rate * (mi / c1) / (tf.sqrt(vi / c2) + tp.epsilon))
        err = ob.decoding_error(logits, positions, self.centres, self.cells.decode_k)
        return loss, err

    def __call__(self, w, m, v, t, batch):
        loss, err = self._step(w, m, v, t, *[self.tf.convert_to_tensor(a) for a in batch])
        return float(loss), float(err)


def train_place(
    arena,
    cells: PlaceCellParams,
    rnn: PlaceRNNParams,
    trajectories: SorscherTrajectoryParams,
    training: PlaceTrainingParams,
    seed: int,
    state_path: str | Path | None = None,
    fingerprint: str = "",
    extend_key: str = "",
    label: str = "place",
    on_row: Callable[[dict], None] | None = None,
) -> PlaceTrainingResult:
    """Train the place network for ``training.n_steps`` Adam steps (module docstring).

    Parameters
    ----------
    arena : Arena
    cells, rnn, trajectories, training : the run's settings
    seed : int
        Seeds the centres (stream ``place_centres``), the initial weights (``init``) and the walks
        of every step (``train_trials``, step k).
    state_path : path of the resumable state (``.npz``); None keeps no state
    fingerprint : hash of every setting; a state with another fingerprint is continued if it has
        the same ``extend_key`` (all settings but :data:`cw.network.state.PLACE_LENGTH_KEYS`) and
        at most ``n_steps`` steps, and otherwise ignored (:meth:`cw.network.state.TrainingState.resume`)
    label : name shown in progress lines
    on_row : called with every history row

    Returns
    -------
    PlaceTrainingResult

    Raises
    ------
    cw.network.training.TrainingInterrupted
        On SIGINT/SIGTERM, after the state was saved.
    """
    import tensorflow as tf

    from cw.network.state import TrainingState
    from cw.network.training import TrainingInterrupted, deferred_signals

    tp = training
    centres = sample_centres(arena, cells.n_cells, rng_for(seed, "place_centres"))
    w0 = init_place_weights(rnn, cells.n_cells, rng_for(seed, "init"), np.float32)
    start_step, history, ck_steps, ck_weights = 0, [], [], []
    moments = None
    state = TrainingState.resume(state_path, fingerprint, extend_key, tp.n_steps, label, "place_training.n_steps")
    if state is not None:
        stored = state.arrays["centres"]
        if not np.array_equal(stored, centres.astype(stored.dtype)):
            raise RuntimeError(f"{state_path}: its place-cell centres differ from this run's; delete it to restart")
        start_step, w0, history = state.update, state.weights, state.history
        moments = ({k: state.optimizer[f"m_{k}"] for k in PLACE_WEIGHT_NAMES},
                   {k: state.optimizer[f"v_{k}"] for k in PLACE_WEIGHT_NAMES})
        ck_steps, ck_weights = state.checkpoint_updates, state.checkpoints

    w = [tf.Variable(w0[k], dtype=tf.float32) for k in PLACE_WEIGHT_NAMES]
    m = [tf.Variable(moments[0][k] if moments else np.zeros_like(w0[k]), dtype=tf.float32) for k in PLACE_WEIGHT_NAMES]
    v = [tf.Variable(moments[1][k] if moments else np.zeros_like(w0[k]), dtype=tf.float32) for k in PLACE_WEIGHT_NAMES]
    t = tf.Variable(float(start_step), dtype=tf.float32)
    step_fn = _StepFunction(rnn, cells, tp, centres)
    batches = PlaceBatches(arena, trajectories, tp.batch_size, seed)
    wanted = set(place_checkpoint_steps(tp.n_steps, tp.checkpoint_every))

    def current() -> dict:
        return {k: x.numpy().copy() for k, x in zip(PLACE_WEIGHT_NAMES, w)}

    def save(step: int) -> None:
        if not state_path:
            return
        optimizer = {f"{which}_{k}": x.numpy() for which, xs in (("m", m), ("v", v)) for k, x in zip(PLACE_WEIGHT_NAMES, xs)}
        TrainingState(fingerprint, extend_key, update=step, n_updates=tp.n_steps, weights=current(),
                      checkpoint_updates=ck_steps, checkpoints=ck_weights, history=history, optimizer=optimizer,
                      arrays={"centres": centres}).save(state_path)

    if start_step == 0 and 0 not in ck_steps:
        ck_steps.append(0)
        ck_weights.append(current())
    t0 = last_save = last_line = time.monotonic()
    acc_loss = acc_err = 0.0
    acc_n = 0
    with deferred_signals() as stop:
        step = start_step
        while step < tp.n_steps:
            loss, err = step_fn(w, m, v, t, batches(step + 1))
            if not math.isfinite(loss):
                save(step)
                raise FloatingPointError(f"{label}: loss became {loss} at step {step + 1}; state of step {step} kept")
            step += 1
            acc_loss, acc_err, acc_n = acc_loss + loss, acc_err + err, acc_n + 1
            if step % tp.log_every == 0 or step == tp.n_steps:
                row = {"step": step, "loss": acc_loss / acc_n, "error_m": acc_err / acc_n}
                history.append(row)
                acc_loss = acc_err = 0.0
                acc_n = 0
                if on_row:
                    on_row(row)
            if step in wanted and step not in ck_steps:
                ck_steps.append(step)
                ck_weights.append(current())
            now = time.monotonic()
            if now - last_line >= 60 or step == tp.n_steps:
                rate = (now - t0) / max(step - start_step, 1)
                last_err = history[-1]["error_m"] if history else err
                print(f"{label}: step {step}/{tp.n_steps}, decoding error {last_err:.3f} m, "
                      f"{rate * 1e3:.0f} ms/step, {rate * (tp.n_steps - step) / 60:.0f} min left",
                      file=sys.stderr, flush=True)
                last_line = now
            if now - last_save >= 60 * tp.state_every_minutes:
                save(step)
                last_save = now
            if stop["signal"] is not None and step < tp.n_steps:
                save(step)
                raise TrainingInterrupted(f"{label}: stopped at step {step}; state saved to {state_path}")
    save(step)
    order = np.argsort(ck_steps)
    return PlaceTrainingResult(current(), centres, [ck_steps[i] for i in order],
                               [ck_weights[i] for i in order], history)


# -- files ---------------------------------------------------------------------------------------
#: Dims of each weight in weights.nc / checkpoints.nc of a place network.
PLACE_WEIGHT_DIMS = {"W_enc": ("place_cell", "unit"), "W_in": ("velocity_component", "unit"),
                     "W_rec": ("unit_from", "unit"), "W_dec": ("unit_from", "place_cell")}
_LONG_NAMES = {"W_enc": "encoding of the start position's place-cell activity into the initial state",
               "W_in": "input weights of the Cartesian velocity",
               "W_rec": "recurrent weights (row: presynaptic unit)",
               "W_dec": "read-out weights into the place-cell logits"}


def place_weights_dataset(weights: Mapping[str, np.ndarray], centres: np.ndarray, attrs: Mapping | None = None,
                          steps: list[int] | None = None, checkpoints: list[Mapping] | None = None):
    """The weights and the place-cell centres as an xarray Dataset; with ``steps`` and
    ``checkpoints``, the weights of every checkpoint stacked along dim ``checkpoint`` instead.

    Returns
    -------
    xarray.Dataset: ``W_enc`` (place_cell, unit), ``W_in`` (velocity_component, unit), ``W_rec``
    (unit_from, unit), ``W_dec`` (unit_from, place_cell), ``centres`` (place_cell, coord) in m;
    checkpoints add the leading dim ``checkpoint`` and the coordinate ``update`` (Adam steps).
    """
    import xarray as xr

    data = {}
    for k in PLACE_WEIGHT_NAMES:
        if checkpoints is None:
            data[k] = (PLACE_WEIGHT_DIMS[k], np.asarray(weights[k]), {"long_name": _LONG_NAMES[k], "units": "1"})
        else:
            data[k] = (("checkpoint",) + PLACE_WEIGHT_DIMS[k], np.stack([np.asarray(c[k]) for c in checkpoints]),
                       {"long_name": _LONG_NAMES[k], "units": "1"})
    data["centres"] = (("place_cell", "coord"), np.asarray(centres, np.float64),
                       {"long_name": "place-cell centre", "units": "m"})
    coords = {"coord": ("coord", ["x", "y"])}
    if checkpoints is not None:
        coords["update"] = ("checkpoint", np.asarray(steps, np.int64),
                            {"long_name": "Adam steps completed when the weights were saved", "units": "1"})
    return xr.Dataset(data, coords=coords, attrs=dict(attrs or {}))


def read_place_weights(path, checkpoint: int | None = None) -> tuple[dict, np.ndarray]:
    """(weights as float32 arrays, centres (Np, 2)) of a place network's weights.nc, or of one
    checkpoint of its checkpoints.nc."""
    from cw import io

    ds = io.open_dataset(path, required=PLACE_WEIGHT_NAMES + ("centres",))
    sel = ds if checkpoint is None else ds.isel(checkpoint=checkpoint)
    return ({k: sel[k].values.astype(np.float32) for k in PLACE_WEIGHT_NAMES},
            ds["centres"].values.astype(np.float64))
