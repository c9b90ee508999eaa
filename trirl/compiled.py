"""A learner compiled for the driver: ``init`` and ``step`` jitted, vmapped over seeds on the seed
mesh, and several iterations per compiled call.

A host call per iteration costs a dispatch and a transfer of the metrics (and of the state's
non-finite flags) every iteration; on a CPU with small networks that is several per cent of an
iteration. :func:`jitted` with ``iterations_per_call = N`` adds ``steps``: up to ``N`` iterations in
one ``lax.scan`` (as brax's ``training_epoch``), their metrics and flags stacked along a leading
axis and read once, after the call (:func:`trirl.driver.run` logs them one row at a time). The
number of iterations a call makes is an argument, not a shape: a call cut short (at a checkpoint,
an evaluation, the end) runs the same compiled program, skipping the iterations past its count.

Iteration ``i`` (1-based) steps with ``fold_in(key, i - 1)`` in either form, so the stream of keys
does not depend on ``N``. Imports JAX only when called.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from trirl.argtypes import integer
from trirl.devices import seed_mesh
from trirl.finite import nonfinite_leaves

#: iterations per compiled call of ``trirl train`` (``--iterations-per-call``), chosen by measurement:
#: continuous/results/speed/iterations_per_call_cpu.json
ITERATIONS_PER_CALL = 10


class Jitted(NamedTuple):
    """A learner whose ``init`` and ``step`` are jitted (and vmapped over seeds): :func:`jitted`.

    ``steps(state, key, done, count) -> (state, metrics, flags)``, when ``iterations_per_call > 1``:
    iterations ``done + 1 .. done + count`` (``count <= iterations_per_call``) in one compiled call;
    ``metrics`` and ``flags`` (:func:`jitted_nonfinite` of each new state) carry a leading axis of
    ``iterations_per_call`` entries, of which the first ``count`` are those iterations' (the rest zeros).
    """

    name: str
    init: Callable[[Any], Any]
    step: Callable[[Any, Any], tuple[Any, Mapping[str, Any]]]
    steps: Callable[..., tuple[Any, Mapping[str, Any], Mapping[str, Any]]] | None = None
    iterations_per_call: int = 1


def jitted(learner, seeds: int | None = None, *step_args, name: str | None = None, devices=None,
           iterations_per_call: int = 1) -> Jitted:
    """``learner`` with ``init`` and ``step`` jitted, for :func:`trirl.driver.run` (imports JAX).

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

    ``iterations_per_call > 1`` adds :attr:`Jitted.steps` (module doc), compiled on its first call.

    Raises:
        ValueError: ``iterations_per_call`` is not an integer >= 1.
    """
    import jax

    if isinstance(iterations_per_call, bool) or not isinstance(iterations_per_call, int) or iterations_per_call < 1:
        raise ValueError(f"iterations_per_call must be an integer >= 1, got {iterations_per_call!r}")
    label = name or getattr(learner, "name", "")
    if seeds is None:
        one_step = learner.step
    else:
        def one_step(state, key, *args):
            return jax.vmap(learner.step)(state, jax.random.split(key, seeds), *args)
    many = _scan(one_step, iterations_per_call) if iterations_per_call > 1 else None

    mesh = None if seeds is None else seed_mesh(seeds, devices)
    if mesh is None:
        init = jax.jit(learner.init if seeds is None else jax.vmap(learner.init))
        steps = None if many is None else functools.partial(_call_many, jax.jit(many), step_args)
        return Jitted(label, init, functools.partial(_call, jax.jit(one_step), step_args), steps, iterations_per_call)
    from jax.sharding import NamedSharding, PartitionSpec

    per_seed, replicated = NamedSharding(mesh, PartitionSpec("seeds")), NamedSharding(mesh, PartitionSpec())
    init_jit = jax.jit(jax.vmap(learner.init), out_shardings=per_seed)
    step_jit = jax.jit(one_step, out_shardings=(per_seed, replicated))  # metrics readable on every host
    step_args = jax.device_put(step_args, per_seed)

    def init(keys):
        return init_jit(jax.device_put(keys, per_seed))

    def step(state, key, *args):
        return step_jit(jax.device_put(state, per_seed), jax.device_put(key, replicated), *args)

    steps = None
    if many is not None:
        many_jit = jax.jit(many, out_shardings=(per_seed, replicated, replicated))

        def many_placed(state, key, done, count, *args):
            return many_jit(jax.device_put(state, per_seed), jax.device_put(key, replicated), done, count, *args)
        steps = functools.partial(_call_many, many_placed, step_args)
    return Jitted(label, init, functools.partial(_call, step, step_args), steps, iterations_per_call)


def add_arguments(parser) -> None:
    """``--iterations-per-call N`` (an integer >= 1, default :data:`ITERATIONS_PER_CALL`) on ``parser``."""
    parser.add_argument("--iterations-per-call", type=integer(1), default=ITERATIONS_PER_CALL, metavar="N",
                        help="iterations per compiled call, logged after it (1: one per call; the numbers do not "
                             f"depend on it; default {ITERATIONS_PER_CALL})")


def _scan(one_step, length: int):
    """``many(state, key, done, count, *args)``: up to ``length`` iterations of ``one_step`` in one ``lax.scan``."""
    import jax
    import jax.numpy as jnp

    def many(state, key, done, count, *args):
        def active(state, index):
            new, metrics = one_step(state, jax.random.fold_in(key, done + index), *args)
            return new, (metrics, _flags(new))

        # what a skipped iteration returns: the state as it is, zeros for its metrics and flags
        _, shapes = jax.eval_shape(active, state, done)
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

        def body(state, index):  # a named body: iteration ``done + index + 1``, or nothing past ``count``
            return jax.lax.cond(index < count, active, lambda state, _: (state, zeros), state, index)

        return jax.lax.scan(body, state, jnp.arange(length, dtype=jnp.uint32))

    def unpacked(state, key, done, count, *args):
        state, (metrics, flags) = many(state, key, done, count, *args)
        return state, metrics, flags

    return unpacked


def _call(step, step_args, state, key):
    return step(state, key, *step_args)


def _call_many(many, step_args, state, key, done: int, count: int):
    import numpy as np

    return many(state, key, np.uint32(done), np.uint32(count), *step_args)


def _flags(tree):
    return nonfinite_leaves(tree, log_may_be_minus_inf=False)


@functools.cache
def _compiled_nonfinite():
    import jax

    return jax.jit(_flags)


def jitted_nonfinite(tree) -> dict[str, Any]:
    """:func:`~trirl.finite.nonfinite_leaves` of a JAX state (every ``-inf`` counted), compiled on first use."""
    return _compiled_nonfinite()(tree)
