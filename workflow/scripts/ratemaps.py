"""Snakemake step: rate map of every unit (mean activity per spatial bin)."""
from cw.steps.pipeline import make_ratemaps
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, make_ratemaps, smk.input.activity, smk.output[0], **smk.params)
