"""Snakemake step: all rate maps of one run with their grid scores (Appendix A-C style)."""
from cw.steps.report import figure_ratemaps
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, figure_ratemaps, smk.input.ratemaps, smk.input.scores, list(smk.output), **smk.params)
