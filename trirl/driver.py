"""One learner protocol and one driver for both halves: loop, log, checkpoint, resume, stop.

A learner is a named bundle of pure functions (as optax's ``GradientTransformation``)::

    init(key) -> state                      iteration 0
    step(state, key) -> (state, metrics)    one iteration; metrics: name -> number or array

Both halves name their metrics alike: ``iteration, eta, eps_tr, reverse_kl, policy_kl, dual`` mean
the same in each (exact in the tabular half, estimated or absent in the continuous one; book
chapter 6), plus what a learner or an environment adds.

The tabular half ignores the key (``key=None``; it needs neither JAX nor randomness), the
continuous half jits and vmaps the same two functions. The state is any pytree (NamedTuples,
dicts, lists, tuples of numpy or JAX arrays and scalars): :func:`run` checkpoints it with
:func:`trirl.rundir.flatten` and restores it into a template from ``init``
(:func:`trirl.rundir.unflatten`), so a learner writes no checkpoint code.

:func:`run` owns everything with side effects: the progress bar, the metrics stream
(``metrics.jsonl`` of a :class:`~trirl.rundir.RunDir`), periodic checkpoints, resumption from the
newest one, a wall-clock budget (``max_minutes``), Ctrl-C and the stop at the first NaN or
infinity (:class:`~trirl.errors.NonFiniteError`, naming the metrics and state leaves and the
iteration). What differs between the halves comes in as one :class:`Hooks` record: the row
written for an iteration (``row``: the tabular half adds measurements of the reward, the
continuous one averages over seeds and evaluates every few iterations), the first row,
checkpoint metadata, a context for the loop (the tabular half's BLAS threads) and what to do when
the run stops; the bar is one :class:`Progress` record.

Iteration ``i`` (1-based) steps with ``fold_in(key, i - 1)``, so a resumed run reproduces the
uninterrupted one bit for bit. This module imports no JAX unless a key is given.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

from trirl.devices import seed_mesh, to_host  # noqa: F401  (seed_mesh: part of the driver's interface)
from trirl.errors import InvalidConfigError, NonFiniteError
from trirl.rundir import STATE_PREFIX, RunDir, StopOnInterrupt, flatten, tree_leaves_with_path, unflatten

#: what :func:`run` returns in ``Outcome.status``
STATUSES = ("done", "stopped", "paused", "interrupted")


@runtime_checkable
class Learner(Protocol):
    """The one learner shape of either half (module doc), as optax's ``GradientTransformation``
    is the one shape of an optimiser: ``name``, ``init(key) -> state`` and
    ``step(state, key) -> (state, metrics)``. The tabular learners
    (``trirl.tabular.driver.Learner``), the continuous IRL learners (``trirl.continuous.trirl.Learner``:
    TRIRL, GAIL, AIRL, AMP), PPO (``trirl.continuous.ppo.PPO``) and :class:`Jitted` satisfy it;
    their extra fields (a reward, a policy, the networks) are what their own callers read."""

    name: str

    def init(self, key) -> Any: ...

    def step(self, state, key) -> tuple[Any, Mapping[str, Any]]: ...


class Outcome(NamedTuple):
    """What :func:`run` returns: the final ``state``, every logged row (``history``, those read
    back from the run directory on resume included), ``status`` (:data:`STATUSES`: ``"stopped"``
    when ``until`` said so, ``"paused"`` when ``max_minutes`` ran out, ``"interrupted"`` after a
    Ctrl-C that let the iteration finish) and the ``iteration`` reached."""

    state: Any
    history: list[dict[str, Any]]
    status: str
    iteration: int

    @property
    def last(self) -> dict[str, Any]:
        return self.history[-1] if self.history else {}


def nonfinite_leaves(tree, log_may_be_minus_inf: bool = True) -> dict[str, Any]:
    """``{key path: bool}`` for every floating leaf of ``tree``: does it hold a NaN or an infinity?

    With ``log_may_be_minus_inf``, a leaf named ``log_*`` may hold ``-inf`` (the log of an exactly
    zero probability, e.g. a tabular log-policy); only NaN and ``+inf`` are bad there. Works on
    numpy trees and, inside ``jax.jit``, on JAX ones (the flags then stay on the device until the
    caller reads them).
    """
    flags = {}
    for path, leaf in tree_leaves_with_path(tree):
        if not hasattr(leaf, "dtype"):
            leaf = np.asarray(leaf)
        if np.dtype(leaf.dtype).kind != "f":
            continue
        bad = (leaf != leaf) | (leaf == math.inf)
        if not (log_may_be_minus_inf and path.rsplit(".", 1)[-1].startswith("log_")):
            bad = bad | (leaf == -math.inf)
        flags[path] = bad.any()
    return flags


def check_finite(metrics: Mapping[str, Any], bad_leaves: Mapping[str, Any], iteration: int, name: str = "",
                 may_be_nan: Mapping[str, str] | None = None) -> None:
    """Raise :class:`~trirl.errors.NonFiniteError` naming the non-finite metrics and state leaves.

    ``metrics`` are numbers or arrays (one entry per seed); ``bad_leaves`` maps leaf names to flags
    (:func:`nonfinite_leaves`). ``may_be_nan`` maps a metric that is a mean over a count to that
    count's metric (``{"episode_return": "episodes"}``): it may be NaN where the count is 0.
    """
    bad_metrics = []
    for key, value in metrics.items():
        value = np.asarray(value)
        if value.dtype.kind != "f":
            continue
        bad = ~np.isfinite(value)
        if may_be_nan and key in may_be_nan:
            bad = bad & (np.asarray(metrics.get(may_be_nan[key], 1.0)) > 0)
        if np.any(bad):
            bad_metrics.append(key)
    leaves = sorted(k for k, v in bad_leaves.items() if np.any(np.asarray(v)))
    if bad_metrics or leaves:
        raise NonFiniteError(
            f"{name + ': ' if name else ''}non-finite values at iteration {iteration}: "
            f"metrics {sorted(bad_metrics) or 'none'}; "
            f"state leaves {leaves[:10] or 'none'}{' ...' if len(leaves) > 10 else ''}",
            iteration=iteration, metrics=sorted(bad_metrics), leaves=leaves)


class Jitted(NamedTuple):
    """A learner whose ``init`` and ``step`` are jitted (and vmapped over seeds): :func:`jitted`."""

    name: str
    init: Callable[[Any], Any]
    step: Callable[[Any, Any], tuple[Any, Mapping[str, Any]]]


def jitted(learner, seeds: int | None = None, *step_args, name: str | None = None, devices=None) -> Jitted:
    """``learner`` with ``init`` and ``step`` jitted, for :func:`run` (imports JAX).

    With ``seeds``, both are vmapped over a leading seed axis: ``init(keys [seeds, ...])``, and
    ``step(state, key)`` gives seed ``j`` the key ``split(key, seeds)[j]``. ``step_args`` follow
    the state and key in every call of ``learner.step`` (e.g. the frozen reward PPO retrains on;
    with ``seeds``, they carry the seed axis too: seed ``j`` gets their slice ``j``).

    The seed axis of the state, the metrics and ``step_args`` lives on :func:`~trirl.devices.seed_mesh` over
    ``devices`` (default: all local devices): each device steps its own seeds, the key is
    replicated, and a seed's numbers do not depend on the device count (up to the float rounding of
    XLA's kernels for another batch size). Whatever comes in (a checkpoint's host arrays, a state
    from another device count) is placed on the mesh first, so a run resumes on any device count;
    ``numpy.asarray`` of the outputs gathers them to the host.
    """
    import jax

    label = name or getattr(learner, "name", "")
    if seeds is None:
        return Jitted(label, jax.jit(learner.init), functools.partial(_call, jax.jit(learner.step), step_args))

    def step_seeds(state, key, *args):
        return jax.vmap(learner.step)(state, jax.random.split(key, seeds), *args)

    mesh = seed_mesh(seeds, devices)
    if mesh is None:
        return Jitted(label, jax.jit(jax.vmap(learner.init)), functools.partial(_call, jax.jit(step_seeds), step_args))
    from jax.sharding import NamedSharding, PartitionSpec

    per_seed, replicated = NamedSharding(mesh, PartitionSpec("seeds")), NamedSharding(mesh, PartitionSpec())
    init_jit = jax.jit(jax.vmap(learner.init), out_shardings=per_seed)
    step_jit = jax.jit(step_seeds, out_shardings=(per_seed, replicated))  # metrics readable on every host

    def init(keys):
        return init_jit(jax.device_put(keys, per_seed))

    def step(state, key, *args):
        return step_jit(jax.device_put(state, per_seed), jax.device_put(key, replicated), *args)

    return Jitted(label, init, functools.partial(_call, step, jax.device_put(step_args, per_seed)))


def _call(step, step_args, state, key):
    return step(state, key, *step_args)


@functools.cache
def _compiled_nonfinite():
    import jax

    return jax.jit(functools.partial(nonfinite_leaves, log_may_be_minus_inf=False))


def jitted_nonfinite(tree) -> dict[str, Any]:
    """:func:`nonfinite_leaves` of a JAX state (every ``-inf`` counted), compiled on first use."""
    return _compiled_nonfinite()(tree)


def default_row(iteration: int, state, metrics: Mapping[str, Any], seconds: float, previous=None) -> dict[str, Any]:
    """``{"iteration": iteration, **metrics}`` with numpy scalars as Python numbers."""
    return {"iteration": iteration, **{k: np.asarray(v).item() for k, v in metrics.items() if k != "iteration"}}


def _restart_clock(bar: tqdm) -> None:
    """Rate and ETA from now on: the first iteration compiles, and its minutes would read as an ETA
    of hours (the bar shows ``?`` until the second iteration ends)."""
    if bar.disable:
        return
    bar.initial = bar.last_print_n = bar.n
    bar.last_print_t = bar.start_t = bar._time()
    bar._ema_dn, bar._ema_dt = type(bar._ema_dn)(bar.smoothing), type(bar._ema_dt)(bar.smoothing)


@dataclass(frozen=True)
class Hooks:
    """What a caller adds to :func:`run`'s loop; every field is optional.

    Attributes:
        first_row: ``first_row(state)``, the row of iteration 0 (``init``'s state), logged and
            checkpointed; ``None``: rows start at iteration 1.
        row: ``row(iteration, state, metrics, seconds, previous)``, the row logged for an
            iteration (``seconds``: the step's wall time, ``previous``: the row logged before, or
            ``None``); default :func:`default_row`.
        checkpoint_meta: ``checkpoint_meta(iteration, state)``, JSON metadata stored with a checkpoint.
        nonfinite: ``{leaf: flag}`` of a new state (:func:`nonfinite_leaves`, or
            :func:`jitted_nonfinite`); ``may_be_nan``: see :func:`check_finite`.
        callback: ``callback(state, row)`` after each logged iteration.
        until: ``until(row)`` true stops the run (status ``"stopped"``).
        context: ``context(state)``, a context manager around the loop (e.g. BLAS threads).
        on_stop: ``on_stop(status)`` when the loop ends (``"nonfinite"`` included), e.g. plots.
        restored: ``restored(state)``, the state read from a checkpoint made ready for ``step``
            (e.g. a cache whose leaf the checkpoint predates, refilled).
    """

    first_row: Callable[[Any], dict[str, Any]] | None = None
    row: Callable[..., dict[str, Any]] = default_row
    checkpoint_meta: Callable[[int, Any], Mapping[str, Any]] | None = None
    nonfinite: Callable[[Any], Mapping[str, Any]] | None = nonfinite_leaves
    may_be_nan: Mapping[str, str] | None = None
    callback: Callable[[Any, dict[str, Any]], None] | None = None
    until: Callable[[dict[str, Any]], bool] | None = None
    context: Callable[[Any], contextlib.AbstractContextManager] | None = None
    on_stop: Callable[[str], None] | None = None
    restored: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Progress:
    """The progress display of :func:`run`: ``show`` the bar ``True`` always, ``None`` on
    terminals only, ``False`` never; ``desc`` its label (default the learner's name),
    ``postfix(row)`` its status text; ``print_every``: also write a line every so many iterations."""

    show: bool | None = False
    desc: str | None = None
    postfix: Callable[[dict[str, Any]], str | None] | None = None
    print_every: int = 0


class _Loop:
    """The bookkeeping of one :func:`run`: the run directory, the rows and the checkpoint kept."""

    def __init__(self, learner, run_dir: RunDir | None, hooks: Hooks, restore_optional: tuple[str, ...]):
        self.learner, self.run_dir, self.hooks, self.restore_optional = learner, run_dir, hooks, restore_optional
        self.name = getattr(learner, "name", "")
        self.history: list[dict[str, Any]] = []
        self.saved: int | None = None
        self.gather = lambda tree: tree  #: a state spread over processes, gathered before it is written

    def save(self, iteration: int, state) -> None:
        meta = self.hooks.checkpoint_meta
        meta = dict(meta(iteration, state)) if meta is not None else {}
        self.run_dir.save_checkpoint(iteration, flatten(self.gather(state), STATE_PREFIX), {"iteration": iteration, **meta})
        self.saved = iteration

    def log(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        if self.run_dir is not None:
            self.run_dir.log(row)

    def begin(self, init_key) -> tuple[Any, int]:
        """The state to continue from and its iteration: the newest checkpoint's, or ``init``'s."""
        checkpoint = self.run_dir.latest_checkpoint() if self.run_dir is not None else None
        if checkpoint is not None:
            if init_key is None:
                template = self.learner.init(None)
            else:  # shapes only: nothing runs, nothing is compiled
                import jax

                template = jax.eval_shape(self.learner.init, init_key)
            self.history = self.run_dir.metrics()
            self.saved = checkpoint.step
            state = unflatten(template, checkpoint.arrays, STATE_PREFIX, optional=self.restore_optional)
            return (state if self.hooks.restored is None else self.hooks.restored(state)), checkpoint.step
        state = self.learner.init(init_key)
        if self.hooks.first_row is not None:
            self.log(self.hooks.first_row(state))
            if self.run_dir is not None:
                self.save(0, state)
        return state, 0

    def checked_row(self, iteration: int, new_state, metrics, seconds: float) -> dict[str, Any]:
        """The row of a new state, or :class:`NonFiniteError` (the bad state kept beside the run)."""
        hooks = self.hooks
        try:
            check_finite(metrics, hooks.nonfinite(new_state) if hooks.nonfinite is not None else {}, iteration,
                         self.name, hooks.may_be_nan)
            row = hooks.row(iteration, new_state, metrics, seconds, self.history[-1] if self.history else None)
            floats = {k: v for k, v in row.items() if isinstance(v, (float, np.floating))}
            check_finite(floats, {}, iteration, self.name)
        except NonFiniteError:
            if self.run_dir is not None:
                np.savez(self.run_dir.file("nonfinite_state.npz"), **flatten(self.gather(new_state), STATE_PREFIX))
            raise
        return row

    def keep_work(self, logged: int, state) -> None:
        """After any error: the last logged state is checkpointed and ``metrics.jsonl`` ends at it."""
        if self.run_dir is None:
            return
        try:
            if self.saved != logged:
                self.save(logged, state)
        finally:  # even when that save fails (a full disk): metrics.jsonl ends at the checkpoint kept
            with contextlib.suppress(OSError):
                self.run_dir.truncate_metrics(self.saved if self.saved is not None else -1)


def run(learner: Learner, iterations: int, *, init_key=None, key=None, run_dir: RunDir | None = None,
        checkpoint_every: int = 10, restore_optional: tuple[str, ...] = (), hooks: Hooks = Hooks(),
        progress: Progress = Progress(), max_minutes: float | None = None, started: float | None = None,
        finish_on_interrupt: bool = False) -> Outcome:
    """Run ``learner`` up to iteration ``iterations``, resuming from ``run_dir``'s newest checkpoint.

    Args:
        init_key, key: ``init(init_key)``; iteration ``i`` calls ``step(state, fold_in(key, i - 1))``
            (``None``: the learner takes no key and gets ``None``).
        run_dir: where rows (``metrics.jsonl``) and checkpoints (the whole state,
            :data:`~trirl.rundir.STATE_PREFIX`-prefixed) go; a checkpoint in it is resumed from.
        checkpoint_every: iterations between checkpoints; the last iteration and every stop are
            checkpointed too. ``restore_optional``: leaf-name substrings that may be missing from
            a checkpoint (start at 0).
        hooks: rows, checkpoint metadata, the non-finite check, callbacks (:class:`Hooks`);
            ``progress``: the bar (:class:`Progress`).
        max_minutes: stop (checkpointed, status ``"paused"``) after the iteration that crosses this
            much wall clock since ``started`` (``time.monotonic()``; default: now).
        finish_on_interrupt: the first Ctrl-C lets the iteration under way finish, checkpoints it
            and returns ``"interrupted"`` (:class:`~trirl.rundir.StopOnInterrupt`); otherwise
            ``KeyboardInterrupt`` propagates at once. Either way the last logged state is
            checkpointed and ``metrics.jsonl`` ends at it.

    Raises:
        InvalidConfigError: ``max_minutes`` is not > 0.
        NonFiniteError: a metric or state leaf became NaN or infinite; the last finite state is
            checkpointed, the bad one written to ``nonfinite_state.npz``, and the message names
            the metrics, the leaves, the iteration and the checkpoint kept.
    """
    if max_minutes is not None and not max_minutes > 0:
        raise InvalidConfigError(f"max_minutes (--max-minutes) must be > 0, got {max_minutes}")
    started = time.monotonic() if started is None else started
    fold_in = None
    loop = _Loop(learner, run_dir, hooks, restore_optional)
    if key is not None:
        import jax

        fold_in, loop.gather = jax.random.fold_in, to_host
    state, start = loop.begin(init_key)
    # ``state`` is always the state whose row was logged last (iteration ``logged``), so whatever
    # stops the loop (Ctrl-C, an error, a NaN), its checkpoint matches metrics.jsonl
    logged, status = start, "done"
    stop = StopOnInterrupt() if finish_on_interrupt else None
    bar = tqdm(total=iterations, initial=start, desc=progress.desc or loop.name, dynamic_ncols=True, unit="it",
               disable=None if progress.show is None else not progress.show)
    try:
        with hooks.context(state) if hooks.context is not None else contextlib.nullcontext():
            for iteration in range(start + 1, iterations + 1):
                tick = time.perf_counter()
                new_state, metrics = learner.step(state, None if key is None else fold_in(key, iteration - 1))
                current = loop.checked_row(iteration, new_state, metrics, time.perf_counter() - tick)
                loop.log(current)
                state, logged = new_state, iteration
                out_of_time = max_minutes is not None and time.monotonic() - started > 60 * max_minutes
                interrupted = stop is not None and stop.requested
                done = hooks.until is not None and hooks.until(current)
                last = iteration == iterations
                if run_dir is not None and (iteration % checkpoint_every == 0 or last or out_of_time or interrupted
                                            or done):
                    loop.save(iteration, state)
                if hooks.callback is not None:
                    hooks.callback(state, current)
                _show(bar, progress, current, iteration, first=iteration == start + 1, line=last or done)
                if last:
                    break
                if done or out_of_time or interrupted:
                    status = "interrupted" if interrupted else "paused" if out_of_time else "stopped"
                    break
    except BaseException as err:
        # never lose work: keep the last logged state, whatever stopped the run, and drop a row
        # written after it (an interrupt between the write and the bookkeeping)
        bar.close()
        loop.keep_work(logged, state)
        if isinstance(err, NonFiniteError):
            if hooks.on_stop is not None:
                hooks.on_stop("nonfinite")
            if run_dir is not None:
                raise NonFiniteError(f"{err}; the last finite state is checkpoint step {logged} in {run_dir.path}",
                                     iteration=err.iteration, metrics=err.metrics, leaves=err.leaves) from None
        raise
    finally:
        bar.close()
        if stop is not None:
            stop.restore()
    if hooks.on_stop is not None:
        hooks.on_stop(status)
    return Outcome(state, loop.history, status, logged)


def _show(bar: tqdm, progress: Progress, row: dict[str, Any], iteration: int, first: bool, line: bool) -> None:
    """Advance the bar by one iteration, with its status text and the periodic printed line."""
    bar.update(1)
    if first:
        _restart_clock(bar)
    text = progress.postfix(row) if progress.postfix is not None else None
    if text:
        bar.set_postfix_str(text, refresh=False)
    if progress.print_every and (iteration % progress.print_every == 0 or line):
        bar.write(f"iter {iteration:4d}  {text or ''}")
