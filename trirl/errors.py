"""The exceptions trirl raises. Each message names the offending field and the expected form."""


class TrirlError(Exception):
    """Base class of every error raised on purpose by trirl."""


class InvalidMDPError(TrirlError, ValueError):
    """An MDP (transitions, initial distribution, discount, absorbing states) is malformed."""


class InvalidConfigError(TrirlError, ValueError):
    """A configuration value or argument is out of its documented range."""


class InvalidDemonstrationError(TrirlError, ValueError):
    """Demonstrations (trajectories, occupancies, demo files) are empty, malformed or mismatched."""


class ConvergenceError(TrirlError, RuntimeError):
    """An iterative solver stopped at ``max_iter`` before reaching its tolerance."""

    def __init__(self, message: str, residual: float, iterations: int):
        super().__init__(message)
        self.residual = residual
        self.iterations = iterations


class DemonstrationWarning(UserWarning):
    """Demonstrations determine the expert occupancy only in part (e.g. episodes cut by the horizon)."""


class DualIncreaseWarning(UserWarning):
    """An iterative IRL method's exact dual ``G(r)`` got worse; the message names the cause and the remedy."""
