"""How many BLAS threads the exact engine uses: one for small problems, by default.

The tabular engine's BLAS calls are small (a grid world's ``P V`` has ~1e4 non-zeros, a
1,024-state LU takes tens of milliseconds): a second thread gains little and, on a machine busy
with other work, its threads wait for each other (``trirl bench tabular``'s figure 7 measures
``trirl grid --world four_rooms`` with the machine's default threads and with one, in one run;
``book/results/tabular-bench.json`` and ``book/results/tabular-engine.md``).

:func:`blas_threads` is the policy, a context manager around a computation on one MDP. It
wraps the tabular driver's loop (every algorithm's run), the ``trirl grid`` command, the
notebook widgets' steps and redraws (:mod:`trirl.tabular.widgets`), and, through
the decorator :func:`small_problem_threads`, the engine's public solvers (``solve``,
``soft_value_iteration``, ``soft_policy_iteration``, ``soft_policy_evaluation``,
``state_occupancy``), so a user's own loop is covered too. Entering it costs ~50 us:
``threadpoolctl``'s controller is built once, when first needed.

- ``TRIRL_BLAS_THREADS`` unset or ``auto``: one thread when the MDP has at most
  ``SMALL_PROBLEM_STATES`` states, the machine's default otherwise;
- ``TRIRL_BLAS_THREADS=off``: leave the thread count alone (what the environment, e.g.
  ``OPENBLAS_NUM_THREADS``, or an enclosing ``threadpoolctl`` context set);
- ``TRIRL_BLAS_THREADS=N`` (an integer >= 1): ``N`` threads whatever the size.

The ``limit`` argument takes the same values and wins over the variable. Limits apply through
``threadpoolctl`` to every loaded BLAS (numpy's and scipy's) and are restored on exit.
"""

from __future__ import annotations

import functools
import os
from contextlib import contextmanager
from collections.abc import Iterator

from threadpoolctl import ThreadpoolController

from trirl.errors import InvalidConfigError

BLAS_THREADS_ENV = "TRIRL_BLAS_THREADS"
# a dense LU of 4,096 states (the largest the engine factorises densely) is where a second
# thread starts to pay on a quiet machine; everything below it is "small"
SMALL_PROBLEM_STATES = 4096


def _parse(limit) -> int | str:
    value = str(limit).strip().lower()
    if value in ("auto", "off"):
        return value
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise InvalidConfigError(
            f"{BLAS_THREADS_ENV} (or limit) is {limit!r}, expected 'auto', 'off' or an integer >= 1"
        )
    return threads


def thread_limit(n_states: int, limit: int | str | None = None) -> int | None:
    """The BLAS thread count :func:`blas_threads` sets for ``n_states`` states; ``None``: left alone."""
    policy = _parse(os.environ.get(BLAS_THREADS_ENV, "auto") if limit is None else limit)
    if policy == "off":
        return None
    if policy == "auto":
        return 1 if n_states <= SMALL_PROBLEM_STATES else None
    return policy


@contextmanager
def blas_threads(n_states: int, limit: int | str | None = None) -> Iterator[int | None]:
    """Limit BLAS threads for a computation on an MDP of ``n_states`` states (module doc).

    Yields the thread count set (``None`` when left alone).

    Raises:
        InvalidConfigError: naming ``TRIRL_BLAS_THREADS`` when it (or ``limit``) is not
            ``auto``, ``off`` or an integer >= 1.
    """
    threads = thread_limit(n_states, limit)
    if threads is None:
        yield None
        return
    with _controller().limit(limits=threads, user_api="blas"):
        yield threads


@functools.cache
def _controller() -> ThreadpoolController:
    # finding the loaded libraries takes milliseconds: once, after numpy's and scipy's BLAS are loaded
    import scipy.linalg  # noqa: F401

    return ThreadpoolController()


def small_problem_threads(function):
    """Decorate ``function(mdp, ...)`` to run inside :func:`blas_threads` ``(mdp.n_states)``."""

    @functools.wraps(function)
    def wrapped(mdp, *args, **kwargs):
        with blas_threads(mdp.n_states):
            return function(mdp, *args, **kwargs)

    return wrapped
