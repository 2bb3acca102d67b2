"""Snakemake step: Fig. 6a/6b, error around boundary interactions and over a long path."""
from cw.steps.report import figure_boundary
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, figure_boundary, smk.input.boundary, list(smk.output), smk.params.figures,
         title=smk.params.title, min_count=smk.params.min_count)
