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


def test_the_figure_shows_the_committed_results():
    """Each curve of the book's figure is the median over seeds of the committed JSON, with its band."""
    import matplotlib

    matplotlib.use("Agg")
    swaps = {"rows": []}
    for path in sorted(RESULTS.glob("swaps_trirl_lqr_instance*.json")):
        swaps["rows"] += json.loads(path.read_text())["rows"]
    track = json.loads((RESULTS / "track_trirl_lqr_seeds3.json").read_text())
    fig = lq_swaps.plot_residuals(swaps, track)
    instances = sorted({row["instance"] for row in swaps["rows"]})
    assert len(instances) >= 2 and [ax.get_title() for ax in fig.axes] == [f"instance {i}" for i in instances]
    panel = fig.axes[instances.index(0)]
    lines = {line.get_label().split(" (")[0]: line for line in panel.get_lines()}
    iterations, residuals = lq_swaps.learner_residuals(track)
    np.testing.assert_allclose(lines["trirl train"].get_ydata(), np.median(residuals, 1))
    np.testing.assert_array_equal(lines["trirl train"].get_xdata(), iterations)
    assert residuals.shape[1] == 3
    for name, label in (("trained", "exact, trained discriminator"), ("discounted", "exact iteration")):
        x, r = lq_swaps.swap_residuals(swaps, 0, name)
        np.testing.assert_allclose(lines[label].get_ydata(), np.median(r, 1))
    assert lines["target 0.05"].get_ydata()[0] == 0.05
    assert len(panel.collections) == 2  # bands: the trained discriminator's seeds and the learner's


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
