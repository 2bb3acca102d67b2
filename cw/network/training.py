"""Training loop: fresh trials for every update, one optimiser update each, checkpoints, history.

Seeds: the run's integer seed drives independent streams (see :func:`rng_for`), so that the
trajectories, the initial weights and the noise are each reproducible on their own.  The
training trials of update k come from the stream ``train_trials`` and k alone
(:func:`update_rng`), so an interrupted training resumes with exactly the batches it would have
seen (PAPER and CODE: fresh trials for every minibatch, each used once).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from cw.network.model import LossParams, ModelParams
from cw.network.optimizers import OPTIMIZERS

log = logging.getLogger(__name__)

from cw.config import schema_default
from cw.network.state import LENGTH_KEYS, TrainingState, fingerprint
from cw.seeds import noise_seed, update_rng
from cw.validation import section_from_dict


@dataclass(frozen=True)
class TrainingParams:
    """Optimisation settings (config section ``training``).

    optimizer : "hessian_free" (PAPER) or "adam" (OURS, a first-order baseline).
    n_updates : number of parameter updates, each on fresh trials (CODE: 1900).
    batch_size : trials per minibatch, M (PAPER: 500).
    n_checkpoints : number of log-spaced saved weight sets, always including the initial
        (update 0) and final weights (OURS: 12; Fig. 4 needs early/intermediate/late).
    checkpoint_every : weights are also saved every this many updates, 0 = never (OURS: 100, so
        that the late checkpoints show when the maps stop changing).
    log_every : write a line to the log every this many updates (OURS: 10).
    state_every_minutes : wall-clock minutes between saves of the full training state, from
        which a killed training resumes exactly (OURS: 5; 0 saves after every update).
    adam, hessian_free : settings of each optimiser (:mod:`cw.network.optimizers.params`).
    adapt_penalties : settings of Cueva's adaptive penalty weights (:mod:`cw.network.penalties`).
    """

    optimizer: str = schema_default("training", "optimizer")
    n_updates: int = schema_default("training", "n_updates")
    batch_size: int = schema_default("training", "batch_size")
    n_checkpoints: int = schema_default("training", "n_checkpoints")
    checkpoint_every: int = schema_default("training", "checkpoint_every")
    log_every: int = schema_default("training", "log_every")
    state_every_minutes: float = schema_default("training", "state_every_minutes")
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
        if self.checkpoint_every < 0:
            raise ValueError(f"training.checkpoint_every: must be >= 0, got {self.checkpoint_every}")
        if self.state_every_minutes < 0:
            raise ValueError(f"training.state_every_minutes: must be >= 0, got {self.state_every_minutes}")
        # construct the nested settings so that their own checks run now
        from cw.network.optimizers.params import AdamParams, HessianFreeParams
        from cw.network.penalties import PenaltyAdaptParams

        AdamParams.from_dict(self.adam)
        HessianFreeParams.from_dict(self.hessian_free)
        PenaltyAdaptParams.from_dict(self.adapt_penalties)

    @classmethod
    def from_dict(cls, d: Mapping) -> "TrainingParams":
        return section_from_dict(cls, d, "training")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def optimizer_settings(self) -> dict:
        return dict(getattr(self, self.optimizer))


def checkpoint_updates(n_updates: int, n_checkpoints: int, every: int = 0) -> list[int]:
    """Updates after which weights are saved: 0, then log-spaced up to ``n_updates`` inclusive,
    plus every multiple of ``every`` (0: none).

    Fewer than ``n_checkpoints`` log-spaced ones are returned when ``n_updates`` is too small to
    space them.
    """
    inner = np.geomspace(1, n_updates, n_checkpoints - 1)
    regular = range(every, n_updates, every) if every > 0 else ()
    return sorted({0, *np.unique(np.round(inner).astype(int)).tolist(), *regular, n_updates})


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


def fresh_batches(arena: Mapping, trajectories: Mapping, model: ModelParams, batch_size: int, seed: int) -> "BatchSource":
    """``batches(k)``: the fresh training trials of update k as network inputs and targets.

    Parameters
    ----------
    arena : arena spec with its ``name`` (config ``arenas`` entry)
    trajectories : the run's ``trajectories`` section (``n_test`` ignored)
    model : network settings (input encoding)
    batch_size : trials per update, M
    seed : the run's seed; update k draws from :func:`update_rng` (seed, k)

    Returns
    -------
    callable k -> (inputs (M, T, N_in) float32, targets (M, T, 2) float32 in m)
    """
    from cw.task.arenas import run_arena
    from cw.network.model import encode_inputs
    from cw.task.trajectories import TrajectoryParams, generate_trials

    ar = run_arena(arena)
    params = TrajectoryParams.from_dict(trajectories)

    def batches(update: int):
        trials = generate_trials(ar, int(batch_size), params, update_rng(seed, update))
        return encode_inputs(trials.speed, trials.heading, model), trials.position.astype(np.float32)

    return batches


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a training; its full state was saved first (message says where)."""


