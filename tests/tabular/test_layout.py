"""The library's shared pieces: one random-MDP generator, the analysis module, and the occupancy
module reachable under its own name (no longer shadowed by the function ``occupancy``)."""

import importlib

import numpy as np
import pytest

import trirl.tabular as tabular
from trirl.tabular import MDP, random_mdp


def test_occupancy_function_and_module_have_distinct_names():
    module = importlib.import_module("trirl.tabular.occupancies")
    assert tabular.occupancy is module.occupancy and callable(tabular.occupancy)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("trirl.tabular.occupancy")


def test_random_mdp_is_the_generator_the_book_and_benchmarks_pasted():
    rng = np.random.default_rng(1)
    P = rng.random((8, 4, 8)) ** 4
    P /= P.sum(axis=-1, keepdims=True)
    mu0 = rng.random(8)
    pasted = MDP(P, mu0 / mu0.sum(), discount=0.95)
    shared = random_mdp(1, 8, 4, discount=0.95, sparsity=4.0)
    policy = np.full(shared.shape, 0.25)
    np.testing.assert_array_equal(tabular.occupancy(shared, policy), tabular.occupancy(pasted, policy))
    with pytest.raises(ValueError, match="sparsity"):
        random_mdp(0, sparsity=0.0)


def test_strategies_do_not_import_properties():
    """properties imports strategies; strategies takes jacobian_lambda_max from the analysis module."""
    import ast

    import trirl.verify.strategies as strategies

    tree = ast.parse(open(strategies.__file__).read())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {m for m in imported if m and m.startswith("trirl.verify")}, imported
    assert "trirl.tabular.analysis" in imported
