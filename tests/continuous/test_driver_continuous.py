"""The one driver with a tiny JAX learner, jitted and vmapped over seeds as ``trirl train`` runs
it: resumption bit for bit, the non-finite stop naming the leaf, checkpoint names as JAX spells them."""

from typing import NamedTuple

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from trirl import driver, rundir  # noqa: E402
from trirl.errors import NonFiniteError  # noqa: E402
from trirl.rundir import RunDir, flatten, read_metrics  # noqa: E402

pytestmark = pytest.mark.continuous


class Params(NamedTuple):
    w: jax.Array
    log_std: jax.Array


class State(NamedTuple):
    params: Params
    opt: dict
    iteration: jax.Array


def tiny_learner(blow_up_at: int | None = None):
    """``w`` follows a noisy contraction; at iteration ``blow_up_at`` ``log_std`` becomes ``-inf``."""

    def init(key):
        return State(Params(jax.random.normal(key, (3,)), jnp.zeros(2)),
                     {"count": jnp.zeros((), jnp.int32), "mu": (jnp.ones(3), jnp.float32(0.5))}, jnp.zeros((), jnp.int32))

    def step(state, key):
        w = 0.9 * state.params.w + jax.random.normal(key, (3,))
        iteration = state.iteration + 1
        log_std = state.params.log_std
        if blow_up_at is not None:
            log_std = jnp.where(iteration == blow_up_at, -jnp.inf, log_std)
        mu = state.opt["mu"][0] * 0.5 + w
        new = State(Params(w, log_std), {"count": state.opt["count"] + 1, "mu": (mu, state.opt["mu"][1])}, iteration)
        # no episode finished: a NaN mean return with a count of 0 is not a failure
        metrics = {"loss": jnp.sum(w**2), "episode_return": jnp.nan, "episodes": jnp.zeros(()), "iteration": iteration}
        return new, metrics

    return driver.jitted(driver.Jitted("tiny", init, step), 2)


def rows(iteration, state, metrics, seconds, previous):
    return {"iteration": iteration, "loss": float(np.mean(metrics["loss"]))}


def run(learner, iterations, run_dir=None, **kw):
    init_key, key = jax.random.split(jax.random.PRNGKey(0))
    hooks = driver.Hooks(row=rows, nonfinite=driver.jitted_nonfinite, may_be_nan={"episode_return": "episodes"})
    return driver.run(learner, iterations, init_key=jax.random.split(init_key, 2), key=key, run_dir=run_dir,
                      hooks=hooks, **kw)


def test_resume_of_a_vmapped_jax_learner_continues_bit_for_bit(tmp_path):
    full = run(tiny_learner(), 7)
    paused = run(tiny_learner(), 7, RunDir(tmp_path, {}), checkpoint_every=100, max_minutes=1e-9)
    assert paused.status == "paused" and paused.iteration == 1
    run(tiny_learner(), 4, RunDir(tmp_path, {}, resume=True), checkpoint_every=3)
    resumed = run(tiny_learner(), 7, RunDir(tmp_path, {}, resume=True))
    assert resumed.history == full.history == read_metrics(tmp_path)
    a, b = flatten(resumed.state), flatten(full.state)
    assert list(a) == list(b) and ".opt['mu'][1]" in a and a[".params.w"].shape == (2, 3)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        assert a[name].dtype == b[name].dtype, name
    assert isinstance(resumed.state.params.w, jax.Array)


def test_a_minus_infinite_parameter_stops_the_run_naming_the_leaf(tmp_path):
    with pytest.raises(NonFiniteError, match=r"tiny: non-finite values at iteration 3: metrics none; "
                                             r"state leaves \['.params.log_std'\]; the last finite state is "
                                             r"checkpoint step 2"):
        run(tiny_learner(blow_up_at=3), 10, RunDir(tmp_path, {}), checkpoint_every=100)
    assert RunDir(tmp_path, {}, resume=True).latest_checkpoint().step == 2


def test_the_numpy_walker_names_and_orders_leaves_as_jax_does():
    tree = {"b": (np.zeros(2), [np.int64(1), None, 2.5]), "a": Params(np.ones(1), np.zeros(3)), "c": {"z": 1, "y": True}}
    ours = list(rundir._walk(tree, ""))
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    assert [name for name, _ in ours] == [jax.tree_util.keystr(path) for path, _ in leaves]
    assert [id(leaf) for _, leaf in ours] == [id(leaf) for _, leaf in leaves]


def test_the_learners_of_both_halves_have_the_one_learner_shape():
    from trirl.continuous import train
    from trirl.tabular.driver import Learner as TabularLearner

    config = train.load_config(None, env="point_maze", seeds=2, env_options={"episode_length": 10},
                               ppo={"num_envs": 4, "rollout_length": 8, "policy_hidden": [8], "value_hidden": [8]},
                               discriminator={"hidden_sizes": [8]}, buffer={"capacity": 2})
    demos, _ = train.prepare(config)
    irl = train.build(config, demos)
    tabular = TabularLearner("tabular", lambda key=None: 0, lambda state, key=None: (state, {}), dict, abs, abs)
    for learner in (tabular, irl, irl.ppo, driver.jitted(irl, 2), tiny_learner()):
        assert isinstance(learner, driver.Learner), type(learner)
    assert (irl.name, irl.ppo.name) == ("trirl-max-eta", "ppo")
    assert not isinstance(object(), driver.Learner)
