"""Labelled synthetic benchmark of the cell-type rule (OURS).

Maps of known type are sampled along real test trajectories (:func:`cw.task.trajectories.generate_trials`
with the config's motion model) in each arena of ``config.yaml`` (polygon from
:func:`cw.task.arenas.make_arena`), with noise, and then go through exactly the path of a trained
network's units: :func:`cw.analysis.units.analyse_units` (rate maps of the samples after the start
transient, every score, circular time-shift shuffle thresholds, the classification rule).
The result is a confusion matrix of true family against assigned cell type.

Families (truth in parentheses; ``W`` = the arena's width, the length of its bounding box's
longer side):

* ``grid`` (grid_like): hexagonal cosine lattices, spacing W/1.5 ... W/6 and the finest the
  bins carry (:data:`FINEST_GRID_BINS` bins per spacing: 0.3 m at 0.1 m bins, 6.7 periods in
  2 m), few-period grids included, random orientation and phase;
* ``grid_fields`` (grid_like): Gaussian fields (s.d. 0.15 spacing) on the vertices of a
  hexagonal lattice, each displaced at random by 0.05 spacing (s.d.), spacing W/1.5 ... W/4:
  grids that are not sums of cosines, with slightly irregular fields;
* ``square_grid`` (grid_like): square lattices, period W/2 ... W/4;
* ``band`` (band_like): plane waves, wavelength W/2 ... W/4.5, random orientation and phase;
* ``border`` (border): a field along one wall, ``exp(-d / lambda)`` of the distance d to that
  wall, lambda 0.8-1.6 bins;
* ``linear_ramp``, ``tanh_ramp`` (irregular): ``x . n`` and ``tanh(g x . n / W)`` for gains
  g = 2, 4, 8, 16 and random orientations n;
* ``corner_field``, ``central_field`` (irregular): a Gaussian field (s.d. 2-3 bins) in a corner /
  at the centre;
* ``smooth_random`` (irregular): white noise smoothed by a Gaussian of s.d. 1-2 bins;
* ``salt_pepper`` (irregular): independent random values in every bin of the rate map.

Lengths other than the lattice periods are in bins of the rate map (``ratemaps.bin_size``):
what a map can resolve is set by its bins, so the benchmark means the same at any arena scale
(20 bins across the 2-m square at 0.1-m bins, as across a 1-m square at 0.05-m bins).

Every map is scaled to unit s.d. over the arena; the activity of a sample is the map at its
position plus temporally correlated noise (AR(1) with a time constant of 20 steps, s.d.
``noise_std``, default 0.5) plus a smooth spatial perturbation (s.d. ``spatial_noise_std``,
default 0.3, smoothing 2 bins), comparable to the trial-to-trial variability and irregularity
of trained networks' maps.

Run ``python -m cw.analysis.benchmark_maps [config.yaml] [--trials N] [--shuffles N]`` to print the
confusion matrices.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import scipy.ndimage as ndi

from cw.seeds import benchmark_rng
from cw.synthetic import cosine_lattice

__all__ = ["FAMILIES", "TRUTH", "BenchmarkMaps", "make_maps", "run_benchmark",
           "confusion_matrix", "format_confusion", "metrics", "main"]

#: The families of the benchmark, and the cell type each should get ("irregular" = any type
#: other than grid_like, band_like and border: spatially_irregular or non_spatial).
TRUTH: dict[str, str] = {
    "grid": "grid_like",
    "grid_fields": "grid_like",
    "square_grid": "grid_like",
    "band": "band_like",
    "border": "border",
    "linear_ramp": "irregular",
    "tanh_ramp": "irregular",
    "corner_field": "irregular",
    "central_field": "irregular",
    "smooth_random": "irregular",
    "salt_pepper": "irregular",
}
FAMILIES: tuple[str, ...] = tuple(TRUTH)
#: Columns of the confusion matrix.
PREDICTED: tuple[str, ...] = ("grid_like", "band_like", "border", "spatially_irregular",
                              "non_spatial")


@dataclass
class BenchmarkMaps:
    """Synthetic maps of one arena as functions of position.

    Attributes
    ----------
    family : (U,) str, one of :data:`FAMILIES`.
    detail : (U,) str, the family's parameters in words (e.g. ``"spacing=0.40 m"``).
    values : callable (x (S,), y (S,)) -> (S, U) map values (unit s.d. over the arena).
    """

    family: np.ndarray
    detail: np.ndarray
    values: object


def _smooth_field(rng, bounds, sigma_m, bin_size):
    """A smooth Gaussian random field (s.d. ``sigma_m`` m) on a grid of bin_size / 5 and a
    lookup function for it."""
    res, pad = bin_size / 5.0, 4.0 * bin_size
    x0, x1, y0, y1 = bounds
    nx = int(np.ceil((x1 - x0 + 2 * pad) / res)) + 1
    ny = int(np.ceil((y1 - y0 + 2 * pad) / res)) + 1
    f = ndi.gaussian_filter(rng.standard_normal((ny, nx)), sigma_m / res, mode="wrap")

    def look(x, y):
        ix = np.clip(np.rint((x - x0 + pad) / res).astype(np.int64), 0, nx - 1)
        iy = np.clip(np.rint((y - y0 + pad) / res).astype(np.int64), 0, ny - 1)
        return f[iy, ix]
    return look


def _bin_noise(rng, bounds, bin_size):
    """Independent random values on the rate-map bins (salt-and-pepper) as a lookup function."""
    from cw.analysis.ratemaps import bin_edges

    xe, ye = bin_edges(tuple(float(b) for b in bounds), bin_size)
    v = rng.standard_normal((ye.size - 1, xe.size - 1))

    def look(x, y):
        ix = np.clip(np.floor((x - xe[0]) / bin_size).astype(np.int64), 0, xe.size - 2)
        iy = np.clip(np.floor((y - ye[0]) / bin_size).astype(np.int64), 0, ye.size - 2)
        return v[iy, ix]
    return look


#: Gaussian grid fields: s.d. as a fraction of the spacing (field radius ~0.3 spacing, as in
#: recorded grid cells), and the s.d. of the random displacement of each field from its
#: lattice vertex, fraction of the spacing (OURS).
GRID_FIELD_SD = 0.15
GRID_FIELD_JITTER = 0.05


def _jittered_vertices(rng, bounds, spacing, orientation_deg, jitter):
    """Vertices of a hexagonal lattice covering ``bounds`` (random offset), each displaced by
    Gaussian noise of s.d. ``jitter * spacing``: (K,), (K,) positions (m)."""
    x0, x1, y0, y1 = bounds
    a, b = np.deg2rad(orientation_deg), np.deg2rad(orientation_deg + 60.0)
    u = spacing * np.array([np.cos(a), np.sin(a)])
    v = spacing * np.array([np.cos(b), np.sin(b)])
    n = int(np.ceil(2 * max(x1 - x0, y1 - y0) / spacing)) + 2
    i, j = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1))
    c = np.array([(x0 + x1) / 2, (y0 + y1) / 2]) + rng.uniform(0, 1) * u + rng.uniform(0, 1) * v
    pts = c + i.reshape(-1, 1) * u + j.reshape(-1, 1) * v
    pts = pts + rng.normal(0.0, jitter * spacing, pts.shape)
    pad = spacing
    keep = ((pts[:, 0] > x0 - pad) & (pts[:, 0] < x1 + pad)
            & (pts[:, 1] > y0 - pad) & (pts[:, 1] < y1 + pad))
    return pts[keep, 0], pts[keep, 1]


#: The finest grid of the benchmark: this many rate-map bins per spacing (OURS: the finest
#: lattice the fit of :mod:`cw.analysis.lattice` searches, ``lattice_min_spacing``).
FINEST_GRID_BINS = 3.0


def make_maps(arena, rng: np.random.Generator, bin_size: float = 0.05,
              n_per_family: int | None = None) -> BenchmarkMaps:
    """The labelled maps of one arena (module docstring), as functions of position.

    Parameters
    ----------
    arena : :class:`cw.task.arenas.Arena` (centred; ``corners`` (K, 2) m, ``bounds``).
    rng : numpy Generator (orientations, phases, random fields).
    bin_size : rate-map bin (m), the grain of the salt-and-pepper maps.
    n_per_family : if given, keep only the first n maps of each family (quick checks).

    Returns
    -------
    BenchmarkMaps
    """
    x0, x1, y0, y1 = arena.bounds
    W = max(x1 - x0, y1 - y0)
    corners = np.asarray(arena.corners, dtype=np.float64)
    fam, det, fns = [], [], []

    def add(f, d, fn):
        fam.append(f)
        det.append(d)
        fns.append(fn)

    def phase():
        return (rng.uniform(x0, x1), rng.uniform(y0, y1))

    finest = W / (FINEST_GRID_BINS * bin_size)  # periods of the finest grid the bins carry
    for periods in (1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, finest):
        for _ in range(2):
            s, o, ph = W / periods, rng.uniform(0, 60), phase()
            add("grid", f"spacing={s:.2f} m ({periods:g} periods)",
                lambda x, y, s=s, o=o, ph=ph: cosine_lattice(x, y, s, o, 3, ph))
    for periods in (1.5, 2.0, 3.0, 4.0):
        s, o = W / periods, rng.uniform(0, 60)
        fx, fy = _jittered_vertices(rng, arena.bounds, s, o, GRID_FIELD_JITTER)
        sd = GRID_FIELD_SD * s
        add("grid_fields", f"spacing={s:.2f} m ({periods:g} periods)",
            lambda x, y, fx=fx, fy=fy, sd=sd: np.exp(
                -((np.asarray(x)[..., None] - fx) ** 2 + (np.asarray(y)[..., None] - fy) ** 2)
                / (2 * sd * sd)).sum(-1))
    for periods in (2.0, 3.0, 4.0):
        s, o, ph = W / periods, rng.uniform(0, 90), phase()
        add("square_grid", f"period={s:.2f} m",
            lambda x, y, s=s, o=o, ph=ph: cosine_lattice(x, y, s, o, 2, ph))
    for periods in (2.0, 2.5, 3.0, 3.5, 4.5):
        s, o, ph = W / periods, rng.uniform(0, 180), phase()
        add("band", f"wavelength={s:.2f} m",
            lambda x, y, s=s, o=o, ph=ph: cosine_lattice(x, y, s, o, 1, ph))
    K = len(corners)
    for i, lam in enumerate(bin_size * np.array([0.8, 1.0, 1.2, 1.4, 1.6])):
        k = int(rng.integers(K))
        a, b = corners[k], corners[(k + 1) % K]

        def wall(x, y, a=a, b=b, lam=lam):
            from cw.task.arenas import segment_distances
            d = segment_distances(np.stack([x, y], -1), np.stack([a, b]))[..., 0]
            return np.exp(-d / lam)
        add("border", f"wall {k}, decay={lam:.2f} m", wall)
    for _ in range(3):
        t = rng.uniform(0, 2 * np.pi)
        add("linear_ramp", f"direction={np.rad2deg(t):.0f} deg",
            lambda x, y, t=t: np.cos(t) * x + np.sin(t) * y)
    for g in (2.0, 4.0, 8.0, 16.0):
        for _ in range(2):
            t = rng.uniform(0, 2 * np.pi)
            c = rng.uniform(-0.15, 0.15) * W
            add("tanh_ramp", f"gain={g:g}, direction={np.rad2deg(t):.0f} deg",
                lambda x, y, t=t, g=g, c=c: np.tanh(g * (np.cos(t) * x + np.sin(t) * y - c) / W))
    for i in range(3):
        k = int(rng.integers(K))
        c = corners[k] * 0.85
        sd = rng.uniform(2.0, 3.0) * bin_size
        add("corner_field", f"corner {k}, sd={sd:.2f} m",
            lambda x, y, c=c, sd=sd: np.exp(-((x - c[0]) ** 2 + (y - c[1]) ** 2) / (2 * sd * sd)))
    for sd in bin_size * np.array([2.0, 3.0]):
        add("central_field", f"sd={sd:.2f} m",
            lambda x, y, sd=sd: np.exp(-(x * x + y * y) / (2 * sd * sd)))
    for sm in bin_size * np.array([1.0, 1.2, 1.5, 2.0]):
        for _ in range(3):
            add("smooth_random", f"smoothing={sm:.3f} m", _smooth_field(rng, arena.bounds, sm, bin_size))
    for _ in range(4):
        add("salt_pepper", f"bin={bin_size:g} m", _bin_noise(rng, arena.bounds, bin_size))
    if n_per_family is not None:
        keep = [i for i, f in enumerate(fam) if fam[:i + 1].count(f) <= n_per_family]
        fam, det, fns = [fam[i] for i in keep], [det[i] for i in keep], [fns[i] for i in keep]

    # unit s.d. over the arena: statistics on a fine grid of points inside the polygon
    gx, gy = np.meshgrid(np.linspace(x0, x1, 120), np.linspace(y0, y1, 120))
    inside = np.asarray(arena.contains(np.stack([gx, gy], -1)), bool)
    px, py = gx[inside], gy[inside]
    stats = []
    for fn in fns:
        v = fn(px, py)
        stats.append((float(np.mean(v)), float(np.std(v)) or 1.0))

    def values(x, y):
        return np.stack([(fn(x, y) - m) / s for fn, (m, s) in zip(fns, stats)], axis=-1)

    return BenchmarkMaps(np.array(fam), np.array(det), values)


def map_activity(maps: BenchmarkMaps, position: np.ndarray, arena, rng, noise_std: float,
              spatial_noise_std: float, bin_size: float, noise_tau: float = 20.0) -> np.ndarray:
    """(M, T, U) activity: map value + AR(1) noise (time constant ``noise_tau`` steps) + a smooth
    spatial perturbation of each unit's map."""
    M, T, _ = position.shape
    U = len(maps.family)
    x = position[..., 0].reshape(-1).astype(np.float64)
    y = position[..., 1].reshape(-1).astype(np.float64)
    a = maps.values(x, y).reshape(M, T, U)
    if spatial_noise_std > 0:
        pert = np.stack([_smooth_field(rng, arena.bounds, 2.0 * bin_size, bin_size)(x, y) for _ in range(U)], -1)
        pert /= np.maximum(pert.std(axis=0, keepdims=True), 1e-12)
        a = a + spatial_noise_std * pert.reshape(M, T, U)
    if noise_std > 0:
        rho = np.exp(-1.0 / noise_tau)
        e = rng.standard_normal((M, T, U)) * np.sqrt(1 - rho * rho)
        n = np.empty_like(e)
        n[:, 0] = rng.standard_normal((M, U))
        for t in range(1, T):
            n[:, t] = rho * n[:, t - 1] + e[:, t]
        a = a + noise_std * n
    return a


