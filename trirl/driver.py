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
uninterrupted one bit for bit; a compiled learner may make several iterations per call
(:mod:`trirl.compiled`), logged after the call. This module imports no JAX unless a key is given;
the compiled learner (:func:`~trirl.compiled.jitted`) and the non-finite check
(:mod:`trirl.finite`) live in modules of their own, importable from here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

# the driver's interface: the seed mesh, the compiled learner (trirl.compiled), the non-finite check (trirl.finite)
from trirl.compiled import Jitted, jitted, jitted_nonfinite  # noqa: F401
from trirl.devices import seed_mesh, to_host  # noqa: F401
from trirl.errors import InvalidConfigError, NonFiniteError
from trirl.finite import check_finite, nonfinite_leaves  # noqa: F401
from trirl.rundir import STATE_PREFIX, RunDir, StopOnInterrupt, flatten, unflatten

#: what :func:`run` returns in ``Outcome.status``
STATUSES = ("done", "stopped", "paused", "interrupted")
#: seconds a call of several iterations may last, measured from the second call on (the first compiles):
#: Ctrl-C and ``--max-minutes`` act at a call's end, so slow iterations get shorter calls
CALL_SECONDS = 5.0


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


def default_row(iteration: int, state, metrics: Mapping[str, Any], seconds: float, previous=None) -> dict[str, Any]:
    """``{"iteration": iteration, **metrics}`` with numpy scalars as Python numbers."""
    return {"iteration": iteration, **{k: np.asarray(v).item() for k, v in metrics.items() if k != "iteration"}}


def every(period: int, last: int) -> Callable[[int], bool]:
    """``iteration -> bool``: every ``period`` iterations and at iteration ``last`` (checkpoints, evaluations)."""
    return lambda iteration: iteration % period == 0 or iteration == last


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
            :func:`jitted_nonfinite`; a multi-iteration call returns the latter's flags of each of
            its states itself); ``may_be_nan``: see :func:`check_finite`.
        callback: ``callback(state, row)`` after each logged iteration.
        until: ``until(row)`` true stops the run (status ``"stopped"``).
        context: ``context(state)``, a context manager around the loop (e.g. BLAS threads).
        on_stop: ``on_stop(status)`` when the loop ends (``"nonfinite"`` included), e.g. plots.
        restored: ``restored(state)``, the state read from a checkpoint made ready for ``step``
            (e.g. a cache whose leaf the checkpoint predates, refilled).
        needs_state: ``needs_state(iteration)`` true where ``row`` reads the state (an
            evaluation): a multi-iteration call ends there (:func:`run`).
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
    needs_state: Callable[[int], bool] | None = None


@dataclass(frozen=True)
class Progress:
    """The progress display of :func:`run`: ``show`` the bar ``True`` always, ``None`` on
    terminals only, ``False`` never; ``desc`` its label (default the learner's name),
    ``postfix(row)`` its status text; ``print_every``: also write a line every so many iterations."""

    show: bool | None = False
    desc: str | None = None
    postfix: Callable[[dict[str, Any]], str | None] | None = None
    print_every: int = 0


class _Call(NamedTuple):
    """One call of the learner: its final state, each iteration's metrics and state flags, and
    ``state_after(n)``, the state after its first ``n`` iterations (recomputed where it was not kept)."""

    state: Any
    metrics: list[Mapping[str, Any]]
    flags: list[Mapping[str, Any]]
    state_after: Callable[[int], Any]


