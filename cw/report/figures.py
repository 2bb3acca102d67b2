"""Figures in the style of the paper (matplotlib, headless)."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from cw.report.drawing import (  # noqa: F401 (the figures' helpers, used as fg.<name>)
    save,
    ratemap_panel,
    trajectory_panel,
    training_curves,
    FIG2_TYPES,
    TYPE_COLOURS,
    TYPE_LABELS,
    colour_key,
    map_extent,
    arena_corners,
    map_colourbar,
    colourbar_room,
    add_title,
    panel_grid_figure,
    draw_map,
    empty_panel,
    score_line,
    example_units,
)
from cw.report.tuning_figures import (  # noqa: F401 (used as fg.<name>)
    POLAR_NOTE,
    POLAR_OFFSET,
    direction_curve,
    speed_curve,
    speed_line,
    tuning_grid,
)


def example_types_panel(runs: Mapping[str, tuple[xr.Dataset, xr.Dataset, bool]], n_examples: int = 2,
                        title: str = ""):
    """Fig. 2: for each run (row block) the best ``n_examples`` units of each cell type with
    their scores printed; a type with no unit says so in its panel.

    ``runs`` maps a run name to (ratemaps, scores, square_like)."""
    names = list(runs)
    ncols = len(FIG2_TYPES) * n_examples
    fig, axes = plt.subplots(len(names), ncols, figsize=(1.35 * ncols, 1.85 * len(names) + 0.6),
                             squeeze=False)
    for r, name in enumerate(names):
        rm, sc, square_like = runs[name]
        ext, corners = map_extent(rm), arena_corners(rm)
        for t, ct in enumerate(FIG2_TYPES):
            units = example_units(sc, ct, n_examples, square_like)
            n_type = int(np.sum(np.asarray(sc["cell_type"].values).astype(str) == ct))
            for k in range(n_examples):
                ax = axes[r, t * n_examples + k]
                head = f"{TYPE_LABELS[ct]} ({n_type})" if k == 0 else ""
                if k < len(units):
                    i = units[k]
                    draw_map(ax, rm["rate"].values[i], ext, corners)
                    ax.set_title(f"unit {i}\n{score_line(sc, i)}", fontsize=5.5, pad=2)
                else:
                    empty_panel(ax, f"no {TYPE_LABELS[ct]}\nunits" if k == 0 and not units else "")
                    # the box of a map, so that the type's heading sits at the height of its row's
                    ax.set_box_aspect((ext[3] - ext[2]) / (ext[1] - ext[0]))
                if head:
                    ax.text(0.0, 1.42, head, fontsize=7, fontweight="bold", color=TYPE_COLOURS[ct],
                            transform=ax.transAxes, va="bottom")
        axes[r, 0].text(-0.35, 0.5, name, rotation=90, va="center", ha="center", fontsize=8,
                        transform=axes[r, 0].transAxes)
    top = add_title(fig, title + "\n(g60/g90: grid score 60\u00b0/90\u00b0, bd: border, bn: band score;"
                    " (n): units of the type; n/a: undefined)", fontsize=8)
    fig.tight_layout(rect=(0.02, 0, colourbar_room(fig), 1))  # counts the title
    map_colourbar(fig, 0.5 * top - 0.2, 0.4)
    return fig


def pick_nine(scores: xr.Dataset, n: int = 9, square_like: bool = False) -> list[int]:
    """Fig. 3's units: the best example of each cell type in turn (grid-like, band-like, border,
    irregular, non-spatial), round-robin until ``n`` units (or all units) are chosen."""
    queues = [example_units(scores, ct, n, square_like) for ct in FIG2_TYPES + ("non_spatial",)]
    out: list[int] = []
    while len(out) < min(n, scores.sizes["unit"]) and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


def unit_tuning_panel(rm: xr.Dataset, scores: xr.Dataset, tuning: xr.Dataset, units: Sequence[int],
                      title: str = ""):
    """Fig. 3: per unit (column) its rate map, direction tuning (polar) and speed tuning."""
    n = max(1, len(units))
    fig = plt.figure(figsize=(1.45 * n, 4.6))
    ext, corners = map_extent(rm), arena_corners(rm)
    ct = np.asarray(scores["cell_type"].values).astype(str)
    if not units:
        ax = fig.add_subplot(111)
        empty_panel(ax, "no units to show")
    for k, i in enumerate(units):
        ax = fig.add_subplot(3, n, k + 1)
        draw_map(ax, rm["rate"].values[i], ext, corners)
        ax.set_title(f"unit {i}: {TYPE_LABELS.get(ct[i], ct[i])}\n{score_line(scores, i)}",
                     fontsize=5.5, pad=2, color=TYPE_COLOURS.get(ct[i], "k"))
        ax = fig.add_subplot(3, n, n + k + 1, projection="polar")
        direction_curve(ax, tuning, i, polar=True)
        ax.set_title(f"R={float(tuning['resultant_length'][i]):.2f}", fontsize=6, pad=2)
        ax = fig.add_subplot(3, n, 2 * n + k + 1)
        speed_curve(ax, tuning, i)
        ax.tick_params(labelsize=5)
        ax.set_title(f"speed r={float(tuning['speed_r'][i]):.2f}", fontsize=6, pad=2)
        if k == 0:
            ax.set_xlabel("speed (m/step)", fontsize=6)
            ax.set_ylabel("activity", fontsize=6)
    top = add_title(fig, title + "\nrows: rate map (colour bar: each map's own range), direction tuning "
                    "(polar, R = resultant length; " + POLAR_NOTE + "),\nspeed tuning (black: mean "
                    "per speed bin, 0 = stationary; red: least-squares line through those means; "
                    "r over all samples)", fontsize=7)
    fig.tight_layout(rect=(0, 0, colourbar_room(fig), 1))  # counts the title
    map_colourbar(fig, 0.72 * top, 0.22 * top)  # beside the rate maps (the top row)
    return fig


def development_panel(dev: xr.Dataset, title: str = ""):
    """Fig. 4: t-SNE of the units at the early, intermediate and late checkpoints (colour: the
    unit's cell type at the last checkpoint; border and grid-like units drawn large), and the
    number of border and grid-like units at every checkpoint."""
    tsne = np.asarray(dev["tsne"].values, float)  # (K', N, 2)
    idx = np.asarray(dev["tsne_checkpoint"].values, int)
    upd = np.asarray(dev["update"].values, int)
    ct_all = np.asarray(dev["cell_type"].values).astype(str)  # (K, N)
    final = ct_all[-1]
    nk = tsne.shape[0]
    stab = "map_correlation_to_final" in dev
    ncol = nk + 1 + int(stab)
    fig, axes = plt.subplots(1, ncol, figsize=(2.8 * ncol, 3.4), squeeze=False)
    lo, hi = np.nanmin(tsne, axis=(0, 1)), np.nanmax(tsne, axis=(0, 1))
    pad = 0.05 * (hi - lo + 1e-9)
    stage = ["early", "intermediate", "late"] if nk == 3 else [f"stage {k}" for k in range(nk)]
    for k in range(nk):
        ax = axes[0, k]
        for t in ("non_spatial", "spatially_irregular", "band_like", "border", "grid_like"):
            m = final == t
            if m.any():
                big = t in ("border", "grid_like")
                ax.scatter(tsne[k, m, 0], tsne[k, m, 1], s=22 if big else 7, c=TYPE_COLOURS[t],
                           edgecolors="k" if big else "none", linewidths=0.4, zorder=3 if big else 2,
                           label=f"{TYPE_LABELS[t]} ({int(m.sum())})")
        ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
        ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{stage[k]}: update {upd[idx[k]]}", fontsize=8)
    axes[0, 0].legend(fontsize=5.5, frameon=False, title="type at the last checkpoint", title_fontsize=6,
                      loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2)
    ax = axes[0, nk]
    labels = list(np.asarray(dev["cell_type_label"].values).astype(str))
    counts = np.asarray(dev["type_count"].values, int)
    x = np.maximum(upd, 0)
    for t in ("border", "grid_like", "band_like"):
        if t in labels:
            c = counts[:, labels.index(t)]
            ax.plot(x, c, "o-", ms=3, color=TYPE_COLOURS[t],
                    label=f"{TYPE_LABELS[t]}: {untrained_label(upd, c)}final {int(c[-1])}")
    if x.max() > 10 and (x > 0).sum() > 2:
        ax.set_xscale("symlog", linthresh=1)
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    top = max([1] + [int(counts[:, labels.index(t)].max()) for t in ("border", "grid_like", "band_like")
                     if t in labels])
    ax.set_ylim(0, top * 1.9 + 0.2)  # head room for the legend above the curves
    ax.set_xlabel("update (0 = untrained network)")
    ax.set_ylabel("units")
    ax.set_title("units of each type over training", fontsize=8)
    ax.legend(fontsize=6, frameon=False, loc="upper left")
    if stab:
        ax = axes[0, nk + 1]
        r = np.asarray(dev["map_correlation_to_final"].values, float)  # (K, N)
        q25, q50, q75 = (np.nanpercentile(r, q, axis=1) for q in (25, 50, 75))
        ax.fill_between(x, q25, q75, color="0.8", lw=0, label="25-75%")
        ax.plot(x, q50, "o-", ms=3, color="k", label="median unit")
        if x.max() > 10 and (x > 0).sum() > 2:
            ax.set_xscale("symlog", linthresh=1)
        ax.set_ylim(-0.2, 1.6)  # head room for the legend above the curves
        ax.set_xlabel("update")
        ax.set_ylabel("map r with final map")
        ax.set_title("how far the maps have settled", fontsize=8)
        ax.set_yticks([0.0, 0.5, 1.0])
        ax.legend(fontsize=6, frameon=False, loc="upper center", ncol=2)
    add_title(fig, title + " (t-SNE distance: 1 - firing-rate correlation)", fontsize=8)
    fig.tight_layout()  # counts the title
    return fig


def untrained_label(updates: np.ndarray, counts: np.ndarray) -> str:
    """'untrained 3, ' (the count at update 0) or '' when there is no update-0 checkpoint."""
    hit = np.flatnonzero(np.asarray(updates) == 0)
    return f"untrained {int(np.asarray(counts)[hit[0]])}, " if hit.size else ""


def metabolic_panel(without: tuple[xr.Dataset, xr.Dataset], with_: tuple[xr.Dataset, xr.Dataset],
                    names: tuple[str, str] = ("without", "with"), ncols: int = 10, title: str = ""):
    """Fig. 5: all maps of the run without the metabolic cost (left) and with it (right), with
    each run's count of border and grid-like units."""
    from matplotlib.gridspec import GridSpec

    from cw.report.drawing import text_height_in, wrap_text

    n = max(without[0].sizes["unit"], with_[0].sizes["unit"])
    nrows = math.ceil(n / ncols)
    fig = plt.figure(figsize=(2 * 1.0 * ncols + 0.6, 1.05 * nrows + 0.9))
    top = add_title(fig, title + "\n(frame colour = cell type: " + colour_key() + "; every map scaled "
                    "from its own minimum, blue, to its maximum, red)", fontsize=8)
    # subfigures take their place from the grid's ratios (not from its margins): row 0 is the
    # title band, row 1 the two runs
    grid = GridSpec(2, 2, figure=fig, height_ratios=(1.0 - top, top), hspace=0, wspace=0.03)
    for j, ((rm, sc), name) in enumerate(zip((without, with_), names)):
        sub = fig.add_subfigure(grid[1, j])
        ct = np.asarray(sc["cell_type"].values).astype(str)
        counts = ", ".join(f"{TYPE_LABELS[t]} {int(np.sum(ct == t))}" for t in TYPE_COLOURS)
        width_in, height_in = fig.get_figwidth() / 2, fig.get_figheight() * top
        head = wrap_text(f"{name}\n{counts}", width_in - 0.2, 8)
        sub.suptitle(head, fontsize=8, y=1.0 - 0.05 / height_in, va="top")
        room = (text_height_in(head, 8) + 0.15) / height_in  # the run's title band, figure fraction
        axes = sub.subplots(nrows, ncols, squeeze=False, gridspec_kw=dict(
            left=0.03, right=0.97, bottom=0.1 / height_in, top=1.0 - room, wspace=0.1, hspace=0.1))
        ext, corners = map_extent(rm), arena_corners(rm)
        for i, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if i >= rm.sizes["unit"]:
                continue
            draw_map(ax, rm["rate"].values[i], ext, corners)
            ax.set_axis_on()
            for s in ax.spines.values():
                s.set_color(TYPE_COLOURS.get(ct[i], "k"))
                s.set_linewidth(1.2)
    return fig


def _head_room(ax, factor: float = 1.5) -> None:
    """Raise the top of a linear y axis (bottom 0) by ``factor``: room for the legend above the
    curves, so that the legend stays inside the panel and clear of every label."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(0.0, max(hi, 1e-12) * factor)


def boundary_panel(bd: xr.Dataset, title: str = "", min_count: int = 1):
    """Fig. 6a: squared error aligned to episodes of boundary interactions (one curve per episode
    size), and against the time since the last interaction (and since the trial start, before
    any), mean +- SEM; Fig. 6b as the paper shows it: the long path's error, mean +- SD in each
    window of ``boundary_window_steps`` steps (10,000 in the paper), against that of the best
    constant output, on a linear axis (the band's lower edge is cut at 0: squared errors are
    never negative).  Legends sit inside their panels, above the curves."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    ax = axes[0]
    lag = np.asarray(bd["lag"].values, float)
    drawn = False
    for key, colour, lab in (("since_boundary", "k", "since last boundary interaction"),
                             ("since_start", "tab:gray", "since trial start (no interaction yet)")):
        m = np.asarray(bd[f"error_{key}_mean"].values, float)
        sd = np.asarray(bd[f"error_{key}_sd"].values, float)
        cnt = np.asarray(bd[f"error_{key}_count"].values, float)
        ok = cnt >= min_count
        if ok.any():
            lo, hi = sem_band(m, sd, cnt)
            ax.plot(lag[ok], m[ok], color=colour, lw=1, label=lab)
            ax.fill_between(lag[ok], lo[ok], hi[ok], color=colour, alpha=0.2, lw=0)
            drawn = True
    ax.tick_params(labelsize=7)
    ax.set_ylim(bottom=0)
    if drawn:
        _head_room(ax)
        ax.legend(fontsize=6, frameon=False, loc="upper left")
    ax.set_xlabel("steps since the event", fontsize=8)
    ax.set_ylabel("squared error (m$^2$), mean \u00b1 SEM", fontsize=8)
    ax.set_title("6a: error vs time since the last interaction", fontsize=8)
    ax = axes[1]
    if "error_aligned_mean" in bd and int(bd["episode_count"].sum()) > 0:
        al = np.asarray(bd["align_lag"].values, float)
        bursts = np.asarray(bd["burst"].values, int)
        counts = np.asarray(bd["episode_count"].values, int)
        colours = plt.cm.viridis(np.linspace(0.0, 0.8, bursts.size))
        for i, k in enumerate(bursts):
            if counts[i] >= min_count:
                lab = f"{k}{'+' if i == bursts.size - 1 else ''} interaction{'s' if k > 1 else ''} (n = {counts[i]})"
                ax.plot(al, bd["error_aligned_mean"].values[i], color=colours[i], lw=1, label=lab)
        ax.axvline(0, color="0.5", lw=0.6, ls=":")
        ax.tick_params(labelsize=7)
        bw = bd.attrs.get("boundary_burst_window")
        if bw is not None:
            ax.axvspan(0, float(bw), color="0.9", lw=0, zorder=0)
        ax.set_ylim(bottom=0)
        _head_room(ax)
        ax.set_xlabel("steps from the first interaction of an episode", fontsize=8)
        ax.set_ylabel("squared error (m$^2$), mean", fontsize=8)
        ax.legend(fontsize=6, frameon=False, loc="upper left", ncol=2)
    else:
        empty_panel(ax, "no episodes of boundary interactions")
    ax.set_title("6a: error aligned to boundary interactions", fontsize=8)
    ax = axes[2]
    if "window" in bd.dims and bd.sizes["window"] > 0:
        ws = np.asarray(bd["window_start"].values, float)
        n_win = bd.attrs.get("boundary_window_steps", bd.attrs.get("window_steps"))
        if n_win is None:
            n_win = float(ws[1] - ws[0]) if ws.size > 1 else 1.0
        n_win = float(n_win)
        centre = ws + 0.5 * n_win
        scale, unit = (1e3, " (thousands)") if centre.max() >= 1e4 else (1.0, "")
        for key, colour, lab in (("long_error", "k", "network"),
                                 ("const_error", "tab:red", "best constant output (mean position)")):
            mm = np.asarray(bd[f"{key}_mean"].values, float)
            ss = np.asarray(bd[f"{key}_sd"].values, float)
            lo = np.maximum(mm - ss, 0.0)
            if mm.size <= 40:  # few windows: one error bar each, as in the paper
                ax.errorbar(centre / scale, mm, yerr=[mm - lo, ss], fmt="o-", color=colour, lw=1, ms=2.5,
                            capsize=1.5, elinewidth=0.7, label=lab)
            else:
                ax.plot(centre / scale, mm, color=colour, lw=0.8, label=lab)
                ax.fill_between(centre / scale, lo, mm + ss, color=colour, alpha=0.2, lw=0)
        ax.set_ylim(bottom=0)
        _head_room(ax)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, frameon=False, loc="upper left", ncol=2)
        ax.set_xlabel("step of the long path (window centre)" + unit, fontsize=8)
        ax.set_ylabel("squared error (m$^2$), mean \u00b1 SD", fontsize=8)
        steps = bd.attrs.get("long_path_steps")
        length = f" of {int(steps):,} steps" if steps is not None else ""
        ax.set_title(f"6b: long path{length},\nmean \u00b1 SD per window of {n_win:,.0f} steps", fontsize=8)
    else:
        empty_panel(ax, "no long-path windows")
        ax.set_title("6b: long path", fontsize=8)
    add_title(fig, title, fontsize=9)
    fig.tight_layout()  # makes room for the title (tight_layout counts the suptitle)
    return fig


