"""Snakemake step: test trajectories against the network's output (Fig. 1c style)."""
from cw.steps.report import figure_trajectories
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, figure_trajectories, smk.input.activity, smk.input.ratemaps, list(smk.output), **smk.params)
