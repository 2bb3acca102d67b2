"""Trained networks shipped with the repository: their folders, checksums and checks.

A network is identified by every setting that made it: the arena, the trajectory generator, the
model, the loss, the training and the seed (:func:`cw.network.state.training_settings`).  Their hash
(:func:`cw.network.state.settings_hash`) is written beside the network (``settings.json``) and checked before a
shipped network is analysed: a network trained with other settings is refused, so that results
are never attributed to a configuration that did not produce them.

Layout of a networks folder (config ``networks_dir``; ``networks/`` for config.yaml), one folder
per run::

    <networks_dir>/<run>/settings.json        the settings and their hash
    <networks_dir>/<run>/training_state.npz   full training state (resumable; final once done)
    <networks_dir>/<run>/weights.nc           final weights      } written when the training
    <networks_dir>/<run>/checkpoints.nc       checkpoints        } has reached its last update
    <networks_dir>/<run>/history.csv          one row per update }
    <networks_dir>/<run>/SHA256SUMS           sha256 of the four files above (sha256sum format)

The settings hash says which settings made a network, not that its files are intact: the
checksum manifest ``SHA256SUMS`` (:func:`write_checksums`, ``python -m cw.network.networks
--write-checksums <folder>``) records the content of each model file, and :func:`check_shipped`
refuses a shipped network whose file differs from it, with the command that restores the file
from git.  settings.json, and so its hash, stays as it is.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

from cw.atomic import write_text_atomic
from cw.io import CHECKSUM_FILE
from cw.network.state import STATE_FILE, StateFileError, TrainingState, settings_hash, training_settings

SETTINGS_FILE = "settings.json"
MODEL_FILES = ("weights.nc", "checkpoints.nc", "history.csv")
#: The files that the checksum manifest (:data:`cw.io.CHECKSUM_FILE`) covers when present.
CHECKSUMMED_FILES = MODEL_FILES + (STATE_FILE,)


class NetworkError(RuntimeError):
    """A shipped network is missing, unfinished or made by other settings (one-line message)."""


def write_settings(folder: str | Path, settings: Mapping[str, Any]) -> str:
    """Write ``settings.json`` (settings and hash) into ``folder``; returns the hash."""
    h = settings_hash(settings)
    write_text_atomic(Path(folder) / SETTINGS_FILE, json.dumps({"hash": h, "settings": settings}, indent=1, sort_keys=True) + "\n")
    return h


def check_shipped(folder: str | Path, run: Mapping[str, Any], train_command: str = "make train-networks") -> None:
    """Raise :class:`NetworkError` unless ``folder`` holds the finished network of ``run``.

    ``train_command`` is the command that trains or continues the run, named in the message
    (the workflow passes the Snakemake command of the same config files).
    """
    folder = Path(folder)
    name = run["name"]
    path = folder / SETTINGS_FILE
    if not path.is_file():
        raise NetworkError(f"{folder}: no shipped network for run '{name}' (no {SETTINGS_FILE}); train it with {train_command}")
    try:
        stored = json.loads(path.read_text())["hash"]
    except (ValueError, KeyError) as exc:
        from cw.io import is_shipped

        fix = (f"restore it with git checkout -- {path}" if is_shipped(path)
               else "delete the folder and train the run again")
        raise NetworkError(f"{path}: unreadable ({exc}); {fix}") from None
    want = settings_hash(training_settings(run))
    if stored != want:
        raise NetworkError(
            f"{folder}: shipped network of run '{name}' was trained with other settings (hash {stored}, config {want}); "
            f"restore the settings or delete the folder and train it again with {train_command}"
        )
    missing = [f for f in MODEL_FILES if not (folder / f).is_file()]
    if missing:
        done = progress(folder)
        where = f" (update {done[0]} of {done[1]} in {STATE_FILE})" if done else ""
        raise NetworkError(
            f"{folder}: training of run '{name}' not finished{where}; continue it with {train_command}"
        )
    check_checksums(folder)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_checksums(folder: str | Path) -> Path:
    """Write ``<folder>/SHA256SUMS``: the SHA-256 of each model file of :data:`CHECKSUMMED_FILES`
    present (``sha256sum -c SHA256SUMS`` checks it too); returns its path.  Run it on a shipped
    network when its files are final, and commit the manifest with them."""
    folder = Path(folder)
    present = [f for f in CHECKSUMMED_FILES if (folder / f).is_file()]
    if not present:
        raise NetworkError(f"{folder}: no model file ({', '.join(CHECKSUMMED_FILES)}) to record")
    out = folder / CHECKSUM_FILE
    write_text_atomic(out, "".join(f"{file_sha256(folder / f)}  {f}\n" for f in present))
    return out


def read_checksums(folder: str | Path) -> dict[str, str] | None:
    """File name -> recorded SHA-256 from ``<folder>/SHA256SUMS``; None without a manifest."""
    path = Path(folder) / CHECKSUM_FILE
    if not path.is_file():
        return None
    out = {}
    for k, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split(maxsplit=1)
        if not line.strip():
            continue
        if len(parts) != 2 or len(parts[0]) != 64:
            raise NetworkError(f"{path}:{k}: not a '<sha256>  <file>' line; restore it with git checkout -- {path}")
        out[parts[1].strip().lstrip("*")] = parts[0].lower()
    return out


def check_checksums(folder: str | Path) -> None:
    """Raise :class:`NetworkError` (one line) when a file listed in ``<folder>/SHA256SUMS`` is
    missing or its content differs from the recorded SHA-256; a folder without a manifest is not
    checked (networks shipped before the manifests)."""
    folder = Path(folder)
    recorded = read_checksums(folder)
    for name, digest in (recorded or {}).items():
        path = folder / name
        if not path.is_file():
            raise NetworkError(f"{path}: missing (listed in {folder / CHECKSUM_FILE}); "
                               f"restore the shipped file with git checkout -- {path}")
        if file_sha256(path) != digest:
            raise NetworkError(
                f"{path}: content differs from its checksum in {folder / CHECKSUM_FILE} (damaged or replaced); "
                f"restore the shipped file with git checkout -- {path} (or, after retraining it on purpose, "
                f"record the new files with python -m cw.network.networks --write-checksums {folder})"
            )


def state_meta(folder: str | Path) -> dict | None:
    """The non-array part of a folder's training state (update, n_updates, history, ...), read
    without loading the weights; None without a state."""
    path = Path(folder) / STATE_FILE
    try:
        return TrainingState.read_meta(path)
    except StateFileError as exc:
        from cw.io import repair_advice

        raise NetworkError(f"{exc}; {repair_advice(path)}") from None


def progress(folder: str | Path) -> tuple[int, int] | None:
    """(updates done, updates planned) from a folder's training state, or None without one."""
    meta = state_meta(folder)
    return None if meta is None else (int(meta["update"]), int(meta.get("n_updates", -1)))


