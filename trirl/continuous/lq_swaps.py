"""The exact TRIRL iteration on an LQ instance with one piece swapped for the one ``trirl train`` uses.

``trirl train`` differs from the exact feature-space iteration (:func:`trirl.continuous.lq.trirl_step`)
in every component: its discriminator is trained on samples, its samples are uniform over the time
steps of an episode (the discounted occupancy weights step ``t`` by ``gamma^t``), its corrected
reward is the buffer's (with ``R_fit`` after ``k`` iterations), and its policy is a network moved
by PPO inside a TRPL trust region. :func:`swap_trace` runs the exact iteration with the
discriminator's log-ratio ``D^(i)`` chosen by name and everything else exact, so the residual of
the learnt reward (:func:`trirl.continuous.lq.reward_distance`) along the iteration says what that
one piece costs:

- ``"discounted"``: the log-ratio of the moment-matched Gaussians of the discounted occupancies
  ``rho_E`` and ``rho_pi`` (:func:`~trirl.continuous.lq.gaussian_log_ratio`; the exact iteration);
- ``"uniform"``: the same for the distributions the learner's samples come from, uniform over
  the ``T = episode_length`` steps of an episode (:func:`uniform_moments`): the target a
  perfectly trained discriminator reaches in ``trirl train``;
- ``"trained"``: the library's discriminator (:mod:`trirl.continuous.discriminator`, the config's
  architecture, optimiser, epochs and minibatches, warm-started as in TRIRL) trained each
  iteration on the run's demonstrations against ``agent_batch`` samples of the current policy,
  uniform over time as rollouts are; its logit is read back as a quadratic by least squares
  (:func:`quadratic_of`; exact for a linear head on ``lqr:quadratic``).

The policy step is the exact trust-region policy (Lemma 3.1) with a fixed multiplier ``eta`` and
the reward is the exact corrected reward (Theorem 3.2), kept as a quadratic. The other swaps of the
learner are options of the oracle's ``track`` (``--capacity`` above the iterations: ``R_fit``
never used; see ``continuous/results/lqr/``).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from trirl.continuous import lq
from trirl.text import plural

LOG_RATIOS = ("discounted", "uniform", "trained")
#: Theorem 3.2's multiplier for a policy that took the fraction ``alpha`` of its projected step:
#: the projection's own (``eta_p``), ``"step"`` (``1 / alpha - 1``), ``"scaled-step"``
#: (``(1 + eta_p) / alpha - 1``, :func:`trirl.core.scaled_step_eta`) and ``"exact"``
#: (the trust-region multiplier whose exact policy moves the same expected KL; oracle only).
ETA_RULES = ("projection", "step", "scaled-step", "exact")


def quadratic_of(fn: Callable[[np.ndarray], np.ndarray], d: int, rng: np.random.Generator,
                 scale: float = 1.0) -> tuple[np.ndarray, float, float]:
    """``(theta [F], bias, misfit)`` of the least-squares fit ``fn(z) ~ theta^T phi(z) + bias`` over
    ``4 F`` points ``z`` uniform in ``[-scale, scale]^d``; ``misfit`` is the largest residual relative
    to ``max(1, max |fn|)`` (rounding for a function that is a quadratic, e.g. a linear head on
    ``lqr:quadratic``)."""
    F = lq.feature_size(d)
    z = rng.uniform(-scale, scale, (4 * F, d))
    values = np.asarray(fn(z), float)
    design = np.concatenate([lq.features(z), np.ones((len(z), 1))], axis=1)
    solution, *_ = np.linalg.lstsq(design, values, rcond=None)
    misfit = float(np.max(np.abs(design @ solution - values)) / max(1.0, np.max(np.abs(values))))
    return solution[:-1], float(solution[-1]), misfit


def uniform_moments(problem: lq.LQProblem, policy: lq.LinearGaussian, steps: int) -> lq.Moments:
    """The moments of ``z = [s; a]`` under ``policy`` with time uniform over ``0 .. steps - 1``,
    scaled to the occupancy's mass ``Z`` (so that :func:`~trirl.continuous.lq.gaussian_log_ratio`
    of two of them is the log-ratio of the two distributions' moment-matched Gaussians)."""
    means, covs = lq.time_marginals(problem, policy, steps)
    mean = means.mean(0)
    second = (covs + np.einsum("ti,tj->tij", means, means)).mean(0)
    return lq.Moments(problem.mass * mean, problem.mass * second, problem.mass)


