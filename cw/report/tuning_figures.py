"""Direction and speed tuning drawn as the paper's appendix shows them: one unit's curves in an
axes (Fig. 3) and every unit's as small multiples on one surface (Appendix A-C)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from cw.report.drawing import TYPE_COLOURS, colour_key, empty_panel, panel_grid_figure  # noqa: E402

__all__ = ["POLAR_OFFSET", "POLAR_NOTE", "direction_curve", "speed_curve", "speed_line", "tuning_grid",
           "TUNING_PANEL_IN", "TUNING_MARGINS_IN", "TUNING_GAPS_IN"]


def direction_curve(ax, tuning: xr.Dataset, i: int, polar: bool = False) -> None:
    d = np.asarray(tuning["direction"].values, float)
    c = np.asarray(tuning["direction_curve"].isel(unit=i).values, float)
    ok = np.isfinite(c)  # bins without samples are left out (the curve joins its neighbours)
    d, c = d[ok], c[ok]
    if d.size == 0:
        empty_panel(ax, "no samples")
        return
    if polar:
        # tanh activity is in [-1, 1]: radius = activity + 1 on a common scale, so the centre is
        # activity -1 and an untuned unit is a circle (the radius is never rescaled per unit)
        th = np.deg2rad(np.append(d, d[:1]))
        ax.plot(th, np.append(c, c[:1]) + POLAR_OFFSET, color="k", lw=0.8)
        ax.set_ylim(0, 2 * POLAR_OFFSET)
        ax.set_yticks([POLAR_OFFSET, 2 * POLAR_OFFSET])
        ax.set_yticklabels(["0", "1"], fontsize=4, color="0.4")
        ax.set_xticks([])
        ax.grid(True, lw=0.3, color="0.8")
        # the scalar heading input steps from 360 to 0 deg here
        ax.plot([0, 0], [0, 2 * POLAR_OFFSET], color="tab:red", lw=0.6, ls="--")
    else:
        ax.plot(d, c, color="k", lw=0.8)
        ax.set_xlim(0, 360)
        ax.set_xticks([0, 180, 360])
        ax.axvline(0, color="tab:red", lw=0.6, ls="--")
        ax.axvline(360, color="tab:red", lw=0.6, ls="--")


def speed_line(speed: np.ndarray, curve: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line through the binned means shown (finite bins,
    each bin one point); NaN with fewer than 2 points."""
    ok = np.isfinite(curve) & np.isfinite(speed)
    if ok.sum() < 2 or np.ptp(speed[ok]) == 0:
        return float("nan"), float("nan")
    a, b = np.polyfit(speed[ok], curve[ok], 1)
    return float(a), float(b)


def speed_curve(ax, tuning: xr.Dataset, i: int) -> None:
    s = np.asarray(tuning["speed_bin"].values, float)
    c = np.asarray(tuning["speed_curve"].isel(unit=i).values, float)
    ok = np.isfinite(c)
    ax.plot(s[ok], c[ok], "o-", color="k", lw=0.8, ms=1.5)
    a, b = speed_line(s, c)
    if np.isfinite(a):
        ax.plot(s[ok], b + a * s[ok], color="tab:red", lw=0.6)


#: Radius of activity 0 in the direction polar plots (radius = activity + 1; centre = -1).
POLAR_OFFSET = 1.0
POLAR_NOTE = ("polar radius = activity + 1 on one scale for all units (centre = activity -1, "
              "rings at activity 0 and 1); red dashed: 0 deg, where the scalar heading input "
              "steps from 360 to 0 deg")