def snapshot(folder: str | Path, out: str | Path) -> int:
    """Write the network of an unfinished training as a finished one: ``out`` gets the folder's
    settings.json and, from its training state, weights.nc (the weights after the last saved
    update), checkpoints.nc (the checkpoints so far) and history.csv, so that the analysis can
    run on it in ``shipped`` mode (``networks_dir=<parent of out>``).  Returns the update."""
    import shutil

    from cw import io

    folder, out = Path(folder), Path(out)
    state = TrainingState.load(folder / STATE_FILE)
    if state is None:
        raise NetworkError(f"{folder}: no {STATE_FILE} to take a snapshot of")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(folder / SETTINGS_FILE, out / SETTINGS_FILE)
    attrs = {"snapshot_of": str(folder), "snapshot_update": state.update}
    updates, ckpts = list(state.checkpoint_updates), list(state.checkpoints)
    if updates[-1] != state.update:  # the current weights as the last checkpoint
        updates.append(state.update)
        ckpts.append(state.weights)
    io.write_csv(state.history, out / "history.csv")
    if "centres" in state.arrays:  # a place-cell read-out network (cw.network.place_training)
        from cw.network.place_training import place_weights_dataset

        centres = state.arrays["centres"]
        io.write_netcdf(place_weights_dataset(None, centres, attrs, updates, ckpts), out / "checkpoints.nc")
        io.write_netcdf(place_weights_dataset(state.weights, centres, attrs), out / "weights.nc")
    else:
        io.write_netcdf(io.checkpoints_dataset(updates, ckpts, attrs), out / "checkpoints.nc")
        io.write_netcdf(io.weights_dataset(state.weights, attrs), out / "weights.nc")
    return state.update


def main(argv: list[str] | None = None) -> int:
    """``python -m cw.network.networks [DIR]``: one line per shipped network: run, updates, last error.
    ``python -m cw.network.networks --snapshot OUT DIR``: every unfinished network of DIR written to
    OUT/<run>/ as if finished (:func:`snapshot`), to analyse a training in progress.
    ``python -m cw.network.networks --write-checksums FOLDER [FOLDER ...]``: write each network
    folder's SHA256SUMS (:func:`write_checksums`)."""
    import argparse
    import numpy as np

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("dir", nargs="?", default="networks")
    ap.add_argument("--snapshot", metavar="OUT", help="write unfinished networks to OUT/<run>/")
    ap.add_argument("--write-checksums", nargs="+", metavar="FOLDER",
                    help="write SHA256SUMS of the model files of each network folder")
    args = ap.parse_args(argv)
    if args.write_checksums:
        for f in args.write_checksums:
            try:
                print(write_checksums(f))
            except NetworkError as exc:
                print(f"network error: {exc}")
                return 1
        return 0
    root = Path(args.dir)
    if args.snapshot:
        for f in sorted(p.parent for p in root.glob(f"*/{STATE_FILE}")):
            print(f"{Path(args.snapshot) / f.name}: update {snapshot(f, Path(args.snapshot) / f.name)}")
        return 0
    folders = sorted(p.parent for p in root.rglob(SETTINGS_FILE))
    if not folders:
        print(f"{root}: no networks")
        return 1
    for f in folders:
        meta = state_meta(f) or {}
        hist = meta.get("history", [])
        finished = all((f / m).is_file() for m in MODEL_FILES)
        upd, err = "no state", ""
        if meta:
            upd = f"update {meta['update']} of {meta.get('n_updates', -1)}"
        if hist and "error_m" in hist[-1]:  # a place-cell read-out network: no per-update seconds
            err = f", decoding error {hist[-1]['error_m']:.3f} m"
        elif hist:
            err = f", error {hist[-1]['error']:.4g}"
            per = float(np.median([h["seconds"] for h in hist[-50:]]))
            if not finished and meta:
                err += f", {per:.1f} s/update lately, ~{per * (meta['n_updates'] - meta['update']) / 3600:.1f} h to go"
        print(f"{f}: {'finished' if finished else 'in progress'}, {upd}{err}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
