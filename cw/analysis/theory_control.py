"""The theory control of the read-out: the maps of :mod:`cw.analysis.pattern_formation` through
the project's real classification path, as the labelled benchmark does
(:mod:`cw.analysis.benchmark_maps`): the maps are sampled along real test trajectories into
activity, then :func:`cw.analysis.units.analyse_units` computes rate maps after the start
transient, every score, circular time-shift shuffle thresholds and the cell types.

**Result** (``python -m cw.analysis.theory_control --arenas square,triangle,hexagon``,
config.yaml, 32 maps, 60 test trials, 100 shuffles, seed 0, no noise): DoS targets give
30/32 (square), 29/32 (triangle) and 31/32 (hexagon) grid-like maps, the rest spatially
irregular (median score60 1.3-1.5); (x, y) targets give 0/32 grid-like in every arena (square:
27 spatially irregular, 5 border: rectified ramps rising to a wall; triangle, hexagon: 32
spatially irregular). The grid-like typing of the DoS maps rests on the lattice fit: their
fields are sharp on a zero background and a lattice explains 0.47-0.69 of their variance
(median 0.58; rule: >= 0.5). With the benchmark's noise (``--noise``) it falls to ~0.5 and only
15/32 DoS maps stay grid-like (score60 still ~1.35, all significant); (x, y): 0/32.

Run ``python -m cw.analysis.theory_control [config.yaml] [--arenas square,...]`` to print the
counts of each cell type for both kinds of targets.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Mapping

import numpy as np
import scipy.ndimage as ndi
from scipy.interpolate import RegularGridInterpolator

from cw.analysis.pattern_formation import (
    COVARIANCES,
    THEORY_TARGETS,
    PatternFormationParams,
    TheoryMaps,
    theory_maps,
)
from cw.seeds import theory_rng
from cw.task.place_cells import PlaceCellParams, sample_centres

__all__ = ["sample_maps", "classify_theory_maps", "format_counts", "main"]


def sample_maps(theory: TheoryMaps, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Values of the maps at given positions (bilinear interpolation between bin centres).

    Bins outside the arena take the value of the nearest inside bin first, so that positions
    near a wall (between the last inside bin centre and the wall) interpolate between inside
    values only; positions beyond the outermost bin centres take the edge value.

    Parameters
    ----------
    theory : TheoryMaps
        The maps.
    x, y : numpy.ndarray, same shape (...)
        Positions, m.

    Returns
    -------
    numpy.ndarray, shape (..., Ng)
        Map values (the maps' units: zero mean, unit s.d. over the arena).
    """
    _, (iy, ix) = ndi.distance_transform_edt(~theory.inside, return_indices=True)
    filled = theory.maps[:, iy, ix]  # (Ng, ny, nx), every bin valued
    interp = RegularGridInterpolator((theory.y, theory.x), np.moveaxis(filled, 0, -1),
                                     method="linear", bounds_error=False, fill_value=None)
    xx = np.clip(np.asarray(x, dtype=np.float64), theory.x[0], theory.x[-1])
    yy = np.clip(np.asarray(y, dtype=np.float64), theory.y[0], theory.y[-1])
    return interp(np.stack([yy, xx], axis=-1))


