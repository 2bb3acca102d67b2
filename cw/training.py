"""Training loop: minibatches from the trial pool, one optimiser update each, checkpoints, history.

Seeds: the run's integer seed drives independent streams (see :func:`rng_for`), so that the
trajectories, the initial weights, the minibatch draws and the noise are each reproducible on
their own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from cw.model import LossParams, ModelParams
from cw.optimizers import OPTIMIZERS

log = logging.getLogger(__name__)

#: Independent random streams derived from a run's seed.
STREAMS = {"train_trials": 0, "test_trials": 1, "init": 2, "batches": 3, "noise": 4}


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """Generator for one named stream of a run (see :data:`STREAMS`)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), STREAMS[stream]]))


@dataclass(frozen=True)
class TrainingParams:
    """Optimisation settings (config section ``training``).

    optimizer : "hessian_free" (PAPER) or "adam" (OURS, a first-order baseline).
    n_updates : number of parameter updates (OURS; the paper: "a few hundred" HF updates).
    batch_size : trials per minibatch, M (PAPER: 500).
    n_checkpoints : number of saved weight sets, log-spaced over training and always including the
        initial (update 0) and final weights (OURS: 12; Fig. 4 needs early/intermediate/late, and
        the late ones show whether the maps have settled).
    log_every : write a line to the log every this many updates (OURS: 10).
    state_every_minutes : wall-clock minutes between saves of the full training state, from
        which a killed training resumes exactly (OURS: 5; 0 saves after every update).
    adam, hessian_free : settings of each optimiser (:mod:`cw.optimizers.params`).
    adapt_penalties : settings of Cueva's adaptive penalty weights (:mod:`cw.penalties`).
    """

    optimizer: str = "hessian_free"
    n_updates: int = 300
    batch_size: int = 500
    n_checkpoints: int = 12
    log_every: int = 10
    state_every_minutes: float = 5.0
    adam: dict = field(default_factory=dict)
    hessian_free: dict = field(default_factory=dict)
    adapt_penalties: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"training.optimizer: unknown optimiser '{self.optimizer}' (expected {', '.join(OPTIMIZERS)})"
            )
        for key in ("n_updates", "batch_size", "log_every"):
            if getattr(self, key) < 1:
                raise ValueError(f"training.{key}: must be >= 1, got {getattr(self, key)}")
        if self.n_checkpoints < 2:
            raise ValueError(f"training.n_checkpoints: must be >= 2, got {self.n_checkpoints}")
        if self.state_every_minutes < 0:
            raise ValueError(f"training.state_every_minutes: must be >= 0, got {self.state_every_minutes}")
        # construct the nested settings so that their own checks run now
        from cw.optimizers.params import AdamParams, HessianFreeParams
        from cw.penalties import PenaltyAdaptParams

        AdamParams.from_dict(self.adam)
        HessianFreeParams.from_dict(self.hessian_free)
        PenaltyAdaptParams.from_dict(self.adapt_penalties)

    @classmethod
    def from_dict(cls, d: Mapping) -> "TrainingParams":
        return cls(**dict(d))

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def optimizer_settings(self) -> dict:
        return dict(getattr(self, self.optimizer))