@contextlib.contextmanager
def deferred_signals():
    """Within the block, SIGINT and SIGTERM only set a flag (read by the training loop), so that
    an update is never cut in half and the state is saved before exiting.  Outside the main
    thread (where handlers cannot be installed) the block does nothing."""
    flag = {"signal": None}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, _frame):
        flag["signal"] = signum

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


BatchSource = Callable[[int], "tuple[np.ndarray, np.ndarray]"]

def train(
    weights: Mapping[str, np.ndarray],
    batches: BatchSource,
    model: ModelParams,
    loss: LossParams,
    training: TrainingParams,
    seed: int,
    settings_hash: str = "",
    label: str = "train",
    progress: bool | str = True,
    on_update: Callable[[dict], None] | None = None,
    state_path: str | Path | None = None,
    extend_hash: str = "",
) -> TrainResult:
    """Train the CTRNN on fresh trials for every update.

    Parameters
    ----------
    weights : initial weights
    batches : ``batches(k)`` returns update k's trials (1-based): network inputs
        (M, T, N_in) float32 and target positions (M, T, N_out) float32 (m); it must depend on k
        alone (e.g. :func:`update_rng`), so that a resumed training sees the same trials
    model, loss, training : parameters
    seed : the run's seed (noise streams)
    settings_hash : identifies every setting that made the network (:func:`cw.network.state.settings_hash`);
        a saved state is only resumed by a training with the same hash and initial weights
    label : name shown on the progress line
    progress : show progress with an ETA on stderr: True for a tqdm bar on a terminal (plain
        lines otherwise), ``"lines"`` for a plain line every minute (several jobs on one
        terminal, as under Snakemake), False for none
    on_update : called with each history row (e.g. to log it)
    state_path : file of the full training state (:class:`cw.network.state.TrainingState`), saved
        every ``state_every_minutes``, at the end, and when SIGINT or SIGTERM arrives (then
        :class:`TrainingInterrupted` is raised); if it exists and matches these settings, training
        resumes from it and ends with the same weights as an uninterrupted run
    extend_hash : like ``settings_hash`` but blind to the training length
        (:data:`cw.network.state.LENGTH_KEYS`): a finished state whose extend hash matches is
        continued to a larger ``training.n_updates`` (a run of the study continued to 1,900
        updates) instead of restarted; derived from the parameters when empty
    """
    from cw.network.objective import tensors_to_weights, weights_to_tensors

    updates = _Updates(model, training, seed, label)
    keys = _state_keys(weights, model, loss, training, seed, settings_hash, extend_hash)
    state = TrainingState.resume(state_path, *keys, training.n_updates, label)
    if state is None:
        first = tensors_to_weights(weights_to_tensors(weights))
        state = TrainingState(*keys, update=0, n_updates=training.n_updates, weights=first, checkpoint_updates=[0],
                              checkpoints=[first], history=[],
                              scalars={"lambda_l2": float(loss.lambda_l2), "lambda_fr": float(loss.lambda_fr)})
    else:
        updates.optimizer.set_state(state.optimizer)
    w, lam = weights_to_tensors(state.weights), (float(state.scalars["lambda_l2"]), float(state.scalars["lambda_fr"]))
    saves = set(checkpoint_updates(training.n_updates, training.n_checkpoints, training.checkpoint_every))
    start = state.update + 1
    bar = progress_bar(training.n_updates, start - 1, label, lines=progress == "lines") if progress else None
    t_start = last_save = time.perf_counter()
    with deferred_signals() as stop:
        for update in range(start, training.n_updates + 1):
            w, lam, row = updates(w, lam, update, batches, state_path)
            state.history.append(row)
            if on_update is not None:
                on_update(row)
            if update in saves:
                state.checkpoint_updates.append(update)
                state.checkpoints.append(tensors_to_weights(w))
            interrupted = stop["signal"] is not None and update < training.n_updates
            due = time.perf_counter() - last_save >= 60.0 * training.state_every_minutes
            if state_path is not None and (due or update == training.n_updates or interrupted):
                state.update, state.n_updates, state.weights = update, training.n_updates, tensors_to_weights(w)
                state.optimizer = {k: np.asarray(v) for k, v in updates.optimizer.get_state().items()}
                state.scalars.update(lambda_l2=lam[0], lambda_fr=lam[1])
                state.save(state_path)
                last_save = time.perf_counter()
            if bar is not None:
                bar.show(update, row)
            if interrupted:
                if bar is not None:
                    bar.close()
                where = f"state saved in {state_path}; rerun the same command to resume" if state_path else "no state saved"
                raise TrainingInterrupted(f"{label}: interrupted after update {update} of {training.n_updates}; {where}")
    if bar is not None:
        bar.close()
    log.info("%s: updates %d-%d in %.1f s", label, start, training.n_updates, time.perf_counter() - t_start)
    return TrainResult(tensors_to_weights(w), state.checkpoint_updates, state.checkpoints, state.history)


