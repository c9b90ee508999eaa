"""The exact TRIRL iteration with one piece swapped (trirl.continuous.lq_swaps) and its figure."""

import json
from pathlib import Path

import numpy as np
import pytest

from trirl.continuous import lq, lq_swaps
from trirl.continuous.envs.lqr import LQRConfig

RESULTS = Path(__file__).parents[2] / "continuous" / "results" / "lqr"


def _instance():
    config = LQRConfig()
    problem = config.problem
    expert = lq.soft_optimal(problem, config.reward).policy
    return config, problem, expert


def test_uniform_moments_are_the_time_average_of_rollouts():
    config, problem, expert = _instance()
    moments = lq_swaps.uniform_moments(problem, expert, 20)
    states, actions = lq.rollout(problem, expert, 20_000, 20, np.random.default_rng(0))
    z = np.concatenate([states, actions], axis=2).reshape(-1, problem.d)
    se = z.std(0) / np.sqrt(20_000)  # rollouts are independent; steps within one are not, hence 6 se
    np.testing.assert_array_less(np.abs(moments.mean / problem.mass - z.mean(0)), 6 * se + 1e-12)
    np.testing.assert_allclose(moments.second / problem.mass, z.T @ z / len(z), atol=0.02)


def test_trust_region_eta_is_the_smallest_that_keeps_the_bound():
    config, problem, expert = _instance()
    start = lq_swaps.start_policy(problem, -1.0)
    target = lq.gaussian_log_ratio(lq.occupancy_moments(problem, expert), lq.occupancy_moments(problem, start))
    reward = lq.function_space_update(lq.cost_reward(2, 2, 0.0, 0.0), target, 0.6, 10.0)
    eta, policy = lq_swaps.trust_region_eta(problem, reward, start, 7e-3)
    kl = lambda p: lq.expected_kl(problem, start, p) / problem.mass  # noqa: E731
    assert kl(policy) <= 7e-3
    looser = lq.trust_region_policy(problem, reward, start, eta * 0.9).policy
    assert kl(looser) > 7e-3  # bisection to a factor 2^(log(1e9) / 2^14) < 1.002


@pytest.mark.slow
def test_exact_iteration_recovers_the_reward_within_its_trust_region():
    """30 exact iterations from trirl train's start (measured: residual 0.024 at 20, 0.06 at 30)."""
    config, problem, expert = _instance()
    rng = np.random.default_rng(0)
    cov = np.cov(lq.features(lq.sample_occupancy(problem, expert, 20_000, rng)), rowvar=False)
    trace = lq_swaps.swap_trace(problem, expert, config.reward, lq_swaps.start_policy(problem, -1.0), 0.6, 10.0,
                                None, 30, cov, "discounted", every=10)
    assert not trace.left_domain
    assert trace.residual[0] == 1.0 and trace.residual[-1] < 0.1 and 0.9 < trace.scale[-1] < 1.3
    assert trace.expert_kl[-1] < 0.02


def test_swap_trace_refuses_an_unknown_log_ratio():
    config, problem, expert = _instance()
    with pytest.raises(ValueError, match="log_ratio"):
        lq_swaps.swap_trace(problem, expert, config.reward, expert, 0.6, 10.0, 1.0, 1, np.eye(lq.feature_size(4)),
                            "mixture")
    with pytest.raises(ValueError, match="eta_rule must be one of"):
        lq_swaps.swap_trace(problem, expert, config.reward, expert, 0.6, 10.0, 1.0, 1, np.eye(lq.feature_size(4)),
                            step_fraction=0.3, eta_rule="kl")
    with pytest.raises(ValueError, match=r"step_fraction must be in \(0, 1\]"):
        lq_swaps.swap_trace(problem, expert, config.reward, expert, 0.6, 10.0, 1.0, 1, np.eye(lq.feature_size(4)),
                            step_fraction=0.0)


def test_the_figure_shows_the_committed_results():
    """Each curve of the book's figure is the median over seeds of the committed JSON, with its band,
    and each learner run is on the panel of its instance."""
    import matplotlib

    matplotlib.use("Agg")
    swaps = {"rows": []}
    for path in sorted(RESULTS.glob("swaps_trirl_lqr_instance*.json")):
        swaps["rows"] += json.loads(path.read_text())["rows"]
    learners = [(label, json.loads((RESULTS / name).read_text())) for label, name in lq_swaps.LEARNER_RUNS]
    fig = lq_swaps.plot_residuals(swaps, learners)
    instances = sorted({row["instance"] for row in swaps["rows"]})
    assert len(instances) >= 2 and [ax.get_title() for ax in fig.axes] == [f"instance {i}" for i in instances]
    for label, result in learners:
        panel = fig.axes[instances.index(int(result["env_options"].get("instance", 0)))]
        lines = {line.get_label().split(" (")[0]: line for line in panel.get_lines()}
        iterations, residuals = lq_swaps.learner_residuals(result)
        np.testing.assert_allclose(lines[label].get_ydata(), np.median(residuals, 1))
        np.testing.assert_array_equal(lines[label].get_xdata(), iterations)
        assert residuals.shape[1] == 3
    panel = fig.axes[instances.index(0)]
    lines = {line.get_label().split(" (")[0]: line for line in panel.get_lines()}
    for name, label in (("trained", "exact, trained discriminator"), ("discounted", "exact iteration")):
        x, r = lq_swaps.swap_residuals(swaps, 0, name)
        np.testing.assert_allclose(lines[label].get_ydata(), np.median(r, 1))
    assert lines["target 0.05"].get_ydata()[0] == 0.05
    assert len(panel.collections) == 3  # bands: the trained discriminator's seeds and the two learner runs'


