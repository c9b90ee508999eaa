"""One source of truth for the recommended tabular TRIRL hyperparameters: TRIRLConfig's defaults
(eps = 0.5, beta = 1e4, eta = 49 999, alpha = eps beta / (1 + eta) = 0.1), which the functional
API, the command line, the comparison registry and the widgets read instead of restating."""

import dataclasses

import numpy as np

from trirl import cli
from trirl.tabular import TRIRLConfig, occupancy, solve, trirl
from trirl.tabular.algorithms.registry import ALGORITHMS

from trirl.tabular import random_mdp

RECOMMENDED = {"eps": 0.5, "beta": 1e4, "eta": 49_999.0}
SAFE = {"safeguard": True}  # the default step: safeguarded on the exact dual


def test_the_config_defaults_are_the_recommended_values():
    config = TRIRLConfig()
    assert {k: getattr(config, k) for k in RECOMMENDED} == RECOMMENDED
    assert config.eps * config.beta / (1 + config.eta) == 0.1
    assert config.safeguard is True and TRIRLConfig(safeguard=False).safeguard is False


def test_every_entry_point_reads_the_config_defaults(capsys):
    defaults = {f.name: f.default for f in dataclasses.fields(TRIRLConfig)}
    assert (cli.DEFAULT_EPS, cli.DEFAULT_BETA, cli.DEFAULT_ETA) == tuple(defaults[k] for k in RECOMMENDED)
    assert {k: ALGORITHMS["trirl"].defaults[k] for k in RECOMMENDED} == RECOMMENDED
    try:
        cli.main(["grid", "--help"])
    except SystemExit:
        pass
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 0.5)" in text and "(default: 10000.0)" in text and "(default: 49999.0)" in text
    assert "--safeguard {on,off,auto}" in text and "(default: on)" in text
    mdp = random_mdp(3)
    rho_e = occupancy(mdp, solve(mdp, np.random.default_rng(3).normal(size=mdp.shape)).policy)
    implicit, explicit = trirl(mdp, rho_e, iterations=3), trirl(mdp, rho_e, iterations=3, **RECOMMENDED, **SAFE)
    np.testing.assert_array_equal(implicit.reward, explicit.reward)
    assert implicit.algorithm == "trirl" and "total_backtracks" in implicit.history[-1]
    assert ALGORITHMS["trirl"](mdp, rho_e, 3).history[-1]["total_backtracks"] == implicit.history[-1]["total_backtracks"]
    assert ALGORITHMS["trirl-fixed"].defaults == {**RECOMMENDED, "safeguard": False}


def test_the_widgets_start_from_the_config_defaults():
    import pytest

    widgets = pytest.importorskip("trirl.tabular.widgets")
    assert widgets.DEFAULT_CONFIG == TRIRLConfig()
