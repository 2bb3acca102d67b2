"""Snakemake step: Fig. 5, all maps without vs with the metabolic cost."""
from cw.steps.report import figure_metabolic
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
i = smk.input
run_step(smk, figure_metabolic, i.ratemaps_without, i.scores_without, i.ratemaps_with, i.scores_with,
         smk.params.names, list(smk.output), smk.params.figures, title=smk.params.title)