def test_the_eta_rules_figure_shows_the_committed_results():
    import matplotlib

    matplotlib.use("Agg")
    rules = {rule: json.loads((RESULTS / f"swaps_trirl_lqr_alpha0.3_{rule}.json").read_text())
             for rule in lq_swaps.ETA_RULES}
    fig = lq_swaps.plot_eta_rules(rules)
    assert [ax.get_title() for ax in fig.axes] == ["instance 0", "instance 1"]
    for instance, panel in enumerate(fig.axes):
        lines = {line.get_label().split(" (")[0]: line for line in panel.get_lines()}
        for rule, result in rules.items():
            assert result["step_fraction"] == 0.3 and result["eta_rule"] == rule
            np.testing.assert_allclose(lines[f"eta rule {rule!r}"].get_ydata(),
                                       lq_swaps.swap_residuals(result, instance, "discounted")[1][:, 0])


def test_partial_step_moves_the_parameters_the_fraction_alpha():
    """alpha = 0 and 1 are the two ends; K and k move linearly; a diagonal covariance moves its log
    std linearly (the learner's line search in parameter space)."""
    old = lq.LinearGaussian(np.array([[0.2, -0.1]]), np.array([0.3]), np.array([[0.5]]))
    new = lq.LinearGaussian(np.array([[1.0, 0.5]]), np.array([-0.1]), np.array([[0.1]]))
    for alpha in (0.0, 0.3, 1.0):
        step = lq_swaps.partial_step(old, new, alpha)
        np.testing.assert_allclose(step.K, old.K + alpha * (new.K - old.K))
        np.testing.assert_allclose(step.k, old.k + alpha * (new.k - old.k))
        np.testing.assert_allclose(np.log(step.cov), (1 - alpha) * np.log(old.cov) + alpha * np.log(new.cov))
    assert lq_swaps.partial_step_eta("scaled-step", 2.0, 0.3, lambda: 0.0) == pytest.approx(3.0 / 0.3 - 1.0)
    assert lq_swaps.partial_step_eta("step", 2.0, 0.25, lambda: 0.0) == pytest.approx(3.0)
    assert lq_swaps.partial_step_eta("exact", 2.0, 0.3, lambda: 7.0) == 7.0
    with pytest.raises(ValueError, match="eta rule must be one of"):
        lq_swaps.partial_step_eta("kl", 2.0, 0.3, lambda: 0.0)


@pytest.mark.slow
def test_a_partial_step_needs_the_multiplier_of_the_step_taken():
    """The exact iteration whose policy takes only 0.3 of each trust-region step (as the learner's
    line search does) stays near its fixed point only when Theorem 3.2's correction uses the
    multiplier of that partial step ("scaled-step"); the multiplier of the whole step
    ("projection") or of the step alone ("step") lets the reward run ahead. Measured over 200
    iterations (continuous/results/lqr/swaps_trirl_lqr_alpha0.3_*.json), instance 0 at 100
    iterations: 0.026 (scaled-step), 0.055 (projection), 0.081 (step)."""
    config, problem, expert = _instance()
    rng = np.random.default_rng(0)
    cov = np.cov(lq.features(lq.sample_occupancy(problem, expert, 20_000, rng)), rowvar=False)
    final = {}
    for rule in ("scaled-step", "projection", "step"):
        trace = lq_swaps.swap_trace(problem, expert, config.reward, lq_swaps.start_policy(problem, -1.0), 0.6, 10.0,
                                    None, 100, cov, "discounted", every=50, step_fraction=0.3, eta_rule=rule)
        assert not trace.left_domain
        final[rule] = trace.residual[-1]
    assert final["scaled-step"] < 0.04 and final["projection"] > 1.5 * final["scaled-step"], final
    assert final["step"] > 2 * final["scaled-step"], final


@pytest.mark.slow
@pytest.mark.continuous
def test_oracle_swaps_runs_every_log_ratio_and_saves_as_it_goes():
    from trirl.continuous import lq_oracle
    from trirl.continuous.train import load_config

    saved = []
    result = lq_oracle.swaps(load_config("trirl_lqr"), (0,), seeds=2, iterations=3, every=2, samples=5_000,
                             log=lambda *_: None, on_row=lambda r: saved.append(len(r["rows"])))
    assert [(row["log_ratio"], row["seed"]) for row in result["rows"]] == [
        ("discounted", 0), ("uniform", 0), ("trained", 0), ("trained", 1)]
    assert saved == [1, 2, 3, 4] and result["kl_bound"] == pytest.approx(7e-3)
    for row in result["rows"]:
        assert row["iterations"] == [0, 2, 3] and len(row["residual"]) == 3 and row["residual"][0] == 1.0
