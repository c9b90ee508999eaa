"""What one learner state of a run on ``lqr`` says against the closed forms (:mod:`trirl.continuous.lq`).

:func:`evaluate_state` gives the oracle's numbers for one seed (``python -m trirl.continuous.lq_oracle
evaluate`` and ``track`` call it on every checkpoint): the learnt reward's distance to the true one, the
acting policy's KL to the expert, the exact dual, and the policy's standard deviation against the
expert's and against the soft-optimal one of the learnt reward (book chapter 10).

"""

from __future__ import annotations

import math

import numpy as np

from trirl.continuous import lq
from trirl.continuous.envs import lqr
from trirl.errors import InvalidConfigError

def learnt_theta(learner, state, problem: lq.LQProblem, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """``(theta [F], bias, linear_fit_error)`` of the learner's corrected reward (one seed's state),
    by :func:`trirl.continuous.lq_swaps.quadratic_of` on ``[-1, 1]^d``."""
    import jax.numpy as jnp

    from trirl.continuous.lq_swaps import quadratic_of

    n = problem.n
    return quadratic_of(lambda z: learner.reward(state, jnp.asarray(z[:, :n], jnp.float32), jnp.asarray(z[:, n:], jnp.float32),
                                                 jnp.zeros(len(z))), problem.d, rng)


def policy_kl_network(learner, state, config, expert: lq.LinearGaussian, steps: int = 64, key=0):
    """``E_{d_net}[KL(pi_net || pi_E)]`` normalised, by Monte Carlo over ``steps`` collection steps
    of the run's own environments (discounted weights); returns ``(mean, standard error)``."""
    import jax
    import jax.numpy as jnp

    from trirl.continuous import networks as nets
    from trirl.continuous.envs import auto_reset, make

    env = auto_reset(make("lqr", config.env_options))
    ppo = state.ppo
    networks = learner.ppo.networks if hasattr(learner, "ppo") else None
    if networks is None:
        raise InvalidConfigError("policy_kl: the learner exposes no policy networks")
    gamma = config.ppo.gamma
    env_state = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(key), 256))
    prec = np.linalg.inv(expert.cov)
    _, logdet_e = np.linalg.slogdet(expert.cov)
    kls, weights = [], []
    action_key = jax.random.PRNGKey(key + 1)
    for t in range(steps):
        obs = env_state.obs
        mean, log_std = jax.vmap(lambda o: nets.policy_distribution(networks, ppo.params.policy, ppo.normalizer, o))(obs)
        mean, std = np.asarray(mean, float), np.exp(np.asarray(log_std, float))
        diff = mean - (np.asarray(obs, float) @ expert.K.T + expert.k)
        m = expert.k.size
        kl = 0.5 * (np.einsum("bi,ij,bj->b", diff, prec, diff) + (std**2) @ np.diag(prec) - m + logdet_e
                    - 2.0 * np.sum(np.log(std), axis=1))
        kls.append(kl)
        weights.append(np.where(np.asarray(env_state.time) >= 0, gamma ** np.asarray(env_state.time), 0.0))
        action_key, k = jax.random.split(action_key)
        actions = jnp.asarray(mean + std * np.asarray(jax.random.normal(k, mean.shape)), jnp.float32)
        env_state = jax.vmap(env.step)(env_state, actions)
    kls, weights = np.array(kls), np.array(weights)
    per_env = (kls * weights).sum(0) / weights.sum(0)
    return float(per_env.mean()), float(per_env.std(ddof=1) / math.sqrt(per_env.size))


def evaluate_state(learner, state, config, beta: float, rng: np.random.Generator, feature_cov: np.ndarray) -> dict:
    """The oracle's numbers for one seed's learner state (module docstring)."""
    env_config = lqr.LQRConfig(**config.env_options)
    problem = env_config.problem
    theta_true, _ = lq.theta_from_reward(env_config.reward)
    expert = lq.soft_optimal(problem, env_config.reward).policy
    theta, bias, misfit = learnt_theta(learner, state, problem, rng)
    distance = lq.reward_distance(problem, theta_true, theta, feature_cov)
    row = {"reward_residual": distance.residual, "reward_scale": distance.scale, "linear_fit_error": misfit}
    try:
        scaled = lq.soft_optimal(problem, lq.reward_from_theta(theta * distance.scale, problem.d)).policy
        row["reward_policy_kl"] = lq.expected_kl(problem, expert, scaled) / problem.mass
    except (lq.NotSoftSolvableError, ZeroDivisionError):
        row["reward_policy_kl"] = math.inf
    row["dual"] = lq.dual(problem, theta, expert, beta, bias=bias).value
    row["policy_kl"], row["policy_kl_se"] = policy_kl_network(learner, state, config, expert)
    row.update(std_ratios(learner, state, problem, expert, theta, beta))
    return row


def std_ratios(learner, state, problem: lq.LQProblem, expert: lq.LinearGaussian, theta: np.ndarray, beta: float) -> dict:
    """The acting policy's standard deviation and that of the learnt reward's soft-optimal policy,
    each over the expert's, averaged over the action's entries.

    PPO maximises ``E[r / beta] + H / beta`` (``theta^T phi`` is ``r / beta``), whose optimum is the
    temperature-1 soft-optimal policy of ``beta theta^T phi``; its covariance is ``(-2 H_aa)^{-1}``
    (:func:`trirl.continuous.lq.soft_optimal`). Where the policy improvement keeps up with the reward,
    ``policy_std_ratio`` follows ``reward_std_ratio``; at the exact iteration's fixed point
    (``r ~ beta / (1 + beta) r_true`` in the action) both are about ``sqrt(1 + 1 / beta)``.

    Returns:
        ``{"policy_std_ratio", "reward_std_ratio"}``; ``reward_std_ratio`` is ``inf`` where the learnt
        reward has no finite soft value (its soft-optimal policy is not a Gaussian).
    """
    import jax.numpy as jnp

    from trirl.continuous import networks as nets

    expert_std = np.sqrt(np.diag(expert.cov))
    ppo = state.ppo
    # the policy class's standard deviation is state-independent: read it at any observation
    _, log_std = nets.policy_distribution(learner.ppo.networks, ppo.params.policy, ppo.normalizer,
                                          jnp.zeros(problem.n, jnp.float32))
    ratios = {"policy_std_ratio": float(np.mean(np.exp(np.asarray(log_std, float)) / expert_std))}
    try:
        soft = lq.soft_optimal(problem, lq.reward_from_theta(beta * theta, problem.d)).policy
        ratios["reward_std_ratio"] = float(np.mean(np.sqrt(np.diag(soft.cov)) / expert_std))
    except lq.NotSoftSolvableError:
        ratios["reward_std_ratio"] = math.inf
    return ratios


