"""Snakemake step: Appendix A-C, direction and speed tuning curves of every unit."""
from cw.steps.report import figure_tuning
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
o = smk.output
run_step(smk, figure_tuning, smk.input.tuning, smk.input.scores, [o.direction_png, o.direction_pdf],
         [o.speed_png, o.speed_pdf], smk.params.figures, title=smk.params.title)