def checkpoint_updates(n_updates: int, n_checkpoints: int) -> list[int]:
    """Updates after which weights are saved: 0, then log-spaced up to ``n_updates`` inclusive.

    Fewer than ``n_checkpoints`` are returned when ``n_updates`` is too small to space them.
    """
    inner = np.geomspace(1, n_updates, n_checkpoints - 1)
    return sorted({0, *np.unique(np.round(inner).astype(int)).tolist(), n_updates})


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    weights : final weights (numpy arrays, WEIGHT_NAMES keys)
    checkpoint_updates : updates at which ``checkpoints`` were taken
    checkpoints : weights at those updates
    history : one dict per update (update index, loss terms, optimiser diagnostics, seconds)
    """

    weights: dict
    checkpoint_updates: list[int]
    checkpoints: list[dict]
    history: list[dict]


class TrainingDiverged(FloatingPointError):
    """The loss became non-finite; the message names the run and the update."""


#: Loss-term columns shown on the progress bar, per optimiser (besides loss and error).
PROGRESS_KEYS = {"hessian_free": ("damping", "cg_iters", "rho", "step_size"), "adam": ("grad_norm",)}


def _fingerprint(*parts) -> str:
    """Short hash identifying a training set-up, so a saved state is only resumed by its own run."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def save_state(path: str | Path, state: dict) -> None:
    """Write a training state atomically (``.npz``: arrays plus one JSON blob)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    meta = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "wb") as fh:
        np.savez(fh, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_state(path: str | Path) -> dict | None:
    """A state written by :func:`save_state`, or None if there is none; a damaged file is an error."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            state = {k: z[k] for k in z.files if k != "__meta__"}
            state.update(json.loads(z["__meta__"].tobytes().decode()))
    except Exception as exc:
        raise RuntimeError(f"{path}: cannot read training state ({type(exc).__name__}: {exc}); delete it to restart") from None
    return state


