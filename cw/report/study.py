"""The study of conditions: one table and one figure over a set of runs that each change one
setting of the authors' (the ``study`` preset, workflow/presets/study.yaml).

Per run (row): the held-out position error as % of the arena width (claim C1a's measure), the
counts of grid-like, band-like and border units (cell types of :mod:`cw.analysis.celltypes`), the best
score60 and score90 of any unit, and the verdict of every claim C1-C9 that applies to the run
(from the claims table).  The figure shows, per run, the rate maps of the units with the best
score60 and the best score90.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from cw import io

log = logging.getLogger(__name__)

#: Cell types counted in the table.
COUNTED_TYPES = ("grid_like", "band_like", "border")


def _claim_verdicts(claims_csv: str | Path) -> dict[str, dict[str, str]]:
    """run -> claim -> verdict, and run -> 'C1a value' (error % of the arena width)."""
    out: dict[str, dict[str, str]] = {}
    with open(claims_csv, newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["run"], {})[row["claim"]] = row["verdict"]
            if row["claim"] == "C1a":
                out[row["run"]]["_error_pct"] = row["value"]
    return out


def _best(values: np.ndarray) -> float:
    """The largest finite value, NaN if there is none."""
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else float("nan")


def study_rows(
    runs: Sequence[Mapping], scores: Sequence[str], claims_csv: str | Path
) -> list[dict]:
    """One row per run: its label (the setting changed), error, cell-type counts, best scores,
    and one column per claim (verdict, or '' where the claim does not apply).

    ``runs``: one mapping per run with ``name`` and ``setting`` (a short description); ``scores``:
    the runs' scores.nc files, aligned with ``runs``.
    """
    verdicts = _claim_verdicts(claims_csv)
    claims = sorted({c for v in verdicts.values() for c in v if not c.startswith("_")})
    rows = []
    for run, path in zip(runs, scores):
        sc = io.open_dataset(path, required=("cell_type", "score60", "score90"))
        types = sc["cell_type"].values.astype(str)
        v = verdicts.get(run["name"], {})
        row = {
            "run": run["name"],
            "setting": run.get("setting", ""),
            "error_pct_width": float(v["_error_pct"]) if v.get("_error_pct", "") != "" else float("nan"),
            **{f"n_{t}": int(np.sum(types == t)) for t in COUNTED_TYPES},
            **{f"best_{k}": _best(sc[k].values) for k in ("score60", "score90")},
        }
        row.update({c: v.get(c, "") for c in claims})
        rows.append(row)
    return rows


def study_markdown(rows: Sequence[Mapping], preamble: str = "") -> str:
    """The study table as markdown."""
    if not rows:
        return preamble + "\n\n(no runs)\n"
    cols = list(rows[0])

    def fmt(x):
        return f"{x:.3g}" if isinstance(x, float) else str(x)

    lines = [preamble, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def study_figure(runs: Sequence[Mapping], ratemaps: Sequence[str], scores: Sequence[str]):
    """Per run, the rate maps of its best-score60 and best-score90 units (one row per run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cw.report.drawing import arena_corners, map_extent, add_title, draw_map, wrap_text

    n = len(runs)
    fig, axes = plt.subplots(n, 2, figsize=(4.2, 2.0 * n + 0.4), squeeze=False)
    for i, (run, rp, sp) in enumerate(zip(runs, ratemaps, scores)):
        rm = io.open_dataset(rp, required=("rate",))
        sc = io.open_dataset(sp, required=("score60", "score90", "cell_type"))
        for j, key in enumerate(("score60", "score90")):
            ax = axes[i, j]
            s = sc[key].values
            if not np.isfinite(s).any():
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"no finite {key}", ha="center", va="center", fontsize=7, transform=ax.transAxes)
                continue
            u = int(np.nanargmax(s))
            draw_map(ax, rm["rate"].values[u], map_extent(rm), arena_corners(rm))
            ax.set_title(f"unit {u}: {key} {s[u]:.2f}\n{sc['cell_type'].values[u]}", fontsize=7)
        # the row's label runs up the side of its maps: wrapped to their height
        axes[i, 0].set_ylabel(wrap_text(f"{run['name']}\n{run.get('setting', '')}", 1.5, 7), fontsize=7)
    add_title(fig, "Best-scoring unit of each setting (rate maps, own colour scale)", fontsize=8)
    fig.tight_layout()  # makes room for the title
    return fig


def make_study(runs: Sequence[Mapping], scores: Sequence[str], ratemaps: Sequence[str], claims_csv: str,
               table_csv: str, table_md: str, figure_outs: Sequence[str], dpi: int, preamble: str = "") -> None:
    """The study's table (CSV and markdown) and figure (PNG and PDF)."""
    from cw.analysis.claim_tables import write_claims_csv
    from cw.atomic import write_text_atomic
    from cw.report.drawing import save

    rows = study_rows(runs, scores, claims_csv)
    write_claims_csv(rows, table_csv, columns=list(rows[0]) if rows else ["run"])
    write_text_atomic(table_md, study_markdown(rows, preamble))
    save(study_figure(runs, ratemaps, scores), list(figure_outs), dpi=dpi)
    log.info("%s: %d settings", table_md, len(rows))
