"""Snakemake step: training pool and test trials of one run (paper section 2)."""
from cw.steps.pipeline import make_trajectories
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, make_trajectories, smk.output[0], **smk.params)