class _Loop:
    """The bookkeeping of one :func:`run`: the run directory, the rows and the checkpoint kept."""

    def __init__(self, learner, run_dir: RunDir | None, hooks: Hooks, restore_optional: tuple[str, ...]):
        self.learner, self.run_dir, self.hooks, self.restore_optional = learner, run_dir, hooks, restore_optional
        self.name = getattr(learner, "name", "")
        self.history: list[dict[str, Any]] = []
        self.saved: int | None = None
        self.gather = lambda tree: tree  #: a state spread over processes, gathered before it is written
        self.fold_in = None  #: ``jax.random.fold_in`` where the learner takes a key
        self.per_call = 1  #: iterations per compiled call (``Jitted.iterations_per_call``)
        self.limit: int | None = None  #: fewer, where iterations are slow (:data:`CALL_SECONDS`)
        self.checkpoint_every = 1

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

    def advance(self, state, key, done: int, count: int) -> _Call:
        """Iterations ``done + 1 .. done + count`` from ``state`` (at ``done``): one ``step``, or
        one call of ``steps`` (:class:`~trirl.compiled.Jitted`) whose metrics and flags are read once."""
        if count == 1 and self.per_call == 1:
            new_state, metrics = self.learner.step(state, None if key is None else self.fold_in(key, done))
            flags = self.hooks.nonfinite(new_state) if self.hooks.nonfinite is not None else {}
            return _Call(new_state, [metrics], [flags], lambda n: new_state if n else state)
        new_state, metrics, flags = self.learner.steps(state, key, done, count)
        metrics, flags = (to_host(tree) for tree in (metrics, flags))  # one transfer per call
        rows = [({k: np.asarray(v)[j] for k, v in metrics.items()}, {k: np.asarray(v)[j] for k, v in flags.items()})
                for j in range(count)]

        def state_after(n: int):  # the same program again, stopped after n iterations
            return state if n == 0 else new_state if n == count else self.learner.steps(state, key, done, n)[0]
        return _Call(new_state, [m for m, _ in rows], [f for _, f in rows], state_after)

    def count(self, done: int, iterations: int) -> int:
        """Iterations of the next call: up to ``per_call``, ending at the last iteration, a
        checkpoint or an iteration whose row reads the state (``hooks.needs_state``)."""
        ends = [every(self.checkpoint_every if self.run_dir is not None else iterations, iterations)]
        ends += [self.hooks.needs_state] if self.hooks.needs_state is not None else []
        most = self.per_call if self.limit is None else self.limit
        return next((n for n in range(1, most) if any(end(done + n) for end in ends)), min(most, iterations - done))

    def checked_row(self, iteration: int, new_state, metrics, flags, seconds: float, bad_state) -> dict[str, Any]:
        """The row of a new state (``None`` inside a multi-iteration call), or :class:`NonFiniteError`
        (``bad_state()`` kept beside the run)."""
        hooks = self.hooks
        try:
            check_finite(metrics, flags, iteration, self.name, hooks.may_be_nan)
            row = hooks.row(iteration, new_state, metrics, seconds, self.history[-1] if self.history else None)
            floats = {k: v for k, v in row.items() if isinstance(v, (float, np.floating))}
            check_finite(floats, {}, iteration, self.name)
        except NonFiniteError:
            if self.run_dir is not None:
                np.savez(self.run_dir.file("nonfinite_state.npz"), **flatten(self.gather(bad_state()), STATE_PREFIX))
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
        max_minutes: stop (checkpointed, status ``"paused"``) after the call that crosses this
            much wall clock since ``started`` (``time.monotonic()``; default: now).
        finish_on_interrupt: the first Ctrl-C lets the call under way finish, checkpoints it
            and returns ``"interrupted"`` (:class:`~trirl.rundir.StopOnInterrupt`); otherwise
            ``KeyboardInterrupt`` propagates at once. Either way the last logged state is
            checkpointed and ``metrics.jsonl`` ends at it.

    A learner with ``iterations_per_call = N > 1`` (:func:`~trirl.compiled.jitted`) advances up to
    ``N`` iterations per call of its ``steps``; a call ends early at the last iteration, at a
    checkpoint and where ``hooks.needs_state`` says so, so every state that is written or read
    (checkpoints, evaluations, stops) is one a call ends with, and the numbers do not depend on ``N``.
    The rows of a call are checked and logged after it, one by one (``row`` and ``callback`` get
    the state ``None`` inside a call); where one is non-finite or ``until`` stops, the state of
    that iteration is computed again by a call stopped there.

    Raises:
        InvalidConfigError: ``max_minutes`` is not > 0.
        NonFiniteError: a metric or state leaf became NaN or infinite; the last finite state is
            checkpointed, the bad one written to ``nonfinite_state.npz``, and the message names
            the metrics, the leaves, the iteration and the checkpoint kept.
    """
    if max_minutes is not None and not max_minutes > 0:
        raise InvalidConfigError(f"max_minutes (--max-minutes) must be > 0, got {max_minutes}")
    started = time.monotonic() if started is None else started
    loop = _Loop(learner, run_dir, hooks, restore_optional)
    loop.checkpoint_every = checkpoint_every
    if key is not None:
        import jax

        loop.fold_in, loop.gather = jax.random.fold_in, to_host
        loop.per_call = getattr(learner, "iterations_per_call", 1)
    state, start = loop.begin(init_key)
    # ``state`` is always the state whose row was logged last (iteration ``logged``), so whatever
    # stops the loop (Ctrl-C, an error, a NaN), its checkpoint matches metrics.jsonl
    logged, status = start, "done"
    stop = StopOnInterrupt() if finish_on_interrupt else None
    bar = tqdm(total=iterations, initial=start, desc=progress.desc or loop.name, dynamic_ncols=True, unit="it",
               disable=None if progress.show is None else not progress.show)
    try:
        with hooks.context(state) if hooks.context is not None else contextlib.nullcontext():
            while logged < iterations and status == "done":
                before, count, tick = logged, loop.count(logged, iterations), time.perf_counter()
                call = loop.advance(state, key, before, count)
                seconds = (time.perf_counter() - tick) / count
                if before > start:  # not the first call, which compiles
                    loop.limit = max(1, min(loop.per_call, int(CALL_SECONDS / max(seconds, 1e-9))))
                for j in range(count):
                    iteration, end = before + j + 1, j == count - 1
                    try:
                        current = loop.checked_row(iteration, call.state if end else None, call.metrics[j],
                                                   call.flags[j], seconds, lambda: call.state_after(j + 1))
                    except NonFiniteError:
                        state, logged = call.state_after(j), iteration - 1  # the last finite state, kept below
                        raise
                    loop.log(current)
                    done = hooks.until is not None and hooks.until(current)
                    if not (end or done):  # inside a call: its state comes at the call's end
                        if hooks.callback is not None:
                            hooks.callback(None, current)
                        _show(bar, progress, current, iteration, first=False, line=False)
                        continue
                    state, logged = call.state if end else call.state_after(j + 1), iteration
                    out_of_time = max_minutes is not None and time.monotonic() - started > 60 * max_minutes
                    interrupted = stop is not None and stop.requested
                    last = iteration == iterations
                    if run_dir is not None and (every(checkpoint_every, iterations)(iteration) or out_of_time
                                                or interrupted or done):
                        loop.save(iteration, state)
                    if hooks.callback is not None:
                        hooks.callback(state, current)
                    _show(bar, progress, current, iteration, first=before == start, line=last or done)
                    if not last and (done or out_of_time or interrupted):
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