def sem_band(mean: np.ndarray, sd: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) of mean +- standard error of the mean, the lower edge clipped at 0 (squared
    errors cannot be negative); NaN where the count is below 1."""
    mean, sd, count = (np.asarray(a, float) for a in (mean, sd, count))
    with np.errstate(invalid="ignore", divide="ignore"):
        sem = np.where(count >= 1, sd / np.sqrt(np.maximum(count, 1)), np.nan)
    return np.maximum(mean - sem, 0.0), mean + sem


def score_null_panel(scores: xr.Dataset, names: Sequence[str] | None = None, title: str = ""):
    """Our addition: each score's distribution over units against its pooled shuffle null, with
    the median per-unit threshold and the number of significant units."""
    if names is None:
        names = [k[5:] for k in scores.data_vars if k.startswith("null_")]
    n = max(1, len(names))
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.6), squeeze=False)
    for ax, s in zip(axes.flat, names):
        real = np.asarray(scores[s].values, float)
        real = real[np.isfinite(real)]
        null = np.asarray(scores[f"null_{s}"].values, float).ravel()
        null = null[np.isfinite(null)]
        if real.size + null.size == 0:
            empty_panel(ax, f"{s}: no finite values\n(e.g. too few visited bins)")
            continue
        both = np.concatenate([real, null])
        bins = np.linspace(both.min(), both.max() + 1e-9, 30)
        if null.size:
            ax.hist(null, bins=bins, density=True, color="0.6", alpha=0.7, label=f"shuffles ({null.size})")
        if real.size:
            ax.hist(real, bins=bins, density=True, histtype="step", color="tab:red", lw=1.2,
                    label=f"units ({real.size})")
        thr_all = np.asarray(scores[f"threshold_{s}"].values, float) if f"threshold_{s}" in scores else np.array([])
        if np.isfinite(thr_all).any():
            ax.axvline(float(np.nanmedian(thr_all)), color="k", ls="--", lw=0.8, label="median threshold")
        sig = int(np.nansum(np.asarray(scores[f"significant_{s}"].values, float))) \
            if f"significant_{s}" in scores else 0
        ax.set_title(f"{s}: {sig} significant", fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in axes.flat:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, frameon=False)
            break
    add_title(fig, title, fontsize=9)
    fig.tight_layout()  # makes room for the title (tight_layout counts the suptitle)
    return fig
