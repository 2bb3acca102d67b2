"""Snakemake step: scores and cell types of a place-cell read-out network at every checkpoint."""
from cw.steps.analysis import analyse_place_development
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, analyse_place_development, smk.input.checkpoints, smk.output[0],
         **smk.params)
