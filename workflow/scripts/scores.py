"""Snakemake step: grid scores (60 and 90 degrees) of every unit."""
from cw.pipeline import make_scores
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, make_scores, smk.input.ratemaps, smk.output[0], **smk.params)
