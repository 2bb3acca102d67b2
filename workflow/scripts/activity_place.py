"""Snakemake step: activity of a place-cell read-out network on its test walks."""
from cw.steps.pipeline import extract_place_activity
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, extract_place_activity, smk.input.weights, smk.output[0], **smk.params)
