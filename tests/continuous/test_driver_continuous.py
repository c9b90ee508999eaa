"""The one driver with a tiny JAX learner, jitted and vmapped over seeds as ``trirl train`` runs
it: resumption bit for bit, the non-finite stop naming the leaf, checkpoint names as JAX spells them,
and several iterations per compiled call (trirl.compiled) giving the numbers of one per call."""

import os
import signal

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


def tiny_learner(blow_up_at: int | None = None, per_call: int = 1, interrupt_at: int | None = None):
    """``w`` follows a noisy contraction; at iteration ``blow_up_at`` ``log_std`` becomes ``-inf``; at
    ``interrupt_at`` the compiled step sends one Ctrl-C."""
    sent = []

    def ctrl_c_once(now):  # called once per seed
        if now and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)

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
        if interrupt_at is not None:  # one Ctrl-C from inside the compiled call (called once per seed)
            jax.debug.callback(ctrl_c_once, iteration == interrupt_at)
        new = State(Params(w, log_std), {"count": state.opt["count"] + 1, "mu": (mu, state.opt["mu"][1])}, iteration)
        # no episode finished: a NaN mean return with a count of 0 is not a failure
        metrics = {"loss": jnp.sum(w**2), "episode_return": jnp.nan, "episodes": jnp.zeros(()), "iteration": iteration}
        return new, metrics

    return driver.jitted(driver.Jitted("tiny", init, step), 2, iterations_per_call=per_call)


MAY_BE_NAN = {"episode_return": "episodes"}


def rows(iteration, state, metrics, seconds, previous):
    return {"iteration": iteration, "loss": float(np.mean(metrics["loss"]))}


def run(learner, iterations, run_dir=None, **kw):
    init_key, key = jax.random.split(jax.random.PRNGKey(0))
    hooks = driver.Hooks(row=rows, nonfinite=driver.jitted_nonfinite, may_be_nan=MAY_BE_NAN)
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


