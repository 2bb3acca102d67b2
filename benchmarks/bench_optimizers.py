"""Hessian-free against Adam on the same path-integration task, seed and machine.

Each optimiser trains the same initial network of a run of ``config.yaml`` (arena, trajectories,
model and starting penalty weights of that run) on the same fresh trials for every update, for
the same wall-clock budget; the error E (eq. 3) on a fixed held-out set of noise-free trials is
recorded against wall time and against updates. Writes ``<out>.csv`` and ``<out>.png``::

    python -m benchmarks.bench_optimizers --run square --minutes 10 --batch 500 --out results/benchmarks/hf_vs_adam

Defaults are the paper's sizes (N = 100, T = 500, M = 500) and the optimisers' config defaults;
``--adam-lr`` takes several learning rates. This is a measurement, not a test: machines are
shared and noisy, so the wall-time axis is indicative; the per-update axis is exact.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np


def _error(objective, weights, inputs, targets) -> float:
    """Noise-free mean squared error (eq. 3) of ``weights`` on held-out trials."""
    _, y = objective.outputs(weights, inputs)
    return float(np.mean((y - targets) ** 2))


def run(
    arena: str = "square",
    minutes: float = 10.0,
    batch: int = 500,
    steps: int = 500,
    units: int = 100,
    config: str = "config.yaml",
    adam_lrs: tuple[float, ...] = (1e-3, 3e-3),
    seed: int = 1,
    threads: int = 2,
    eval_every_s: float = 10.0,
    hf_variants: tuple[dict, ...] = ({},),
) -> list[dict]:
    from cw.runtime import configure_threads

    configure_threads(threads)
    import tensorflow as tf

    from cw.task.arenas import run_arena
    from cw.config import resolve_run
    from cw.steps.settings import load_config
    from cw.network.model import LossParams, ModelParams, encode_inputs, init_weights
    from cw.network.objective import Objective, weights_to_tensors
    from cw.network.optimizers import Batch, make_optimizer
    from cw.seeds import rng_for
    from cw.network.training import fresh_batches
    from cw.task.trajectories import TrajectoryParams, generate_trials

    spec = resolve_run(load_config(config), arena)
    traj = {**spec["trajectories"], "n_steps": steps}
    ar = run_arena(spec["arena"])
    test = generate_trials(ar, 200, TrajectoryParams.from_dict(traj), rng_for(seed, "test_trials"))
    mp = ModelParams.from_dict({**spec["model"], "n_units": units})
    lp = LossParams.from_dict(spec["loss"])
    batches = fresh_batches(spec["arena"], traj, mp, batch, seed)
    x_test = tf.constant(encode_inputs(test.speed, test.heading, mp))
    y_test = test.position.astype(np.float32)
    w0 = init_weights(mp, rng_for(seed, "init"))
    objective = Objective(mp)

    configs = [("hessian_free", dict(v)) for v in hf_variants]
    configs += [("adam", {"learning_rate": lr}) for lr in adam_lrs]
    rows: list[dict] = []
    for name, settings in configs:
        if name == "hessian_free":
            label = "HF " + " ".join(f"{k}={v:g}" for k, v in settings.items()) if settings else name
        else:
            label = f"adam lr={settings['learning_rate']:g}"
        opt = make_optimizer(name, settings, objective)
        w = weights_to_tensors(w0)
        elapsed, update, next_eval = 0.0, 0, 0.0
        rows.append({"optimizer": label, "update": 0, "seconds": 0.0, "test_error": _error(objective, w, x_test, y_test)})
        while elapsed < 60.0 * minutes:
            update += 1
            x_b, y_b = batches(update)
            t0 = time.perf_counter()
            b = Batch(
                tf.constant(x_b), tf.constant(y_b),
                objective.noise((batch, steps), (seed, update)),
                tf.constant(lp.lambda_l2, tf.float32), tf.constant(lp.lambda_fr, tf.float32),
            )
            w, info = opt.step(w, b)
            elapsed += time.perf_counter() - t0
            if elapsed >= next_eval or elapsed >= 60.0 * minutes:
                err = _error(objective, w, x_test, y_test)
                rows.append({"optimizer": label, "update": update, "seconds": elapsed, "test_error": err,
                             "batch_loss": info["loss"]})
                print(f"{label:>16}  update {update:5d}  {elapsed:7.1f} s  test error {err:.5f}", flush=True)
                next_eval = elapsed + eval_every_s
    return rows


def plot(rows: list[dict], out_png: str | Path) -> None:
    from cw.report import figures as fg

    plt = fg.plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for label in dict.fromkeys(r["optimizer"] for r in rows):
        rr = [r for r in rows if r["optimizer"] == label]
        for ax, key in zip(axes, ("seconds", "update")):
            ax.plot([r[key] for r in rr], [r["test_error"] for r in rr], marker=".", ms=3, lw=1, label=label)
    for ax, xl in zip(axes, ("wall time (s)", "updates")):
        ax.set_yscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel("held-out error E (m$^2$)")
    axes[1].set_xscale("symlog", linthresh=1)
    axes[1].set_xlim(left=0)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fg.save(fig, [str(out_png)], dpi=120)


def _parse_variant(text: str) -> dict:
    """``"curvature_fraction=0.25,max_cg_iters=30"`` -> ``{"curvature_fraction": 0.25, ...}``."""
    if text == "default":
        return {}
    out = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--hf: expected KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = int(value)
        except ValueError:
            out[key.strip()] = float(value)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", "--arena", dest="arena", default="square", help="a run of --config (its arena, trajectories, model, loss)")
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget per optimiser (min)")
    ap.add_argument("--batch", type=int, default=500, help="trials per minibatch M")
    ap.add_argument("--steps", type=int, default=500, help="steps per trial T")
    ap.add_argument("--units", type=int, default=100, help="recurrent units N")
    ap.add_argument("--adam-lr", type=float, nargs="*", default=[1e-3, 3e-3], help="Adam learning rates (none: no Adam)")
    ap.add_argument("--hf", action="append", default=None, metavar="KEY=VALUE[,KEY=VALUE]",
                    help="a Hessian-free variant (optimizer.hessian_free settings), repeatable; "
                         "'default' for the config defaults; none given: one default variant")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="results/benchmarks/hf_vs_adam", help="output path without suffix")
    a = ap.parse_args(argv)
    variants = tuple(_parse_variant(v) for v in (a.hf or ["default"]))
    rows = run(a.arena, a.minutes, a.batch, a.steps, a.units, a.config, tuple(a.adam_lr), a.seed, a.threads,
               hf_variants=variants)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    keys = ["optimizer", "update", "seconds", "test_error", "batch_loss"]
    with open(out.with_suffix(".csv"), "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=keys)
        wr.writeheader()
        wr.writerows(rows)
    plot(rows, out.with_suffix(".png"))
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
