"""trirl: Trust Region Inverse Reinforcement Learning (TRIRL, arXiv 2605.11020).

``trirl.tabular`` is the exact discrete engine, ``trirl.core`` holds the TRIRL maths shared
with the JAX backend ``trirl.continuous``.
"""

from importlib import metadata as _metadata

from trirl.errors import (
    ConvergenceError,
    DemonstrationWarning,
    DualIncreaseWarning,
    InvalidConfigError,
    InvalidDemonstrationError,
    InvalidMDPError,
    NonFiniteError,
    TrirlError,
)

try:  # one source: the version in pyproject.toml, as installed
    __version__ = _metadata.version("trirl")
except _metadata.PackageNotFoundError:  # a checkout on PYTHONPATH that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ConvergenceError",
    "DemonstrationWarning",
    "DualIncreaseWarning",
    "InvalidConfigError",
    "InvalidDemonstrationError",
    "InvalidMDPError",
    "NonFiniteError",
    "TrirlError",
    "__version__",
]
