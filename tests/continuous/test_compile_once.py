"""Every continuous learner compiles its iteration once: the second and third iterations of a
run (and the checks the driver makes on each state) run what the first compiled.

A state whose leaves change type after an update (a weak-typed parameter, a Python scalar, a
counter that turns from int to float, a buffer slot filled with another shape) makes ``jax.jit``
trace and compile the whole iteration again; on MJX that is tens of seconds per retrace, paid
again by every resumed piece of a run."""

import logging
from contextlib import contextmanager

import pytest

jax = pytest.importorskip("jax")

from trirl import driver  # noqa: E402
from trirl.continuous import train  # noqa: E402
from trirl.continuous.ppo import make_ppo  # noqa: E402

pytestmark = [pytest.mark.continuous, pytest.mark.slow]  # each case compiles one tiny iteration

TINY = dict(env="point_maze", seeds=2, env_options={"episode_length": 10},
            ppo={"num_envs": 4, "rollout_length": 8, "num_epochs": 2, "num_minibatches": 2,
                 "policy_hidden": [8], "value_hidden": [8]},
            discriminator={"hidden_sizes": [8], "epochs": 2, "minibatch_size": 16})
# k = 2 buffered discriminators: iteration 3 is the first whose buffer has wrapped
CASES = {
    "trirl": dict(algo="trirl", buffer={"capacity": 2}),
    "trirl-line-search": dict(algo="trirl", acting_policy="line-search", buffer={"capacity": 2}),
    "trirl-projected": dict(algo="trirl", acting_policy="projected", buffer={"capacity": 2}),
    "trirl-tr-loss": dict(algo="trirl-tr-loss", buffer={"capacity": 2}),
    "gail": dict(algo="gail"),
    "airl": dict(algo="airl"),
}


class _Count(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.compiled: list[str] = []

    def emit(self, record):
        message = record.getMessage()
        if message.startswith("Compiling "):
            self.compiled.append(message.split(" with ")[0])


@contextmanager
def counting_compilations():
    """Yields the list of the programs XLA compiles inside the block (``jax.log_compiles``)."""
    handler, logger = _Count(), logging.getLogger("jax")
    logger.addHandler(handler)
    try:
        with jax.log_compiles(True):
            yield handler.compiled
    finally:
        logger.removeHandler(handler)


def iterations_compile(jitted, init_key, key) -> list[list[str]]:
    """The programs compiled in each of three iterations of ``driver.run``'s loop (step, then
    the non-finite check of the new state, as :func:`trirl.driver.run` makes it)."""
    state = jitted.init(init_key)
    compiled = []
    for i in range(3):
        with counting_compilations() as names:
            state, metrics = jitted.step(state, jax.random.fold_in(key, i))
            driver.jitted_nonfinite(state)
            jax.block_until_ready(metrics)
        compiled.append(names)
    return compiled


def test_the_counter_sees_a_compilation():
    # the test below would pass vacuously if the log message changed: a new shape must count
    f = jax.jit(lambda x: x + 1)
    three, four = jax.numpy.zeros(3), jax.numpy.zeros(4)
    with counting_compilations() as names:
        f(three)
        f(three)
        f(four)
    assert names == ["Compiling jit(<lambda>)"] * 2, names


@pytest.mark.parametrize("case", CASES)
def test_learner_compiles_only_in_its_first_iteration(case):
    config = train.load_config(None, **TINY, **CASES[case])
    demos, _ = train.prepare(config)
    learner = train.build(config, demos)
    init_key, key = jax.random.split(jax.random.PRNGKey(0))
    compiled = iterations_compile(driver.jitted(learner, config.seeds), jax.random.split(init_key, config.seeds),
                                  key)
    assert compiled[0], "the first iteration compiles the step"
    assert compiled[1:] == [[], []], f"{case} compiled again after its first iteration: {compiled[1:]}"


def test_ppo_compiles_only_in_its_first_iteration():
    config = train.load_config(None, **TINY, algo="gail")
    ppo = make_ppo(train.envs.make(config.env, config.env_options), config.ppo)
    init_key, key = jax.random.split(jax.random.PRNGKey(0))
    compiled = iterations_compile(driver.jitted(ppo, 2), jax.random.split(init_key, 2), key)
    assert compiled[0] and compiled[1:] == [[], []], compiled


def test_several_iterations_per_call_compile_once_and_equal_one_per_call():
    """TRIRL's iterations in one scan (trirl.compiled): the program compiles in the first call only, a
    call cut short runs it again, and metrics and state equal those of one iteration per call, bit for bit."""
    import numpy as np

    from trirl.rundir import flatten

    config = train.load_config(None, **TINY, **CASES["trirl"])
    demos, _ = train.prepare(config)
    learner = train.build(config, demos)
    init_key, key = jax.random.split(jax.random.PRNGKey(0))
    single, many = driver.jitted(learner, config.seeds), driver.jitted(learner, config.seeds, iterations_per_call=4)
    state = start = single.init(jax.random.split(init_key, config.seeds))
    rows = []
    for i in range(5):
        state, metrics = single.step(state, jax.random.fold_in(key, i))
        rows.append(jax.device_get(metrics))
    first, metrics, _ = many.steps(start, key, 0, 4)
    with counting_compilations() as names:
        last, rest, flags = many.steps(first, key, 4, 1)
        jax.block_until_ready(rest)
    assert names == [], names
    assert not any(np.asarray(flag).any() for flag in flags.values())
    for i, row in enumerate(rows):
        stacked, j = (metrics, i) if i < 4 else (rest, 0)
        for name, value in row.items():
            np.testing.assert_array_equal(np.asarray(stacked[name][j]), np.asarray(value), err_msg=f"{name} at {i + 1}")
    ours, theirs = flatten(jax.device_get(last)), flatten(jax.device_get(state))
    assert list(ours) == list(theirs)
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
