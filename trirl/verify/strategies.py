"""Hypothesis strategies for the exact engine: random MDPs, rewards, policies and TRIRL steps.

One copy, shared by ``tests/tabular/test_properties.py`` and ``trirl verify``. Every MDP is built
through :class:`trirl.tabular.MDP`, so it passes the engine's own validation.

The random arrays are drawn from a numpy generator seeded by hypothesis: shrinking then moves
towards small worlds, seed 0 and the simplest structural choices (dense, stochastic, no
absorbing state), which keeps counterexamples short enough to paste into a regression test.

Domains (the issue's): 2-10 states, 2-5 actions, dense or sparse, deterministic or stochastic
transitions, with or without absorbing states, discount in [0, 0.99]; rewards at scales
1e-2 .. 1e2; ``eps`` in (0, 1], ``beta`` > 0 (1e-2 .. 1e2), ``eta`` >= 0 (0 .. 1e3).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from trirl.tabular.analysis import jacobian_lambda_max
from trirl.tabular.mdp import MDP

REWARD_SCALES = (1e-2, 1e-1, 1.0, 10.0, 100.0)
SPECIAL_DISCOUNTS = (0.0, 0.5, 0.9, 0.95, 0.99, 0.999)
MAX_DISCOUNT = 0.99


class MDPSpec(NamedTuple):
    """How a random MDP was drawn; ``build()`` makes it again (for counterexamples in tests)."""

    seed: int
    n_states: int
    n_actions: int
    discount: float
    structure: str  # "dense", "sparse" or "deterministic"
    n_absorbing: int
    point_start: bool  # mu0 a point mass on state 0 instead of a random distribution

    def build(self) -> MDP:
        return build_mdp(*self)


def build_mdp(
    seed: int,
    n_states: int,
    n_actions: int,
    discount: float,
    structure: str = "dense",
    n_absorbing: int = 0,
    point_start: bool = False,
) -> MDP:
    """A random MDP, deterministically from its parameters (see :class:`MDPSpec`).

    ``structure``: ``"dense"`` (every successor has positive probability), ``"sparse"`` (one or
    two successors per state-action pair) or ``"deterministic"`` (exactly one). The last
    ``n_absorbing`` states loop to themselves under every action (paper Appendix C.4).
    """
    rng = np.random.default_rng(seed)
    S, A = n_states, n_actions
    if structure == "dense":
        P = rng.random((S, A, S)) + 1e-3
    elif structure in ("sparse", "deterministic"):
        P = np.zeros((S, A, S))
        k = 1 if structure == "deterministic" else 2
        for s in range(S):
            for a in range(A):
                nxt = rng.choice(S, size=min(k, S), replace=False)
                P[s, a, nxt] = rng.random(len(nxt)) + 0.1
    else:
        raise ValueError(f"structure is {structure!r}, expected 'dense', 'sparse' or 'deterministic'")
    absorbing = list(range(S - n_absorbing, S))
    for s in absorbing:
        P[s] = 0.0
        P[s, :, s] = 1.0
    P /= P.sum(axis=-1, keepdims=True)
    if point_start:
        mu0 = np.zeros(S)
        mu0[0] = 1.0
    else:
        mu0 = rng.random(S) + 1e-2
        mu0 /= mu0.sum()
    return MDP(P, mu0, discount, absorbing=absorbing or None)


def discounts(max_discount: float = MAX_DISCOUNT) -> st.SearchStrategy[float]:
    """``gamma`` in [0, max_discount]: the special values 0, 0.5, 0.9, 0.95, 0.99 and anything between."""
    special = [g for g in SPECIAL_DISCOUNTS if g <= max_discount]
    return st.one_of(st.sampled_from(special), st.floats(0.0, max_discount, allow_nan=False))


@st.composite
def mdp_specs(
    draw,
    min_states: int = 2,
    max_states: int = 10,
    min_actions: int = 2,
    max_actions: int = 5,
    max_discount: float = MAX_DISCOUNT,
) -> MDPSpec:
    S = draw(st.integers(min_states, max_states))
    A = draw(st.integers(min_actions, max_actions))
    gamma = draw(discounts(max_discount))
    structure = draw(st.sampled_from(("dense", "sparse", "deterministic")))
    # at least one transient state keeps mu0 meaningful; absorbing states are optional
    n_absorbing = draw(st.integers(0, min(2, S - 1)))
    point_start = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return MDPSpec(seed, S, A, float(gamma), structure, n_absorbing, point_start)


def mdps(**kwargs) -> st.SearchStrategy[MDP]:
    """Random MDPs through :class:`trirl.tabular.MDP`; keyword arguments as :func:`mdp_specs`."""
    return mdp_specs(**kwargs).map(MDPSpec.build)


def reward_scales(max_scale: float = 100.0) -> st.SearchStrategy[float]:
    return st.sampled_from([s for s in REWARD_SCALES if s <= max_scale])


@st.composite
def rewards(draw, shape: tuple[int, int], max_scale: float = 100.0) -> np.ndarray:
    """A reward ``[S, A]`` (sometimes state-only, broadcast) at a scale in 1e-2 .. ``max_scale``."""
    scale = draw(reward_scales(max_scale))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        r = rng.normal(size=shape)
    else:
        r = np.broadcast_to(rng.normal(size=(shape[0], 1)), shape).copy()
    return scale * r


@st.composite
def policies(draw, shape: tuple[int, int]) -> np.ndarray:
    """A stochastic policy ``[S, A]``: Dirichlet rows with concentration 0.1 .. 10 (near-deterministic to near-uniform)."""
    concentration = draw(st.sampled_from((0.1, 1.0, 10.0)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pi = rng.dirichlet(np.full(shape[1], concentration), size=shape[0])
    # keep every probability representable in log space
    pi = np.maximum(pi, 1e-12)
    return pi / pi.sum(axis=1, keepdims=True)


def eps_values() -> st.SearchStrategy[float]:
    """``eps`` in (0, 1]."""
    return st.one_of(st.just(1.0), st.floats(1e-3, 1.0, allow_nan=False))


def betas(low: float = 1e-2, high: float = 1e2) -> st.SearchStrategy[float]:
    """``beta`` > 0, log-uniform in [low, high]."""
    return st.floats(np.log10(low), np.log10(high), allow_nan=False).map(lambda x: float(10.0**x))


def etas(high: float = 1e3) -> st.SearchStrategy[float]:
    """``eta`` >= 0: exactly 0 (plain MCE-IRL step) or log-uniform in [1e-3, high]."""
    return st.one_of(st.just(0.0), st.floats(-3.0, np.log10(high), allow_nan=False).map(lambda x: float(10.0**x)))


class IRLCase(NamedTuple):
    """An MDP with an expert occupancy, a current MCE pair ``(reward, pi_old)`` and a TRIRL step."""

    mdp: MDP
    spec: MDPSpec
    rho_expert: np.ndarray
    reward: np.ndarray
    eps: float
    beta: float
    eta: float
    expert_reward: np.ndarray | None = None


@st.composite
def irl_cases(draw, max_states: int = 10, max_discount: float = MAX_DISCOUNT, max_scale: float = 100.0) -> IRLCase:
    """An IRL problem: the expert is soft-optimal for a random reward, so ``rho_E`` is a true
    occupancy (positive on every reachable pair, mass ``1 / (1 - gamma)``); ``reward`` is the
    current ``r^(i)``, whose MCE policy is ``pi_old``."""
    from trirl.tabular import occupancy, solve

    spec = draw(mdp_specs(max_states=max_states, max_discount=max_discount))
    mdp = spec.build()
    expert_reward = draw(rewards(mdp.shape, max_scale=min(max_scale, 10.0)))
    rho_e = occupancy(mdp, solve(mdp, expert_reward).policy)
    # the expert occupancy is positive wherever the MDP can go; floor the rounding
    rho_e = np.where(mdp.reachable[:, None], np.maximum(rho_e, 1e-300), 0.0)
    rho_e *= mdp.mass / rho_e.sum()
    reward = draw(rewards(mdp.shape, max_scale=max_scale))
    return IRLCase(mdp, spec, rho_e, reward, draw(eps_values()), draw(betas()), draw(etas()), expert_reward)


# ---------------------------------------------------------------------------------------------
# combined draws, one per property shape


@st.composite
def mdp_policy(draw, **kwargs):
    """``(mdp, policy)``."""
    mdp = draw(mdps(**kwargs))
    return mdp, draw(policies(mdp.shape))


@st.composite
def mdp_reward(draw, max_scale: float = 100.0, **kwargs):
    """``(mdp, reward)``."""
    mdp = draw(mdps(**kwargs))
    return mdp, draw(rewards(mdp.shape, max_scale=max_scale))


@st.composite
def mdp_reward_policy(draw, **kwargs):
    """``(mdp, reward, policy)``."""
    mdp = draw(mdps(**kwargs))
    return mdp, draw(rewards(mdp.shape)), draw(policies(mdp.shape))


@st.composite
def mdp_reward_potential(draw, **kwargs):
    """``(mdp, reward, potential[S])``: a potential at one of the reward scales."""
    mdp = draw(mdps(**kwargs))
    reward = draw(rewards(mdp.shape))
    potential = draw(rewards((mdp.n_states, 1)))[:, 0]
    return mdp, reward, potential


def reward_offsets(max_offset: float = 1e8) -> st.SearchStrategy[float]:
    """A constant ``c`` to add to a reward: 0, ``+-max_offset``, or ``+-10^u`` with ``u`` uniform up
    to ``log10(max_offset)``."""
    exponents = st.floats(0.0, float(np.log10(max_offset)), allow_nan=False)
    sizes = st.one_of(st.just(float(max_offset)), exponents.map(lambda u: 10.0**u))
    return st.one_of(st.just(0.0), st.tuples(st.sampled_from((-1.0, 1.0)), sizes).map(lambda t: t[0] * t[1]))


@st.composite
def mdp_reward_offset(draw, max_discount: float = 0.999, **kwargs):
    """``(mdp, reward, offset)`` with discounts up to 0.999 and offsets up to ``1e8`` in size."""
    mdp = draw(mdps(max_discount=max_discount, **kwargs))
    return mdp, draw(rewards(mdp.shape)), draw(reward_offsets())


@st.composite
def irl_case_policy(draw, **kwargs):
    """``(case, policy)``."""
    case = draw(irl_cases(**kwargs))
    return case, draw(policies(case.mdp.shape))


@st.composite
def irl_case_seed(draw, **kwargs):
    """``(case, seed)``: a seed for random directions."""
    return draw(irl_cases(**kwargs)), draw(st.integers(0, 2**32 - 1))


KL_BOUNDS = (1e-3, 1e-2, 1e-1, 1.0)


@st.composite
def irl_case_kl_bound(draw, **kwargs):
    """``(case, zeta)`` with the trust-region bound ``zeta`` in 1e-3 .. 1."""
    return draw(irl_cases(**kwargs)), draw(st.sampled_from(KL_BOUNDS))


@st.composite
def stepped_cases(draw, max_nu: float = 1.0, max_states: int = 10, max_discount: float = MAX_DISCOUNT):
    """An :class:`IRLCase` whose TRIRL step has normalised size ``nu = eps_tr + alpha lambda`` in
    ``[0.02, max_nu]``, where ``eps_tr = eps / (1 + eta)``, ``alpha = eps_tr beta`` and ``lambda``
    is the largest eigenvalue of ``J = d log rho / d r`` at both ends of the iteration's path:
    the larger of its values at ``r = 0`` (the start) and at the expert's reward (near the fixed
    point) (:func:`trirl.tabular.analysis.jacobian_lambda_max`; ``book/findings.md``). The
    expert's end alone is not enough: the thorough run found a 2-state MDP with ``lambda = 1.00``
    there and 1.76 at ``r = 0``, where the first steps oscillate with period 2.

    Drawn as ``nu``, a split ``f = eps_tr / kappa`` in [1e-4, 0.99] (``beta = (1 - f) / f``) and
    ``eta >= 0`` with ``eps = eps_tr (1 + eta) <= 1``; then ``kappa = nu / (f + (1 - f) lambda)``."""
    base = draw(irl_cases(max_states=max_states, max_discount=max_discount, max_scale=10.0))
    lam = max(jacobian_lambda_max(base.mdp, base.expert_reward), jacobian_lambda_max(base.mdp, np.zeros(base.mdp.shape)))
    nu = draw(st.floats(0.02, max_nu, allow_nan=False))
    f = draw(st.one_of(st.just(1e-4), st.floats(-4.0, np.log10(0.99), allow_nan=False).map(lambda x: float(10.0**x))))
    kappa = nu / (f + (1.0 - f) * lam)
    # eps_tr = f kappa <= 1; when that binds, keep nu = eps_tr + alpha lambda by shrinking alpha
    eps_tr = min(1.0, f * kappa)
    alpha = max((nu - eps_tr) / lam, 1e-2 * eps_tr)
    beta = alpha / eps_tr
    # any eta with eps = eps_tr (1 + eta) <= 1 gives the same corrected step (Theorem 3.2)
    u = draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0, allow_nan=False)))
    eta = u * (1.0 / eps_tr - 1.0)
    eps = min(1.0, eps_tr * (1.0 + eta))
    return base._replace(eps=eps, beta=beta, eta=eta)


# -- grid worlds as users write them (gridworlds/README.md) -----------------------------------------

USER_DISCOUNTS = (0.5, 0.9, 0.95, 0.99)
USER_ABSORBING = (("goal", "lava"), ("goal",), ())


class UserWorld(NamedTuple):
    """A grid world in the documented format (``gridworlds/README.md``): a map and its settings.

    ``text()`` is the map file, ``toml()`` the settings file a user would write (so that a
    counterexample can be pasted into a test or saved next to the shipped worlds), and ``build()``
    the :class:`~trirl.tabular.gridworld.GridWorld` that ``gridworld.load`` makes of them."""

    cells: tuple[str, ...]
    discount: float
    step_cost: float
    slip_floor: float
    slip_ice: float
    wind_direction: str
    wind_probability: float
    start: str  # "marked" or "uniform"
    absorbing: tuple[str, ...]

    def text(self) -> str:
        return "\n".join(self.cells) + "\n"

    def toml(self, map_file: str = "world.txt") -> str:
        absorbing = ", ".join(f'"{t}"' for t in self.absorbing)
        return (f'map = "{map_file}"\ndiscount = {self.discount}\nstep_cost = {self.step_cost}\n'
                f'absorbing = [{absorbing}]\nstart = "{self.start}"\n\n[rewards]\ngoal = 3.0\nlava = -3.0\n\n'
                f'[slip]\nfloor = {self.slip_floor}\nice = {self.slip_ice}\n\n'
                f'[wind]\ndirection = "{self.wind_direction}"\nprobability = {self.wind_probability}\n')

    def build(self):
        from trirl.tabular.gridworld import GridSpec, Wind, from_cells

        spec = GridSpec(discount=self.discount, step_cost=self.step_cost, slip={"floor": self.slip_floor, "ice": self.slip_ice},
                        wind=Wind(self.wind_direction, self.wind_probability), absorbing=self.absorbing, start=self.start)
        return from_cells(self.cells, spec, name="user_world")


@st.composite
def user_worlds(draw, max_rows: int = 6, max_cols: int = 8) -> UserWorld:
    """A world as a user writes one: 2..``max_rows`` x 2..``max_cols`` cells, walls (0-35 %), ice
    or not, one or two goals, 0-3 lava cells, one start cell ``S``, slip 0-0.3 on floor and
    0.3-0.6 on ice, wind or not, discount 0.5-0.99, marked or uniform starts, goal and lava
    absorbing or not, step cost 0 or -0.1, the shipped reward scales (goal 3, lava -3). The map
    comes from a seeded generator; shrinking moves to small, open, windless worlds."""
    rows, cols = draw(st.integers(2, max_rows)), draw(st.integers(2, max_cols))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    walls, ice = draw(st.sampled_from((0.0, 0.2, 0.35))), draw(st.booleans())
    grid = np.where(rng.random((rows, cols)) < walls, "#", ".")
    if ice:
        grid[(grid == ".") & (rng.random((rows, cols)) < 0.3)] = "~"
    n_goals, n_lava = draw(st.integers(1, 2)), draw(st.integers(0, 3))
    places = rng.permutation(rows * cols)[: min(rows * cols, 1 + n_goals + n_lava)]
    for k, flat in enumerate(places):
        grid[divmod(int(flat), cols)] = "S" if k == 0 else ("G" if k <= n_goals else "L")
    wind = draw(st.one_of(st.just(("up", 0.0)), st.tuples(st.sampled_from(("up", "down", "left", "right")),
                                                          st.sampled_from((0.1, 0.3)))))
    return UserWorld(
        cells=tuple("".join(row) for row in grid),
        discount=draw(st.sampled_from(USER_DISCOUNTS)),
        step_cost=draw(st.sampled_from((0.0, -0.1))),
        slip_floor=draw(st.sampled_from((0.0, 0.1, 0.3))),
        slip_ice=draw(st.sampled_from((0.3, 0.6))),
        wind_direction=wind[0],
        wind_probability=wind[1],
        start=draw(st.sampled_from(("marked", "uniform"))),
        absorbing=draw(st.sampled_from(USER_ABSORBING)),
    )
