"""Cost of drawing fresh training trials for every update, against the update itself.

Usage::

    python -m benchmarks.bench_trials                    # config.yaml's square run, 1 thread
    python -m benchmarks.bench_trials --run triangle --updates 3 --repeats 10

Measures, in one process and on one thread, the time :func:`cw.network.training.fresh_batches` takes to
draw one update's trials (``training.batch_size`` trials of ``trajectories.n_steps`` steps in the
run's arena, encoded as network inputs), the minimum over ``--repeats`` updates, and the time of
``--updates`` Hessian-free updates of the run's network on such batches (the first, which traces
the compiled functions, is left out), and prints their ratio.  The target is a ratio below 5 %.
Timings on a shared machine vary: check ``uptime`` and repeat.
"""

from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--run", default="square")
    ap.add_argument("--updates", type=int, default=3, help="Hessian-free updates timed (after one untimed)")
    ap.add_argument("--repeats", type=int, default=10, help="batches drawn")
    args = ap.parse_args(argv)

    from cw.runtime import configure_threads

    configure_threads(1)
    import numpy as np

    from cw.config import resolve_run
    from cw.steps.settings import load_config
    from cw.network.model import LossParams, ModelParams, init_weights
    from cw.network.training import TrainingParams, fresh_batches, train
    from cw.seeds import rng_for

    run = resolve_run(load_config(args.config), args.run)
    mp = ModelParams.from_dict(run["model"])
    tp = TrainingParams.from_dict({**run["training"], "n_updates": args.updates + 1, "optimizer": "hessian_free"})
    batches = fresh_batches(run["arena"], run["trajectories"], mp, tp.batch_size, run["seed"])
    draw = []
    for k in range(1, args.repeats + 1):
        t0 = time.perf_counter()
        batches(k)
        draw.append(time.perf_counter() - t0)
    res = train(init_weights(mp, rng_for(run["seed"], "init")), batches, mp, LossParams.from_dict(run["loss"]), tp,
                run["seed"], progress=False)
    upd = [r["seconds"] - r["batch_seconds"] for r in res.history[1:]]
    t_draw, t_upd = float(np.min(draw)), float(np.median(upd))
    print(f"run {args.run}: {tp.batch_size} trials x {run['trajectories']['n_steps']} steps, "
          f"{run['trajectories']['generator']} generator")
    print(f"fresh trials per update: {t_draw:.3f} s (min of {args.repeats})")
    print(f"Hessian-free update:     {t_upd:.2f} s (median of {len(upd)})")
    print(f"ratio: {100 * t_draw / t_upd:.1f} % of an update (target < 5 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