def _state_keys(weights, model, loss, training, seed, settings_hash: str, extend_hash: str) -> tuple[str, str]:
    """(fingerprint, extend key) of a Hessian-free training's state: its settings and initial
    weights (:func:`cw.network.state.fingerprint`); without the hashes, the parameters stand in."""
    from cw.network.model import WEIGHT_NAMES

    w0 = [np.asarray(weights[k]) for k in WEIGHT_NAMES]
    blind = {k: v for k, v in training.to_dict().items() if k not in LENGTH_KEYS}
    return (fingerprint(settings_hash or [model.to_dict(), loss.to_dict(), training.to_dict(), int(seed)], *w0),
            fingerprint("extend", extend_hash or [model.to_dict(), loss.to_dict(), blind, int(seed)], *w0))


class _Updates:
    """One training update at a time: ``(weights, (lambda_L2, lambda_FR), k, batches)`` -> the new
    weights, the penalty weights for update k + 1 and update k's history row (on ``batches(k)``).

    The penalty weights move by the band rule after the update (``damping: tikhonov``), or by
    the band rule on the batch before CG and the optimiser's Levenberg-Marquardt factors after
    it (``damping: penalty_weights``, :func:`penalties_are_damping`).
    """

    def __init__(self, model: ModelParams, training: TrainingParams, seed: int, label: str):
        from cw.network.objective import Objective
        from cw.network.optimizers import make_optimizer
        from cw.network.penalties import PenaltyAdaptParams

        self.objective = Objective(model)
        self.optimizer = make_optimizer(training.optimizer, training.optimizer_settings, self.objective)
        self.adapt = PenaltyAdaptParams.from_dict(training.adapt_penalties)
        self.bands_first = penalties_are_damping(training)
        self.noise_key = noise_seed(seed)
        self.batch_size, self.label = training.batch_size, label

    def __call__(self, w, lam: tuple[float, float], update: int, batches: BatchSource, state_path=None):
        import tensorflow as tf

        from cw.network.optimizers import Batch
        from cw.network.penalties import adapt_penalty_weights

        t0 = time.perf_counter()
        inputs, targets = batches(update)
        t_batch = time.perf_counter() - t0
        if inputs.shape[0] != self.batch_size:
            raise ValueError(f"{self.label}: batch of update {update} has {inputs.shape[0]} trials, "
                             f"expected {self.batch_size}")
        lam_l2, lam_fr = lam
        noise = self.objective.noise((self.batch_size, inputs.shape[1]), (self.noise_key, update))
        if self.bands_first:  # the authors' order: the band rule on this batch, then CG with its weights
            t = self.objective.loss_terms(w, inputs, targets, noise, lam_l2, lam_fr)
            lam_l2, lam_fr = adapt_penalty_weights(float(t["error"]), float(t["r_l2"]), float(t["r_fr"]),
                                                   lam_l2, lam_fr, self.adapt)
        dt = self.objective.dtype
        batch = Batch(inputs=tf.constant(inputs), targets=tf.constant(targets), noise=noise,
                      lambda_l2=tf.constant(lam_l2, dt), lambda_fr=tf.constant(lam_fr, dt))
        w_new, info = self.optimizer.step(w, batch)
        row = {"update": update, **info, "lambda_l2": lam_l2, "lambda_fr": lam_fr}
        row["batch_seconds"] = t_batch
        row["seconds"] = time.perf_counter() - t0
        if not all(np.isfinite(float(v)) for k, v in row.items() if k.startswith("loss")) or not all(
            bool(tf.reduce_all(tf.math.is_finite(x))) for x in w_new
        ):
            kept = state_path is not None and Path(state_path).is_file()
            raise TrainingDiverged(f"{self.label}: non-finite loss or weights at update {update}"
                                   + (f"; last good state kept in {state_path}" if kept else ""))
        if self.bands_first:  # the optimiser's Levenberg-Marquardt rule moves the penalty weights
            lam_l2, lam_fr = lam_l2 * info["lambda_l2_factor"], lam_fr * info["lambda_fr_factor"]
            row["lambda_l2_next"], row["lambda_fr_next"] = lam_l2, lam_fr
        else:
            lam_l2, lam_fr = adapt_penalty_weights(row["error"], row["r_l2"], row["r_fr"], lam_l2, lam_fr, self.adapt)
        return w_new, (lam_l2, lam_fr), row


