import json

import numpy as np
import pytest

from trirl.bench.tabular import dense_soft_value_iteration, forward_occupancy
from trirl.cli import main
from trirl.rundir import read_metrics
from trirl.tabular import gridworld, occupancy, solve


def test_grid_runs_end_to_end_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["grid", "--world", "open_room", "--iterations", "15", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "summary" in printed and "reverse KL" in printed
    for name in ("config.json", "metrics.jsonl", "figure2.png", "summary.txt"):
        assert (out / name).exists(), name
    config = json.loads((out / "config.json").read_text())
    assert config["world"] == "open_room" and config["seed"] == 0 and "trirl grid" in config["rerun"]
    rows = read_metrics(out)
    assert [r["iteration"] for r in rows] == list(range(16))
    assert rows[-1]["reverse_kl"] < rows[0]["reverse_kl"]
    assert main(["grid", "--world", "open_room", "--iterations", "20", "--out", str(out), "--quiet", "--resume"]) == 0
    assert [r["iteration"] for r in read_metrics(out)] == list(range(21))


def test_grid_from_sampled_demonstrations(tmp_path):
    out = tmp_path / "demo"
    assert main(["grid", "--world", "lava_corridor", "--demos", "50", "--horizon", "50",
                 "--iterations", "5", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "config.json").read_text())["demos"] == 50


@pytest.mark.parametrize(
    "argv, message",
    [(["--world", "nowhere"], "unknown grid world"), (["--eps", "0"], "eps"), (["--eta", "cosine:1"], "eta"),
     (["--variant", "upside-down"], "variant")],
)
def test_grid_bad_arguments_are_named_and_leave_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "bad"
    assert main(["grid", "--out", str(out), "--quiet", *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_grid_refuses_to_overwrite_a_run(tmp_path, capsys):
    args = ["grid", "--world", "open_room", "--iterations", "1", "--out", str(tmp_path), "--quiet"]
    assert main(args) == 0
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err


def test_benchmark_baselines_compute_the_same_things():
    world = gridworld.open_grid(5, 5, slip=0.1, discount=0.9)
    mdp = world.mdp
    exact = solve(mdp, world.reward)
    np.testing.assert_allclose(np.exp(dense_soft_value_iteration(mdp.transitions, world.reward, 0.9)), exact.policy, atol=1e-8)
    np.testing.assert_allclose(forward_occupancy(mdp, exact.policy), occupancy(mdp, exact.policy), atol=1e-8)


def test_benchmark_mce_irl_transcription_is_imitations_iteration():
    """The numpy baseline does imitation's finite-horizon backward pass, forward visitation and step."""
    from scipy.special import logsumexp

    from trirl.bench.tabular import dirichlet_transitions, numpy_mce_irl_iteration

    P = dirichlet_transitions(0, 6, 3)
    mu0 = np.full(6, 1 / 6)
    theta = np.random.default_rng(1).normal(size=6)
    horizon = 4
    new_theta, visitations = numpy_mce_irl_iteration(P, mu0, theta, np.zeros(6), horizon, lr=0.5)
    # by hand, one time step at a time: V_{T-1} = logsumexp_a r, Q_t = r + P V_{t+1}
    V = [None] * horizon
    policies = [None] * horizon
    for t in reversed(range(horizon)):
        Q = theta[:, None] + (np.zeros((6, 3)) if t == horizon - 1 else np.einsum("sat,t->sa", P, V[t + 1]))
        V[t] = logsumexp(Q, axis=1)
        policies[t] = np.exp(Q - V[t][:, None])
    D, total = mu0.copy(), mu0.copy()
    for t in range(horizon):
        D = np.einsum("s,sa,sat->t", D, policies[t], P)
        total += D
    np.testing.assert_allclose(visitations, total, rtol=1e-12)
    assert visitations.sum() == pytest.approx(horizon + 1)
    np.testing.assert_allclose(new_theta, theta - 0.5 * total, rtol=1e-12)
