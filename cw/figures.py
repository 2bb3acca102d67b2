"""Figures in the style of the paper (matplotlib, headless)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

#: Colour map of the rate maps (the paper's maps run blue -> red).
RATEMAP_CMAP = "jet"


def save(fig, outs: Sequence[str], dpi: int) -> None:
    """Save ``fig`` to each path (format from the suffix), atomically, and close it."""
    for out in outs:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.part{out.suffix}")
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
        os.replace(tmp, out)
    plt.close(fig)


def _outline(ax, corners: np.ndarray, **kw) -> None:
    c = np.vstack([corners, corners[:1]])
    ax.plot(c[:, 0], c[:, 1], **({"color": "k", "lw": 0.6} | kw))


def ratemap_panel(rm: xr.Dataset, scores: xr.Dataset | None = None, title: str = "", ncols: int = 10):
    """Every unit's rate map, each scaled to its own min-max, with score60/score90 above it.

    Parameters
    ----------
    rm : ratemaps Dataset (``rate`` on dims unit, y, x; coords x, y in m)
    scores : Dataset with ``score60``, ``score90`` on dim unit, or None
    """
    rate = rm["rate"].values
    n = rate.shape[0]
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.45 * nrows + 0.4), squeeze=False)
    xs, ys = rm["x"].values, rm["y"].values
    half = 0.5 * (xs[1] - xs[0]) if xs.size > 1 else 0.5
    extent = (xs[0] - half, xs[-1] + half, ys[0] - half, ys[-1] + half)
    corners = np.asarray(rm.attrs["arena_corners"]).reshape(-1, 2) if "arena_corners" in rm.attrs else None
    cmap = plt.get_cmap(RATEMAP_CMAP).copy()
    cmap.set_bad("white")
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= n:
            continue
        m = rate[i]
        finite = np.isfinite(m)
        lo, hi = (np.nanmin(m), np.nanmax(m)) if finite.any() else (0.0, 1.0)
        ax.imshow(np.ma.masked_invalid(m), origin="lower", extent=extent, cmap=cmap,
                  vmin=lo, vmax=hi if hi > lo else lo + 1e-9, interpolation="nearest")
        if corners is not None:
            _outline(ax, corners)
        label = f"{i}"
        if scores is not None:
            s60, s90 = float(scores["score60"][i]), float(scores["score90"][i])
            label += f"  {s60:.2f} | {s90:.2f}"
        ax.set_title(label, fontsize=6, pad=2)
        ax.set_aspect("equal")
    head = title + ("\nunit  grid score 60\u00b0 | 90\u00b0" if scores is not None else "")
    fig.suptitle(head, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


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
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def training_curves(histories: Mapping[str, list[dict]]):
    """Error and penalty terms against update for each run (log scale)."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3))
    for run, rows in histories.items():
        upd = [r["update"] for r in rows]
        for ax, key in zip(axes, ("error", "r_l2", "r_fr")):
            ax.plot(upd, [r[key] for r in rows], lw=0.8, label=run)
    for ax, name in zip(axes, ("position error E (m$^2$)", "$R_{L2}$", "$R_{FR}$ (mean $u^2$)")):
        ax.set_yscale("log")
        ax.set_xlabel("update")
        ax.set_title(name, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
