"""Benchmarks: scripts that print figures and write JSON (``python -m trirl.bench tabular``)."""
