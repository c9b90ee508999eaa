"""The one driver (trirl.driver) and the generic checkpoints (trirl.rundir.flatten/unflatten),
with numpy learners: non-finite stops, resumption bit for bit, Ctrl-C, the wall-clock budget."""

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from trirl import driver
from trirl.errors import InvalidConfigError, NonFiniteError
from trirl.rundir import RunDir, flatten, read_metrics, unflatten
from trirl.tabular import random_mdp, trirl
from trirl.tabular.occupancies import occupancy
from trirl.tabular.soft import solve

REPO = Path(__file__).resolve().parents[1]


class Inner(NamedTuple):
    weights: dict
    log_p: np.ndarray


class Toy(NamedTuple):
    iteration: int
    x: np.ndarray
    scale: float
    inner: Inner
    history: list
    flag: bool = False
    nothing: None = None


def toy_learner(bad_at=None, bad="metric", interrupt_at=None):
    """A learner over a nested state; at iteration ``bad_at`` it turns a metric or a leaf non-finite."""

    def init(key=None):
        inner = Inner({"b": np.ones(2), "a": (np.zeros(3, np.float32), np.int64(4))}, np.log(np.array([0.0, 1.0])))
        return Toy(0, np.arange(3.0), 1.0, inner, [np.float64(0.5), 2])

    def step(state, key=None):
        i = state.iteration + 1
        if interrupt_at == i:
            if bad == "signal":
                os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C: the iteration still finishes
            else:
                raise KeyboardInterrupt
        x = state.x * 1.5 + i
        weights = dict(state.inner.weights, b=state.inner.weights["b"] + x[:2])
        metrics = {"value": float(x.sum()), "count": i}
        if bad_at == i and bad == "metric":
            metrics["value"] = float("nan")
        if bad_at == i and bad == "leaf":
            weights["b"] = np.array([1.0, np.inf])
        if bad_at == i and bad == "log_nan":
            return state._replace(iteration=i, inner=Inner(weights, np.array([np.nan, 0.0]))), metrics
        return state._replace(iteration=i, x=x, scale=state.scale * 0.5, inner=Inner(weights, state.inner.log_p),
                              history=[state.history[0] + 1, i]), metrics

    return driver.Jitted("toy", init, step)


def assert_trees_equal(a, b):
    fa, fb = flatten(a), flatten(b)
    assert list(fa) == list(fb)
    for name in fa:
        np.testing.assert_array_equal(fa[name], fb[name], err_msg=name)
        assert fa[name].dtype == fb[name].dtype, name


def test_checkpoint_round_trip_of_a_nested_pytree(tmp_path):
    learner = toy_learner()
    state = learner.step(learner.init(), None)[0]
    flat = flatten(state, "state")
    assert {"state.x", "state.inner.weights['a'][0]", "state.inner.weights['b']", "state.history[1]",
            "state.flag"} <= set(flat)
    run = RunDir(tmp_path, {})
    run.save_checkpoint(1, flat)
    back = unflatten(learner.init(), run.latest_checkpoint().arrays, "state")
    assert_trees_equal(back, state)
    assert type(back.iteration) is int and type(back.scale) is float and type(back.flag) is bool
    assert isinstance(back.history[0], np.float64) and back.nothing is None and isinstance(back.inner, Inner)


def test_restoring_names_a_missing_or_mismatched_leaf():
    template = toy_learner().init()
    flat = flatten(template, "state")
    with pytest.raises(InvalidConfigError, match=r"state.inner.weights\['b'\]\" is missing"):
        unflatten(template, {k: v for k, v in flat.items() if "['b']" not in k}, "state")
    flat["state.x"] = np.zeros(4)
    with pytest.raises(InvalidConfigError, match=r"'state.x' has shape \(4,\).*expected \(3,\)"):
        unflatten(template, flat, "state")
    flat["state.x"] = np.zeros(3, np.float32)
    with pytest.raises(InvalidConfigError, match="state.x.*dtype float32"):
        unflatten(template, flat, "state")
    del flat["state.x"]
    assert np.all(unflatten(template, flat, "state", optional=(".x",)).x == 0)


@pytest.mark.parametrize("bad, named", [("metric", "metrics ['value']; state leaves none"),
                                        ("leaf", r"metrics none; state leaves [\"\.inner\.weights['b']\"]"),
                                        ("log_nan", "state leaves ['.inner.log_p']")])
def test_a_non_finite_metric_or_leaf_stops_the_run_naming_it_and_keeps_the_last_finite_state(tmp_path, bad, named):
    run = RunDir(tmp_path, {})
    with pytest.raises(NonFiniteError) as info:
        driver.run(toy_learner(bad_at=3, bad=bad), 10, run_dir=run, checkpoint_every=5,
                   hooks=driver.Hooks(first_row=lambda state: {"iteration": 0}))
    message = str(info.value)
    assert f"toy: non-finite values at iteration 3: " in message and named.replace("\\", "") in message.replace("\\", "")
    assert f"the last finite state is checkpoint step 2 in {tmp_path}" in message
    assert info.value.iteration == 3
    assert [row["iteration"] for row in read_metrics(tmp_path)] == [0, 1, 2]
    assert run.latest_checkpoint().step == 2
    assert (tmp_path / "nonfinite_state.npz").exists()


