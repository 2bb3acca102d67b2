"""The figures, the claims table and the study as file-to-file functions, one per Snakemake rule,
in the style of :mod:`cw.steps.pipeline`: paths and plain-builtin parameters in, inputs read
with :func:`cw.io.open_dataset`, outputs written atomically."""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

from cw import io

log = logging.getLogger(__name__)

__all__ = ["figure_ratemaps", "figure_trajectories", "figure_training", "figure_examples",
           "figure_units", "figure_development", "figure_metabolic", "figure_boundary",
           "figure_tuning", "figure_nulls", "make_claims", "make_study"]

_SCORES = ("score60", "score90", "border_score", "band_score", "cell_type")


def _dpi(figures: Mapping) -> int:
    return int(figures["dpi"])


def figure_ratemaps(ratemaps: str, scores: str, outs: list[str], title: str, figures: Mapping) -> None:
    """All units' rate maps with their grid scores (Appendix A-C style)."""
    from cw.report import figures as fg

    rm = io.open_dataset(ratemaps, required=("rate",))
    sc = io.open_dataset(scores, required=("score60", "score90"))
    fig = fg.ratemap_panel(rm, sc, title=title)
    fg.save(fig, outs, dpi=_dpi(figures), tight=False)


def figure_trajectories(activity: str, ratemaps: str, outs: list[str], title: str, figures: Mapping) -> None:
    """Test trajectories and the network's estimate of them (Fig. 1c style)."""
    from cw.report import figures as fg

    act = io.open_dataset(activity, required=("x", "y", "output_x", "output_y"))
    corners = io.open_dataset(ratemaps).attrs["arena_corners"].reshape(-1, 2)
    fig = fg.trajectory_panel(act, corners, n_trials=int(figures["n_example_trials"]), title=title)
    fg.save(fig, outs, dpi=_dpi(figures))


def figure_training(histories: list[str], runs: list[str], outs: list[str], figures: Mapping) -> None:
    """Loss terms over training for every run."""
    from cw.report import figures as fg

    fig = fg.training_curves({r: io.read_csv(h) for r, h in zip(runs, histories)})
    fg.save(fig, outs, dpi=_dpi(figures))


def figure_examples(ratemaps: Sequence[str], scores: Sequence[str], runs: Sequence[str],
                    shapes: Sequence[str], outs: list[str], figures: Mapping, n_examples: int = 2,
                    title: str = "") -> None:
    """Fig. 2: example units of each cell type, per run, chosen by their scores."""
    from cw.report import figures as fg

    data = {}
    for r, rm, sc, shape in zip(runs, ratemaps, scores, shapes):
        data[r] = (io.open_dataset(rm, required=("rate",)), io.open_dataset(sc, required=_SCORES),
                   shape == "square")
    fg.save(fg.example_types_panel(data, n_examples=int(n_examples), title=title), outs, _dpi(figures))


def figure_units(ratemaps: str, scores: str, tuning: str, outs: list[str], figures: Mapping,
                 shape: str, n_units: int = 9, title: str = "") -> None:
    """Fig. 3: ``n_units`` units (best of each type in turn): map, direction and speed tuning."""
    from cw.report import figures as fg

    rm = io.open_dataset(ratemaps, required=("rate",))
    sc = io.open_dataset(scores, required=_SCORES)
    tu = io.open_dataset(tuning, required=("direction_curve", "speed_curve", "speed_r", "resultant_length"))
    units = fg.pick_nine(sc, int(n_units), square_like=shape == "square")
    log.info("%s: units %s", outs[0], units)
    fg.save(fg.unit_tuning_panel(rm, sc, tu, units, title=title), outs, _dpi(figures))


def figure_development(development: str, outs: list[str], figures: Mapping, title: str = "") -> None:
    """Fig. 4: t-SNE at early/intermediate/late checkpoints and type counts over training."""
    from cw.report import figures as fg

    dev = io.open_dataset(development, required=("tsne", "type_count", "cell_type"))
    fg.save(fg.development_panel(dev, title=title), outs, _dpi(figures))


