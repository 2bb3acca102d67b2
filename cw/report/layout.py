"""Is a figure readable at the size it is saved?  Every text element (suptitles, titles, axis
labels, tick labels, offset texts, free texts and annotations, each legend as a whole) is measured
with the figure's own renderer at the saved dpi, and two kinds of fault are listed:

* two elements whose boxes overlap (by more than ``tol_pt`` points both ways);
* an element that reaches outside the figure's canvas (its ``figsize``), by more than ``tol_pt``.

:func:`cw.report.drawing.save` writes with ``bbox_inches="tight"``, which would silently grow the
picture around a title placed off the canvas; the check holds the figure to its own size instead,
so that what is drawn is what the figure function planned.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
from matplotlib.transforms import Bbox  # noqa: E402

__all__ = ["TextBox", "text_boxes", "layout_problems"]


@dataclass(frozen=True)
class TextBox:
    """One text element: a readable name, its text, its box in display pixels."""

    name: str
    text: str
    bbox: Bbox


def _text_box(t, renderer, name: str) -> TextBox | None:
    if t is None or not t.get_visible() or not t.get_text().strip():
        return None
    return TextBox(name, t.get_text(), t.get_window_extent(renderer))


def _ticks(axis):
    """The ticks the axis draws (those inside its view interval)."""
    try:
        return axis._update_ticks()
    except AttributeError:  # pragma: no cover - a future matplotlib without the private helper
        return axis.get_major_ticks() + axis.get_minor_ticks()


def _axes_boxes(ax, renderer, name: str) -> list[TextBox]:
    if not ax.get_visible():
        return []
    out: list[TextBox] = []
    for key, t in (("title", ax.title), ("left title", ax._left_title), ("right title", ax._right_title)):
        b = _text_box(t, renderer, f"{name} {key}")
        if b:
            out.append(b)
    for aname, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
        if not axis.get_visible() or not ax.axison:
            continue
        for key, t in (("label", axis.label), ("offset text", axis.get_offset_text())):
            b = _text_box(t, renderer, f"{name} {aname}-{key}")
            if b:
                out.append(b)
        for tick in _ticks(axis):
            for lab in (tick.label1, tick.label2):
                if tick.get_visible() and lab.get_visible() and lab.get_text().strip():
                    out.append(TextBox(f"{name} {aname}-tick", lab.get_text(), lab.get_window_extent(renderer)))
    for k, t in enumerate(ax.texts):
        b = _text_box(t, renderer, f"{name} text {k}")
        if b:
            out.append(b)
    leg = ax.get_legend()
    if leg is not None and leg.get_visible():
        out.append(TextBox(f"{name} legend", " / ".join(t.get_text() for t in leg.get_texts()),
                           leg.get_window_extent(renderer)))
    return out


def _figure_boxes(fig, renderer, name: str) -> list[TextBox]:
    out: list[TextBox] = []
    for k, t in enumerate(fig.texts):
        b = _text_box(t, renderer, f"{name} text {k}")
        if b:
            out.append(b)
    for k, leg in enumerate(fig.legends):
        if leg.get_visible():
            out.append(TextBox(f"{name} legend {k}", " / ".join(t.get_text() for t in leg.get_texts()),
                               leg.get_window_extent(renderer)))
    for k, ax in enumerate(fig.axes):
        label = ax.get_title() or ax.get_label() or ""
        out += _axes_boxes(ax, renderer, f"{name} axes {k}" + (f" ({label.splitlines()[0][:30]})" if label else ""))
    for k, sub in enumerate(getattr(fig, "subfigs", [])):
        out += _figure_boxes(sub, renderer, f"{name} subfigure {k}")
    return out


def text_boxes(fig, dpi: float | None = None) -> list[TextBox]:
    """Every visible, non-empty text element of ``fig`` (and its subfigures) drawn at ``dpi``
    (the figure's own dpi if None), in display pixels."""
    if dpi is not None:
        fig.set_dpi(dpi)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return _figure_boxes(fig, renderer, "figure")


def _overlap(a: Bbox, b: Bbox) -> tuple[float, float]:
    return (min(a.x1, b.x1) - max(a.x0, b.x0), min(a.y1, b.y1) - max(a.y0, b.y0))


def layout_problems(fig, dpi: float | None = None, tol_pt: float = 0.5) -> list[str]:
    """One line per overlapping pair of text elements and per element outside the canvas of
    ``fig`` drawn at ``dpi``; empty when the figure is clean.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(figsize=(2, 2))
    >>> _ = ax.set_title("a title")
    >>> fig.tight_layout()
    >>> layout_problems(fig, dpi=50)
    []
    >>> _ = ax.text(0.5, 1.02, "over the title", transform=ax.transAxes, ha="center")
    >>> _ = fig.text(0.9, 0.5, "far too long to fit")
    >>> for line in layout_problems(fig, dpi=50): print(line)
    overlap: 'a title' (figure axes 0 (a title) title) and 'over the title' (figure axes 0 (a title) text 0)
    outside the canvas: 'far too long to fit' (figure text 0)
    >>> plt.close(fig)
    """
    boxes = text_boxes(fig, dpi)
    tol = tol_pt * fig.dpi / 72.0
    problems = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            w, h = _overlap(a.bbox, b.bbox)
            if w > tol and h > tol:
                problems.append(f"overlap: {a.text!r} ({a.name}) and {b.text!r} ({b.name})")
    canvas = fig.bbox
    for a in boxes:
        bb = a.bbox
        if bb.x0 < canvas.x0 - tol or bb.y0 < canvas.y0 - tol or bb.x1 > canvas.x1 + tol or bb.y1 > canvas.y1 + tol:
            problems.append(f"outside the canvas: {a.text!r} ({a.name})")
    return problems
