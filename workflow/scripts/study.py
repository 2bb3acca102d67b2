"""Snakemake step: the study of conditions, one table and one figure over its runs."""
from cw.runtime import run_step
from cw.steps.report import make_study

smk = snakemake  # noqa: F821 (provided by Snakemake)
i, o, p = smk.input, smk.output, smk.params
run_step(smk, make_study, p.runs, list(i.scores), list(i.ratemaps), i.claims, o.csv, o.markdown,
         [o.png, o.pdf], figures=p.figures, preamble=p.preamble)