def analysis_settings(config: Mapping | str, n_shuffles: int | None = None) -> tuple:
    """The settings a classification of maps along test trajectories uses, from a config.

    Returns ``(cfg, settings, trajectories)``: the checked config mapping, the
    :class:`cw.analysis.units.AnalysisSettings` of its sections (``n_shuffles`` overrides
    ``shuffles.n_shuffles``) and the trajectories' parameters (without ``n_test``).
    """
    from cw.analysis.units import AnalysisSettings
    from cw.config import read_config
    from cw.task.trajectories import TrajectoryParams

    cfg = read_config(config) if not isinstance(config, Mapping) else config
    settings = AnalysisSettings.from_config(cfg.get("ratemaps"), cfg.get("scores"), cfg.get("shuffles"),
                                            cfg.get("celltypes")).with_shuffles(n_shuffles)
    return cfg, settings, TrajectoryParams.from_dict(cfg["trajectories"])


def run_benchmark(
    config: Mapping | str = "config.yaml",
    arenas: tuple[str, ...] = ("square", "triangle", "hexagon"),
    n_trials: int = 60,
    n_shuffles: int | None = None,
    seed: int = 0,
    noise_std: float = 0.5,
    spatial_noise_std: float = 0.3,
    n_per_family: int | None = None,
) -> dict[str, dict]:
    """Classify the benchmark maps of every arena by the config's rule.

    Parameters
    ----------
    config : config mapping or YAML path (arenas, trajectories, ratemaps, scores, shuffles,
        celltypes are used).
    arenas : names under ``arenas`` in the config.
    n_trials : test trials of ``trajectories.n_steps`` steps sampled per arena.
    n_shuffles : shuffles per unit (default ``shuffles.n_shuffles``).
    seed : seed of the trajectories, maps and noise.
    noise_std, spatial_noise_std : noise s.d. relative to the map's s.d. (module docstring).
    n_per_family : keep only this many maps per family (quick checks).

    Returns
    -------
    dict arena -> {"family": (U,) str, "detail": (U,) str, "cell_type": (U,) str,
    "scores": the scores Dataset of :func:`cw.analysis.units.analyse_units`,
    "ratemaps": its rate maps (unit, y, x)}.
    """
    from cw.task.arenas import make_arena
    from cw.analysis.units import analyse_units
    from cw.task.trajectories import generate_trials

    cfg, settings, tp = analysis_settings(config, n_shuffles)
    rp = settings.ratemaps
    out = {}
    for i, name in enumerate(arenas):
        rng = benchmark_rng(seed, i)
        ar = make_arena(name, cfg["arenas"][name])
        maps = make_maps(ar, rng, rp.bin_size, n_per_family)
        tr = generate_trials(ar, n_trials, tp, rng)
        act = map_activity(maps, tr.position, ar, rng, noise_std, spatial_noise_std, rp.bin_size)
        skip = int(rp.skip_steps)
        pos = tr.position[:, skip:]
        act = act[:, skip:]
        U = act.shape[-1]
        ds, rate = analyse_units(pos[..., 0].ravel(), pos[..., 1].ravel(), act.reshape(-1, U), ar,
                                 settings, rng, keep_null=False)
        out[name] = {"family": maps.family, "detail": maps.detail,
                     "cell_type": ds["cell_type"].values.astype(str), "scores": ds,
                     "ratemaps": rate}
    return out


