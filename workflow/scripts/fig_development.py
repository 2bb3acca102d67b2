"""Snakemake step: Fig. 4, t-SNE of the units over training and type counts per checkpoint."""
from cw.steps.report import figure_development
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, figure_development, smk.input.development, list(smk.output), smk.params.figures,
         title=smk.params.title)
