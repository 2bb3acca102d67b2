"""Snakemake step: train one run's place-cell read-out network (Adam); save weights, checkpoints, history."""
from cw.steps.pipeline import train_place_model
from cw.runtime import run_step

smk = snakemake  # noqa: F821 (provided by Snakemake)
run_step(
    smk,
    train_place_model,
    smk.output.weights,
    smk.output.checkpoints,
    smk.output.history,
    label=smk.wildcards.run,
    tensorflow_threads=True,
    **smk.params,
)