class SwapTrace(NamedTuple):
    """The residual of the reward along the exact iteration with one log-ratio swapped (index 0: start)."""

    residual: np.ndarray  #: [I + 1] relative residual up to shaping and scale (lq.reward_distance)
    scale: np.ndarray  #: [I + 1] the best scale of each reward
    expert_kl: np.ndarray  #: [I + 1] E_{d_E}[KL(pi_E || pi^(i))] / Z
    left_domain: bool  #: a reward had no finite soft value: the trace stops there


class TrainedLogRatio:
    """``D^(i)`` from the library's discriminator, trained each call on exact samples (module docstring).

    Args:
        problem: the instance. expert_demos: the run's demonstrations (:class:`Demonstrations`).
        dcfg: the run's :class:`~trirl.continuous.discriminator.DiscriminatorConfig`.
        agent_batch: agent samples per iteration (``[ppo] batch_size`` in ``trirl train``).
        episode_length: ``T``; agent samples are uniform over its steps.
        seed: the key of the discriminator's initialisation and updates and the samples' rng.
    """

    def __init__(self, problem: lq.LQProblem, expert_demos, dcfg, agent_batch: int, episode_length: int, seed: int):
        import jax
        import jax.numpy as jnp

        from trirl.continuous import discriminator as disc

        self.problem, self.agent_batch, self.T = problem, agent_batch, episode_length
        self.rng = np.random.default_rng(seed)
        self.key = jax.random.PRNGKey(seed)
        self.state = disc.init(dcfg, self.key, problem.n, problem.m)
        expert = disc.expert_batch(expert_demos, dcfg.input_mode)
        self._update = jax.jit(lambda st, agent, k: disc.update(dcfg, st, expert, agent, k)[0])
        self._logits = jax.jit(lambda params, z: disc.logits(dcfg, params, z[:, :problem.n], z[:, problem.n:],
                                                             jnp.zeros(z.shape[0])))
        self._batch, self._jnp, self._jax, self.calls = disc.DiscriminatorBatch, jnp, jax, 0

    def __call__(self, policy: lq.LinearGaussian) -> lq.Quadratic:
        jnp = self._jnp
        episodes = 2 * max(1, -(-self.agent_batch // self.T))
        states, actions = lq.rollout(self.problem, policy, episodes, self.T, self.rng)
        flat = np.concatenate([states, actions], axis=2).reshape(-1, self.problem.d)
        z = flat[self.rng.choice(flat.shape[0], self.agent_batch, replace=False)]
        agent = self._batch(jnp.asarray(z[:, :self.problem.n], jnp.float32),
                            jnp.asarray(z[:, self.problem.n:], jnp.float32), jnp.zeros(self.agent_batch))
        self.state = self._update(self.state, agent, self._jax.random.fold_in(self.key, self.calls))
        self.calls += 1
        params = self.state.params
        theta, bias, _ = quadratic_of(lambda x: self._logits(params, jnp.asarray(x, jnp.float32)), self.problem.d,
                                      self.rng)
        return lq.reward_from_theta(theta, self.problem.d, bias)


def trust_region_eta(problem: lq.LQProblem, reward: lq.Quadratic, old: lq.LinearGaussian, kl_bound: float,
                     steps: int = 14) -> tuple[float, lq.LinearGaussian]:
    """The smallest ``eta`` in ``[1e-3, 1e6]`` (bisection in ``log eta``, ``steps`` halvings) whose
    trust-region policy (Lemma 3.1) satisfies ``E_{d_old}[KL(pi_old || pi')] / Z <= kl_bound``: the
    exact counterpart of a KL trust region of size ``kl_bound`` around ``old``. Returns ``(eta, pi')``.
    The KL decreases as ``eta`` grows (``pi' -> pi_old``); ``eta = 1e6`` is returned if nothing smaller fits.
    """
    old_moments = lq.occupancy_moments(problem, old)

    def within(eta):
        try:
            policy = lq.trust_region_policy(problem, reward, old, eta).policy
            return lq.expected_kl(problem, old, policy, old_moments) / problem.mass <= kl_bound, policy
        except (lq.NotSoftSolvableError, np.linalg.LinAlgError):
            return False, None

    low, high = math.log(1e-3), math.log(1e6)
    ok, policy = within(math.exp(low))
    if ok:
        return 1e-3, policy
    best = lq.trust_region_policy(problem, reward, old, math.exp(high)).policy
    for _ in range(steps):
        mid = 0.5 * (low + high)
        ok, policy = within(math.exp(mid))
        if ok:
            high, best = mid, policy
        else:
            low = mid
    return math.exp(high), best


def partial_step(old: lq.LinearGaussian, new: lq.LinearGaussian, alpha: float) -> lq.LinearGaussian:
    """The policy ``alpha`` of the way from ``old`` to ``new`` in its parameters, as the learner's line
    search scales its update: ``K`` and ``k`` linearly, the covariance's matrix logarithm linearly
    (the learner's log std, for diagonal covariances)."""

    def log_cov(cov):
        w, v = np.linalg.eigh(cov)
        return (v * np.log(w)) @ v.T

    w, v = np.linalg.eigh((1.0 - alpha) * log_cov(old.cov) + alpha * log_cov(new.cov))
    return lq.LinearGaussian(old.K + alpha * (new.K - old.K), old.k + alpha * (new.k - old.k), (v * np.exp(w)) @ v.T)


def partial_step_eta(rule: str, eta_p: float, alpha: float, exact: Callable[[], float]) -> float:
    """Theorem 3.2's multiplier by ``rule`` (:data:`ETA_RULES`) for the step ``alpha`` of a projected
    step of multiplier ``eta_p``; ``exact()`` gives the oracle's (``"exact"``).

    Raises:
        ValueError: ``rule`` is not one of :data:`ETA_RULES`.
    """
    from trirl.core import scaled_step_eta

    if rule not in ETA_RULES:
        raise ValueError(f"eta rule must be one of {ETA_RULES}, got {rule!r}")
    return {"projection": lambda: eta_p, "step": lambda: 1.0 / alpha - 1.0,
            "scaled-step": lambda: float(scaled_step_eta(eta_p, alpha)), "exact": exact}[rule]()


def swap_trace(problem: lq.LQProblem, expert: lq.LinearGaussian, true_reward: lq.Quadratic, start: lq.LinearGaussian,
               eps: float, beta: float, eta: float | None, iterations: int, feature_cov: np.ndarray,
               log_ratio: str | Callable[[lq.LinearGaussian], lq.Quadratic] = "discounted",
               episode_length: int = 200, every: int = 1, kl_bound: float = 7e-3,
               correction_eta: float | None = None, step_fraction: float | None = None,
               eta_rule: str = "projection") -> SwapTrace:
    """The exact iteration from ``r^(0) = 0`` and the policy ``start`` (as ``trirl train`` starts),
    with ``D^(i)`` given by ``log_ratio`` (a name of :data:`LOG_RATIOS` other than ``"trained"``, or
    a callable ``policy -> Quadratic`` such as :class:`TrainedLogRatio`):
    ``r~ = U_eps r`` (Eq. 2), ``pi^(i+1)`` the trust-region policy of ``r~`` around ``pi^(i)`` with
    multiplier ``eta`` (Lemma 3.1; ``eta = None``: :func:`trust_region_eta` with ``kl_bound``, the
    trust region ``trirl train`` enforces), ``r^(i+1) = U_{eps/(1+eta)} r^(i)`` (Theorem 3.2). Records every
    ``every`` iterations. ``correction_eta`` (default: the policy step's own ``eta``) swaps in another
    multiplier for Theorem 3.2's correction only: a learner whose reported ``eta`` is not that of the
    step its policy took. ``step_fraction = alpha`` moves the policy only ``alpha`` of the way to the
    trust-region policy (:func:`partial_step`, as the learner's line search does) and takes the
    correction's multiplier by ``eta_rule`` (:func:`partial_step_eta`).

    Raises:
        ValueError: ``log_ratio`` or ``eta_rule`` is an unknown name, or ``step_fraction`` is not in ``(0, 1]``.
    """
    if isinstance(log_ratio, str) and log_ratio not in ("discounted", "uniform"):
        raise ValueError(f"log_ratio must be one of ('discounted', 'uniform') or a callable, got {log_ratio!r}")
    if eta_rule not in ETA_RULES:
        raise ValueError(f"eta_rule must be one of {ETA_RULES}, got {eta_rule!r}")
    if step_fraction is not None and not 0.0 < step_fraction <= 1.0:
        raise ValueError(f"step_fraction must be in (0, 1], got {step_fraction!r}")
    if log_ratio == "discounted":
        target = lq.occupancy_moments(problem, expert)
        moments = lambda policy: lq.occupancy_moments(problem, policy)  # noqa: E731
    elif log_ratio == "uniform":
        target = uniform_moments(problem, expert, episode_length)
        moments = lambda policy: uniform_moments(problem, policy, episode_length)  # noqa: E731
    expert_moments = lq.occupancy_moments(problem, expert)
    theta_true, _ = lq.theta_from_reward(true_reward)
    reward = lq.Quadratic(np.zeros((problem.d, problem.d)), np.zeros(problem.d), 0.0)
    policy = start
    residual, scale, kl = [], [], []
    for i in range(iterations + 1):
        if i % every == 0 or i == iterations:
            theta, _ = lq.theta_from_reward(reward)
            distance = lq.reward_distance(problem, theta_true, theta, feature_cov)
            residual.append(distance.residual if np.any(theta) else 1.0)
            scale.append(distance.scale)
            kl.append(lq.expected_kl(problem, expert, policy, expert_moments) / problem.mass)
        if i == iterations:
            break
        D = log_ratio(policy) if callable(log_ratio) else lq.gaussian_log_ratio(target, moments(policy))
        previous = policy
        try:
            intermediate = lq.function_space_update(reward, D, eps, beta)
            if eta is None:
                step_eta, policy = trust_region_eta(problem, intermediate, policy, kl_bound)
            else:
                step_eta, policy = eta, lq.trust_region_policy(problem, intermediate, policy, eta).policy
            if step_fraction is not None:
                policy = partial_step(previous, policy, step_fraction)
                moved = lq.expected_kl(problem, previous, policy) / problem.mass
                step_eta = partial_step_eta(eta_rule, step_eta, step_fraction,
                                            lambda: trust_region_eta(problem, intermediate, previous, moved)[0])
            lq.occupancy_moments(problem, policy)
        except (lq.NotSoftSolvableError, ValueError, np.linalg.LinAlgError):
            return SwapTrace(np.array(residual), np.array(scale), np.array(kl), True)
        reward = lq.corrected_reward(reward, D, eps, beta, step_eta if correction_eta is None else correction_eta)
    return SwapTrace(np.array(residual), np.array(scale), np.array(kl), False)


def start_policy(problem: lq.LQProblem, init_log_std: float) -> lq.LinearGaussian:
    """The policy ``trirl train`` starts from, as a linear-Gaussian: mean 0, std ``exp(init_log_std)``."""
    return lq.LinearGaussian(np.zeros((problem.m, problem.n)), np.zeros(problem.m),
                             math.exp(2.0 * init_log_std) * np.eye(problem.m))


# -- the measured results (continuous/results/lqr/) ----------------------------------------------
def learner_residuals(track: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(iterations [R], residuals [R, seeds])`` of a ``lq_oracle track`` result; a reward without a
    finite soft value keeps its residual (the distance needs none)."""
    iterations = np.array([row["iteration"] for row in track["rows"]])
    residuals = np.array([[float(seed["reward_residual"]) for seed in row["seeds"]] for row in track["rows"]])
    return iterations, residuals


def swap_residuals(swaps: dict, instance: int, log_ratio: str) -> tuple[np.ndarray, np.ndarray]:
    """``(iterations [R], residuals [R, seeds])`` of one instance and log-ratio of a ``lq_oracle swaps``
    result, cut to the shortest seed (a seed that left the domain stops early).

    Raises:
        KeyError: the result holds no row of that instance and log-ratio.
    """
    rows = [row for row in swaps["rows"] if row["instance"] == instance and row["log_ratio"] == log_ratio]
    if not rows:
        raise KeyError(f"no swap trace of instance {instance} with log_ratio {log_ratio!r}")
    length = min(len(row["residual"]) for row in rows)
    return (np.array(rows[0]["iterations"][:length]),
            np.array([[float(v) for v in row["residual"][:length]] for row in rows]).T)


def final_spread(residuals: np.ndarray, last: int = 3) -> dict:
    """The residual over the last ``last`` records of each seed (``residuals [R, seeds]``): the
    median over seeds of each seed's mean, and the smallest and largest single value."""
    tail = residuals[-last:]
    return {"median": float(np.median(tail.mean(0))), "min": float(tail.min()), "max": float(tail.max()),
            "seeds": int(residuals.shape[1])}


def plot_panels(panels: dict[int, list[tuple[str, np.ndarray, np.ndarray]]], target: float = 0.05):
    """One panel per instance: each curve ``(label, iterations [R], residuals [R, seeds])`` as its median
    over seeds with a band from the smallest to the largest seed, and a dashed line at ``target``
    (log scale). Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False, sharey=True)
    for ax, (instance, curves) in zip(axes[0], sorted(panels.items())):
        for label, iterations, residuals in curves:
            line, = ax.plot(iterations, np.median(residuals, 1), label=f"{label} ({plural(residuals.shape[1], 'seed')})")
            if residuals.shape[1] > 1:
                ax.fill_between(iterations, residuals.min(1), residuals.max(1), color=line.get_color(), alpha=0.2)
        ax.axhline(target, color="k", linestyle="--", linewidth=1, label=f"target {target}")
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_title(f"instance {instance}")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("reward residual (up to shaping and scale)")
    fig.tight_layout()
    return fig


def plot_residuals(swaps: dict, learners=(), target: float = 0.05):
    """:func:`plot_panels` of ``swaps`` (the exact iteration with each log-ratio) and, on the panel of
    each ``(label, result)`` of ``learners`` (an ``lq_oracle track`` or ``evaluate`` result, placed by
    its ``[env_options] instance``), ``trirl train``'s residual along the run."""
    labels = {"discounted": "exact iteration", "uniform": "exact, uniform-in-time target",
              "trained": "exact, trained discriminator"}
    panels = {instance: [(labels[name], *swap_residuals(swaps, instance, name)) for name in LOG_RATIOS]
              for instance in sorted({row["instance"] for row in swaps["rows"]})}
    for label, result in learners:
        panels[int(result["env_options"].get("instance", 0))].append((label, *learner_residuals(result)))
    return plot_panels(panels, target)


def plot_eta_rules(rules: dict[str, dict], target: float = 0.05):
    """:func:`plot_panels` of the exact iteration with a partial policy step, one curve per
    :data:`ETA_RULES` entry of ``rules`` (rule -> ``lq_oracle swaps --step-fraction`` result)."""
    panels: dict[int, list] = {}
    for rule, result in rules.items():
        for instance in sorted({row["instance"] for row in result["rows"]}):
            iterations, residuals = swap_residuals(result, instance, "discounted")
            panels.setdefault(instance, []).append((f"eta rule {rule!r}", iterations, residuals))
    return plot_panels(panels, target)


#: the learner's committed runs in the figure: (label, file of continuous/results/lqr/)
LEARNER_RUNS = (("trirl train, eta_from 'projection'", "train_trirl_lqr_instance0_projection.json"),
                ("trirl train, eta_from 'projection'", "train_trirl_lqr_instance1_projection.json"),
                ("trirl train, eta_from 'scaled-step'", "train_trirl_lqr_instance0.json"),
                ("trirl train, eta_from 'scaled-step'", "train_trirl_lqr_instance1.json"))


def main(argv=None) -> int:
    """``python -m trirl.continuous.lq_swaps --results DIR --out PNG [--rules-out PNG]``: the figures of
    the committed results (the swaps with the learner's runs; the eta rules with a partial step)."""
    import argparse
    import json
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    parser = argparse.ArgumentParser(prog="python -m trirl.continuous.lq_swaps", description=main.__doc__)
    parser.add_argument("--results", default="continuous/results/lqr",
                        help="a folder with swaps_trirl_lqr_instance*.json and the files of LEARNER_RUNS")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--rules-out", default=None, help="the PNG of swaps_trirl_lqr_alpha0.3_<rule>.json")
    args = parser.parse_args(argv)
    results = Path(args.results)
    paths = sorted(results.glob("swaps_trirl_lqr_instance*.json"))
    if not paths:
        raise SystemExit(f"--results {results}: no swaps_trirl_lqr_instance*.json (python -m trirl.continuous.lq_oracle swaps)")
    swaps = {"rows": [row for path in paths for row in json.loads(path.read_text())["rows"]]}
    learners = [(label, json.loads((results / name).read_text())) for label, name in LEARNER_RUNS]
    plot_residuals(swaps, learners).savefig(args.out, dpi=100)
    if args.rules_out:
        rules = {rule: json.loads((results / f"swaps_trirl_lqr_alpha0.3_{rule}.json").read_text()) for rule in ETA_RULES}
        plot_eta_rules(rules).savefig(args.rules_out, dpi=100)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