def penalties_are_damping(training: TrainingParams) -> bool:
    """True when the penalty weights are the Hessian-free damping (``training.hessian_free.damping:
    penalty_weights``): the band rule then runs before each update's CG and the optimiser's
    Levenberg-Marquardt rule sets the weights after it; otherwise the band rule runs after each
    update on that update's loss terms."""
    if training.optimizer != "hessian_free":
        return False
    from cw.network.optimizers.params import HessianFreeParams

    return HessianFreeParams.from_dict(training.hessian_free).damping == "penalty_weights"


class progress_bar:
    """One progress line per training: tqdm on a terminal (prefixed by the run name, 80 columns),
    else a plain line every ``PLAIN_EVERY_S`` seconds (several jobs sharing a log or terminal)."""

    PLAIN_EVERY_S = 60.0

    def __init__(self, total: int, initial: int, label: str, lines: bool = False):
        self.total, self.label = total, label
        self.t0 = time.perf_counter()
        self.initial = initial
        self.last = -1e9
        self.bar = None
        if sys.stderr.isatty() and not lines:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=label, unit="upd", ncols=80,
                            bar_format="{desc} {n_fmt}/{total_fmt} [{elapsed}<{remaining}] {postfix}")

    def show(self, update: int, row: dict) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"err {row['error']:.3g}", refresh=False)
            self.bar.update(1)
            return
        now = time.perf_counter()
        if now - self.last >= self.PLAIN_EVERY_S or update == self.total:
            done = update - self.initial
            rate = (now - self.t0) / max(done, 1)
            eta = rate * (self.total - update)
            print(f"{self.label}: update {update}/{self.total}, error {row['error']:.4g}, "
                  f"{rate:.1f} s/update, {eta / 60:.0f} min left", file=sys.stderr, flush=True)
            self.last = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
