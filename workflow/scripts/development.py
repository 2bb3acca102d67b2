"""Snakemake step: scores and cell types at every training checkpoint, t-SNE of units (Fig. 4)."""
from cw.steps.analysis import analyse_development
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(
    smk,
    analyse_development,
    smk.input.checkpoints,
    smk.input.trajectories,
    smk.output[0],
    **smk.params,
)
