"""trirl.stats: the one IQM and the one bootstrap CI over seeds, rliable's."""

import numpy as np
import pytest

pytest.importorskip("rliable")

from rliable import metrics  # noqa: E402

from trirl.stats import interval_estimates, iqm  # noqa: E402


def test_iqm_by_hand():
    assert iqm([1.0, 2.0, 3.0, 100.0]) == 2.5  # 4 values: one cut at each end
    assert iqm([1.0, 3.0]) == 2.0  # fewer than 4: the mean
    assert iqm([[1.0, 2.0], [3.0, 100.0]]) == 2.5  # any shape, flattened


def test_iqm_leaves_out_non_finite_values_and_is_nan_without_any():
    assert iqm([1.0, np.nan, 2.0, 3.0, 100.0, np.inf]) == 2.5  # no finished episode in some environments
    assert np.isnan(iqm([np.nan, np.nan])) and np.isnan(iqm([]))


@pytest.mark.parametrize("n", [1, 5, 7, 15, 23, 64])
def test_iqm_is_rliables_to_the_bit(n):
    values = np.random.default_rng(n).normal(size=n) * 37.0
    assert iqm(values) == metrics.aggregate_iqm(values)


def test_interval_estimates_are_rliables_iqm_and_mean_with_cis():
    est = interval_estimates({"a": np.arange(1.0, 9.0), "same": [0.5] * 5}, reps=2000)
    assert est["a"]["iqm"] == pytest.approx(4.5) and est["a"]["mean"] == pytest.approx(4.5)  # 25 % trimmed: 3..6
    assert est["a"]["iqm_ci"][0] < 4.5 < est["a"]["iqm_ci"][1]
    assert est["same"]["iqm_ci"] == pytest.approx([0.5, 0.5])
    again = interval_estimates({"a": np.arange(1.0, 9.0)}, reps=2000)
    assert again["a"] == est["a"]  # a fixed bootstrap seed: the committed CIs are reproducible


def test_interval_estimates_leave_the_global_numpy_generator_alone():
    np.random.seed(7)
    expected = np.random.rand()
    np.random.seed(7)
    interval_estimates({"a": [0.1, 0.5, 0.9]}, reps=200)
    assert np.random.rand() == expected
