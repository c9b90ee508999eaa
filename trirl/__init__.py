"""trirl: Trust Region Inverse Reinforcement Learning (TRIRL, arXiv 2605.11020).

``trirl.tabular`` is the exact discrete engine, ``trirl.core`` holds the TRIRL maths shared
with the JAX backend ``trirl.continuous``.
"""

from trirl.errors import (
    ConvergenceError,
    DemonstrationWarning,
    DualIncreaseWarning,
    InvalidConfigError,
    InvalidDemonstrationError,
    InvalidMDPError,
    TrirlError,
)

__version__ = "0.1.0"

__all__ = [
    "ConvergenceError",
    "DemonstrationWarning",
    "DualIncreaseWarning",
    "InvalidConfigError",
    "InvalidDemonstrationError",
    "InvalidMDPError",
    "TrirlError",
    "__version__",
]
