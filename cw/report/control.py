"""The read-out control side by side: Cueva & Wei's (x, y) network, the place-cell network and the
theory maps of both read-outs, through the same rate-map, score and cell-type path.

One figure (``python -m cw.report.control``, ``make control``):

* rows of rate maps, one row per source: the units with the highest score60 of each trained
  network at its last checkpoint, and the theory maps (:mod:`cw.analysis.theory_control`) of
  place-cell and of (x, y) targets; each panel titled with its score60 and cell type;
* the fraction of each cell type per source (the networks at their last checkpoint);
* the distribution of score60 per source;
* score60 over training per network: the largest, the 90th percentile and the median over units
  at every checkpoint, and the median shuffle threshold, with the count of grid-like units.

The networks are read from the ``development.nc`` of their analysis (rule ``development`` or
``development_place``: rate maps, scores and cell types at every saved checkpoint), so the figure
needs no other file and no computation beyond the theory maps (seconds).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

__all__ = ["Source", "network_source", "theory_source", "control_figure", "counts_markdown", "main"]


@dataclass(frozen=True)
class Source:
    """One column of the comparison: maps, scores and cell types of one network or theory.

    Attributes
    ----------
    label : str
        Name shown in the figure.
    rate : (U, Y, X) float array
        Rate maps (activity units; NaN outside the arena).
    extent : (4,) tuple
        ``(xmin, xmax, ymin, ymax)`` of the maps (m).
    corners : (K, 2) array or None
        Arena outline (m).
    score60 : (U,) float array
    cell_type : (U,) str array
        Of :data:`cw.analysis.celltypes.CELL_TYPES`.
    history : mapping or None
        For trained networks, per checkpoint: ``"checkpoint"`` (C,) updates or steps,
        ``"score60"`` (C, U), ``"threshold"`` (C, U) shuffle thresholds of score60,
        ``"grid_like"`` (C,) counts; ``"unit"``: what a checkpoint counts (``"update"``,
        ``"step"``).
    """

    label: str
    rate: np.ndarray
    extent: tuple
    corners: np.ndarray | None
    score60: np.ndarray
    cell_type: np.ndarray
    history: Mapping | None = None


def network_source(label: str, development_nc: str, step_name: str | None = None) -> Source:
    """A trained network from its ``development.nc``: the maps and types at the last checkpoint,
    the score60 history over all checkpoints.

    Parameters
    ----------
    label : str
    development_nc : str
        Output of rule ``development`` or ``development_place``.
    step_name : str, optional
        What a checkpoint counts, for the axis label; by default ``"step"`` (Adam) for a
        place-cell network (global attribute ``readout`` = ``place_cells``), ``"update"``
        (Hessian-free) otherwise.
    """
    from cw import io
    from cw.report.drawing import arena_corners, map_extent

    ds = io.open_dataset(development_nc, required=("rate", "score60", "cell_type", "threshold_score60"))
    if step_name is None:
        step_name = "step" if ds.attrs.get("readout") == "place_cells" else "update"
    last = ds.sizes["checkpoint"] - 1
    ct = ds["cell_type"].values.astype(str)
    history = {
        "checkpoint": ds["update"].values.astype(float),
        "score60": ds["score60"].values,
        "threshold": ds["threshold_score60"].values,
        "grid_like": (ct == "grid_like").sum(axis=1),
        "unit": step_name,
    }
    return Source(label, ds["rate"].values[last], map_extent(ds), arena_corners(ds),
                  ds["score60"].values[last], ct[last], history)


def theory_source(label: str, arena: str, targets: str, config: Mapping | str, n_maps: int = 32,
                  seed: int = 0) -> Source:
    """Theory maps of one read-out through the classification path
    (:func:`cw.analysis.theory_control.classify_theory_maps`, its defaults otherwise)."""
    from cw.analysis.pattern_formation import PatternFormationParams
    from cw.analysis.theory_control import classify_theory_maps
    from cw.report.drawing import map_extent

    res = classify_theory_maps(arena, targets, config, seed=seed, params=PatternFormationParams(n_maps=n_maps))
    rate = res["ratemaps"]  # DataArray (unit, y, x)
    return Source(label, rate.values, map_extent(rate), res["arena"].corners, res["scores"]["score60"].values,
                  res["cell_type"])


def _fractions(source: Source) -> dict[str, float]:
    """Fraction of the source's units of every cell type (:func:`cw.analysis.celltypes.type_counts`)."""
    from cw.analysis.celltypes import type_counts

    n = max(len(source.cell_type), 1)
    return {t: c / n for t, c in type_counts(source.cell_type).items()}


