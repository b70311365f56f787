"""Benchmarks: `python -m bench [name ...]` prints figures and ratios against a baseline measured in the same run."""
