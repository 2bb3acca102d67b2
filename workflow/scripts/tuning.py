"""Snakemake step: direction and speed tuning curves of every unit (Fig. 3, Appendix)."""
from cw.steps.analysis import analyse_tuning
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, analyse_tuning, smk.input.activity, smk.output[0], **smk.params)