def figure_metabolic(ratemaps_without: str, scores_without: str, ratemaps_with: str, scores_with: str,
                     names: Sequence[str], outs: list[str], figures: Mapping, title: str = "") -> None:
    """Fig. 5: every map without (left) and with (right) the metabolic cost."""
    from cw.report import figures as fg

    a = (io.open_dataset(ratemaps_without, required=("rate",)), io.open_dataset(scores_without, required=_SCORES))
    b = (io.open_dataset(ratemaps_with, required=("rate",)), io.open_dataset(scores_with, required=_SCORES))
    fg.save(fg.metabolic_panel(a, b, names=tuple(names), title=title), outs, _dpi(figures))


def figure_boundary(boundary: str, outs: list[str], figures: Mapping, title: str = "",
                    min_count: int = 1) -> None:
    """Fig. 6a/6b: error around boundary interactions; long-path error vs the best constant."""
    from cw.report import figures as fg

    bd = io.open_dataset(boundary, required=("error_since_boundary_mean", "error_aligned_mean"))
    fg.save(fg.boundary_panel(bd, title=title, min_count=int(min_count)), outs, _dpi(figures))


def figure_tuning(tuning: str, scores: str, direction_outs: list[str], speed_outs: list[str],
                  figures: Mapping, title: str = "") -> None:
    """Appendix A-C: direction and speed tuning curves of every unit (two figures)."""
    from cw.report import figures as fg

    tu = io.open_dataset(tuning, required=("direction_curve", "speed_curve"))
    sc = io.open_dataset(scores, required=("cell_type",))
    fg.save(fg.tuning_grid(tu, "direction", sc, title=f"{title}: direction tuning"), direction_outs, _dpi(figures),
            tight=False)
    fg.save(fg.tuning_grid(tu, "speed", sc, title=f"{title}: speed tuning"), speed_outs, _dpi(figures), tight=False)


def figure_nulls(scores: str, outs: list[str], figures: Mapping, title: str = "") -> None:
    """Our addition: each score's distribution against its shuffle null."""
    from cw.report import figures as fg

    sc = io.open_dataset(scores)
    fg.save(fg.score_null_panel(sc, title=title), outs, _dpi(figures))


def make_claims(runs: Sequence[Mapping], scores: Sequence[str], tuning: Sequence[str],
                development: Sequence[str], boundary: Sequence[str], markdown: str, csv: str,
                seeds_csv: str, html: str | None = None, claims: Mapping | None = None, preamble: str = "") -> None:
    """The claims table: ``runs`` is one mapping per run (``name``, ``arena`` shape, ``ablation``),
    the path lists are aligned with it -> markdown, per-run CSV and across-seed CSV."""
    from cw.analysis import claim_tables
    from cw.analysis import claims as cl

    p = cl.ClaimParams.from_dict(claims)
    rows = []
    for r, s, t, d, b in zip(runs, scores, tuning, development, boundary):
        rows += cl.run_claims(r["name"], r["arena"], bool(r["ablation"]), scores=io.open_dataset(s),
                              tuning=io.open_dataset(t), development=io.open_dataset(d),
                              boundary=io.open_dataset(b), params=p)
    table = cl.claims_table(rows)
    summary = cl.summarise_seeds(table)
    claim_tables.write_claims_csv(table, csv)
    claim_tables.write_claims_csv(summary, seeds_csv, columns=list(summary[0]) if summary else ["claim"])
    from cw.atomic import write_text_atomic

    write_text_atomic(markdown, claim_tables.claims_markdown(table, summary, preamble=preamble))
    if html:
        write_text_atomic(html, claim_tables.claims_html(table, summary, preamble=preamble))
    log.info("%s: %s", markdown, ", ".join(f"{r['claim']}/{r['run']}: {r['verdict']}" for r in table))


def make_study(runs: Sequence[Mapping], scores: Sequence[str], ratemaps: Sequence[str], claims_csv: str,
               table_csv: str, table_md: str, figure_outs: Sequence[str], figures: Mapping,
               preamble: str = "") -> None:
    """The study of conditions: its table (CSV and markdown) and figure over its runs
    (:func:`cw.report.study.make_study`)."""
    from cw.report.study import make_study as study

    study(runs, scores, ratemaps, claims_csv, table_csv, table_md, figure_outs, dpi=_dpi(figures),
          preamble=preamble)
