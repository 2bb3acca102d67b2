"""The titles of the workflow's figures (workflow/rules/figures.smk), in one place so that the
figure-layout test draws every figure with the title its rule gives it.

A title names each thing once: a run named after its arena (``triangle``, ``square_no_metabolic``)
is not followed by "triangle arena" again.

Examples
--------
>>> run_label("triangle", "triangle")
'triangle'
>>> run_label("square_no_metabolic", "square")
'square_no_metabolic'
>>> run_label("baseline", "square")
'baseline, square arena'
>>> fig3("triangle", "triangle")
'Fig. 3 (triangle): spatial map, direction and speed tuning'
>>> ratemaps("baseline", "square")
'baseline (square arena): rate maps of all units'
"""

from __future__ import annotations

import re

__all__ = ["run_label", "ratemaps", "trajectories", "fig2", "fig3", "fig4", "fig5", "fig5_names", "fig6",
           "appendix", "nulls"]


def _names_arena(run: str, arena: str) -> bool:
    """The run's name contains the arena's name as a word (split at ``_``, ``-``, ``.``)."""
    return arena.lower() in re.split(r"[^a-z0-9]+", run.lower())


def run_label(run: str, arena: str) -> str:
    """``run``, followed by ``, <arena> arena`` unless the run's name already says the arena."""
    return run if _names_arena(run, arena) else f"{run}, {arena} arena"


def ratemaps(run: str, arena: str) -> str:
    """Appendix rate maps of one run."""
    head = run if _names_arena(run, arena) else f"{run} ({arena} arena)"
    return f"{head}: rate maps of all units"


def trajectories(run: str) -> str:
    """Fig. 1c: test paths of one run."""
    return f"{run}: test paths (black) and network output (red)"


def fig2() -> str:
    return "Fig. 2: example units of each type, best by their defining score"


def fig3(run: str, arena: str) -> str:
    return f"Fig. 3 ({run_label(run, arena)}): spatial map, direction and speed tuning"


def fig4(run: str) -> str:
    return f"Fig. 4 ({run}): development"


def fig5(arena: str) -> str:
    return f"Fig. 5: all maps of the {arena} arena without vs with the metabolic cost"


def fig5_names(run: str, partner: str, lambda_fr, adapted: bool = False) -> list[str]:
    """The two column heads of Fig. 5: the run without the metabolic cost and its partner.

    ``adapted``: the partner's training moves lambda_FR from ``lambda_fr`` (its starting value),
    as the authors' rules do (:func:`cw.network.penalties.metabolic_weight_adapted`).
    """
    weight = f"lambda_FR {lambda_fr} at the start, adapted in training" if adapted else f"lambda_FR = {lambda_fr}"
    return [f"{run}: without metabolic cost (lambda_FR = 0)", f"{partner}: with metabolic cost ({weight})"]


def fig6(run: str) -> str:
    return f"Fig. 6 ({run}): error around boundary interactions and over a long path"


def appendix(run: str, arena: str) -> str:
    """Appendix tuning figures; the figure adds ': direction tuning' / ': speed tuning'."""
    return f"Appendix ({run_label(run, arena)})"


def nulls(run: str) -> str:
    return f"{run}: each score over units (red) against its shuffle null (grey)"