def confusion_matrix(family: np.ndarray, cell_type: np.ndarray) -> np.ndarray:
    """(len(FAMILIES), len(PREDICTED)) counts: row = true family, column = assigned type."""
    fam = np.asarray(family).astype(str)
    ct = np.asarray(cell_type).astype(str)
    return np.array([[int(np.sum((fam == f) & (ct == c))) for c in PREDICTED] for f in FAMILIES])


def metrics(family: np.ndarray, cell_type: np.ndarray) -> dict[str, float]:
    """Precision and recall of grid_like, band_like and border, and the false-positive rates.

    Returns
    -------
    dict with ``precision_<type>``, ``recall_<type>`` (NaN when undefined),
    ``ramp_as_grid_or_band`` (count of linear and tanh ramps labelled grid_like or band_like),
    ``noise_typed_fraction`` (fraction of smooth_random and salt_pepper maps labelled grid_like,
    band_like or border).
    """
    fam = np.asarray(family).astype(str)
    ct = np.asarray(cell_type).astype(str)
    truth = np.array([TRUTH[f] for f in fam])
    out = {}
    for t in ("grid_like", "band_like", "border"):
        called = ct == t
        real = truth == t
        out[f"precision_{t}"] = float(np.sum(called & real) / np.sum(called)) if called.any() \
            else float("nan")
        out[f"recall_{t}"] = float(np.sum(called & real) / np.sum(real)) if real.any() \
            else float("nan")
    ramps = np.isin(fam, ("linear_ramp", "tanh_ramp"))
    out["ramp_as_grid_or_band"] = int(np.sum(ramps & np.isin(ct, ("grid_like", "band_like"))))
    noise = np.isin(fam, ("smooth_random", "salt_pepper"))
    typed = np.isin(ct, ("grid_like", "band_like", "border"))
    out["noise_typed_fraction"] = float(np.sum(noise & typed) / max(1, np.sum(noise)))
    return out