def train(
    weights: Mapping[str, np.ndarray],
    pool_inputs: np.ndarray,
    pool_targets: np.ndarray,
    model: ModelParams,
    loss: LossParams,
    training: TrainingParams,
    seed: int,
    label: str = "train",
    progress: bool = True,
    on_update: Callable[[dict], None] | None = None,
    state_path: str | Path | None = None,
) -> TrainResult:
    """Train the CTRNN on minibatches drawn from a pool of trials.

    Parameters
    ----------
    weights : initial weights
    pool_inputs : (P, T, N_in) float32 network inputs of the training pool
    pool_targets : (P, T, N_out) float32 target positions (m)
    model, loss, training : parameters
    seed : the run's seed (minibatch draws and noise streams)
    label : name shown on the progress bar
    progress : show a progress bar with an ETA on stderr
    on_update : called with each history row (e.g. to log it)
    state_path : file for the full training state (weights, optimiser state, penalty weights,
        minibatch generator, history, checkpoints), saved every ``state_every_minutes`` and at
        the end; if it exists and matches these settings, training resumes from it and ends with
        the same weights as an uninterrupted run
    """
    import tensorflow as tf

    from cw.model import WEIGHT_NAMES
    from cw.objective import Objective, tensors_to_weights, weights_to_tensors
    from cw.optimizers import Batch, make_optimizer
    from cw.penalties import PenaltyAdaptParams, adapt_penalty_weights

    n_pool, n_steps = pool_inputs.shape[:2]
    m = training.batch_size
    if m > n_pool:
        raise ValueError(f"training.batch_size: {m} exceeds the training pool of {n_pool} trials")
    objective = Objective(model)
    optimizer = make_optimizer(training.optimizer, training.optimizer_settings, objective)
    adapt = PenaltyAdaptParams.from_dict(training.adapt_penalties)
    batch_rng = rng_for(seed, "batches")
    noise_seed = int(np.random.SeedSequence([int(seed), STREAMS["noise"]]).generate_state(1)[0] >> 1)
    lam_l2, lam_fr = float(loss.lambda_l2), float(loss.lambda_fr)

    w = weights_to_tensors(weights)
    saves = set(checkpoint_updates(training.n_updates, training.n_checkpoints))
    ckpt_updates, ckpts, history = [0], [tensors_to_weights(w)], []
    start = 1

    fingerprint = _fingerprint(
        model.to_dict(), loss.to_dict(), training.to_dict(), int(seed),
        *[np.asarray(weights[k]) for k in WEIGHT_NAMES], pool_inputs[:, :8], pool_targets[:, -8:],
    )
    if state_path is not None:
        state = load_state(state_path)
        if state is not None and state.get("fingerprint") != fingerprint:
            log.warning("%s: %s belongs to other settings; starting afresh", label, state_path)
            state = None
        if state is not None:
            start = int(state["update"]) + 1
            w = weights_to_tensors({k: state[f"w_{k}"] for k in WEIGHT_NAMES})
            optimizer.set_state({k[4:]: v for k, v in state.items() if k.startswith("opt_")})
            batch_rng.bit_generator.state = state["batch_rng"]
            lam_l2, lam_fr = float(state["lambda_l2"]), float(state["lambda_fr"])
            history = state["history"]
            ckpt_updates = list(state["checkpoint_updates"])
            ckpts = [{k: state[f"ckpt{i}_{k}"] for k in WEIGHT_NAMES} for i in range(len(ckpt_updates))]
            log.info("%s: resuming from %s after update %d", label, state_path, start - 1)

    def snapshot(update: int) -> None:
        state = {
            "fingerprint": fingerprint, "update": update, "batch_rng": batch_rng.bit_generator.state,
            "lambda_l2": lam_l2, "lambda_fr": lam_fr, "history": history, "checkpoint_updates": ckpt_updates,
        }
        state.update({f"w_{k}": v for k, v in tensors_to_weights(w).items()})
        state.update({f"opt_{k}": np.asarray(v) for k, v in optimizer.get_state().items()})
        for i, c in enumerate(ckpts):
            state.update({f"ckpt{i}_{k}": c[k] for k in WEIGHT_NAMES})
        save_state(state_path, state)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=training.n_updates, initial=start - 1, desc=label, unit="update", dynamic_ncols=True)
    t_start = last_save = time.perf_counter()
    for update in range(start, training.n_updates + 1):
        t0 = time.perf_counter()
        idx = np.sort(batch_rng.choice(n_pool, size=m, replace=False))
        batch = Batch(
            inputs=tf.constant(pool_inputs[idx]),
            targets=tf.constant(pool_targets[idx]),
            noise=objective.noise((m, n_steps), (noise_seed, update)),
            lambda_l2=tf.constant(lam_l2, objective.dtype),
            lambda_fr=tf.constant(lam_fr, objective.dtype),
        )
        w_new, info = optimizer.step(w, batch)
        row = {"update": update, **info, "lambda_l2": lam_l2, "lambda_fr": lam_fr}
        row["seconds"] = time.perf_counter() - t0
        if not all(np.isfinite(float(v)) for k, v in row.items() if k.startswith("loss")) or not all(
            bool(tf.reduce_all(tf.math.is_finite(t))) for t in w_new
        ):
            raise TrainingDiverged(
                f"{label}: non-finite loss or weights at update {update}"
                + (f"; last good state kept in {state_path}" if state_path is not None and Path(state_path).is_file() else "")
            )
        w = w_new
        lam_l2, lam_fr = adapt_penalty_weights(row["error"], row["r_l2"], row["r_fr"], lam_l2, lam_fr, adapt)
        history.append(row)
        if on_update is not None:
            on_update(row)
        if update in saves:
            ckpt_updates.append(update)
            ckpts.append(tensors_to_weights(w))
        if state_path is not None and (
            time.perf_counter() - last_save >= 60.0 * training.state_every_minutes or update == training.n_updates
        ):
            snapshot(update)
            last_save = time.perf_counter()
        if bar is not None:
            extra = {k: f"{row[k]:.3g}" for k in PROGRESS_KEYS.get(training.optimizer, ()) if k in row}
            bar.set_postfix(loss=f"{row['loss']:.4g}", error=f"{row['error']:.3g}", **extra, refresh=False)
            bar.update(1)
    if bar is not None:
        bar.close()
    log.info("%s: updates %d-%d in %.1f s", label, start, training.n_updates, time.perf_counter() - t_start)
    return TrainResult(tensors_to_weights(w), ckpt_updates, ckpts, history)
