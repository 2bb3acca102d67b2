"""Training loop: minibatches from the trial pool, one optimiser update each, checkpoints, history.

Seeds: the run's integer seed drives independent streams (see :func:`rng_for`), so that the
trajectories, the initial weights, the minibatch draws and the noise are each reproducible on
their own.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
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
    """Optimisation settings.

    optimizer : "adam" or "hessian_free" (PAPER: Hessian-free).
    n_updates : number of parameter updates (OURS; the paper: "a few hundred" HF updates).
    batch_size : trials per minibatch, M (PAPER: 500).
    n_checkpoints : number of saved weight sets, log-spaced over training and always including the
        initial (update 0) and final weights (OURS: 8; Fig. 4 needs early/intermediate/late).
    log_every : write a line to the log every this many updates (OURS: 10).
    adam, hessian_free : settings of each optimiser (see :mod:`cw.optimizers`).
    """

    optimizer: str = "adam"
    n_updates: int = 2000
    batch_size: int = 500
    n_checkpoints: int = 8
    log_every: int = 10
    adam: dict = field(default_factory=dict)
    hessian_free: dict = field(default_factory=dict)

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
    """
    import tensorflow as tf

    from cw.objective import Objective, tensors_to_weights, weights_to_tensors
    from cw.optimizers import Batch, make_optimizer

    n_pool = pool_inputs.shape[0]
    m = training.batch_size
    if m > n_pool:
        raise ValueError(f"training.batch_size: {m} exceeds the training pool of {n_pool} trials")
    objective = Objective(model)
    optimizer = make_optimizer(training.optimizer, training.optimizer_settings, objective)
    batch_rng = rng_for(seed, "batches")
    noise_seed = int(np.random.SeedSequence([int(seed), STREAMS["noise"]]).generate_state(1)[0] >> 1)
    lambda_l2 = tf.constant(loss.lambda_l2, tf.float32)
    lambda_fr = tf.constant(loss.lambda_fr, tf.float32)

    w = weights_to_tensors(weights)
    saves = set(checkpoint_updates(training.n_updates, training.n_checkpoints))
    ckpt_updates, ckpts, history = [0], [tensors_to_weights(w)], []

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=training.n_updates, desc=label, unit="update", dynamic_ncols=True)
    t_start = time.perf_counter()
    for update in range(1, training.n_updates + 1):
        t0 = time.perf_counter()
        idx = np.sort(batch_rng.choice(n_pool, size=m, replace=False))
        inputs = tf.constant(pool_inputs[idx])
        batch = Batch(
            inputs=inputs,
            targets=tf.constant(pool_targets[idx]),
            noise=objective.noise((m, pool_inputs.shape[1]), (noise_seed, update)),
            lambda_l2=lambda_l2,
            lambda_fr=lambda_fr,
        )
        w, info = optimizer.step(w, batch)
        row = {"update": update, **info, "lambda_l2": loss.lambda_l2, "lambda_fr": loss.lambda_fr}
        row["seconds"] = time.perf_counter() - t0
        if not np.isfinite(row["loss"]):
            raise FloatingPointError(f"{label}: non-finite loss at update {update}")
        history.append(row)
        if on_update is not None:
            on_update(row)
        if update in saves:
            ckpt_updates.append(update)
            ckpts.append(tensors_to_weights(w))
        if bar is not None:
            bar.set_postfix(loss=f"{row['loss']:.4g}", error=f"{row['error']:.3g}", refresh=False)
            bar.update(1)
    if bar is not None:
        bar.close()
    log.info("%s: %d updates in %.1f s", label, training.n_updates, time.perf_counter() - t_start)
    return TrainResult(tensors_to_weights(w), ckpt_updates, ckpts, history)
