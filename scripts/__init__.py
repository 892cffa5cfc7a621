"""Operators' and developers' scripts: `python -m scripts.bench` (the benchmark)."""
