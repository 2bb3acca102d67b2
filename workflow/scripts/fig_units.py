"""Snakemake step: Fig. 3, nine units of a (triangle) run: map, direction and speed tuning."""
from cw.steps.report import figure_units
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, figure_units, smk.input.ratemaps, smk.input.scores, smk.input.tuning, list(smk.output),
         smk.params.figures, smk.params.shape, n_units=smk.params.n_units, title=smk.params.title)
