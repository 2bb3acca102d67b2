"""Drawing helpers shared by the figures: saving, rate-map panels, colours, score labels."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

#: Colour map of the rate maps (the paper's maps run blue -> red).
RATEMAP_CMAP = "jet"


def save(fig, outs: Sequence[str], dpi: int, tight: bool = True) -> None:
    """Save ``fig`` to each path (format from the suffix), atomically, and close it; ``tight``
    crops the canvas to the drawn content (figures laid out in inches need not)."""
    from cw.atomic import atomic_path

    for out in outs:
        with atomic_path(out, suffix=f".part{Path(out).suffix}") as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight" if tight else None)
    plt.close(fig)


def _outline(ax, corners: np.ndarray, **kw) -> None:
    c = np.vstack([corners, corners[:1]])
    ax.plot(c[:, 0], c[:, 1], **({"color": "k", "lw": 0.6} | kw))


def ratemap_panel(rm: xr.Dataset, scores: xr.Dataset | None = None, title: str = "", ncols: int = 10):
    """Every unit's rate map, each scaled to its own min-max, with score60/score90 above it.

    The grid's geometry is fixed in inches (:data:`MAP_PANEL_IN`, :data:`MAP_GAPS_IN`, a two-line
    title gap above every row), so no layout engine measures the text of a hundred panels; save
    it with ``tight=False``.

    Parameters
    ----------
    rm : ratemaps Dataset (``rate`` on dims unit, y, x; coords x, y in m)
    scores : Dataset with ``score60``, ``score90`` on dim unit, or None
    """
    rate = rm["rate"].values
    n = rate.shape[0]
    nrows = max(math.ceil(n / ncols), 1)
    head = title + ("\nunit  grid score 60\u00b0 | 90\u00b0 (n/a: undefined, e.g. a ramp)"
                    if scores is not None else "")
    pw = MAP_PANEL_IN
    fig, top, ax, corner = panel_grid_figure(nrows, ncols, (pw, pw), MAP_GAPS_IN, (MAP_MARGIN_IN,) * 3,
                                             head + "\n[min, max]: each map's activity range",
                                             right_room_in=COLOURBAR_ROOM_IN)
    extent, corners = map_extent(rm), arena_corners(rm)
    # One image holds every map, coloured by its own range, upsampled by MAP_MOSAIC_UPSAMPLE and
    # placed in its panel of a mosaic whose cells are 1 / (MAP_MOSAIC_UPSAMPLE * bins) of a
    # panel; outlines in one line collection; the labels are texts above the panels.
    gw, gh = ax.get_xlim()[1], ax.get_ylim()[1]
    ny, nx = rate.shape[1:]
    q = MAP_MOSAIC_UPSAMPLE
    cell = pw / (max(nx, ny) * q)                          # inches per mosaic cell
    mosaic = np.zeros((int(round(gh / cell)) + 1, int(round(gw / cell)) + 1, 4), np.uint8)  # transparent
    cmap = plt.get_cmap(RATEMAP_CMAP)
    ex, ey = extent[1] - extent[0], extent[3] - extent[2]
    outlines = []
    for i in range(n):
        x0, y0 = corner(i)
        i0 = int(round((x0 + 0.5 * (pw - nx * q * cell)) / cell))
        j0 = int(round((y0 + 0.5 * (pw - ny * q * cell)) / cell))
        finite = np.isfinite(rate[i])
        lo, hi = (np.nanmin(rate[i]), np.nanmax(rate[i])) if finite.any() else (0.0, 1.0)
        rgba = cmap(np.where(finite, (rate[i] - lo) / (hi - lo if hi > lo else 1e-9), 0.0), bytes=True)
        rgba[~finite] = 255                                    # unvisited bins white
        mosaic[j0:j0 + ny * q, i0:i0 + nx * q] = np.repeat(np.repeat(rgba, q, axis=0), q, axis=1)
        if corners is not None:
            cc = np.vstack([corners, corners[:1]])
            outlines.append(np.c_[i0 * cell + nx * q * cell * (cc[:, 0] - extent[0]) / ex,
                                  j0 * cell + ny * q * cell * (cc[:, 1] - extent[2]) / ey])
        label = f"{i}"
        if scores is not None:
            label += f"  {_fmt_score(scores['score60'][i])} | {_fmt_score(scores['score90'][i])}"
        label += f"\n[{_map_range(rate[i])}]"
        ax.text(x0 + pw / 2, y0 + pw + 0.03, label, fontsize=5.5, ha="center", va="bottom",
                linespacing=1.1)
    ax.imshow(mosaic, origin="lower", interpolation="nearest",
              extent=(0, mosaic.shape[1] * cell, 0, mosaic.shape[0] * cell))
    if outlines:
        ax.add_collection(LineCollection(outlines, colors="k", linewidths=0.6))
    ax.set_xlim(0, gw)                                     # imshow widened them to the mosaic
    ax.set_ylim(0, gh)
    ax.set_aspect("equal")
    map_colourbar(fig, 0.5 * top - 0.2, 0.4)
    return fig


def panel_grid_figure(nrows: int, ncols: int, panel_in: tuple[float, float], gaps_in: tuple[float, float],
                      margins_in: tuple[float, float, float], title: str, right_room_in: float = 0.0,
                      fontsize: float = 8):
    """A figure for an ``nrows`` x ``ncols`` grid of panels whose geometry is fixed in inches, drawn
    as small multiples on one surface: no layout engine measures the text of many panels and no
    panel costs an axes of its own (save it with ``tight=False``).

    Parameters
    ----------
    panel_in : (width, height) of one panel; gaps_in : (horizontal, vertical) gaps between panels
        (a vertical gap also sits above the top row, for the panels' titles)
    margins_in : (left, right, bottom) margins; right_room_in : extra room on the right (e.g.
        :data:`COLOURBAR_ROOM_IN`)
    title : the figure's title, in a band of its own above the grid (:func:`add_title`)

    Returns
    -------
    (figure, figure fraction of the grid's top edge, axes, corner): the axes covers the grid, its
    axis hidden and its data coordinates inches from the grid's lower-left corner; ``corner(i)``
    is the lower-left (x, y) of panel ``i`` (row-major) in them.
    """
    (pw, ph), (wgap, hgap), (left, right, bottom) = panel_in, gaps_in, margins_in
    gw, gh = ncols * pw + (ncols - 1) * wgap, nrows * ph + (nrows - 1) * hgap
    width = left + right + right_room_in + gw
    fig = plt.figure(figsize=(width, bottom + nrows * (ph + hgap)))
    add_title(fig, title, fontsize=fontsize)
    h = fig.get_figheight()
    ax = fig.add_axes((left / width, bottom / h, gw / width, gh / h))
    ax.set_xlim(0, gw)
    ax.set_ylim(0, gh)
    ax.set_axis_off()

    def corner(i: int) -> tuple[float, float]:
        r, c = divmod(i, ncols)
        return c * (pw + wgap), gh - (r + 1) * ph - r * hgap

    return fig, (bottom + gh) / h, ax, corner


#: Each rate-map bin is drawn as this many x this many cells of the panel grid's one image
#: (the gaps between panels are placed to 1 / (this x bins) of a panel).
MAP_MOSAIC_UPSAMPLE = 4
#: Side of one rate-map panel, inches.
MAP_PANEL_IN = 1.1
#: Gaps between rate-map panels (horizontal, vertical: two title lines), inches.
MAP_GAPS_IN = (0.2, 0.32)
#: Margin around the rate-map grid, inches.
MAP_MARGIN_IN = 0.08


def trajectory_panel(act: xr.Dataset, corners: np.ndarray, n_trials: int = 4, title: str = ""):
    """True path (black) and network output (red) for the first ``n_trials`` test trials."""
    n = min(n_trials, act.sizes["trial"])
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.9), squeeze=False)
    for k, ax in enumerate(axes.flat):
        tr = act.isel(trial=k)
        _outline(ax, corners, lw=1.0)
        ax.plot(tr["x"], tr["y"], color="k", lw=1.2, label="true path")
        ax.plot(tr["output_x"], tr["output_y"], color="tab:red", lw=1.0, ls="--", label="network output")
        b = tr["boundary"].values.astype(bool)
        ax.plot(tr["x"].values[b], tr["y"].values[b], "o", ms=2.5, color="tab:blue", label="boundary interaction")
        ax.plot([0], [0], "k+", ms=6)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"test trial {int(tr['trial'])}", fontsize=8)
    axes.flat[0].legend(fontsize=6, loc="lower left", frameon=False)
    if "rms_position_error_m" in act.attrs:
        title += f"  (RMS error {float(act.attrs['rms_position_error_m']) * 100:.1f} cm over all test trials)"
    add_title(fig, title, fontsize=9)
    fig.tight_layout()  # makes room for the title (tight_layout counts the suptitle)
    return fig


def training_curves(histories: Mapping[str, list[dict]]):
    """Error and penalty terms against update for each run (log scale), and the penalty weights
    lambda_L2 (solid) and lambda_FR (dashed) each update used: under the authors' damping they are
    the Hessian-free damping and follow rho; a Tikhonov run's separate damping lambda is dotted."""
    fig, axes = plt.subplots(1, 4, figsize=(13, 3))
    for run, rows in histories.items():
        upd = [r["update"] for r in rows]
        line = None
        for ax, key in zip(axes, ("error", "r_l2", "r_fr")):
            line, = ax.plot(upd, [r[key] for r in rows], lw=0.8, label=run)
        colour = line.get_color() if line is not None else None
        for key, style in (("lambda_l2", "-"), ("lambda_fr", "--"), ("damping", ":")):
            vals = np.array([float(r.get(key, np.nan)) for r in rows])
            if np.any(vals > 0):
                axes[3].plot(upd, np.where(vals > 0, vals, np.nan), ls=style, lw=0.8, color=colour)
    for ax, name in zip(axes, ("position error E (m$^2$)", "$R_{L2}$", "$R_{FR}$ (mean $u^2$)",
                               "$\\lambda_{L2}$ (solid), $\\lambda_{FR}$ (dashed),\nTikhonov $\\lambda$ (dotted)")):
        ax.set_yscale("log")
        ax.set_xlabel("update")
        ax.set_title(name, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


# -- shared helpers for the paper's figures ------------------------------------------------------
#: Cell types in the order of the paper's Fig. 2, with a colour each (Fig. 4 and the tables).
FIG2_TYPES = ("grid_like", "band_like", "border", "spatially_irregular")
TYPE_COLOURS = {
    "grid_like": "tab:red", "band_like": "tab:green", "border": "tab:blue",
    "spatially_irregular": "tab:orange", "non_spatial": "0.7",
}
TYPE_LABELS = {
    "grid_like": "grid-like", "band_like": "band-like", "border": "border",
    "spatially_irregular": "irregular", "non_spatial": "non-spatial",
}


def colour_key() -> str:
    """'grid-like red, band-like green, ...': the cell-type colours in words."""
    return ", ".join(f"{TYPE_LABELS[t]} {c.replace('tab:', '').replace('0.7', 'grey')}"
                     for t, c in TYPE_COLOURS.items())


def map_extent(rm: xr.Dataset):
    xs, ys = rm["x"].values, rm["y"].values
    hx = 0.5 * (xs[1] - xs[0]) if xs.size > 1 else 0.5
    hy = 0.5 * (ys[1] - ys[0]) if ys.size > 1 else 0.5
    return (xs[0] - hx, xs[-1] + hx, ys[0] - hy, ys[-1] + hy)


def arena_corners(ds: xr.Dataset):
    return np.asarray(ds.attrs["arena_corners"]).reshape(-1, 2) if "arena_corners" in ds.attrs else None


def _fmt_score(v) -> str:
    """A score with 2 decimals, or "n/a" when it is undefined (NaN)."""
    v = float(v)
    return f"{v:.2f}" if np.isfinite(v) else "n/a"


def _map_range(rate: np.ndarray) -> str:
    """'min, max' of a map's finite bins (activity units), for the panel titles."""
    f = rate[np.isfinite(rate)]
    return f"{f.min() + 0.0:.2f}, {f.max() + 0.0:.2f}".replace("-0.00", "0.00") if f.size \
        else "no data"


#: Room kept at the right of a figure for the rate-map colour bar, its tick labels and its label
#: (inches; the bar is 0.1 in wide, its texts need ~0.7 in at font size 6).
COLOURBAR_ROOM_IN = 0.95


def colourbar_room(fig) -> float:
    """Right edge (figure fraction) of the area left to the panels when :func:`map_colourbar`
    is drawn: the figure width less :data:`COLOURBAR_ROOM_IN`."""
    return 1.0 - COLOURBAR_ROOM_IN / fig.get_figwidth()


def map_colourbar(fig, y0: float = 0.3, height: float = 0.4):
    """The colour scale of :func:`draw_map`: every map runs from its own minimum (blue) to its own
    maximum (red); the ranges are printed above the maps.  Drawn in the right margin kept by
    :func:`colourbar_room`, from ``y0`` over ``height`` (figure fractions)."""
    w = fig.get_figwidth()
    cax = fig.add_axes((1.0 - (COLOURBAR_ROOM_IN - 0.1) / w, y0, 0.1 / w, height))
    sm = matplotlib.cm.ScalarMappable(cmap=RATEMAP_CMAP, norm=matplotlib.colors.Normalize(0, 1))
    cb = fig.colorbar(sm, cax=cax, ticks=[0, 1])
    cb.ax.set_yticklabels(["map\nmin", "map\nmax"], fontsize=6)
    cb.set_label("activity, each map\nscaled to its range", fontsize=6)
    return cb


def wrap_text(text: str, width_in: float, fontsize: float) -> str:
    """``text`` with each of its lines wrapped at spaces so that no line is wider than
    ``width_in`` inches at ``fontsize`` points (widths measured with the font's outlines).

    Examples
    --------
    >>> wrap_text("a b c", 10.0, 8)
    'a b c'
    >>> wrap_text("aaaa bbbb cccc", 0.4, 8).split("\\n")
    ['aaaa', 'bbbb', 'cccc']
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    measure, prop = TextToPath(), FontProperties(size=fontsize)
    limit = width_in * 72.0
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split(" "):
            cand = f"{line} {word}" if line else word
            if line and measure.get_text_width_height_descent(cand, prop, ismath=False)[0] > limit:
                lines.append(line)
                line = word
            else:
                line = cand
        lines.append(line)
    return "\n".join(lines)


def text_height_in(text: str, fontsize: float) -> float:
    """Height of a (multi-line) text at ``fontsize``, inches (matplotlib's line spacing 1.2)."""
    return (text.count("\n") + 1) * 1.2 * fontsize / 72.0


def add_title(fig, text: str, fontsize: float = 8, pad_in: float = 0.08, grow: bool = True) -> float:
    """The figure's title (its suptitle), wrapped to the figure's width, at the top of a band of
    its own: the figure grows by the band's height (``grow``), so the panels keep their size.
    Returns the figure fraction below the band, where the panels may start (``tight_layout``
    makes room for a suptitle itself: give it ``rect`` top 1, not this fraction)."""
    # 5 % below the width: the renderer's hinted glyphs run a little wider than their outlines
    wrapped = wrap_text(text, 0.95 * (fig.get_figwidth() - 2 * pad_in), fontsize) if text else ""
    if not wrapped.strip():
        return 1.0
    band = text_height_in(wrapped, fontsize) + 2 * pad_in
    if grow:
        fig.set_figheight(fig.get_figheight() + band)
    h = fig.get_figheight()
    fig.suptitle(wrapped, fontsize=fontsize, y=1.0 - pad_in / h, va="top")
    return 1.0 - band / h


def draw_map(ax, rate: np.ndarray, extent, corners=None) -> None:
    """One rate map, scaled to its own min-max (colour bar: :func:`map_colourbar`), NaN bins
    white, arena outline in black."""
    cmap = plt.get_cmap(RATEMAP_CMAP).with_extremes(bad="white")
    finite = np.isfinite(rate)
    lo, hi = (np.nanmin(rate), np.nanmax(rate)) if finite.any() else (0.0, 1.0)
    ax.imshow(np.ma.masked_invalid(rate), origin="lower", extent=extent, cmap=cmap,
              vmin=lo, vmax=hi if hi > lo else lo + 1e-9, interpolation="nearest")
    if corners is not None:
        _outline(ax, corners)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def empty_panel(ax, text: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=7, color="0.4", wrap=True,
            transform=ax.transAxes)


def type_score(scores: xr.Dataset, cell_type: str, square_like: bool = False) -> np.ndarray:
    """The score that defines ``cell_type`` for every unit (used to rank examples):
    grid-like: score90 in a square arena (square grids, paper section 4), else score60;
    band-like: band score; border: border score; irregular and non-spatial: spatial variance
    fraction."""
    key = {"grid_like": "score90" if square_like else "score60", "band_like": "band_score",
           "border": "border_score"}.get(cell_type, "spatial_variance_fraction")
    return np.asarray(scores[key].values, float)


def _border_text(scores: xr.Dataset, i: int) -> str:
    """The border score, or "no field" when the map has no field large enough (the score's -1)."""
    b = float(scores["border_score"][i])
    no_field = (b == -1.0) or ("border_cm" in scores and float(scores["border_cm"][i]) == 0.0)
    return "no field" if no_field and np.isfinite(b) else _fmt_score(b)


def score_line(scores: xr.Dataset, i: int) -> str:
    g = f"g60 {_fmt_score(scores['score60'][i])} g90 {_fmt_score(scores['score90'][i])}"
    o = f"bd {_border_text(scores, i)} bn {_fmt_score(scores['band_score'][i])}"
    return f"{g}\n{o}"


def example_units(scores: xr.Dataset, cell_type: str, n: int, square_like: bool = False) -> list[int]:
    """Indices of the ``n`` units of ``cell_type`` with the highest defining score (fewer, or
    none, if the run has fewer units of that type)."""
    ct = np.asarray(scores["cell_type"].values).astype(str)
    idx = np.flatnonzero(ct == cell_type)
    if idx.size == 0:
        return []
    s = type_score(scores, cell_type, square_like)[idx]
    order = np.argsort(np.where(np.isfinite(s), -s, np.inf), kind="stable")
    return [int(i) for i in idx[order[:n]]]
