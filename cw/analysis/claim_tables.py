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


def read_claims_csv(path) -> list[dict]:
    """The rows of a ``claims.csv`` (:func:`write_claims_csv`), ``value`` as a float (NaN for
    ``n/a``); a missing file or column is a one-line error naming the file."""
    from pathlib import Path

    from cw.io import read_csv

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no claims table (run the claims rule of that output folder first)")
    rows = read_csv(path)
    missing = [c for c in ("claim", "run", "statement", "measure", "threshold", "value", "verdict")
               if rows and c not in rows[0]]
    if missing:
        raise ValueError(f"{path}: not a claims table (no column {missing[0]!r})")
    for r in rows:  # read_csv leaves "n/a" (a value write_claims_csv could not measure) as text
        r["value"] = r["value"] if isinstance(r["value"], float) else float("nan")
    return rows


def verdict_comparison(before: Sequence[Mapping], after: Sequence[Mapping],
                       labels: tuple[str, str] = ("before", "after")) -> str:
    """Two claims tables side by side, as markdown: one row per (claim, run) of either, the value
    and verdict of each, a changed verdict in bold, and a first line counting the changes.

    >>> old = [{"claim": "C1a", "run": "square", "statement": "s", "measure": "m", "threshold": "< 10",
    ...         "value": 11.3, "verdict": "fails"}]
    >>> new = [dict(old[0], value=9.5, verdict="holds")]
    >>> print(verdict_comparison(old, new, ("Tikhonov", "authors'")).splitlines()[0])
    1 claim row in both tables; the verdict changes in 1: C1a square (fails -> holds).
    """
    key = lambda r: (r["claim"], r["run"])  # noqa: E731
    b, a = {key(r): r for r in before}, {key(r): r for r in after}
    order = [key(r) for r in after] + [k for k in (key(r) for r in before) if k not in a]
    changed = [k for k in order if k in a and k in b and a[k]["verdict"] != b[k]["verdict"]]
    both = sum(k in a and k in b for k in order)
    head = (f"{both} claim row{'s' if both != 1 else ''} in both tables; the verdict changes in {len(changed)}"
            + (": " + ", ".join(f"{c} {r} ({b[(c, r)]['verdict']} -> {a[(c, r)]['verdict']})" for c, r in changed)
               if changed else "") + ".")
    rows = []
    for k in order:
        ref = a.get(k) or b[k]
        row = {c: ref[c] for c in ("claim", "run", "statement", "measure", "threshold")}
        for label, table in zip(labels, (b, a)):
            r = table.get(k)
            row[f"{label}: value"] = r["value"] if r else "-"
            verdict = r["verdict"] if r else "-"
            row[f"{label}: verdict"] = f"**{verdict}**" if k in changed and table is a else verdict
        rows.append(row)
    cols = ["claim", "run", "statement", "measure", "threshold"] + [f"{lab}: {c}" for lab in labels
                                                                   for c in ("value", "verdict")]
    return head + "\n\n" + _md_table(rows, cols) + "\n"