def tuning_grid(tuning: xr.Dataset, kind: str, scores: xr.Dataset | None = None, title: str = "",
                ncols: int = 10):
    """Appendix A-C: direction (``kind='direction'``) or speed tuning curves of every unit.

    Small multiples on one drawing surface measured in inches (panels of
    :data:`TUNING_PANEL_IN`, gaps wide enough for a title line above each panel and the speed
    panels' range labels on their left): every curve, ring and frame goes into one line
    collection, so a hundred units cost one axes instead of a hundred (each matplotlib axes,
    polar ones above all, costs ~0.1-0.2 s to build and draw). Save it with ``tight=False``.

    Direction panels are polar plots drawn by hand: radius = activity + 1 on one scale for all
    units (:data:`POLAR_OFFSET`), grey rings at activity 0 and 1, spokes every 45 degrees, red
    dashed 0 deg. Speed panels: each unit's own vertical range (printed at its left: the lowest
    and highest activity shown), speeds from 0 to the largest bin.
    """
    from matplotlib.collections import LineCollection

    n = tuning.sizes["unit"]
    nrows = max(math.ceil(n / ncols), 1)
    polar = kind == "direction"
    ct = np.asarray(scores["cell_type"].values).astype(str) if scores is not None else None
    head = title + ("\ntitle colour = cell type: " + colour_key() if ct is not None else "")
    if polar:
        head += "\n" + POLAR_NOTE
    else:
        head += "\nblack: mean activity per speed bin (0 = stationary); red: least-squares line " \
                "through those means; r over all samples; left: the panel's activity range"
    fig, _, ax, corner = panel_grid_figure(nrows, ncols, TUNING_PANEL_IN, TUNING_GAPS_IN, TUNING_MARGINS_IN,
                                           head)
    pw, ph = TUNING_PANEL_IN
    grey, black, red = [], [], []
    circle = np.linspace(0, 2 * np.pi, 73)
    for i in range(n):
        x0, y0 = corner(i)
        if polar:
            cx, cy, scale = x0 + pw / 2, y0 + ph / 2, 0.48 * min(pw, ph) / (2 * POLAR_OFFSET)
            for rad in (POLAR_OFFSET, 2 * POLAR_OFFSET):
                grey.append(np.c_[cx + scale * rad * np.cos(circle), cy + scale * rad * np.sin(circle)])
            for a in np.deg2rad(np.arange(45, 360, 45)):
                grey.append([(cx, cy), (cx + 2 * POLAR_OFFSET * scale * np.cos(a),
                                        cy + 2 * POLAR_OFFSET * scale * np.sin(a))])
            red.append([(cx, cy), (cx + 2 * POLAR_OFFSET * scale, cy)])
            d = np.asarray(tuning["direction"].values, float)
            v = np.asarray(tuning["direction_curve"].isel(unit=i).values, float)
            ok = np.isfinite(v)  # bins without samples are left out (the curve joins its neighbours)
            if ok.any():
                th = np.deg2rad(np.append(d[ok], d[ok][:1]))
                rad = np.clip(np.append(v[ok], v[ok][:1]) + POLAR_OFFSET, 0, 2 * POLAR_OFFSET)
                black.append(np.c_[cx + scale * rad * np.cos(th), cy + scale * rad * np.sin(th)])
            lab = f"{i}  R {float(tuning['resultant_length'][i]):.2f}"
        else:
            grey.append([(x0, y0), (x0 + pw, y0), (x0 + pw, y0 + ph), (x0, y0 + ph), (x0, y0)])
            sb = np.asarray(tuning["speed_bin"].values, float)
            v = np.asarray(tuning["speed_curve"].isel(unit=i).values, float)
            ok = np.isfinite(v) & np.isfinite(sb)
            if ok.any():
                lo, hi = float(np.min(v[ok])), float(np.max(v[ok]))
                pad = 0.08 * (hi - lo) if hi > lo else 0.05
                lo, hi = lo - pad, hi + pad
                smax = float(np.max(sb[ok])) if np.max(sb[ok]) > 0 else 1.0
                X = lambda z: x0 + 0.04 * pw + 0.92 * pw * z / smax  # noqa: E731
                Y = lambda z: y0 + ph * (z - lo) / (hi - lo)  # noqa: E731
                black.append(np.c_[X(sb[ok]), Y(v[ok])])
                ax.plot(X(sb[ok]), Y(v[ok]), "o", color="k", ms=1.5, mew=0)
                a, b = speed_line(sb, v)
                if np.isfinite(a):
                    red.append(np.c_[X(sb[ok]), Y(b + a * sb[ok])])
                ax.text(x0 - 0.03, y0 + 0.02, f"{lo + pad:.2g}", fontsize=4, ha="right", va="bottom")
                ax.text(x0 - 0.03, y0 + ph - 0.02, f"{hi - pad:.2g}", fontsize=4, ha="right", va="top")
            else:
                ax.text(x0 + pw / 2, y0 + ph / 2, "no samples", fontsize=5, ha="center", va="center",
                        color="0.5")
            lab = f"{i}  r {float(tuning['speed_r'][i]):.2f}"
        colour = TYPE_COLOURS.get(ct[i], "k") if ct is not None else "k"
        ax.text(x0 + pw / 2, y0 + ph + 0.03, lab, fontsize=6, ha="center", va="bottom", color=colour)
    ax.add_collection(LineCollection(grey, colors="0.8", linewidths=0.3))
    ax.add_collection(LineCollection(black, colors="k", linewidths=0.8))
    ax.add_collection(LineCollection(red, colors="tab:red", linewidths=0.6,
                                     linestyles="--" if polar else "-"))
    return fig


#: Size of one tuning panel (width, height), inches.
TUNING_PANEL_IN = (1.0, 1.0)
#: Margins of the tuning grid (left, right, bottom), inches: the left one holds tick labels.
TUNING_MARGINS_IN = (0.3, 0.1, 0.1)
#: Gaps between tuning panels (horizontal: tick labels; vertical: a title line), inches.
TUNING_GAPS_IN = (0.3, 0.3)
