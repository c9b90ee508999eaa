import numpy as np
import pytest

from trirl import InvalidConfigError, core


def test_function_space_update_by_hand():
    r = np.array([1.0, -2.0])
    ratio = np.array([0.5, 0.0])
    # (1 - 0.25) * r + 0.25 * 2 * ratio
    np.testing.assert_allclose(core.function_space_update(r, ratio, 0.25, 2.0), [1.0, -1.5])


def test_corrected_step_and_reward():
    assert core.corrected_step(0.6, 2.0) == pytest.approx(0.2)
    r, ratio = np.array([1.0]), np.array([3.0])
    np.testing.assert_allclose(core.corrected_reward(r, ratio, 0.6, 1.0, 2.0), 0.8 * 1.0 + 0.2 * 3.0)


def test_trust_region_reward_interpolates_towards_old_log_policy():
    r = np.array([2.0, 0.0])
    log_pi = np.log([0.25, 0.75])
    np.testing.assert_allclose(core.trust_region_reward(r, log_pi, 0.0), r)
    np.testing.assert_allclose(core.trust_region_reward(r, log_pi, 3.0), (r + 3 * log_pi) / 4)


def test_eta_schedules():
    assert core.ConstantEta(2.0)(7) == 2.0
    lin = core.LinearEta(4.0, 0.0, 4)
    assert [lin(i) for i in range(6)] == [4.0, 3.0, 2.0, 1.0, 0.0, 0.0]
    exp = core.ExponentialEta(8.0, 0.5, 1.0)
    assert [exp(i) for i in range(3)] == [8.0, 4.5, 2.75]
    assert core.parse_eta_schedule("3")(10) == 3.0
    assert core.parse_eta_schedule("linear:4:0:4")(2) == 2.0
    assert core.parse_eta_schedule("exp:8:0.5")(1) == 4.0
    assert core.as_eta_schedule(lambda i: i + 1)(2) == 3


@pytest.mark.parametrize("spec", ["linear:1:2", "exp:1:2", "cosine:1", "abc", "-1"])
def test_bad_eta_schedules_are_named(spec):
    with pytest.raises(InvalidConfigError, match="eta"):
        core.parse_eta_schedule(spec)


def test_core_works_on_jax_arrays_too():
    jnp = pytest.importorskip("jax.numpy")
    out = core.function_space_update(jnp.ones(3), jnp.zeros(3), 0.5, 2.0)
    np.testing.assert_allclose(np.asarray(out), 0.5)
