"""Snakemake step: every spatial score, its shuffle threshold and the cell type of every unit."""
from cw.steps.analysis import analyse_scores
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, analyse_scores, smk.input.activity, smk.output[0], **smk.params)
