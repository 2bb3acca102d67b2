"""Snakemake step: Fig. 2, example units of each cell type per run, chosen by their scores."""
from cw.steps.report import figure_examples
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(smk, figure_examples, list(smk.input.ratemaps), list(smk.input.scores), smk.params.runs,
         smk.params.shapes, list(smk.output), smk.params.figures, n_examples=smk.params.n_examples,
         title=smk.params.title)
