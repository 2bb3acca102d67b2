"""The README's results section: a few figures of a finished run, and its claims table.

Usage (after ``snakemake --cores N`` has finished)::

    python -m cw.report.readme --results results --docs docs --wall "2 h 05 min"

copies the figures listed in :data:`FIGURES` from ``<results>/figures`` into ``<docs>/``, scaled
down to ``--width`` pixels (small enough to commit), and replaces the part of ``README.md``
between the markers :data:`BEGIN` and :data:`END` with the figures, the claims table
(``<results>/claims.md``), the date of the claims table, the machine (CPU model, cores) and the
wall time given with ``--wall`` (Snakemake does not record the wall time of a whole workflow
run; the wall times of all its jobs are summed from their ``benchmark:`` files and printed too).

With ``--study`` (the output folder of the study preset, e.g. ``results/study``) it writes the
study's part instead, between :data:`STUDY_BEGIN` and :data:`STUDY_END`: the study table
(``study.md``, copied with ``study.csv`` into ``<docs>/``) and its figure of best-scoring units::

    python -m cw.report.readme --study results/study --docs docs

With ``--verdicts BEFORE AFTER`` (two output folders, e.g. ``results/tikhonov results``) it
writes, between :data:`VERDICTS_BEGIN` and :data:`VERDICTS_END`, the verdict of every claim in
both (:func:`cw.analysis.claim_tables.verdict_comparison`), labelled by ``--labels``::

    python -m cw.report.readme --verdicts results/tikhonov results --labels "earlier defaults" "authors' settings"
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import os
import platform
import shutil
from pathlib import Path

from cw.atomic import atomic_path, write_text_atomic

BEGIN = "<!-- results:begin (written by python -m cw.report.readme) -->"
END = "<!-- results:end -->"
STUDY_BEGIN = "<!-- study:begin (written by python -m cw.report.readme --study) -->"
STUDY_END = "<!-- study:end -->"
VERDICTS_BEGIN = "<!-- verdicts:begin (written by python -m cw.report.readme --verdicts) -->"
VERDICTS_END = "<!-- verdicts:end -->"
#: (path under the study folder, file name under docs/, caption)
STUDY_FIGURE = ("figures/study_best_units.png", "study_best_units.png",
                "Best-scoring units of each setting of the study (rate maps; score60 left, score90 right)")

#: (path under <results>/figures, file name under docs/, caption)
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("triangle/trajectories.png", "fig1c_triangle.png",
     "Fig. 1c: held-out trajectories (black) and the network's estimate (colour), triangle"),
    ("fig2_examples.png", "fig2_examples.png",
     "Fig. 2: example units of each type in each arena, chosen by their scores"),
    ("triangle/fig3_units.png", "fig3_triangle_units.png",
     "Fig. 3: nine triangle units, rate map, direction and speed tuning"),
    ("triangle/fig4_development.png", "fig4_triangle_development.png",
     "Fig. 4: development of the triangle network (t-SNE, unit counts, map stability)"),
    ("square_no_metabolic/fig5_metabolic.png", "fig5_metabolic.png",
     "Fig. 5: square arena without vs with the metabolic cost"),
    ("triangle/fig6_boundary.png", "fig6_triangle_boundary.png",
     "Fig. 6: error around boundary interactions and along a long path, triangle"),
    ("training.png", "training.png", "Training curves of every run"),
)


def machine() -> str:
    """CPU model and core count of this machine, e.g. ``Intel Xeon ... (2 cores)``."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()}"


