"""Per-stage cost of scoring rate maps, and its ratio to another checkout: ``python -m benchmarks.bench_scores``.

Workload: the maps of a development or scores job at paper scale per batch: 100 units of
smooth random activity (plane waves plus noise) along 200 test trials of 500 steps of the
project's trajectory generator in the 2 m square (100,000 samples), binned at 0.1 m, observed and
8 time-shifted copies (the shuffles). Stages: binning of a shifted
map, the autocorrelogram (SAC), the rotations and annulus correlations of the grid score, the
band score, the border score, and the lattice and field fits of the observed maps.

Times are CPU seconds of this process per map (``time.process_time``, robust to other jobs on
the machine, one BLAS thread), the best of ``--repeat`` runs. With ``--reference DIR`` (a
checkout of an earlier commit, e.g. ``git worktree add /tmp/ref <commit>``) the same workload
runs under that code in a subprocess, alternating with this one, and the ratio old / new is
printed per stage. Prints numbers only (no assertions).

Usage::

    python -m benchmarks.bench_scores
    git worktree add /tmp/ref 132c755 && python -m benchmarks.bench_scores --reference /tmp/ref
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def measure(repeat: int) -> dict[str, float]:
    """CPU seconds per map of every stage (best of ``repeat``) under the importable ``cw``."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from cw.analysis.lattice import field_fit, lattice_fit
    from cw.analysis.scores import ScoreParams
    from cw.analysis.scores.band import band_scores
    from cw.analysis.scores.border import border_scores
    from cw.analysis.scores import autocorrelogram
    try:
        from cw.analysis.scores.grid import grid_scores_from_sac
    except ImportError:  # a reference checkout from before the name was public
        from cw.analysis.scores.grid import _grid_scores_from_sac as grid_scores_from_sac
    from cw.analysis.shuffles import ShiftedRatemaps
    from cw.task.arenas import make_arena

    from cw.task.trajectories import TrajectoryParams, generate_trials

    arena = make_arena("square", {"shape": "square", "side": 2.0})
    rng = np.random.default_rng(0)
    U = 100
    pos = generate_trials(arena, 200, TrajectoryParams(n_steps=500), rng).position.reshape(-1, 2)
    x, y = np.asarray(pos, dtype=np.float64).T
    S = x.size
    k = rng.normal(0, 4, (U, 2))
    ph = rng.uniform(0, 2 * np.pi, U)
    act = np.cos(x[:, None] * k[:, 0] + y[:, None] * k[:, 1] + ph) + 0.5 * rng.normal(size=(S, U))
    b = ShiftedRatemaps(x, y, act, arena, 0.1, 1, 0.0)
    shifts = [int(s) for s in rng.integers(500, S - 500, 8)]
    def binning():  # as shuffle_null asks for a batch of shifts (older code: one at a time)
        if hasattr(b, "maps_many"):
            return b.maps_many(shifts)
        return np.concatenate([b.maps(s) for s in shifts])

    maps = binning()
    observed = b.maps(0)
    sp = ScoreParams()
    sac = autocorrelogram(maps)
    stages = {
        "binning": (binning, maps.shape[0]),
        "autocorrelogram": (lambda: autocorrelogram(maps), maps.shape[0]),
        "grid rotations": (lambda: grid_scores_from_sac(sac, 20, sp.grid), maps.shape[0]),
        "band score": (lambda: band_scores(maps, b.step, sp.band), maps.shape[0]),
        "border score": (lambda: border_scores(maps, b.x_centres, b.y_centres, arena, sp.border,
                                               bin_size=b.step), maps.shape[0]),
        "lattice fits (observed)": (lambda: (lattice_fit(observed, b.x_centres, b.y_centres, b.step,
                                                         sp.geometry.lattice, 6),
                                             lattice_fit(observed, b.x_centres, b.y_centres, b.step,
                                                         sp.geometry.lattice, 4),
                                             field_fit(observed, b.x_centres, b.y_centres, b.step,
                                                       sp.geometry.field_fit_widths)), U),
    }
    out = {}
    with threadpool_limits(1):
        for name, (fn, n) in stages.items():
            fn()  # caches (rotation operators, band tables) as in a job's later batches
            best = float("inf")
            for _ in range(repeat):
                t = time.process_time()
                fn()
                best = min(best, time.process_time() - t)
            out[name] = best / n
    shuffle = ("binning", "autocorrelogram", "grid rotations", "band score", "border score")
    out["shuffled map, total"] = sum(out[s] for s in shuffle)
    return out


def _in_checkout(path: str, repeat: int) -> dict[str, float]:
    """:func:`measure` of this file (the same workload) with the ``cw`` of the checkout ``path``."""
    env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    here = os.path.abspath(__file__)
    code = (f"import json, runpy; m = runpy.run_path({here!r}); "
            f"print(json.dumps(m['measure']({repeat})))")
    res = subprocess.run([sys.executable, "-c", code], cwd=path, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"reference run failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", help="checkout of the code to compare with (its cw is imported)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2, help="alternations of the two codes")
    a = ap.parse_args(argv)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    new, old = [], []
    for _ in range(a.rounds if a.reference else 1):
        new.append(_in_checkout(here, a.repeat))
        if a.reference:
            old.append(_in_checkout(os.path.abspath(a.reference), a.repeat))
    best = lambda runs: {k: min(r[k] for r in runs) for k in runs[0]}  # noqa: E731
    n = best(new)
    o = best(old) if old else None
    print(f"{'stage':28s} {'ms per map':>11s}" + (f" {'reference':>10s} {'ratio':>6s}" if o else ""))
    for k, v in n.items():
        line = f"{k:28s} {1e3 * v:11.3f}"
        if o and k in o:
            line += f" {1e3 * o[k]:10.3f} {o[k] / v:6.2f}"
        print(line)


if __name__ == "__main__":
    main()