def assert_same_states(a, b):
    a, b = flatten(a), flatten(b)
    assert list(a) == list(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        assert a[name].dtype == b[name].dtype, name


@pytest.mark.parametrize("per_call", [3, 4])
def test_several_iterations_per_call_give_the_rows_checkpoints_and_state_of_one_per_call(tmp_path, per_call):
    single = run(tiny_learner(), 9, RunDir(tmp_path / "single", {}), checkpoint_every=5)
    many = run(tiny_learner(per_call=per_call), 9, RunDir(tmp_path / "many", {}), checkpoint_every=5)
    assert many.history == single.history and [row["iteration"] for row in many.history] == list(range(1, 10))
    assert_same_states(many.state, single.state)
    files = sorted((tmp_path / "many" / "checkpoints").glob("*.npz"))
    assert [f.name for f in files] == ["step_00000005.npz", "step_00000009.npz"]  # calls end at checkpoints
    for file in files:
        with np.load(file) as ours, np.load(tmp_path / "single" / "checkpoints" / file.name) as theirs:
            assert_same_states({k: ours[k] for k in ours.files if not k.startswith("__")},
                               {k: theirs[k] for k in theirs.files if not k.startswith("__")})


def test_a_call_ends_where_a_row_reads_the_state():
    seen = []

    def row(iteration, state, metrics, seconds, previous):
        seen.append((iteration, state is not None))
        return rows(iteration, state, metrics, seconds, previous)

    init_key, key = jax.random.split(jax.random.PRNGKey(0))
    hooks = driver.Hooks(row=row, nonfinite=driver.jitted_nonfinite, needs_state=driver.every(3, 8), may_be_nan=MAY_BE_NAN)
    driver.run(tiny_learner(per_call=5), 8, init_key=jax.random.split(init_key, 2), key=key, hooks=hooks)
    assert [i for i, has_state in seen if has_state] == [3, 6, 8]  # calls of 3, 3 and 2 iterations


def test_slow_iterations_get_shorter_calls_from_the_second_call_on_with_the_same_numbers(monkeypatch):
    """Ctrl-C and --max-minutes act at a call's end: where one iteration takes longer than
    ``driver.CALL_SECONDS`` (0 here), calls after the second (the first compiles) are one iteration."""
    seen = []

    def row(iteration, state, metrics, seconds, previous):
        seen.append((iteration, state is not None))
        return rows(iteration, state, metrics, seconds, previous)

    init_key, key = jax.random.split(jax.random.PRNGKey(0))
    hooks = driver.Hooks(row=row, nonfinite=driver.jitted_nonfinite, may_be_nan=MAY_BE_NAN)
    single = driver.run(tiny_learner(), 10, init_key=jax.random.split(init_key, 2), key=key, hooks=hooks)
    seen.clear()
    monkeypatch.setattr(driver, "CALL_SECONDS", 0.0)
    many = driver.run(tiny_learner(per_call=4), 10, init_key=jax.random.split(init_key, 2), key=key, hooks=hooks)
    assert [i for i, has_state in seen if has_state] == [4, 8, 9, 10]  # calls of 4, 4, then 1 and 1
    assert many.history == single.history


def test_a_paused_and_resumed_run_with_several_iterations_per_call_continues_bit_for_bit(tmp_path):
    full = run(tiny_learner(), 7)
    paused = run(tiny_learner(per_call=3), 7, RunDir(tmp_path, {}), checkpoint_every=100, max_minutes=1e-9)
    assert paused.status == "paused" and paused.iteration == 3  # after the first call
    resumed = run(tiny_learner(per_call=3), 7, RunDir(tmp_path, {}, resume=True))  # calls of 3 and 1
    assert resumed.history == full.history == read_metrics(tmp_path)
    assert_same_states(resumed.state, full.state)


def test_ctrl_c_inside_a_multi_iteration_call_finishes_the_call_and_loses_nothing(tmp_path, capsys):
    out = run(tiny_learner(per_call=4, interrupt_at=2), 10, RunDir(tmp_path, {}), checkpoint_every=100,
              finish_on_interrupt=True)
    assert out.status == "interrupted" and out.iteration == 4  # the call under way ends at iteration 4
    assert RunDir(tmp_path, {}, resume=True).latest_checkpoint().step == 4
    assert [row["iteration"] for row in read_metrics(tmp_path)] == [1, 2, 3, 4]
    assert "stopping after this iteration" in capsys.readouterr().err
    resumed = run(tiny_learner(per_call=4), 10, RunDir(tmp_path, {}, resume=True))
    full = run(tiny_learner(), 10)
    assert resumed.history == full.history == read_metrics(tmp_path)
    assert_same_states(resumed.state, full.state)


def test_a_non_finite_value_inside_a_call_keeps_the_last_finite_state_of_that_call(tmp_path):
    with pytest.raises(NonFiniteError, match=r"tiny: non-finite values at iteration 3: metrics none; "
                                             r"state leaves \['.params.log_std'\]; the last finite state is "
                                             r"checkpoint step 2"):
        run(tiny_learner(blow_up_at=3, per_call=4), 10, RunDir(tmp_path, {}), checkpoint_every=100)
    kept = RunDir(tmp_path, {}, resume=True).latest_checkpoint()
    assert kept.step == 2 and [row["iteration"] for row in read_metrics(tmp_path)] == [1, 2]
    assert_same_states(kept.arrays, flatten(run(tiny_learner(), 2).state, rundir.STATE_PREFIX))
    with np.load(tmp_path / "nonfinite_state.npz") as bad:  # the state of iteration 3, not of the call's end
        assert np.isneginf(bad[rundir.STATE_PREFIX + ".params.log_std"]).all()
        assert (bad[rundir.STATE_PREFIX + ".iteration"] == 3).all()


def test_until_inside_a_call_stops_at_its_iteration_with_that_state(tmp_path):
    init_key, key = jax.random.split(jax.random.PRNGKey(0))
    hooks = driver.Hooks(row=rows, nonfinite=driver.jitted_nonfinite, until=lambda row: row["iteration"] == 3,
                         may_be_nan=MAY_BE_NAN)
    out = driver.run(tiny_learner(per_call=5), 10, init_key=jax.random.split(init_key, 2), key=key,
                     run_dir=RunDir(tmp_path, {}), hooks=hooks)
    assert out.status == "stopped" and out.iteration == 3 and len(out.history) == 3
    assert_same_states(out.state, run(tiny_learner(), 3).state)
    assert RunDir(tmp_path, {}, resume=True).latest_checkpoint().step == 3


def test_a_call_cut_short_runs_the_program_the_first_call_compiled():
    from test_compile_once import counting_compilations

    learner = tiny_learner(per_call=4)
    init_key, key = jax.random.split(jax.random.PRNGKey(0))
    state = learner.init(jax.random.split(init_key, 2))
    state, metrics, flags = learner.steps(state, key, 0, 4)
    with counting_compilations() as names:
        for done, count in ((4, 1), (5, 3), (8, 4)):
            state, metrics, flags = learner.steps(state, key, done, count)
            jax.block_until_ready(metrics)
    assert names == []
    assert np.asarray(metrics["iteration"]).tolist() == [[9, 9], [10, 10], [11, 11], [12, 12]]
    with pytest.raises(ValueError, match="iterations_per_call must be an integer >= 1, got 0"):
        tiny_learner(per_call=0)
