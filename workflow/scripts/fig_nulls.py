"""Snakemake step: each score's distribution over units against its shuffle null."""
from cw.steps.report import figure_nulls
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, figure_nulls, smk.input.scores, list(smk.output), smk.params.figures, title=smk.params.title)
