"""What the recommended TRIRL defaults promise, checked on generated worlds.

``TRIRLConfig()`` is eps = 0.5, beta = 1e4, eta = 49 999 with the safeguard on. Its promises:
the first step moves the reward by ``alpha = eps beta / (1 + eta) = 0.1`` times the log ratio
(Eq. 2 with Theorem 3.2's ``eps_tr``), or by a halved step where the exact dual asks for one;
where the safeguard never halves, the iterates are the paper's fixed step's, bit for bit, and it
halves only where the fixed step's dual rises; every entry point (the function, the registry,
``trirl grid``) runs these defaults when given no step.
"""

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings

from trirl.cli import main
from trirl.errors import DualIncreaseWarning
from trirl.rundir import read_metrics
from trirl.tabular import expert_occupancy, gridworld, log_occupancy, solve, trirl
from trirl.tabular.algorithms.registry import ALGORITHMS
from trirl.tabular.objectives import log_ratio, safe_log
from trirl.verify import strategies as vs

ALPHA = 0.5 * 1e4 / (1.0 + 49_999.0)  # the recommended effective step, 0.1
# each example runs TRIRL twice on a world of at most 4 x 5 cells
FEW = settings(max_examples=max(5, settings.default.max_examples // 6))


def exact_expert(world):
    return expert_occupancy(world.mdp, solve(world.mdp, world.reward).log_policy)


@FEW
@given(vs.user_worlds(max_rows=4, max_cols=5))
def test_the_first_default_step_is_alpha_times_the_log_ratio(user_world):
    world = user_world.build()
    mdp, rho_e = world.mdp, exact_expert(world)
    result = trirl(mdp, rho_e, iterations=1)
    uniform = np.full(mdp.shape, -np.log(mdp.n_actions))  # r^(0) = 0 and its MCE policy
    ratio = log_ratio(safe_log(rho_e), log_occupancy(mdp, uniform))
    accepted = result.history[1]["eps"]  # 0.5, or the step the safeguard halved it to
    assert accepted in [0.5 * 0.5**k for k in range(31)]
    np.testing.assert_allclose(result.reward, ALPHA * accepted / 0.5 * ratio, rtol=1e-9, atol=1e-12)
    assert result.history[1]["dual"] <= result.history[0]["dual"] * (1 + 1e-11)


@FEW
@given(vs.user_worlds(max_rows=4, max_cols=5))
def test_the_safeguard_changes_nothing_until_the_fixed_steps_dual_rises(user_world):
    world = user_world.build()
    mdp, rho_e = world.mdp, exact_expert(world)
    safe = trirl(mdp, rho_e, iterations=12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DualIncreaseWarning)
        fixed = trirl(mdp, rho_e, iterations=12, safeguard=False)
    halved = np.flatnonzero(safe.metric("backtracks") > 0)
    first = int(halved[0]) if len(halved) else len(safe.history)
    # identical iterates up to the first halving: the same duals, bit for bit
    assert safe.metric("dual")[:first].tolist() == fixed.metric("dual")[:first].tolist()
    if first == len(safe.history):
        np.testing.assert_array_equal(safe.reward, fixed.reward)
    else:  # it halved because the full step, which the fixed run takes from the same iterate, raises the dual
        assert fixed.history[first]["dual"] > fixed.history[first - 1]["dual"]


def test_every_entry_point_runs_the_defaults(tmp_path, capsys):
    (tmp_path / "world.txt").write_text("S.#.\n..L.\n...G\n")
    (tmp_path / "world.toml").write_text('map = "world.txt"\ndiscount = 0.9\nstep_cost = -0.1\n')
    world = gridworld.load(tmp_path / "world.toml")
    rho_e = exact_expert(world)
    library = trirl(world.mdp, rho_e, iterations=6)
    assert main(["grid", "--world", str(tmp_path / "world.toml"), "--iterations", "6", "--out", str(tmp_path / "run"),
                 "--quiet"]) == 0
    assert [row["dual"] for row in read_metrics(tmp_path / "run")] == library.metric("dual").tolist()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["safeguard"] is True
    registry = ALGORITHMS["trirl"](world.mdp, rho_e, 6)
    np.testing.assert_array_equal(registry.reward, library.reward)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DualIncreaseWarning)
        np.testing.assert_array_equal(ALGORITHMS["trirl-fixed"](world.mdp, rho_e, 6).reward,
                                      trirl(world.mdp, rho_e, iterations=6, safeguard=False).reward)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["grid", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # what a user reads: the defaults the run used
    assert "(default: 0.5)" in text and "(default: 10000.0)" in text and "(default: 49999.0)" in text
    assert "--safeguard {on,off,auto}" in text and "(default: on)" in text
