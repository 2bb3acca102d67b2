"""Snakemake step: loss terms over training for every run."""
from cw.steps.report import figure_training
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, figure_training, list(smk.input.histories), outs=list(smk.output), **smk.params)
