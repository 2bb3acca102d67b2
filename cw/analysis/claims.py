"""The paper's claims, each turned into a measure, a threshold and a computed verdict.

Every verdict here is computed from the pipeline's data; none is written by hand. Each claim
function takes the Datasets of one run (``scores.nc``, ``tuning.nc``, ``development.nc``,
``boundary.nc``) and returns :class:`Claim` rows with the measure, the threshold, the measured
value and a verdict:

* ``holds``: the measured value meets the threshold;
* ``fails``: it does not (a failing claim is reported as failing);
* ``untestable``: the run lacks what the measure needs (e.g. no border units to compare).

Claims (docs/paper-map.md; thresholds in :class:`ClaimParams`, every one OURS since the paper
gives no numbers):

C1 path integration: RMS position error on the held-out test trials as % of the arena width
   (C1a), and over a long path the worst window's mean squared error against the best constant
   output's (C1b).
C2 grid-like units: units of cell type ``grid_like`` (:mod:`cw.analysis.celltypes`), the type the figures
   show; the score-only count (significant score90 in square arenas / score60 elsewhere above
   ``min_grid_score``, which smooth random maps also pass) is kept as a note, beside the count of
   the untrained network (update 0 of ``development.nc``, the network null).
C3 border units (C3a) and band-like units (C3b) present (cell types of :mod:`cw.analysis.celltypes`; the
   untrained network's count in the note).
C4 border units appear (>= ``min_units`` of the type) at an earlier checkpoint than grid-like
   units (cell types per checkpoint of ``development.nc``).
C5 (runs without the metabolic cost) most units are border units (C5a) and there are no
   grid-like units (C5b; cell type, which also needs a lattice in the autocorrelogram).
C6 the squared error grows with the time since the last boundary interaction (C6a, Pearson r of
   the mean error against the lag), drops after an episode of interactions (C6b, relative drop
   1 - mean error after / mean error before, :func:`cw.analysis.boundary.interaction_episodes`) and drops
   more after episodes of several interactions than after single ones (C6c, one-sided
   Mann-Whitney test of the drops, p < ``alpha``).
C7 border units are less speed-tuned than the others: median |speed r| of the border units below
   that of the other units, one-sided Mann-Whitney p < ``alpha``.
C8 many units are linearly speed-tuned (Fig. 3): the fraction of units whose linear speed tuning
   has |r| >= ``min_speed_r`` is at least ``min_speed_tuned_fraction``.
C9 the most direction-tuned units are weakly spatial (Fig. 3): Spearman's rho between the
   resultant length of each unit's direction tuning and its spatial variance fraction is
   negative, one-sided p < ``alpha``.

Runs are "ablation" runs when their ``loss.lambda_fr`` is 0: C5 applies to them, C2-C4 and C6-C9
to the others; C1 to every run.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from cw.config import schema_default
from cw.stats import pearson
from cw.validation import section_from_dict

__all__ = ["ClaimParams", "Claim", "run_claims", "claims_table", "summarise_seeds",
           "scale_preamble", "untrained_count"]

HOLDS, FAILS, UNTESTABLE = "holds", "fails", "untestable"


@dataclass(frozen=True)
class ClaimParams:
    """Thresholds of the claims (all OURS: the paper states no numbers)."""

    #: C1a: RMS test position error, % of the arena width, below which path integration holds.
    max_error_pct_width: float = schema_default("claims", "max_error_pct_width")
    #: C1b: worst long-path window MSE / best-constant MSE must stay below this ("well below").
    max_long_error_ratio: float = schema_default("claims", "max_long_error_ratio")
    #: C2's note only: absolute minimum grid score of the score-only count (literature: 0.3).
    min_grid_score: float = schema_default("claims", "min_grid_score")
    #: C2, C3, C4: units of a type needed to call the type present.
    min_units: int = schema_default("claims", "min_units")
    #: C5a: fraction of all units that must be border units ("most").
    min_border_fraction: float = schema_default("claims", "min_border_fraction")
    #: C5b: largest number of grid-like units allowed ("no periodic maps").
    max_grid_units: int = schema_default("claims", "max_grid_units")
    #: C6a: minimum Pearson r of mean error against time since the last interaction.
    min_growth_r: float = schema_default("claims", "min_growth_r")
    #: C6b: minimum relative drop of the error after an episode of interactions.
    min_drop: float = schema_default("claims", "min_drop")
    #: C6: bins (C6a) or episode groups (C6b, C6c) with fewer samples than this are left out.
    min_bin_samples: int = schema_default("claims", "min_bin_samples")
    #: C6c, C7, C9: significance level of the one-sided tests.
    alpha: float = schema_default("claims", "alpha")
    #: C8: |r| of the linear speed tuning from which a unit counts as speed-tuned.
    min_speed_r: float = schema_default("claims", "min_speed_r")
    #: C8: fraction of all units that must be speed-tuned ("many").
    min_speed_tuned_fraction: float = schema_default("claims", "min_speed_tuned_fraction")

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "ClaimParams":
        return section_from_dict(cls, d, "claims")


@dataclass
class Claim:
    claim: str
    run: str
    arena: str
    statement: str
    measure: str
    threshold: str
    value: float
    verdict: str
    note: str = ""

    def row(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


COLUMNS = [f.name for f in dataclasses.fields(Claim)]


def _verdict(ok: bool | None) -> str:
    return UNTESTABLE if ok is None else (HOLDS if ok else FAILS)


def _types(ds) -> np.ndarray:
    return np.asarray(ds["cell_type"].values).astype(str)


def arena_width(ds) -> float:
    """Width (max - min x of the corners, m) of the arena recorded in ``ds.attrs['arena_corners']``."""
    c = np.asarray(ds.attrs["arena_corners"], float).reshape(-1, 2)
    return float(c[:, 0].max() - c[:, 0].min())


# -- one function per claim ----------------------------------------------------------------------
def c1_path_integration(run, arena, boundary, scores, p: ClaimParams) -> list[Claim]:
    out = []
    width = arena_width(scores)
    # mse_test_m2 is the per-sample term of eq. 3, the mean over the two output coordinates:
    # the RMS distance between output and true position is sqrt(2 x mse)
    rms = math.sqrt(2.0 * float(boundary.attrs["mse_test_m2"]))
    pct = 100.0 * rms / width
    out.append(Claim("C1a", run, arena, "the network path-integrates (held-out test trials)",
                     "RMS position error, % of arena width", f"< {p.max_error_pct_width:g}",
                     pct, _verdict(pct < p.max_error_pct_width), f"RMS {rms * 100:.1f} cm, width {width:.2f} m"))
    if "long_error_mean" in boundary and boundary["long_error_mean"].size:
        worst = float(np.nanmax(boundary["long_error_mean"].values))
        const = float(boundary.attrs.get("long_path_const_mse_m2", np.nanmean(boundary["const_error_mean"].values)))
        ratio = worst / const if const > 0 else float("inf")
        mean = float(np.nanmean(boundary["long_error_mean"].values))
        note = (f"{boundary.attrs.get('long_path_steps', '?')} steps, worst window {worst:.3g} m2, "
                f"mean over windows {mean:.3g} m2, constant {const:.3g} m2")
        out.append(Claim("C1b", run, arena, "long-run error stays below the best constant output",
                         "worst window MSE / best-constant MSE", f"< {p.max_long_error_ratio:g}",
                         ratio, _verdict(ratio < p.max_long_error_ratio), note))
    else:
        out.append(Claim("C1b", run, arena, "long-run error stays below the best constant output",
                         "worst window MSE / best-constant MSE", f"< {p.max_long_error_ratio:g}",
                         float("nan"), UNTESTABLE, "no long-path windows"))
    return out


def grid_units(scores, arena: str, min_score: float) -> np.ndarray:
    """C2's grid-like units: significant grid score (score90 in a square arena, else score60)
    above ``min_score``."""
    key = "score90" if arena == "square" else "score60"
    s = np.asarray(scores[key].values, float)
    sig = np.asarray(scores[f"significant_{key}"].values, bool)
    return np.flatnonzero(sig & (s > min_score))


def untrained_count(dev, cell_type: str) -> int | None:
    """Units of ``cell_type`` in the untrained network (the checkpoint at update 0 of a
    ``development.nc``), or None when there is no development data or no update-0 checkpoint."""
    if dev is None or "type_count" not in dev:
        return None
    upd = np.asarray(dev["update"].values, int)
    hit = np.flatnonzero(upd == 0)
    if hit.size == 0:
        return None
    labels = list(np.asarray(dev["cell_type_label"].values).astype(str))
    return int(np.asarray(dev["type_count"].values)[hit[0], labels.index(cell_type)])


def _null_note(dev, cell_type: str) -> str:
    n0 = untrained_count(dev, cell_type)
    return "" if n0 is None else f"; untrained network (update 0): {n0}"


def c2_grid(run, arena, scores, p: ClaimParams, development=None) -> Claim:
    """C2: at least ``min_units`` units of cell type grid_like (the type the figures show)."""
    key = "score90" if arena == "square" else "score60"
    n_score = int(grid_units(scores, arena, p.min_grid_score).size)
    n_ct = int(np.sum(_types(scores) == "grid_like"))
    return Claim("C2", run, arena, "grid-like units emerge", "units of cell type grid_like",
                 f">= {p.min_units}", float(n_ct), _verdict(n_ct >= p.min_units),
                 f"score-only count (significant {key} > {p.min_grid_score:g}, no lattice "
                 f"test): {n_score}" + _null_note(development, "grid_like"))


def c3_border_band(run, arena, scores, p: ClaimParams, development=None) -> list[Claim]:
    ct = _types(scores)
    out = []
    for key, t, what in (("C3a", "border", "border units"), ("C3b", "band_like", "band-like units")):
        n = int(np.sum(ct == t))
        note = _null_note(development, t).lstrip("; ")
        out.append(Claim(key, run, arena, f"{what} emerge", f"units of cell type {t}",
                         f">= {p.min_units}", float(n), _verdict(n >= p.min_units), note))
    return out


def c4_order(run, arena, dev, p: ClaimParams) -> Claim:
    labels = list(np.asarray(dev["cell_type_label"].values).astype(str))
    counts = np.asarray(dev["type_count"].values, int)
    upd = np.asarray(dev["update"].values, int)

    def first(t):
        hit = np.flatnonzero(counts[:, labels.index(t)] >= p.min_units)
        return int(upd[hit[0]]) if hit.size else None

    fb, fg = first("border"), first("grid_like")
    note = f"first update with >= {p.min_units}: border {fb}, grid-like {fg}; checkpoints at {list(map(int, upd))}"
    if fb is None:
        ok, value = False, float("nan")
        note = "no border units at any checkpoint; " + note
    elif fg is None:
        ok, value = False, float("nan")
        note = "no grid-like units at any checkpoint; " + note
    else:
        ok, value = fb < fg, float(fg - fb)
    return Claim("C4", run, arena, "border units emerge before grid-like units",
                 "first grid-like update - first border update", "> 0", value, _verdict(ok), note)


def c5_ablation(run, arena, scores, p: ClaimParams) -> list[Claim]:
    ct = _types(scores)
    frac = float(np.mean(ct == "border")) if ct.size else float("nan")
    n_grid = int(np.sum(ct == "grid_like"))
    n_c2 = int(grid_units(scores, arena, p.min_grid_score).size)
    return [
        Claim("C5a", run, arena, "without the metabolic cost, most units are border units",
              "fraction of units of cell type border", f">= {p.min_border_fraction:g}", frac,
              _verdict(frac >= p.min_border_fraction)),
        Claim("C5b", run, arena, "without the metabolic cost, no grid-like units",
              "units of cell type grid_like", f"<= {p.max_grid_units}", float(n_grid),
              _verdict(n_grid <= p.max_grid_units), f"C2's score-only count: {n_c2}"),
    ]


def c6_boundary(run, arena, boundary, p: ClaimParams) -> list[Claim]:
    lag = np.asarray(boundary["lag"].values, float)
    m = np.asarray(boundary["error_since_boundary_mean"].values, float)
    ok = (np.asarray(boundary["error_since_boundary_count"].values) >= p.min_bin_samples) & np.isfinite(m)
    r_lag = pearson(lag[ok], m[ok])
    slope = float(np.polyfit(lag[ok], m[ok], 1)[0]) if ok.sum() >= 3 else float("nan")
    rows = [
        Claim("C6a", run, arena, "error grows without boundary interactions",
              "Pearson r, mean squared error vs steps since the last interaction",
              f">= {p.min_growth_r:g}", r_lag,
              _verdict(None if not np.isfinite(r_lag) else r_lag >= p.min_growth_r),
              f"{int(ok.sum())} lags with >= {p.min_bin_samples} samples; slope {slope:.3g} m2/step"),
    ]
    if "episode_size" not in boundary:
        return rows + [Claim(c, run, arena, s, "episodes of interactions", "", float("nan"),
                             _verdict(None), "boundary.nc has no episode analysis (rerun boundary)")
                       for c, s in (("C6b", "error drops after boundary interactions"),
                                    ("C6c", "more interactions, more drop"))]
    size = np.asarray(boundary["episode_size"].values, int)
    before = np.asarray(boundary["episode_error_before"].values, float)
    after = np.asarray(boundary["episode_error_after"].values, float)
    n_ep = size.size
    rel = 1.0 - after.mean() / before.mean() if n_ep and before.mean() > 0 else float("nan")
    ok_b = n_ep >= p.min_bin_samples and np.isfinite(rel)
    rows.append(Claim(
        "C6b", run, arena, "error drops after boundary interactions",
        "relative drop of the mean squared error, 1 - after / before an episode",
        f">= {p.min_drop:g}", rel, _verdict(rel >= p.min_drop if ok_b else None),
        f"{n_ep} episodes; mean error before {before.mean() if n_ep else float('nan'):.3g} m2, "
        f"after {after.mean() if n_ep else float('nan'):.3g} m2"))
    drop = before - after
    one, more = drop[size == 1], drop[size >= 2]
    testable = one.size >= p.min_bin_samples and more.size >= p.min_bin_samples
    diff = float(np.mean(more) - np.mean(one)) if testable else float("nan")
    pval = mann_whitney_less(one, more) if testable else float("nan")
    rows.append(Claim(
        "C6c", run, arena, "more interactions, more drop",
        "mean drop after >= 2 interactions - after 1 (m2)", f"> 0 and Mann-Whitney p < {p.alpha:g}",
        diff, _verdict(diff > 0 and pval < p.alpha if testable else None),
        f"{more.size} episodes of >= 2 (mean drop {np.mean(more) if more.size else float('nan'):.3g} m2) vs "
        f"{one.size} of 1 ({np.mean(one) if one.size else float('nan'):.3g} m2); one-sided p = {pval:.3g}"))
    return rows


def mann_whitney_less(a: np.ndarray, b: np.ndarray) -> float:
    """One-sided p that ``a`` tends to be smaller than ``b`` (scipy's Mann-Whitney U)."""
    from scipy.stats import mannwhitneyu

    if a.size == 0 or b.size == 0:
        return float("nan")
    return float(mannwhitneyu(a, b, alternative="less").pvalue)


def c7_speed(run, arena, scores, tuning, p: ClaimParams) -> Claim:
    ct = _types(scores)
    r = np.abs(np.asarray(tuning["speed_r"].values, float))
    border = r[(ct == "border") & np.isfinite(r)]
    other = r[(ct != "border") & np.isfinite(r)]
    if border.size == 0 or other.size == 0:
        return Claim("C7", run, arena, "border units are less speed-tuned than the others",
                     "median |speed r|: border - others", f"< 0 and Mann-Whitney p < {p.alpha:g}",
                     float("nan"), UNTESTABLE, f"{border.size} border units, {other.size} others")
    diff = float(np.median(border) - np.median(other))
    pval = mann_whitney_less(border, other)
    return Claim("C7", run, arena, "border units are less speed-tuned than the others",
                 "median |speed r|: border - others", f"< 0 and Mann-Whitney p < {p.alpha:g}", diff,
                 _verdict(diff < 0 and pval < p.alpha),
                 f"{border.size} border (median {np.median(border):.2f}) vs {other.size} others "
                 f"(median {np.median(other):.2f}); one-sided p = {pval:.3g}")


def c8_speed_tuned(run, arena, tuning, p: ClaimParams) -> Claim:
    r = np.abs(np.asarray(tuning["speed_r"].values, float))
    r = r[np.isfinite(r)]
    statement, measure = "many units are linearly speed-tuned", f"fraction of units with |speed r| >= {p.min_speed_r:g}"
    if r.size == 0:
        return Claim("C8", run, arena, statement, measure, f">= {p.min_speed_tuned_fraction:g}",
                     float("nan"), UNTESTABLE, "no unit with a speed tuning")
    tuned = r >= p.min_speed_r
    frac = float(np.mean(tuned))
    return Claim("C8", run, arena, statement, measure, f">= {p.min_speed_tuned_fraction:g}", frac,
                 _verdict(frac >= p.min_speed_tuned_fraction),
                 f"{int(tuned.sum())} of {r.size} units; median |speed r| {np.median(r):.3f}, "
                 f"largest {r.max():.3f}")


def c9_direction(run, arena, scores, tuning, p: ClaimParams) -> Claim:
    from scipy.stats import spearmanr

    statement = "the most direction-tuned units are weakly spatial"
    measure = "Spearman rho: direction resultant length vs spatial variance fraction"
    threshold = f"< 0 and one-sided p < {p.alpha:g}"
    if "resultant_length" not in tuning or "spatial_variance_fraction" not in scores:
        return Claim("C9", run, arena, statement, measure, threshold, float("nan"), UNTESTABLE,
                     "no direction tuning or spatial variance fraction in the run's files")
    rl = np.asarray(tuning["resultant_length"].values, float)
    sv = np.asarray(scores["spatial_variance_fraction"].values, float)
    ok = np.isfinite(rl) & np.isfinite(sv)
    if ok.sum() < 3:
        return Claim("C9", run, arena, statement, measure, threshold, float("nan"), UNTESTABLE,
                     f"{int(ok.sum())} units with both measures")
    res = spearmanr(rl[ok], sv[ok], alternative="less")
    rho, pval = float(res.statistic), float(res.pvalue)
    top = np.argsort(rl[ok])[-10:]
    return Claim("C9", run, arena, statement, measure, threshold, rho, _verdict(rho < 0 and pval < p.alpha),
                 f"{int(ok.sum())} units; one-sided p = {pval:.3g}; spatial variance fraction of the 10 most "
                 f"direction-tuned {np.median(sv[ok][top]):.2f} (median) against {np.median(sv[ok]):.2f} for all")


def run_claims(run: str, arena: str, ablation: bool, scores=None, tuning=None, development=None,
               boundary=None, params: ClaimParams = ClaimParams()) -> list[Claim]:
    """Every claim that applies to one run, from its Datasets (any may be None: its claims are
    then left out). ``arena`` is the arena's shape (square, triangle, hexagon, polygon);
    ``ablation``: the run has no metabolic cost (C5 instead of C2-C4, C6-C9)."""
    p = params
    out: list[Claim] = []
    if boundary is not None and scores is not None:
        out += c1_path_integration(run, arena, boundary, scores, p)
    if ablation:
        if scores is not None:
            out += c5_ablation(run, arena, scores, p)
        return out
    if scores is not None:
        out.append(c2_grid(run, arena, scores, p, development))
        out += c3_border_band(run, arena, scores, p, development)
    if development is not None:
        out.append(c4_order(run, arena, development, p))
    if boundary is not None:
        out += c6_boundary(run, arena, boundary, p)
    if scores is not None and tuning is not None:
        out.append(c7_speed(run, arena, scores, tuning, p))
    if tuning is not None:
        out.append(c8_speed_tuned(run, arena, tuning, p))
    if scores is not None and tuning is not None:
        out.append(c9_direction(run, arena, scores, tuning, p))
    return out


def scale_preamble(output_dir: str, runs: Mapping[str, Mapping],
                   reference: Mapping | None = None) -> str:
    """The top of claims.md: which configuration produced the table and at what scale.

    Parameters
    ----------
    output_dir : the config's ``output_dir``.
    runs : run name -> resolved run config (:func:`cw.config.resolve_run`: sections
        ``training``, ``model``, ``trajectories``, ``shuffles``).
    reference : the paper-scale settings to compare with (default: the defaults of
        ``config.yaml``'s schema, read from it: 1,900 updates, 100 units, 500 test trials of
        500 steps).

    Returns
    -------
    Markdown text: output folder, the scale numbers of every run, and, when any run is below
    the reference scale, a warning that its verdicts are not the paper's test.
    """
    ref = dict(reference or _schema_scale())
    lines = [f"Produced from output folder `{output_dir}`. Scale of every run (training updates, "
             "units, test trials x steps, shuffles per unit):", ""]
    reduced = []
    for name in sorted(runs):
        r = runs[name]
        sc = {"n_updates": int(r["training"]["n_updates"]), "n_units": int(r["model"]["n_units"]),
              "n_test": int(r["trajectories"]["n_test"]),
              "n_steps": int(r["trajectories"]["n_steps"])}
        nsh = int(r.get("shuffles", {}).get("n_shuffles", 0))
        lines.append(f"- `{name}`: n_updates {sc['n_updates']}, n_units {sc['n_units']}, "
                     f"n_test {sc['n_test']} x n_steps {sc['n_steps']}, n_shuffles {nsh}")
        if any(sc[k] < ref[k] for k in ref):
            reduced.append(name)
    lines.append("")
    if reduced:
        lines.append(f"**Reduced scale** ({', '.join(reduced)}: below the paper-scale settings "
                     f"n_updates {ref['n_updates']}, n_units {ref['n_units']}, n_test "
                     f"{ref['n_test']} x n_steps {ref['n_steps']}): these verdicts test the "
                     "pipeline, they are not the paper's test.")
    else:
        lines.append("Paper scale (config.yaml's settings or above).")
    return "\n".join(lines)


def claims_table(claims: Sequence[Claim]) -> list[dict]:
    """Rows sorted by claim, then run."""
    return [c.row() for c in sorted(claims, key=lambda c: (c.claim, c.run))]


def base_run(name: str) -> str:
    """A run's name without the ``_seed<k>`` suffix of :func:`cw.config.expand_runs`."""
    return re.sub(r"_seed\d+$", "", name)


def summarise_seeds(rows: Sequence[Mapping]) -> list[dict]:
    """Per claim and run group (run name without ``_seed<k>``): how many seeds hold, and the
    median and range of the value. The group's verdict is ``holds`` when every testable seed
    holds, ``fails`` when none does, else ``mixed``."""
    groups: dict[tuple[str, str], list[Mapping]] = {}
    for r in rows:
        groups.setdefault((r["claim"], base_run(r["run"])), []).append(r)
    out = []
    for (claim, group), rs in sorted(groups.items()):
        vals = np.array([float(r["value"]) for r in rs], float)
        n_hold = sum(r["verdict"] == HOLDS for r in rs)
        n_test = sum(r["verdict"] != UNTESTABLE for r in rs)
        verdict = UNTESTABLE if n_test == 0 else HOLDS if n_hold == n_test else FAILS if n_hold == 0 else "mixed"
        fin = vals[np.isfinite(vals)]
        out.append({
            "claim": claim, "runs": group, "arena": rs[0]["arena"], "statement": rs[0]["statement"],
            "measure": rs[0]["measure"], "threshold": rs[0]["threshold"], "n_seeds": len(rs),
            "n_holds": n_hold, "n_testable": n_test,
            "median": float(np.median(fin)) if fin.size else float("nan"),
            "min": float(fin.min()) if fin.size else float("nan"),
            "max": float(fin.max()) if fin.size else float("nan"), "verdict": verdict,
        })
    return out


def _schema_scale() -> dict:
    """The paper-scale settings: the schema's defaults of n_updates, n_units, n_test, n_steps."""
    from cw.config import load_schema

    d = load_schema()["$defs"]
    return {
        "n_updates": d["training"]["properties"]["n_updates"]["default"],
        "n_units": d["model"]["properties"]["n_units"]["default"],
        "n_test": d["trajectories"]["properties"]["n_test"]["default"],
        "n_steps": d["trajectories"]["properties"]["n_steps"]["default"],
    }
