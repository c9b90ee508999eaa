"""Numerical verification of the exact engine and of the TRIRL theory (Lemma 3.1, Theorem 3.2,
monotonic improvement): hypothesis strategies, properties as violation measures, the sweeps
behind ``book/findings.md`` and the ``trirl verify`` command (:func:`main`)."""

from trirl.verify.properties import PROPERTIES, Property
from trirl.verify.runner import Report, main, run_property

__all__ = ["PROPERTIES", "Property", "Report", "main", "run_property"]
