"""Snakemake step: error around boundary interactions and over a long test path (Fig. 6)."""
from cw.steps.analysis import analyse_boundary
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, analyse_boundary, smk.input.activity, smk.input.weights, smk.output[0], **smk.params)
