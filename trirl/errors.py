"""The exceptions trirl raises. Each message names the offending field and the expected form."""

import contextlib
import math
import sys
import warnings


class TrirlError(Exception):
    """Base class of every error raised on purpose by trirl."""


class InvalidMDPError(TrirlError, ValueError):
    """An MDP (transitions, initial distribution, discount, absorbing states) is malformed."""


class InvalidConfigError(TrirlError, ValueError):
    """A configuration value or argument is out of its documented range."""


class UnreadableFileError(InvalidConfigError):
    """A file trirl reads (a run's ``config.json``, ``metrics.jsonl`` or checkpoint, a results or
    ``returns.json`` file) cannot be decoded: the message names the file, what is wrong with it
    and what it should hold (:func:`trirl.rundir.read_json`, :func:`trirl.rundir.read_npz`)."""


class RunDirWriteError(TrirlError, OSError):
    """Writing into a run directory failed (no space left, a read-only folder, ...): the message
    names the path, the operating system's reason and the checkpoint that is kept; ``errno``,
    ``strerror`` and ``filename`` are those of the failed write."""

    def __str__(self) -> str:  # the message, not OSError's "[Errno N] ..." form
        return str(self.args[0]) if self.args else super().__str__()


class DamagedCheckpointWarning(UserWarning):
    """The newest checkpoint of a run cannot be read; the previous one is used (both are named)."""


class InvalidDemonstrationError(TrirlError, ValueError):
    """Demonstrations (trajectories, occupancies, demo files) are empty, malformed or mismatched."""


class ConvergenceError(TrirlError, RuntimeError):
    """An iterative solver stopped at ``max_iter`` before reaching its tolerance."""

    def __init__(self, message: str, residual: float, iterations: int):
        super().__init__(message)
        self.residual = residual
        self.iterations = iterations


class NonFiniteError(TrirlError, FloatingPointError):
    """A metric or a state leaf of a run became NaN or infinite (:func:`trirl.driver.run` stops).

    The message names the metrics, the state leaves and the iteration (and, with a run directory,
    the checkpoint of the last finite state); so do the attributes ``iteration``, ``metrics`` and
    ``leaves``.
    """

    def __init__(self, message: str, iteration: int | None = None, metrics=(), leaves=()):
        super().__init__(message)
        self.iteration = iteration
        self.metrics = list(metrics)
        self.leaves = list(leaves)


class DemonstrationWarning(UserWarning):
    """Demonstrations determine the expert occupancy only in part (e.g. episodes cut by the horizon)."""


class DualIncreaseWarning(UserWarning):
    """An iterative IRL method's exact dual ``G(r)`` got worse; the message names the cause and the remedy."""


def describe_sum(total: float, expected: float = 1.0) -> str:
    """``total`` written so that a message comparing it with ``expected`` shows the difference.

    ``1 - 1.2e-07`` rather than ``1``: six significant digits would round away the very
    deviation a "sums to X, expected Y" error complains about.
    """
    total, expected = float(total), float(expected)
    difference = total - expected
    if math.isfinite(difference) and 0 < abs(difference) <= 1e-3 * max(1.0, abs(expected)):
        return f"{expected:.6g} {'+' if difference > 0 else '-'} {abs(difference):.2g}"
    return f"{total:.6g}"


@contextlib.contextmanager
def plain_warnings(program: str):
    """Within the block, print warnings as ``program: warning: message`` on stderr (a command
    line's user reads the message, not the source line that raised it)."""
    with warnings.catch_warnings():
        def show(message, category, filename, lineno, file=None, line=None):
            print(f"{program}: warning: {message}", file=sys.stderr if file is None else file, flush=True)

        warnings.showwarning = show
        yield