def counts_markdown(sources: Sequence[Source]) -> str:
    """A markdown table: per source, the number of maps and the count (percentage) of each type,
    the median and largest score60."""
    from cw.analysis.celltypes import CELL_TYPES, type_counts
    from cw.report.drawing import TYPE_LABELS

    head = "| source | maps | " + " | ".join(TYPE_LABELS[t] for t in CELL_TYPES) + " | median / largest score60 |"
    rows = [head, "|" + "---|" * (len(CELL_TYPES) + 3)]
    for s in sources:
        n = len(s.cell_type)
        cells = [f"{c} ({100.0 * c / max(n, 1):.0f}%)" for c in type_counts(s.cell_type).values()]
        f = s.score60[np.isfinite(s.score60)]
        sc = f"{np.median(f):.2f} / {np.max(f):.2f}" if f.size else "n/a"
        rows.append(f"| {s.label} | {n} | " + " | ".join(cells) + f" | {sc} |")
    return "\n".join(rows) + "\n"


def _best_units(source: Source, n: int) -> list[int]:
    s = np.where(np.isfinite(source.score60), source.score60, -np.inf)
    return [int(i) for i in np.argsort(-s, kind="stable")[:n]]


def control_figure(sources: Sequence[Source], n_maps: int = 8, title: str = ""):
    """The comparison figure (see the module docstring).

    Parameters
    ----------
    sources : sequence of Source
        Networks first, then theories; every source gets a row of maps and a bar, lettered (a),
        (b), ... in this order (the keys of the bar chart and the histograms).
    n_maps : int
        Rate maps per row (the highest score60 first).
    title : str
        Figure title (empty: none).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cw.analysis.celltypes import CELL_TYPES
    from cw.report.drawing import TYPE_COLOURS, TYPE_LABELS, add_title, draw_map, empty_panel, wrap_text

    trained = [(k, s) for k, s in enumerate(sources) if s.history is not None]
    n_rows = len(sources)
    map_in, label_in, width = 0.78, 1.25, 7.4
    maps_h = n_rows * (map_in + 0.3)
    plots_h = 2.1
    fig = plt.figure(figsize=(width, maps_h + 2 * plots_h + 0.5))
    h = fig.get_figheight()
    top = 1.0 - 0.15 / h
    gap = (width - label_in - 0.1 - n_maps * map_in) / max(n_maps - 1, 1)
    # rate maps
    for r, src in enumerate(sources):
        y1 = top - r * (map_in + 0.3) / h - 0.3 / h
        units = _best_units(src, n_maps)
        for c in range(n_maps):
            x0 = (label_in + c * (map_in + gap)) / width
            ax = fig.add_axes([x0, y1 - map_in / h, map_in / width, map_in / h])
            if c >= len(units):
                empty_panel(ax, "")
                continue
            u = units[c]
            draw_map(ax, src.rate[u], src.extent, src.corners)
            s60 = src.score60[u]
            ax.set_title(f"{s60:.2f} {TYPE_LABELS[src.cell_type[u]]}" if np.isfinite(s60)
                         else TYPE_LABELS[src.cell_type[u]], fontsize=5.5, pad=2,
                         color=TYPE_COLOURS[src.cell_type[u]] if src.cell_type[u] != "non_spatial" else "0.3")
        fig.text(0.1 / width, y1 - 0.5 * map_in / h, wrap_text(f"({chr(97 + r)}) {src.label}", label_in - 0.2, 6.5),
                 fontsize=6.5, va="center", ha="left")
    bottom_top = top - maps_h / h - 0.35 / h
    ph = (plots_h - 0.55) / h
    # cell-type fractions
    ax = fig.add_axes([0.62 / width, bottom_top - ph, 2.6 / width, ph])
    left = np.zeros(len(sources))
    ypos = np.arange(len(sources))[::-1]
    fractions = [_fractions(s) for s in sources]
    for t in CELL_TYPES:
        f = np.array([fr[t] for fr in fractions])
        ax.barh(ypos, f, left=left, color=TYPE_COLOURS[t], label=TYPE_LABELS[t], height=0.7)
        left += f
    ax.set_yticks(ypos)
    ax.set_yticklabels([f"({chr(97 + i)})" for i in range(len(sources))], fontsize=6)
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of units (maps)", fontsize=6.5)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=5.5, ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False,
              columnspacing=0.8, handlelength=1.0)
    # score60 distributions
    ax = fig.add_axes([4.2 / width, bottom_top - ph, 2.95 / width, ph])
    finite = [s.score60[np.isfinite(s.score60)] for s in sources]
    lo = min([-0.5] + [float(f.min()) for f in finite if f.size])
    hi = max([1.5] + [float(f.max()) for f in finite if f.size])
    bins = np.linspace(lo, hi, 41)
    for i, f in enumerate(finite):
        if f.size:
            ax.hist(f, bins=bins, histtype="step", density=True, color=f"C{i}", lw=1.0,
                    label=f"({chr(97 + i)})")
    ax.set_xlabel("score60", fontsize=6.5)
    ax.set_ylabel("density", fontsize=6.5)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=5.5, frameon=False, loc="upper right")
    # score60 over training, one panel per trained network
    row2 = bottom_top - ph - 0.62 / h
    legend_in = 1.45  # the key of the lines, right of the last panel
    pw = (width - 0.62 - legend_in - 0.55 * max(len(trained) - 1, 0)) / max(len(trained), 1)
    for i, (k, src) in enumerate(trained):
        hist = src.history
        ax = fig.add_axes([(0.62 + i * (pw + 0.55)) / width, row2 - ph, pw / width, ph])
        # Hessian-free checkpoints are log-spaced (0 drawn at 1); Adam's come every few thousand steps
        log_x = hist["unit"] == "update"
        x = np.maximum(hist["checkpoint"], 1.0) if log_x else hist["checkpoint"]
        s = hist["score60"]
        with np.errstate(all="ignore"):
            ax.plot(x, np.nanmax(s, axis=1), color="k", lw=1.0, label="largest")
            ax.plot(x, np.nanpercentile(s, 90, axis=1), color="C1", lw=1.0, label="90th percentile")
            ax.plot(x, np.nanmedian(s, axis=1), color="C0", lw=1.0, label="median")
            ax.plot(x, np.nanmedian(hist["threshold"], axis=1), color="0.5", lw=0.8, ls="--",
                    label="shuffle threshold (median)")
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(f"training {hist['unit']}" + (" (0 drawn at 1)" if log_x else ""), fontsize=6.5)
        if i == 0:
            ax.set_ylabel("score60 over units", fontsize=6.5)
        ax.tick_params(labelsize=6)
        g = np.asarray(hist["grid_like"])
        gtext = (f"grid-like units: 0 at all {len(g)} checkpoints" if not g.any()
                 else f"grid-like units: up to {int(g.max())}, {int(g[-1])} at the last checkpoint")
        ax.set_title(wrap_text(f"({chr(97 + k)}) {gtext}", pw - 0.1, 6), fontsize=6, pad=3)
        if i == len(trained) - 1:
            ax.legend(fontsize=5.5, frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    if title:
        add_title(fig, title, fontsize=8, grow=True)
    return fig


def main(argv: list[str] | None = None) -> int:
    """``python -m cw.report.control --network LABEL=development.nc ... --out fig.png``."""
    ap = argparse.ArgumentParser(prog="python -m cw.report.control", description=__doc__.split("\n")[0])
    ap.add_argument("--network", action="append", default=[], metavar="LABEL=DEVELOPMENT_NC",
                    help="a trained network's development.nc (repeat)")
    ap.add_argument("--config", default="config.yaml", help="config of the theory maps' arena and analysis")
    ap.add_argument("--arena", default="square", help="arena of the theory maps (under arenas in the config)")
    ap.add_argument("--theory-maps", type=int, default=32, help="theory maps per read-out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dpi", type=int, default=200)
    ap.add_argument("--out", nargs="+", required=True, help="figure files (PNG, PDF)")
    a = ap.parse_args(argv)
    from cw.report.drawing import save

    sources = []
    for spec in a.network:
        if "=" not in spec:
            ap.error(f"--network {spec!r}: expected LABEL=path/to/development.nc")
        label, path = spec.split("=", 1)
        sources.append(network_source(label, path))
    for targets, label in (("dos", "theory: place-cell targets"), ("cartesian", "theory: (x, y) targets")):
        sources.append(theory_source(f"{label}, {a.arena}", a.arena, targets, a.config, a.theory_maps, a.seed))
    save(control_figure(sources), a.out, dpi=a.dpi)
    sys.stdout.write(counts_markdown(sources))
    return 0


if __name__ == "__main__":
    sys.exit(main())
