"""Step functions, one per Snakemake rule: they take paths and typed settings and write outputs."""
