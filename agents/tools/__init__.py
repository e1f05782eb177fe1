"""Tooling around training: command-line glue, sweeps, results tables, plots, benchmarks."""
