"""Development of spatial representations over training (paper Fig. 4; OURS).

For every saved checkpoint of a run, the network (weights of that checkpoint) is run noise-free
on the run's held-out test trials; its rate maps, scores, shuffle thresholds and cell types are
computed exactly as for the final network (:func:`cw.analysis.units.analyse_units`), giving how many
border, band-like and grid-like units exist at each stage of training.

t-SNE (Fig. 4): the units of the early, intermediate and late checkpoints are embedded together
in two dimensions (``K * N`` points for K checkpoints of N units), with the similarity between
two units being the correlation of their firing rates:

* each unit-at-checkpoint is represented by its activity time series on the same test samples
  (the first ``max_samples`` samples of the concatenated test trials, identical inputs for
  every checkpoint);
* distance ``d_ij = 1 - r_ij`` with ``r_ij`` the Pearson correlation of the two time series
  (in [0, 2]; a unit with constant activity has r = 0 with every other unit);
* ``sklearn.manifold.TSNE(n_components=2, metric="precomputed", init="random",
  perplexity=min(perplexity, (K*N - 1) / 3), random_state=seed)`` on that distance matrix.

Units that keep their response over training stay close to themselves across stages; units
whose response changes move far (the paper: border units appear first and move little, grid-
like units appear later and move far). ``tsne_distance`` records, per unit, the correlation
distance between its first and last embedded checkpoints.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import xarray as xr

from cw.config import schema_default
from cw.seeds import rng_for
from cw.stats import pearson
from cw.validation import is_int, section_from_dict

log = logging.getLogger(__name__)

__all__ = [
    "DevelopmentParams",
    "tsne_checkpoint_indices",
    "correlation_distance",
    "tsne_embedding",
    "development_dataset",
    "settling_update",
]



@dataclass(frozen=True)
class DevelopmentParams:
    """Parameters of the development analysis (config section ``development``; all OURS).

    tsne_checkpoints : list of int or None, default None
        Indices (into the run's checkpoints, negative counts from the end) of the checkpoints
        embedded together by t-SNE. None: three checkpoints, early / intermediate / late =
        indices ``1, n // 2, n - 1`` (index 0 is the untrained initial network), or all
        checkpoints if there are at most 3.
    perplexity : float, default 30.0
        t-SNE perplexity (capped at (K*N - 1) / 3 for small unit sets), > 0.
    max_samples : int, default 50000
        Test samples (from the start of the concatenated test trials) whose activity defines the
        correlations, >= 2.
    n_shuffles : int or None, default None
        Shuffles per checkpoint for the cell types; None = ``shuffles.n_shuffles``.
    """

    tsne_checkpoints: tuple | None = schema_default("development", "tsne_checkpoints")
    perplexity: float = schema_default("development", "perplexity")
    max_samples: int = schema_default("development", "max_samples")
    n_shuffles: int | None = schema_default("development", "n_shuffles")

    def __post_init__(self) -> None:
        if self.tsne_checkpoints is not None:
            if isinstance(self.tsne_checkpoints, (str, bytes)) or not all(
                    is_int(i) for i in self.tsne_checkpoints):
                raise ValueError("development.tsne_checkpoints: must be a list of integers or null")
            if len(self.tsne_checkpoints) < 1:
                raise ValueError("development.tsne_checkpoints: must not be empty")
            object.__setattr__(self, "tsne_checkpoints", tuple(int(i) for i in self.tsne_checkpoints))
        if isinstance(self.perplexity, bool) or not self.perplexity > 0:
            raise ValueError(f"development.perplexity: must be > 0, got {self.perplexity!r}")
        if not is_int(self.max_samples) or self.max_samples < 2:
            raise ValueError(f"development.max_samples: must be an integer >= 2, got {self.max_samples!r}")
        if self.n_shuffles is not None and (not is_int(self.n_shuffles) or self.n_shuffles < 1):
            raise ValueError(f"development.n_shuffles: must be an integer >= 1 or null, got {self.n_shuffles!r}")

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "DevelopmentParams":
        return section_from_dict(cls, d, "development")


def tsne_checkpoint_indices(n_checkpoints: int, chosen: Sequence[int] | None = None) -> list[int]:
    """Non-negative, sorted, unique checkpoint indices for the t-SNE (see DevelopmentParams)."""
    n = int(n_checkpoints)
    if n < 1:
        raise ValueError("development: the run has no checkpoints")
    if chosen is None:
        idx = list(range(n)) if n <= 3 else [1, n // 2, n - 1]
    else:
        idx = []
        for i in chosen:
            j = i + n if i < 0 else i
            if not 0 <= j < n:
                raise ValueError(f"development.tsne_checkpoints: index {i} out of range for "
                                 f"{n} checkpoints")
            idx.append(j)
    return sorted(set(idx))


def correlation_distance(series: np.ndarray) -> np.ndarray:
    """``1 - Pearson r`` between the rows of ``series`` (P, S); constant rows have r = 0 with
    every other row. Returns a symmetric (P, P) matrix in [0, 2] with a zero diagonal."""
    x = np.asarray(series, dtype=np.float64)
    xc = x - x.mean(axis=1, keepdims=True)
    norm = np.sqrt(np.sum(xc * xc, axis=1))
    ok = norm > 1e-12 * max(1.0, float(np.max(np.abs(x))) if x.size else 1.0) * np.sqrt(x.shape[1])
    z = np.where(ok[:, None], xc / np.where(ok, norm, 1.0)[:, None], 0.0)
    r = np.clip(z @ z.T, -1.0, 1.0)
    d = 1.0 - r
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    return d


def tsne_embedding(distance: np.ndarray, perplexity: float, seed: int) -> np.ndarray:
    """2-D t-SNE of a precomputed distance matrix (see the module docstring)."""
    from sklearn.manifold import TSNE

    n = distance.shape[0]
    perp = float(min(perplexity, max(1.0, (n - 1) / 3.0)))
    tsne = TSNE(n_components=2, metric="precomputed", init="random", perplexity=perp,
                random_state=int(seed))
    return tsne.fit_transform(distance)


def map_correlation_to_final(rate: np.ndarray) -> np.ndarray:
    """Pearson correlation of each unit's rate map at every checkpoint with its final map.

    A measure of how far the spatial code has settled: once training has stabilised the maps,
    the last checkpoints all correlate close to 1 with the final one.

    Parameters
    ----------
    rate : (K, N, ny, nx) rate maps of N units at K checkpoints; NaN outside the arena or in
        unvisited bins.

    Returns
    -------
    (K, N) correlations over the bins finite at both checkpoints (:func:`cw.stats.pearson`);
    NaN where a map is flat or fewer than 3 bins are shared.
    """
    rate = np.asarray(rate, np.float64)
    K, N = rate.shape[:2]
    flat = rate.reshape(K, N, -1)
    final = flat[-1]
    out = np.full((K, N), np.nan)
    for k in range(K):
        for n in range(N):
            a, b = flat[k, n], final[n]
            ok = np.isfinite(a) & np.isfinite(b)
            out[k, n] = pearson(a[ok], b[ok])
    return out


#: The cell types whose counts decide when a training has settled (:func:`settling_update`).
TYPED = ("grid_like", "band_like", "border")


def settling_update(
    updates: Sequence[int],
    type_counts: np.ndarray,
    map_correlation: np.ndarray,
    count_tolerance: int = 1,
    min_median_correlation: float = 0.97,
) -> int:
    """The first checkpoint's update from which on a training has settled: at it and at every
    later checkpoint each counted cell type is within ``count_tolerance`` units of its final count
    and the median (over units) correlation of the rate maps with the final maps is at least
    ``min_median_correlation``.  Used to choose the study's training length.

    Parameters
    ----------
    updates : (K,) update of each checkpoint, increasing.
    type_counts : (K, C) units of each counted cell type per checkpoint (for the study the
        typed ones: grid-like, band-like, border).
    map_correlation : (K, N) ``map_correlation_to_final`` (NaN for units without a map).
    count_tolerance : units; min_median_correlation : 1.

    Examples
    --------
    >>> import numpy as np
    >>> counts = np.array([[0, 100], [5, 95], [9, 91], [10, 90]])
    >>> corr = np.array([[0.1], [0.9], [0.97], [1.0]])
    >>> settling_update([0, 10, 100, 200], counts, corr)
    100
    """
    updates = np.asarray(updates)
    counts = np.asarray(type_counts)
    median = np.nanmedian(np.asarray(map_correlation, float), axis=1)
    ok = np.all(np.abs(counts - counts[-1]) <= count_tolerance, axis=1) & (median >= min_median_correlation)
    k = len(ok)
    while k > 0 and ok[k - 1]:
        k -= 1
    return int(updates[min(k, len(ok) - 1)])


def development_dataset(
    checkpoint_activity: Sequence[np.ndarray],
    updates: Sequence[int],
    x: np.ndarray,
    y: np.ndarray,
    arena,
    errors: Sequence[float] | None = None,
    settings=None,
    params: DevelopmentParams = DevelopmentParams(),
    seed: int = 0,
) -> xr.Dataset:
    """Per-checkpoint maps, scores, cell types and counts, and the joint t-SNE.

    Parameters
    ----------
    checkpoint_activity : per checkpoint, (S, N) activity on the same test samples.
    updates : optimiser updates of each checkpoint.
    x, y : (S,) positions (m).
    arena : Arena.
    errors : per checkpoint RMS position error (m), stored if given.
    settings : :class:`cw.analysis.units.AnalysisSettings` of the run (None: the defaults);
        ``params.n_shuffles`` overrides its ``shuffles.n_shuffles``.
    params : DevelopmentParams; seed : seeds the shuffles (per checkpoint) and the t-SNE.

    Returns
    -------
    Dataset with dims ``checkpoint``, ``unit``, ``y``, ``x``, ``cell_type_label``,
    ``tsne_checkpoint``, ``component``: ``rate`` (checkpoint, unit, y, x), every per-unit score
    and ``threshold_/significant_<score>`` and ``cell_type`` on (checkpoint, unit),
    ``type_count`` (checkpoint, cell_type_label), ``tsne`` (tsne_checkpoint, unit, component),
    ``tsne_distance`` (unit), ``map_correlation_to_final`` (checkpoint, unit), coordinate
    ``update``; attributes ``final_count_<type>`` (last checkpoint) and, when a checkpoint is at
    update 0, ``untrained_count_<type>``: the untrained network classified the same way (the
    network null: its counts are what chance gives), with ``has_untrained_checkpoint``.
    """
    from cw.analysis.ratemaps import SpatialBins
    from cw.analysis.scores import score_maps
    from cw.analysis.shuffles import ShiftedRatemaps
    from cw.analysis.units import AnalysisSettings, analyse_units

    settings = (settings or AnalysisSettings()).with_shuffles(params.n_shuffles)
    K = len(checkpoint_activity)
    if len(updates) != K:
        raise ValueError("development: one update number per checkpoint needed")
    rp, sp_ = settings.ratemaps, settings.scores
    started = time.monotonic()
    # Every checkpoint bins the same samples, and the scores of its own maps do not depend on the
    # other maps scored with them: the maps of all checkpoints are scored in one call, so that
    # the search grids of the lattice fits are built once per run instead of once per checkpoint.
    bins = SpatialBins(x, y, arena, rp.bin_size, rp.min_occupancy)
    maps, variances = [], []
    for act in checkpoint_activity:  # no binner is kept: each holds a float64 copy of the activity
        b = ShiftedRatemaps(x, y, act, arena, rp.bin_size, rp.min_occupancy, rp.smoothing_sigma, bins=bins)
        maps.append(b.maps(0))
        variances.append(b.variance)
    n_units = [m.shape[0] for m in maps]
    observed_all = score_maps(np.concatenate(maps), bins.x_centres, bins.y_centres, arena, sp_.grid,
                              sp_.border, sp_.band, sp_.geometry, bins.occupancy,
                              np.concatenate(variances), bin_size=bins.step)
    del maps
    log.info("development: maps of %d checkpoints scored in %.0f s", K, time.monotonic() - started)
    edges = np.concatenate([[0], np.cumsum(n_units)])
    shuffles_started = time.monotonic()
    per = []
    rates = []
    for k, act in enumerate(checkpoint_activity):
        rng = rng_for(seed, "development", k)
        observed = {name: v[edges[k]:edges[k + 1]] for name, v in observed_all.items()}
        ds, rate = analyse_units(x, y, act, arena, settings, rng,
                                 keep_null=False, observed=observed, bins=bins)
        counts = {str(t): int(c) for t, c in zip(ds["cell_type_label"].values, ds["type_count"].values)
                  } if "type_count" in ds else {}
        elapsed = time.monotonic() - started
        each = (time.monotonic() - shuffles_started) / (k + 1)  # the shuffles of one checkpoint
        log.info("development: checkpoint %d of %d (update %d) analysed; %s; %.0f s, ~%.0f s left",
                 k + 1, K, int(updates[k]), ", ".join(f"{t} {c}" for t, c in counts.items() if c),
                 elapsed, each * (K - k - 1))
        drop = [v for v in ds.data_vars if v.startswith("p_")]
        per.append(ds.drop_vars(drop + ["shift"], errors="ignore").drop_dims("shuffle", errors="ignore"))
        rates.append(rate)
    out = xr.concat(per, dim="checkpoint", data_vars="all", coords="minimal",
                    combine_attrs="override")
    out["rate"] = xr.concat(rates, dim="checkpoint")
    out["map_correlation_to_final"] = (("checkpoint", "unit"), map_correlation_to_final(
        out["rate"].transpose("checkpoint", "unit", "y", "x").values), {
        "long_name": "Pearson correlation of the unit's rate map with its map at the last "
                     "checkpoint", "units": "1"})
    out = out.assign_coords(update=("checkpoint", np.asarray(updates, np.int64), {
        "long_name": "optimiser updates completed at the checkpoint", "units": "1"}))
    if errors is not None:
        out["rms_position_error"] = ("checkpoint", np.asarray(errors, np.float64), {
            "long_name": "RMS distance between network output and true position on the test "
                         "trials", "units": "m"})
    # t-SNE over the chosen checkpoints
    idx = tsne_checkpoint_indices(K, params.tsne_checkpoints)
    S = checkpoint_activity[0].shape[0]
    s_max = min(S, int(params.max_samples))
    series = np.concatenate([np.asarray(checkpoint_activity[k])[:s_max].T for k in idx], axis=0)
    D = correlation_distance(series)
    emb = tsne_embedding(D, params.perplexity, seed)
    N = checkpoint_activity[0].shape[1]
    out["tsne"] = (("tsne_checkpoint", "unit", "component"), emb.reshape(len(idx), N, 2), {
        "long_name": "t-SNE embedding of units (distance 1 - firing-rate correlation)",
        "units": "1"})
    out = out.assign_coords(tsne_checkpoint=("tsne_checkpoint", np.asarray(idx, np.int64), {
        "long_name": "index of the embedded checkpoint"}))
    first, last = idx[0], idx[-1]
    out["tsne_distance"] = ("unit", D[np.arange(N), (len(idx) - 1) * N + np.arange(N)], {
        "long_name": f"1 - correlation of each unit's activity at checkpoints {first} and {last}",
        "units": "1"})
    out.attrs.update({f"development_{k}": ("null" if v is None else (list(v) if isinstance(v, tuple) else v))
                      for k, v in dataclasses.asdict(params).items()})
    out.attrs["development_tsne_method"] = (
        "sklearn TSNE(n_components=2, metric='precomputed', init='random'); distance = 1 - "
        "Pearson correlation of the units' activity time series on the same test samples")
    out.attrs["seed"] = int(seed)
    for key in [k for k in out.attrs if k.startswith("count_")]:
        del out.attrs[key]  # counts differ per checkpoint: see type_count
    # the network null beside the result: counts of the untrained network (update 0, if saved)
    # and of the last checkpoint, as attributes untrained_count_<type> / final_count_<type>
    upd = np.asarray(updates, np.int64)
    labels = [str(t) for t in out["cell_type_label"].values]
    tc = np.asarray(out["type_count"].transpose("checkpoint", "cell_type_label").values)
    zero = np.flatnonzero(upd == 0)
    for j, t in enumerate(labels):
        out.attrs[f"final_count_{t}"] = int(tc[-1, j])
        if zero.size:
            out.attrs[f"untrained_count_{t}"] = int(tc[zero[0], j])
    out.attrs["has_untrained_checkpoint"] = int(zero.size > 0)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m cw.analysis.development [--scores] DEVELOPMENT.nc ...``: each training's settling
    update and its cell-type counts per checkpoint (with ``--scores``, the grid-score summary of the
    place-cell network's table in the README)."""
    import argparse

    ap = argparse.ArgumentParser(description=settling_update.__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="development.nc of a run")
    ap.add_argument("--count-tolerance", type=int, default=1, help="units (default 1)")
    ap.add_argument("--min-median-correlation", type=float, default=0.97, help="(default 0.97)")
    ap.add_argument("--scores", action="store_true",
                    help="also, per checkpoint: the largest score60, the units whose score60 beats its "
                         "shuffles and reaches celltypes.min_grid_score, and the units a hexagonal "
                         "lattice explains at least celltypes.min_lattice_r2 of (largest |lattice_r2|)")
    args = ap.parse_args(argv)
    from cw.analysis.celltypes import CellTypeParams

    ctp = CellTypeParams()
    for path in args.files:
        with xr.open_dataset(path) as ds:
            typed = ds["type_count"].sel(cell_type_label=list(TYPED)).transpose("checkpoint", ...).values
            u = settling_update(ds["update"].values, typed,
                                ds["map_correlation_to_final"].transpose("checkpoint", "unit").values,
                                args.count_tolerance, args.min_median_correlation)
            med = np.nanmedian(ds["map_correlation_to_final"].transpose("checkpoint", "unit").values, axis=1)
            print(f"{path}: settled from update {u} (counts of {', '.join(TYPED)} within {args.count_tolerance} of the final ones, "
                  f"median map correlation with the final maps >= {args.min_median_correlation})")
            for k, upd in enumerate(ds["update"].values):
                counts = ", ".join(f"{t} {int(c)}" for t, c in zip(ds["cell_type_label"].values,
                                                                  ds["type_count"].values[k]) if c)
                print(f"  update {int(upd):5d}: median map r {med[k]:.3f}; {counts}")
                if args.scores:
                    s60 = ds["score60"].values[k]
                    sig = ds["significant_score60"].values[k].astype(bool) & (s60 >= ctp.min_grid_score)
                    lat = np.abs(ds["lattice_r2"].values[k])
                    print(f"      max score60 {np.nanmax(s60):.2f}; significant score60 >= "
                          f"{ctp.min_grid_score:g}: {int(sig.sum())}; |lattice_r2| >= {ctp.min_lattice_r2:g}: "
                          f"{int(np.sum(lat >= ctp.min_lattice_r2))} (max {np.nanmax(lat):.2f})")


if __name__ == "__main__":
    main()
