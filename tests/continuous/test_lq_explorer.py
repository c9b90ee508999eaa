"""The LQ explorer widget shows the exact iterates it computes and the measured run it loads."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from trirl.continuous import lq  # noqa: E402
from trirl.continuous.envs.lqr import LQRConfig  # noqa: E402
from trirl.continuous.lq_explorer import LQExplorer  # noqa: E402

TRACK = Path(__file__).resolve().parents[2] / "continuous" / "results" / "lqr" / "track_trirl_lqr.json"


def test_explorer_shows_the_exact_trace_and_the_run():
    explorer = LQExplorer(TRACK, iterations=4)
    config = LQRConfig()
    expert = lq.soft_optimal(config.problem, config.reward).policy
    trace = lq.exact_trace(config.problem, expert, lq.cost_reward(2, 2, 0.0, 0.5), 0.05, 10.0, 1.0, 4)
    np.testing.assert_allclose(explorer.figure_data["dual"], trace.dual)
    assert np.all(np.diff(trace.dual) <= 0) and not explorer.figure_data["left_domain"]
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
    assert explorer.figure_data["track"]["reward_residual"][4] == pytest.approx(0.1078, abs=1e-4)
    explorer.eps.value = 0.5  # alpha = 2.5: the exact iterates leave the domain (book chapter 10)
    assert explorer.figure_data["left_domain"] and "left the soft-solvable rewards" in explorer.summary.value
    assert explorer.figure_data["alpha"] == pytest.approx(2.5)
