"""Benchmarks: scripts that print figures and write JSON (``trirl bench tabular``)."""
