"""Benchmarks of the spatial analysis: ``python -m benchmarks.bench_analysis``.

``bench_scores`` times what ``analyse_scores`` does for one run at the default scale: 100 units,
100 circular shuffles each, on 250,000 samples (500 test trials of 500 steps), i.e. 10,100 rate
maps with every score (grid 60/90, border, band, spatial variance fraction). The activity is
that of a randomly initialised network (:func:`cw.network.model.init_weights`, numpy simulation) on
trajectories from the project's generator in the square arena: the same sizes, smoothness and
sign range as a trained network's.

``bench_long_path`` times generating and simulating the long test path of the boundary analysis.

Only prints numbers (no assertions); the thread count is whatever the BLAS/FFT libraries use
(set ``OMP_NUM_THREADS`` to pin it, e.g. 2 for the 2-core target).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


#: The arenas of the default config (config.yaml ``arenas``).
ARENAS = {"square": {"shape": "square", "side": 1.0},
          "triangle": {"shape": "triangle", "side": 1.5},
          "hexagon": {"shape": "hexagon", "side": 0.6}}


def _activity(n_trials: int = 500, n_steps: int = 500, n_units: int = 100, seed: int = 0,
              arena_name: str = "square"):
    from cw.task.arenas import make_arena
    from cw.network.model import ModelParams, encode_inputs, init_weights, simulate_numpy
    from cw.task.trajectories import TrajectoryParams, generate_trials

    arena = make_arena(arena_name, ARENAS[arena_name])
    rng = np.random.default_rng(seed)
    tr = generate_trials(arena, n_trials, TrajectoryParams(n_steps=n_steps), rng)
    mp = ModelParams(n_units=n_units)
    w = init_weights(mp, rng)
    u, _ = simulate_numpy(w, encode_inputs(tr.speed, tr.heading, mp), mp.alpha)
    pos = tr.position.reshape(-1, 2).astype(np.float64)
    return arena, pos[:, 0], pos[:, 1], u.reshape(-1, n_units).astype(np.float32)


def bench_scores(n_units: int = 100, n_shuffles: int = 100, n_trials: int = 500,
                 n_steps: int = 500, seed: int = 0, arena_name: str = "square") -> dict[str, float]:
    """Seconds to score ``n_units`` units with ``n_shuffles`` shuffles each on
    ``n_trials * n_steps`` samples in one of :data:`ARENAS` (prints and returns the timings;
    the triangle's 26 x 30 maps cost about twice the square's 20 x 20)."""
    from cw.analysis.shuffles import ShuffleParams
    from cw.analysis.units import AnalysisSettings, analyse_units

    t0 = time.perf_counter()
    arena, x, y, u = _activity(n_trials, n_steps, n_units, seed, arena_name)
    t_data = time.perf_counter() - t0
    # warm-up: the rotation operators of the grid score are built once per map size
    analyse_units(x[:5000], y[:5000], u[:5000, :2], arena,
                  AnalysisSettings(shuffles=ShuffleParams(n_shuffles=1, min_shift=10)),
                  rng=np.random.default_rng(1))
    t0 = time.perf_counter()
    ds, _ = analyse_units(x, y, u, arena, AnalysisSettings(shuffles=ShuffleParams(n_shuffles=n_shuffles)),
                          rng=np.random.default_rng(seed))
    t_score = time.perf_counter() - t0
    counts = {k[6:]: int(v) for k, v in ds.attrs.items() if k.startswith("count_")}
    print(f"bench_scores ({arena_name}): {n_units} units x {n_shuffles} shuffles on {x.size} samples: "
          f"{t_score:.1f} s (data: {t_data:.1f} s; OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, {os.cpu_count()} CPUs visible); "
          f"cell types {counts}")
    return {"seconds": t_score, "data_seconds": t_data}


def bench_long_path(n_steps: int = 5_000_000, n_units: int = 100, seed: int = 0) -> dict[str, float]:
    """Seconds to generate a ``n_steps`` one-trial path and to simulate the network on it."""
    from cw.task.arenas import make_arena
    from cw.analysis.boundary import simulate_long, windowed_error
    from cw.network.model import ModelParams, init_weights
    from cw.task.trajectories import TrajectoryParams, generate_trials

    arena = make_arena("square", {"shape": "square", "side": 1.0})
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    tr = generate_trials(arena, 1, TrajectoryParams(n_steps=n_steps), rng)
    t_gen = time.perf_counter() - t0
    mp = ModelParams(n_units=n_units)
    w = init_weights(mp, rng)
    w["W_out"] = rng.normal(0, 0.01, size=w["W_out"].shape).astype(np.float32)
    t0 = time.perf_counter()
    y = simulate_long(w, tr.speed[0], tr.heading[0], mp)
    t_sim = time.perf_counter() - t0
    windowed_error(y, tr.position[0], 10_000)
    print(f"bench_long_path: {n_steps} steps generated in {t_gen:.1f} s, simulated "
          f"({n_units} units) in {t_sim:.1f} s")
    return {"generate_seconds": t_gen, "simulate_seconds": t_sim}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--long-path", type=int, default=0, metavar="STEPS",
                    help="also time a long path of this many steps (e.g. 5000000)")
    ap.add_argument("--shuffles", type=int, default=100)
    ap.add_argument("--arena", choices=sorted(ARENAS), action="append",
                    help="arena(s) to score in (default: square)")
    args = ap.parse_args(argv)
    for name in args.arena or ["square"]:
        bench_scores(n_shuffles=args.shuffles, arena_name=name)
    if args.long_path:
        bench_long_path(args.long_path)


if __name__ == "__main__":
    main()
