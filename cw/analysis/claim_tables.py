"""The claims table on file: CSV, Markdown and HTML renderings of :mod:`cw.analysis.claims`' rows."""

from __future__ import annotations

import csv
import io as _io
from typing import Mapping, Sequence

import numpy as np

from cw.analysis.claims import COLUMNS, FAILS, HOLDS, UNTESTABLE
from cw.atomic import write_text_atomic


def _fmt(v) -> str:
    if isinstance(v, float):
        if not np.isfinite(v):
            return "n/a"
        return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.3e}"
    return str(v)


def write_claims_csv(rows: Sequence[Mapping], path: str, columns: Sequence[str] = COLUMNS) -> None:
    buf = _io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r[k] for k in columns})
    write_text_atomic(path, buf.getvalue())


def _md_table(rows: Sequence[Mapping], cols: Sequence[str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [_fmt(r[c]).replace("|", "\\|") for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def claims_markdown(rows: Sequence[Mapping], summary: Sequence[Mapping] | None = None,
                    title: str = "Claims of Cueva & Wei (2018), measured", preamble: str = "") -> str:
    """The claims table as markdown: a count of verdicts, one row per claim and run, and, when
    some run group has several seeds, the summary across seeds."""
    n = {v: sum(r["verdict"] == v for r in rows) for v in (HOLDS, FAILS, UNTESTABLE)}
    parts = [f"# {title}", ""]
    if preamble:
        parts += [preamble, ""]
    parts += [f"{len(rows)} claim rows: {n[HOLDS]} hold, {n[FAILS]} fail, {n[UNTESTABLE]} untestable. "
              "Every verdict is computed by `cw/analysis/claims.py` from the run's data; thresholds are ours "
              "(the paper gives no numbers).", ""]
    parts.append(_md_table(rows, ["claim", "run", "statement", "measure", "threshold", "value",
                                  "verdict", "note"]))
    if summary and any(s["n_seeds"] > 1 for s in summary):
        parts += ["", "## Across seeds", ""]
        parts.append(_md_table(summary, ["claim", "runs", "measure", "threshold", "n_holds",
                                         "n_testable", "median", "min", "max", "verdict"]))
    return "\n".join(parts) + "\n"


def claims_html(rows: Sequence[Mapping], summary: Sequence[Mapping] | None = None,
                title: str = "Claims of Cueva & Wei (2018), measured", preamble: str = "") -> str:
    """The claims table as a small self-contained HTML page (for the Snakemake report)."""
    from html import escape

    colour = {HOLDS: "#d8f0d8", FAILS: "#f6d6d6", UNTESTABLE: "#eeeeee", "mixed": "#f6ecc8"}

    def table(rs, cols):
        head = "".join(f"<th>{escape(c)}</th>" for c in cols)
        body = []
        for r in rs:
            cells = "".join(f"<td>{escape(_fmt(r[c]))}</td>" for c in cols)
            body.append(f"<tr style='background:{colour.get(r['verdict'], '#fff')}'>{cells}</tr>")
        return f"<table><tr>{head}</tr>{''.join(body)}</table>"

    n = {v: sum(r["verdict"] == v for r in rows) for v in (HOLDS, FAILS, UNTESTABLE)}
    parts = [f"<html><head><meta charset='utf-8'><title>{escape(title)}</title><style>"
             "body{font-family:sans-serif;font-size:13px} table{border-collapse:collapse}"
             "td,th{border:1px solid #999;padding:3px 6px;text-align:left}</style></head><body>",
             f"<h2>{escape(title)}</h2>", f"<p>{escape(preamble)}</p>" if preamble else "",
             f"<p>{len(rows)} claim rows: {n[HOLDS]} hold, {n[FAILS]} fail, {n[UNTESTABLE]} untestable. "
             "Verdicts computed by cw/analysis/claims.py; thresholds are ours (the paper gives no numbers).</p>",
             table(rows, ["claim", "run", "statement", "measure", "threshold", "value", "verdict", "note"])]
    if summary and any(s["n_seeds"] > 1 for s in summary):
        parts += ["<h3>Across seeds</h3>", table(summary, ["claim", "runs", "measure", "threshold", "n_holds",
                                                           "n_testable", "median", "min", "max", "verdict"])]
    parts.append("</body></html>")
    return "\n".join(parts)
