"""Snakemake step: noise-free activity of the trained network on the test trials."""
from cw.steps.pipeline import extract_activity
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(
    smk,
    extract_activity,
    smk.input.trajectories,
    smk.input.weights,
    smk.output[0],
    **smk.params,
)
