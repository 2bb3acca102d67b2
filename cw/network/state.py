"""The state of a training: what identifies it and the file from which it resumes.

This module owns three things that the trainers (:mod:`cw.network.training`,
:mod:`cw.network.place_training`), the shipped networks (:mod:`cw.network.networks`) and the
pipeline share:

* **which settings make a network** (:func:`training_settings`) and the lists of settings that do
  not (:data:`NON_NUMERICAL_TRAINING_KEYS`, :data:`LENGTH_KEYS`, :data:`PLACE_LENGTH_KEYS`, the
  test-only trajectory keys);
* **the hashes** that identify a training: :func:`settings_hash` of those settings (written beside
  a network in ``settings.json``), :func:`extend_hash` (the same without the training length, so
  that a finished training is continued to more updates) and :func:`fingerprint`, which a
  trainer combines with them into the keys of its state file;
* **the state file** ``training_state.npz`` (:class:`TrainingState`): weights, optimiser state,
  penalty weights, history and checkpoints, from which a stopped training resumes exactly.

Layout of the state file (``numpy.savez``): one array per weight ``w_<name>``, per checkpoint and
weight ``ckpt<i>_<name>``, per optimiser array ``opt_<name>``, any further array under its own
name (``centres``), and ``__meta__``, the UTF-8 JSON of everything else (``fingerprint``,
``extend_key``, ``update``, ``n_updates``, ``history``, ``checkpoint_updates`` and the scalars,
e.g. ``lambda_l2``).  Files of place-cell networks written before this layout (Adam moments as
``m_<name>``/``v_<name>``, ``checkpoint_steps``) are read too.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from cw.atomic import atomic_path
from cw.task import sorscher_trajectories, trajectories

log = logging.getLogger(__name__)

__all__ = [
    "STATE_FILE", "NON_NUMERICAL_TRAINING_KEYS", "LENGTH_KEYS", "PLACE_LENGTH_KEYS",
    "TEST_ONLY_TRAJECTORY_KEYS", "PLACE_TEST_ONLY_KEYS", "NEUTRAL_DEFAULTS",
    "training_settings", "settings_hash", "extend_hash", "fingerprint", "TrainingState", "StateFileError",
]

#: Name of the state file in a network's folder.
STATE_FILE = "training_state.npz"

#: Keys of ``training`` (and ``place_training``) that change neither the weights nor the length
#: of a training: how often it logs and saves its state.  Left out of :func:`settings_hash`.
NON_NUMERICAL_TRAINING_KEYS = ("log_every", "state_every_minutes")

#: Keys of ``training`` that set how long a training runs and what it saves, not what an update
#: computes: left out of :func:`extend_hash`, so that a state differing only in these continues.
LENGTH_KEYS = ("n_updates", "n_checkpoints", "checkpoint_every") + NON_NUMERICAL_TRAINING_KEYS

#: The same for ``place_training``.
PLACE_LENGTH_KEYS = ("n_steps", "checkpoint_every") + NON_NUMERICAL_TRAINING_KEYS

#: Keys of ``trajectories`` and ``place_trajectories`` that concern the test set only (owned by
#: the trajectory modules).
TEST_ONLY_TRAJECTORY_KEYS = trajectories.TEST_ONLY_KEYS
PLACE_TEST_ONLY_KEYS = sorscher_trajectories.TEST_ONLY_KEYS

#: Settings added after networks were shipped, with the value that reproduces the behaviour from
#: before the key existed: a key at this value is left out of the hash, so that adding an option
#: never invalidates a shipped network or a committed training state.  ((section, key): value)
NEUTRAL_DEFAULTS: dict[tuple[str, str], Any] = {
    ("model", "nonlinearity"): "tanh",
    ("training", "hessian_free.cg_stop_after_rises"): 0,
    ("training", "hessian_free.damping"): "tikhonov",
    ("training", "hessian_free.lm_weights"): "l2_fr",
}


class StateFileError(RuntimeError):
    """A training state file cannot be read (the message names the file)."""


# -- what identifies a training ------------------------------------------------------------------
def training_settings(run: Mapping[str, Any]) -> dict:
    """The settings of a resolved run (:func:`cw.config.resolve_run`) that determine its weights."""
    if run.get("readout", "position") == "place_cells":
        return copy.deepcopy({
            "readout": "place_cells",
            "arena": dict(run["arena"]),
            "seed": int(run["seed"]),
            "place_cells": dict(run["place_cells"]),
            "place_rnn": dict(run["place_rnn"]),
            "place_trajectories": {k: v for k, v in run["place_trajectories"].items()
                                   if k not in PLACE_TEST_ONLY_KEYS},
            "place_training": {k: v for k, v in run["place_training"].items()
                               if k not in NON_NUMERICAL_TRAINING_KEYS},
        })
    out = copy.deepcopy({  # nested sections are changed below; the run's own stay as they are
        "arena": dict(run["arena"]),
        "seed": int(run["seed"]),
        "trajectories": {k: v for k, v in run["trajectories"].items() if k not in TEST_ONLY_TRAJECTORY_KEYS},
        "model": dict(run["model"]),
        "loss": dict(run["loss"]),
        "training": {k: v for k, v in run["training"].items() if k not in NON_NUMERICAL_TRAINING_KEYS},
    })
    for (section, key), neutral in NEUTRAL_DEFAULTS.items():
        *parents, last = key.split(".")  # "a.b": key b of the dict a of the section
        where = out.get(section)
        for p in parents:
            where = where.get(p) if isinstance(where, dict) else None
        if isinstance(where, dict) and last in where and where[last] == neutral:
            del where[last]
    return out


def settings_hash(settings: Mapping[str, Any]) -> str:
    """SHA-256 (first 16 hex digits) of the settings as canonical JSON (sorted keys; numbers as
    Python writes them, so 1 and 1.0 differ: the config loader keeps the schema's types)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def extend_hash(settings: Mapping[str, Any]) -> str:
    """:func:`settings_hash` without the training length (:data:`LENGTH_KEYS`,
    :data:`PLACE_LENGTH_KEYS`): equal for a run and the same run trained for longer."""
    blind = dict(settings)
    if "place_training" in settings:
        blind["place_training"] = {k: v for k, v in settings["place_training"].items()
                                   if k not in PLACE_LENGTH_KEYS}
    else:
        blind["training"] = {k: v for k, v in settings["training"].items() if k not in LENGTH_KEYS}
    return settings_hash(blind)


def fingerprint(*parts: Any) -> str:
    """Short hash (16 hex digits) of JSON-able parts and arrays (their bytes), in order.

    The Hessian-free trainer keys its state with ``fingerprint(settings_hash, *initial weights)``
    and ``fingerprint("extend", extend_hash, *initial weights)``; the place-cell trainer, whose
    initial weights follow from the seed in its settings, with the two hashes themselves.
    """
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


# -- the state file ------------------------------------------------------------------------------
_CKPT = re.compile(r"ckpt(\d+)_(.+)")


@dataclass
class TrainingState:
    """Everything a training needs to go on from where it stopped.

    Attributes
    ----------
    fingerprint, extend_key : str
        The training's keys (:func:`fingerprint`): a state is resumed by the training with the same
        fingerprint, and continued by one with the same extend key and more updates.
    update : int
        Updates (or Adam steps) done.
    n_updates : int
        Updates planned when it was saved.
    weights : dict name -> array
        The weights after ``update``.
    checkpoint_updates : list of int
        Updates of the saved weight sets, in the order of ``checkpoints``.
    checkpoints : list of dict name -> array
    history : list of dict
        The trainer's history rows so far.
    optimizer : dict name -> array
        The optimiser's own state (Hessian-free: the CG start and lambda; Adam: its moments).
    scalars : dict name -> float
        Further numbers (the penalty weights ``lambda_l2``, ``lambda_fr``).
    arrays : dict name -> array
        Further arrays (a place-cell network's ``centres``).
    """

    fingerprint: str
    extend_key: str
    update: int
    n_updates: int
    weights: dict
    checkpoint_updates: list
    checkpoints: list
    history: list
    optimizer: dict = field(default_factory=dict)
    scalars: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        """Write the state to ``path`` whole or not at all (:func:`cw.atomic.atomic_path`)."""
        meta = {"fingerprint": self.fingerprint, "extend_key": self.extend_key, "update": int(self.update),
                "n_updates": int(self.n_updates), "history": self.history,
                "checkpoint_updates": [int(u) for u in self.checkpoint_updates], **self.scalars}
        arrays = {f"w_{k}": np.asarray(v) for k, v in self.weights.items()}
        for i, ck in enumerate(self.checkpoints):
            arrays.update({f"ckpt{i}_{k}": np.asarray(v) for k, v in ck.items()})
        arrays.update({f"opt_{k}": np.asarray(v) for k, v in self.optimizer.items()})
        arrays.update({k: np.asarray(v) for k, v in self.arrays.items()})
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "TrainingState | None":
        """The state in ``path``, or None if there is none; a damaged file is a
        :class:`StateFileError` naming it."""
        path = Path(path)
        if not path.is_file():
            return None
        try:
            with np.load(path) as z:
                meta = json.loads(z["__meta__"].tobytes().decode())
                stored = {k: z[k] for k in z.files if k != "__meta__"}
        except Exception as exc:  # a cut or foreign file: zipfile, numpy and json each have their errors
            raise StateFileError(f"{path}: cannot read training state ({type(exc).__name__}: {exc}); "
                                 "delete it to restart") from None
        weights, optimizer, arrays, ckpts = {}, {}, {}, {}
        for k, v in stored.items():
            if m := _CKPT.fullmatch(k):
                ckpts.setdefault(int(m[1]), {})[m[2]] = v
            elif k.startswith("w_"):
                weights[k[2:]] = v
            elif k.startswith("opt_"):
                optimizer[k[4:]] = v
            elif k[:2] in ("m_", "v_"):  # the Adam moments of a place-cell state of the first layout
                optimizer[k] = v
            else:
                arrays[k] = v
        updates = meta.pop("checkpoint_updates", None)
        if updates is None:  # the first layout of the place-cell states
            updates = meta.pop("checkpoint_steps", [])
        meta.pop("step", None)
        return cls(fingerprint=meta.pop("fingerprint", ""), extend_key=meta.pop("extend_key", ""),
                   update=int(meta.pop("update")), n_updates=int(meta.pop("n_updates", -1)),
                   weights=weights, checkpoint_updates=[int(u) for u in updates],
                   checkpoints=[ckpts[i] for i in sorted(ckpts)], history=list(meta.pop("history", [])),
                   optimizer=optimizer, arrays=arrays, scalars=meta)

    @staticmethod
    def read_meta(path: str | Path) -> dict | None:
        """The JSON part of a state file (update, n_updates, history, ...), read without loading
        the arrays; None without a file; a damaged file is a :class:`StateFileError`."""
        path = Path(path)
        if not path.is_file():
            return None
        try:
            with np.load(path) as z:
                return json.loads(z["__meta__"].tobytes().decode())
        except Exception as exc:
            raise StateFileError(f"{path}: cannot read training state ({type(exc).__name__}: {exc})") from None

    @classmethod
    def resume(cls, path: str | Path | None, fingerprint: str, extend_key: str, n_updates: int,
               label: str = "train", length_key: str = "training.n_updates") -> "TrainingState | None":
        """The state to go on from, or None to start afresh.

        A state with this ``fingerprint`` is resumed; one with another fingerprint but this
        ``extend_key`` (the same run, planned for fewer or more updates) is continued to
        ``n_updates``; a state of other settings is ignored (a warning; it is overwritten by the
        first save).

        Raises
        ------
        ValueError
            The state has done more than ``n_updates`` (the message names ``length_key``).
        StateFileError
            The file cannot be read.
        """
        state = cls.load(path) if path is not None else None
        if state is None:
            return None
        if state.fingerprint != fingerprint:
            if state.extend_key != extend_key:
                log.warning("%s: %s belongs to other settings; starting afresh", label, path)
                return None
            log.info("%s: continuing the training in %s from update %d to %d", label, path, state.update, n_updates)
        if state.update > n_updates:
            raise ValueError(f"{label}: {path} holds update {state.update} of the same run, beyond {length_key} = "
                             f"{n_updates}; raise {length_key} or move the state aside")
        log.info("%s: resuming from %s after update %d", label, path, state.update)
        return state