def classify_theory_maps(
    arena: str = "square",
    targets: str = "dos",
    config: Mapping | str = "config.yaml",
    n_trials: int = 60,
    n_shuffles: int | None = None,
    seed: int = 0,
    params: PatternFormationParams = PatternFormationParams(),
    place_cells: PlaceCellParams = PlaceCellParams(),
    noise_std: float = 0.0,
    spatial_noise_std: float = 0.0,
) -> dict[str, Any]:
    """Theory maps of one arena through the real classification path, as the benchmark does.

    The maps (:func:`theory_maps`) are sampled along ``n_trials`` test trajectories of the
    config's motion model (:func:`cw.task.trajectories.generate_trials`), optionally with the
    benchmark's noise (:func:`cw.analysis.benchmark_maps.run_benchmark`; none by default: the
    theory maps are exact), the first ``ratemaps.skip_steps`` steps of every trial are left out,
    and :func:`cw.analysis.units.analyse_units` computes the rate maps, every score, the
    shuffle thresholds and the cell types with the config's settings.

    Parameters
    ----------
    arena : str, default "square"
        Name under ``arenas`` in the config.
    targets : {"dos", "gaussian", "cartesian"}, default "dos"
        Kind of targets.
    config : mapping or str, default "config.yaml"
        Config mapping or YAML path (``arenas``, ``trajectories``, ``ratemaps``, ``scores``,
        ``shuffles``, ``celltypes`` are used).
    n_trials : int, default 60
        Test trials of ``trajectories.n_steps`` steps (the benchmark's default).
    n_shuffles : int, optional
        Shuffles per unit (default ``shuffles.n_shuffles``).
    seed : int, default 0
        Seed of the trajectories, centres, random starts and shuffles (independent streams;
        the trajectories do not depend on ``targets``).
    params : PatternFormationParams
        Optimisation settings.
    place_cells : PlaceCellParams
        Number and widths of the place cells.
    noise_std, spatial_noise_std : float, default 0.0
        Noise s.d. relative to a map's s.d., as in :mod:`cw.analysis.benchmark_maps`.

    Returns
    -------
    dict
        ``"cell_type"`` (Ng,) str; ``"counts"`` {cell type: count} over
        :data:`cw.analysis.celltypes.CELL_TYPES`; ``"scores"`` the scores Dataset of
        :func:`cw.analysis.units.analyse_units`; ``"ratemaps"`` its rate maps
        (unit, y, x); ``"theory"`` the :class:`TheoryMaps`; ``"arena"`` the
        :class:`cw.task.arenas.Arena` the maps were drawn in.
    """
    from cw.analysis.benchmark_maps import BenchmarkMaps, analysis_settings, map_activity
    from cw.analysis.celltypes import type_counts
    from cw.analysis.units import analyse_units
    from cw.task.arenas import make_arena
    from cw.task.trajectories import generate_trials

    cfg, settings, tp = analysis_settings(config, n_shuffles)
    rp = settings.ratemaps

    ar = make_arena(arena, cfg["arenas"][arena])
    centres = None
    if targets != "cartesian":
        centres = sample_centres(ar, place_cells.n_cells, theory_rng(seed, "centres"))
    theory = theory_maps(ar, targets, theory_rng(seed, "init"), params, place_cells, centres)
    tr = generate_trials(ar, n_trials, tp, theory_rng(seed, "trials"))
    n_maps = theory.maps.shape[0]
    maps = BenchmarkMaps(np.array([f"theory_{targets}"] * n_maps),
                         np.array([f"map {i}" for i in range(n_maps)]),
                         lambda x, y: sample_maps(theory, x, y))
    rng = theory_rng(seed, "shuffles")
    act = map_activity(maps, tr.position, ar, rng, noise_std, spatial_noise_std, rp.bin_size)
    skip = int(rp.skip_steps)
    pos = tr.position[:, skip:]
    act = act[:, skip:]
    ds, rate = analyse_units(pos[..., 0].ravel(), pos[..., 1].ravel(),
                             act.reshape(-1, n_maps), ar, settings, rng, keep_null=False)
    ct = ds["cell_type"].values.astype(str)
    return {"cell_type": ct, "counts": type_counts(ct), "scores": ds, "ratemaps": rate,
            "theory": theory, "arena": ar}


def format_counts(res: Mapping[str, Any], title: str) -> str:
    """One line of text: the counts of every cell type and how the optimisation went.

    Parameters
    ----------
    res : mapping
        A result of :func:`classify_theory_maps`.
    title : str
        Printed first.

    Returns
    -------
    str
        Counts per cell type (:data:`cw.analysis.celltypes.CELL_TYPES`), the grid-like
        fraction, the median score60, the covariance, updates, convergence, median captured
        fraction and wall time of the optimisation.
    """
    from cw.analysis.celltypes import CELL_TYPES

    th = res["theory"]
    n = len(res["cell_type"])
    counts = "  ".join(f"{t}={res['counts'].get(t, 0)}" for t in CELL_TYPES)
    s60 = res["scores"]["score60"].values
    med = float(np.nanmedian(s60)) if np.isfinite(s60).any() else float("nan")
    return (f"{title}: {counts}  (of {n}; grid-like fraction "
            f"{res['counts'].get('grid_like', 0) / max(n, 1):.2f}; median score60 {med:.2f}; "
            f"{th.covariance} covariance, {th.iterations} updates, converged={th.converged}, "
            f"median captured {np.median(th.captured):.3f}, {th.seconds:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    """Print the cell-type counts of the theory maps for every arena and kind of targets.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``); ``--help`` lists them.

    Returns
    -------
    int
        0.
    """
    ap = argparse.ArgumentParser(prog="python -m cw.analysis.theory_control",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("config", nargs="?", default="config.yaml")
    ap.add_argument("--arenas", default="square", help="comma-separated arena names")
    ap.add_argument("--targets", default="dos,cartesian",
                    help=f"comma-separated, of {', '.join(THEORY_TARGETS)}")
    ap.add_argument("--covariance", default=PatternFormationParams.covariance,
                    choices=COVARIANCES, help="covariance of place-cell targets")
    ap.add_argument("--maps", type=int, default=PatternFormationParams.n_maps,
                    help="maps Ng per arena and kind of targets")
    ap.add_argument("--trials", type=int, default=60, help="test trials per arena")
    ap.add_argument("--shuffles", type=int, default=None,
                    help="shuffles per unit (default: shuffles.n_shuffles)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise", action="store_true",
                    help="add the benchmark's noise (s.d. 0.5 temporal, 0.3 spatial)")
    a = ap.parse_args(argv)
    params = PatternFormationParams(n_maps=a.maps, covariance=a.covariance)
    noise = (0.5, 0.3) if a.noise else (0.0, 0.0)
    for name in a.arenas.split(","):
        for kind in a.targets.split(","):
            res = classify_theory_maps(name, kind, a.config, a.trials, a.shuffles, a.seed,
                                       params, noise_std=noise[0], spatial_noise_std=noise[1])
            print(format_counts(res, f"{name:8s} {kind:9s}"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
