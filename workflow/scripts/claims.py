"""Snakemake step: the claims table (markdown, CSV, across-seed CSV, HTML), every verdict computed."""
from cw.steps.report import make_claims
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
i, o = smk.input, smk.output
run_step(smk, make_claims, smk.params.runs, list(i.scores), list(i.tuning), list(i.development),
         list(i.boundary), o.markdown, o.csv, o.seeds_csv, html=o.html, claims=smk.params.claims,
         preamble=smk.params.preamble)
