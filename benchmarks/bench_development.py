"""Development analysis, per-checkpoint path against the batched one: ``python -m benchmarks.bench_development``.

The per-checkpoint path (the earlier code) runs :func:`cw.analysis.units.analyse_units` on each
checkpoint alone, so the scores of its own maps, lattice fits included, are computed once per
checkpoint and the search grids of the lattice fits are rebuilt every time.  The batched path
(:func:`cw.analysis.development.development_dataset`) scores every checkpoint's maps in one call
and shares the spatial binning.  Both give the same numbers (``tests/test_development.py``); this
prints the seconds of each path and of their stages, and the ratio.

The activity is that of randomly initialised networks (one seed per checkpoint; numpy
simulation) on trajectories of the project's generator, with the sizes of a paper-scale run
unless reduced by the options.  Only prints numbers (no assertions); pin the threads with
``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS``.

Usage::

    python -m benchmarks.bench_development                       # 4 checkpoints, 100 units, 20 shuffles
    python -m benchmarks.bench_development --checkpoints 30 --shuffles 100   # a paper-scale job
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", type=int, default=4)
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--shuffles", type=int, default=20)
    ap.add_argument("--trials", type=int, default=500)
    ap.add_argument("--steps", type=int, default=500)
    a = ap.parse_args(argv)

    from benchmarks.bench_analysis import _activity
    from cw.analysis.development import DevelopmentParams, development_dataset
    from cw.analysis.units import AnalysisSettings, analyse_units
    from cw.analysis.scores import ScoreParams, score_maps
    from cw.analysis.shuffles import ShiftedRatemaps, ShuffleParams

    acts = []
    for k in range(a.checkpoints):
        arena, x, y, u = _activity(a.trials, a.steps, a.units, seed=k)
        acts.append(u)
    # every checkpoint on the same samples: the first seed's trajectories
    arena, x, y, _ = _activity(a.trials, a.steps, 1, seed=0)
    shp = ShuffleParams(n_shuffles=a.shuffles)
    sp = ScoreParams()
    settings = AnalysisSettings(scores=sp, shuffles=shp)
    print(f"{a.checkpoints} checkpoints x {a.units} units x {a.shuffles} shuffles, {x.size} samples")

    t0 = time.perf_counter()
    t_obs = 0.0
    for k, act in enumerate(acts):
        b = ShiftedRatemaps(x, y, act, arena, 0.1)
        t1 = time.perf_counter()
        score_maps(b.maps(0), b.x_centres, b.y_centres, arena, sp.grid, sp.border, sp.band, sp.geometry,
                   b.occupancy, b.variance, bin_size=b.step)
        t_obs += time.perf_counter() - t1
    t0 = time.perf_counter()
    for k, act in enumerate(acts):
        analyse_units(x, y, act, arena, settings,
                      np.random.default_rng(np.random.SeedSequence([0, 102, k])), keep_null=False)
    t_old = time.perf_counter() - t0
    t0 = time.perf_counter()
    development_dataset(acts, list(range(a.checkpoints)), x, y, arena, settings=settings,
                        params=DevelopmentParams(max_samples=2000), seed=0)
    t_new = time.perf_counter() - t0
    print(f"per-checkpoint path: {t_old:.1f} s (scoring each checkpoint's own maps alone, timed "
          f"separately: {t_obs:.1f} s, {t_obs / a.checkpoints:.1f} s per checkpoint)")
    print(f"batched path (development_dataset, t-SNE on 2,000 samples included): {t_new:.1f} s")
    print(f"ratio per-checkpoint / batched: {t_old / t_new:.2f}")


if __name__ == "__main__":
    main()
