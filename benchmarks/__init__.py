"""Benchmarks of speed, optimizers, trial counts and the analysis (run as ``python -m benchmarks.bench_speed``)."""