def job_hours(results: Path, training: bool = False) -> float:
    """Sum of the ``s`` column (job wall seconds) of the benchmark files under ``results``, in hours.

    ``training`` False sums the analysis jobs (every rule but ``train``), True the training jobs
    alone. A training resumed from its committed state benchmarks its last segment only, so the
    training hours here can be far below the network's total (its ``history.csv`` ``seconds``).
    """
    total = 0.0
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        if (tsv.parent.name == "train") != training:
            continue
        with open(tsv, newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                try:
                    total += float(row["s"])
                except (KeyError, ValueError):
                    continue
    return total / 3600.0


def shrink(src: Path, dst: Path, width: int) -> None:
    """Copy a PNG, scaled down to at most ``width`` pixels wide (aspect kept) and reduced to a
    256-colour palette (the figures' colour maps survive it; the files shrink ~3x)."""
    from PIL import Image

    with Image.open(src) as im:
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
        im = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        with atomic_path(dst, suffix=".part.png") as tmp:
            im.save(tmp, format="PNG", optimize=True)


def section(results: Path, docs_rel: str, wall: str, note: str = "", cores: int | None = None) -> str:
    """Markdown of the results section for the run in ``results``.

    ``cores`` is the ``--cores`` the workflow ran with (default: this machine's core count).
    """
    cores = os.cpu_count() if cores is None else cores
    claims = results / "claims.md"
    if not claims.is_file():
        raise FileNotFoundError(f"{claims}: no claims table; run the workflow first")
    stamp = _dt.datetime.fromtimestamp(claims.stat().st_mtime, _dt.timezone.utc)
    body = claims.read_text().split("\n")
    body = [ln for ln in body if not ln.startswith("# ")]  # the table's own title
    lines = [
        BEGIN,
        "",
        f"Latest full run of `config.yaml`: claims table of {stamp:%Y-%m-%d %H:%M} UTC, on {machine()}; "
        f"wall time {wall} (`snakemake --cores {cores}`), {job_hours(results):.1f} h summed "
        f"over the analysis jobs, {job_hours(results, training=True):.1f} h over the training jobs benchmarked in this folder "
        "(a training resumed from its committed state counts its last segment only).",
    ]
    if note:
        lines += ["", note]
    lines.append("")
    for _, name, caption in FIGURES:
        lines += [f"![{caption}]({docs_rel}/{name})", f"*{caption}.*", ""]
    lines += ["#### Claims", ""] + body + ["", END]
    return "\n".join(lines).rstrip() + "\n"


def study_section(study: Path, docs_rel: str, note: str = "") -> str:
    """Markdown of the study's part of the README, for the study output folder ``study``."""
    table = study / "study.md"
    if not table.is_file():
        raise FileNotFoundError(f"{table}: no study table; run the study preset first")
    stamp = _dt.datetime.fromtimestamp(table.stat().st_mtime, _dt.timezone.utc)
    body = [ln for ln in table.read_text().split("\n") if not ln.startswith("Study of conditions:")]
    _, name, caption = STUDY_FIGURE
    lines = [
        STUDY_BEGIN,
        "",
        f"Study table of {stamp:%Y-%m-%d %H:%M} UTC (`{table}`, also [`{docs_rel}/study.csv`]({docs_rel}/study.csv)).",
    ]
    if note:
        lines += ["", note]
    lines += ["", "\n".join(body).strip()]
    lines += ["", f"![{caption}]({docs_rel}/{name})", f"*{caption}.*", "", STUDY_END]
    return "\n".join(lines).rstrip() + "\n"


def update_readme(readme: Path, text: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace the part of ``readme`` between the markers ``begin`` and ``end`` with ``text``
    (which carries the markers)."""
    old = readme.read_text()
    if begin not in old or end not in old:
        raise ValueError(f"{readme}: markers {begin!r} and {end!r} not found")
    head, rest = old.split(begin, 1)
    _, tail = rest.split(end, 1)
    new = head + text.rstrip("\n") + tail
    write_text_atomic(readme, new)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m cw.report.readme", description=__doc__.split("\n")[0])
    ap.add_argument("--results", default="results", help="output folder of the run (config output_dir)")
    ap.add_argument("--docs", default="docs", help="folder for the small PNGs")
    ap.add_argument("--readme", default="README.md")
    ap.add_argument("--wall", help="wall time of the workflow run, as text (required without --study)")
    ap.add_argument("--study", help="output folder of the study preset: write the study's part instead")
    ap.add_argument("--verdicts", nargs=2, metavar=("BEFORE", "AFTER"),
                    help="two output folders: write their claims side by side instead")
    ap.add_argument("--labels", nargs=2, default=("before", "after"), help="the two folders' names in the table")
    ap.add_argument("--note", default="", help="a sentence placed under the heading line")
    ap.add_argument("--cores", type=int, default=None,
                    help="the --cores the workflow ran with (default: this machine's core count)")
    ap.add_argument("--width", type=int, default=900, help="width of the PNGs (pixels)")
    a = ap.parse_args(argv)
    results, docs = Path(a.results), Path(a.docs)
    docs_rel = os.path.relpath(docs, Path(a.readme).parent)
    if a.verdicts:
        from cw.analysis.claim_tables import read_claims_csv, verdict_comparison

        try:
            tables = [read_claims_csv(Path(folder) / "claims.csv") for folder in a.verdicts]
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(f"error: {exc}") from None
        note = f"{a.note}\n\n" if a.note else ""
        text = (f"{VERDICTS_BEGIN}\n\n{note}Claims of `{a.verdicts[0]}/claims.csv` ({a.labels[0]}) and "
                f"`{a.verdicts[1]}/claims.csv` ({a.labels[1]}): "
                + verdict_comparison(*tables, tuple(a.labels)) + f"\n{VERDICTS_END}")
        update_readme(Path(a.readme), text, VERDICTS_BEGIN, VERDICTS_END)
        print(f"wrote the verdicts of {a.verdicts[0]} and {a.verdicts[1]} side by side into {a.readme}")
        return
    if a.study:
        study = Path(a.study)
        src, name, _ = STUDY_FIGURE
        for path in (study / src, study / "study.csv"):
            if not path.is_file():
                raise SystemExit(f"error: not found: {path} (run the study preset first)")
        text = study_section(study, docs_rel, a.note)
        shrink(study / src, docs / name, a.width)
        shutil.copyfile(study / "study.csv", docs / "study.csv")
        update_readme(Path(a.readme), text, STUDY_BEGIN, STUDY_END)
        print(f"wrote the study table and figure to {docs}/ and the study part of {a.readme}")
        return
    if not a.wall:
        raise SystemExit("error: --wall: give the wall time of the run, e.g. --wall '1 h 20 min'")
    missing = [str(results / "figures" / src) for src, _, _ in FIGURES if not (results / "figures" / src).is_file()]
    if missing:
        raise SystemExit(f"error: figure not found: {missing[0]} (run the workflow first)")
    text = section(results, docs_rel, a.wall, a.note, a.cores)
    for src, name, _ in FIGURES:
        shrink(results / "figures" / src, docs / name, a.width)
    update_readme(Path(a.readme), text)
    print(f"wrote {len(FIGURES)} figures to {docs}/ and the results section of {a.readme}")


if __name__ == "__main__":
    main()