def test_a_log_leaf_may_be_minus_infinity():
    # the toy's log_p holds log 0 = -inf from the start: a probability of exactly zero is fine
    outcome = driver.run(toy_learner(), 3)
    assert outcome.status == "done" and outcome.iteration == 3 and outcome.state.inner.log_p[0] == -np.inf
    assert driver.nonfinite_leaves(outcome.state, log_may_be_minus_inf=False)[".inner.log_p"]


def test_resume_continues_bit_for_bit(tmp_path):
    hooks = driver.Hooks(first_row=lambda state: {"iteration": 0})
    full = driver.run(toy_learner(), 7, hooks=hooks)
    driver.run(toy_learner(), 4, run_dir=RunDir(tmp_path, {}), checkpoint_every=3, hooks=hooks)
    resumed = driver.run(toy_learner(), 7, run_dir=RunDir(tmp_path, {}, resume=True), hooks=hooks)
    assert_trees_equal(resumed.state, full.state)
    assert resumed.history == full.history == read_metrics(tmp_path)


def test_tabular_trirl_resumes_bit_for_bit(tmp_path):
    mdp = random_mdp(3, 12, 3)
    rho_expert = occupancy(mdp, solve(mdp, np.random.default_rng(4).normal(size=mdp.shape)).policy)
    full = trirl(mdp, rho_expert, iterations=8)
    trirl(mdp, rho_expert, iterations=5, run_dir=RunDir(tmp_path, {}))
    resumed = trirl(mdp, rho_expert, iterations=8, run_dir=RunDir(tmp_path, {}, resume=True))
    np.testing.assert_array_equal(resumed.reward, full.reward)
    np.testing.assert_array_equal(resumed.log_policy, full.log_policy)
    # timings, and the LU factorisations: the factorisation cache is not state (a resumed process
    # factorises its restored policy once more), the numbers it solves for are the same
    timing = {"wall_time", "step_time", "factorisations"}
    assert ([{k: v for k, v in row.items() if k not in timing} for row in resumed.history]
            == [{k: v for k, v in row.items() if k not in timing} for row in full.history])


def test_keyboard_interrupt_keeps_the_last_logged_state(tmp_path):
    run = RunDir(tmp_path, {})
    with pytest.raises(KeyboardInterrupt):
        driver.run(toy_learner(interrupt_at=4), 10, run_dir=run, checkpoint_every=100)
    assert run.latest_checkpoint().step == 3 and [r["iteration"] for r in read_metrics(tmp_path)] == [1, 2, 3]


def test_first_ctrl_c_finishes_the_iteration_and_returns_interrupted(tmp_path, capsys):
    run = RunDir(tmp_path, {})
    outcome = driver.run(toy_learner(interrupt_at=4, bad="signal"), 10, run_dir=run, checkpoint_every=100,
                         finish_on_interrupt=True)
    assert outcome.status == "interrupted" and outcome.iteration == 4
    assert run.latest_checkpoint().step == 4 and len(read_metrics(tmp_path)) == 4
    assert "stopping after this iteration" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored


def test_max_minutes_pauses_after_the_iteration_with_a_checkpoint(tmp_path):
    stops = []
    outcome = driver.run(toy_learner(), 10, run_dir=RunDir(tmp_path, {}), max_minutes=1e-9,
                         hooks=driver.Hooks(on_stop=stops.append))
    assert outcome.status == "paused" and outcome.iteration == 1 and stops == ["paused"]
    assert RunDir(tmp_path, {}, resume=True).latest_checkpoint().step == 1
    with pytest.raises(InvalidConfigError, match="max_minutes"):
        driver.run(toy_learner(), 10, max_minutes=0)


def test_until_stops_with_a_checkpoint(tmp_path):
    outcome = driver.run(toy_learner(), 10, run_dir=RunDir(tmp_path, {}), hooks=driver.Hooks(until=lambda row: row["iteration"] == 3))
    assert outcome.status == "stopped" and RunDir(tmp_path, {}, resume=True).latest_checkpoint().step == 3


def test_the_tabular_half_runs_without_jax(tmp_path):
    code = ("import sys; import numpy as np; from trirl.tabular import random_mdp, trirl; from trirl.rundir import RunDir; "
            "mdp = random_mdp(0, 5, 2); "
            f"trirl(mdp, np.full(mdp.shape, 1 / (0.1 * 10)), iterations=2, run_dir=RunDir({str(tmp_path)!r}, {{}})); "
            f"trirl(mdp, np.full(mdp.shape, 1 / (0.1 * 10)), iterations=3, run_dir=RunDir({str(tmp_path)!r}, {{}}, resume=True)); "
            "assert 'jax' not in sys.modules, 'jax imported'")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert [row["iteration"] for row in read_metrics(tmp_path)] == [0, 1, 2, 3]