def format_confusion(family: np.ndarray, cell_type: np.ndarray, title: str = "") -> str:
    """The confusion matrix and the metrics as plain text."""
    cm = confusion_matrix(family, cell_type)
    short = {"grid_like": "grid", "band_like": "band", "border": "border",
             "spatially_irregular": "irreg", "non_spatial": "non_sp"}
    w = max(len(f) for f in FAMILIES) + 2
    lines = [title] if title else []
    lines.append("true \\ assigned".ljust(w + 4) + "".join(short[c].rjust(8) for c in PREDICTED))
    for f, row in zip(FAMILIES, cm):
        lines.append(f"{f} ({TRUTH[f][:5]})".ljust(w + 4) + "".join(f"{v:8d}" for v in row))
    m = metrics(family, cell_type)
    lines.append("  ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in m.items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    """Print the confusion matrix of every arena (pooled over the seeds) and of all arenas."""
    ap = argparse.ArgumentParser(prog="python -m cw.analysis.benchmark_maps", description=__doc__.split("\n")[0])
    ap.add_argument("config", nargs="?", default="config.yaml")
    ap.add_argument("--trials", type=int, default=60, help="test trials per arena and seed")
    ap.add_argument("--shuffles", type=int, default=None,
                    help="shuffles per unit (default: shuffles.n_shuffles)")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds, pooled")
    ap.add_argument("--arenas", default="square,triangle,hexagon")
    ap.add_argument("--details", action="store_true", help="list every map and its type")
    a = ap.parse_args(argv)
    arenas = tuple(a.arenas.split(","))
    seeds = [int(v) for v in a.seeds.split(",")]
    fam: dict[str, list] = {n: [] for n in arenas}
    ct: dict[str, list] = {n: [] for n in arenas}
    for seed in seeds:
        res = run_benchmark(a.config, arenas, a.trials, a.shuffles, seed)
        for name, r in res.items():
            fam[name].append(r["family"])
            ct[name].append(r["cell_type"])
            if a.details:
                for f, d, c in zip(r["family"], r["detail"], r["cell_type"]):
                    print(f"   seed {seed} {name:8s} {f:14s} {d:34s} -> {c}")
    for name in arenas:
        print(format_confusion(np.concatenate(fam[name]), np.concatenate(ct[name]),
                               f"== {name} (seeds {a.seeds}) =="))
    print(format_confusion(np.concatenate([np.concatenate(fam[n]) for n in arenas]),
                           np.concatenate([np.concatenate(ct[n]) for n in arenas]),
                           f"== all arenas (seeds {a.seeds}) =="))
    return 0


if __name__ == "__main__":
    sys.exit(main())
