"""Benchmarks (``python bench/bench_fit.py``); not part of the installed distribution."""
