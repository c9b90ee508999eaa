"""Import Gymnasium's toy-text environments (FrozenLake, CliffWalking, Taxi) as exact MDPs.

These environments carry their full model: ``env.unwrapped.P[s][a]`` is a list of
``(prob, next_state, reward, terminated)`` tuples and ``env.unwrapped.initial_state_distrib``
is ``mu0``. :func:`from_gymnasium` turns them into an :class:`MDP` and a reward ``[S, A]``.

Where the reward lands. Gymnasium pays ``reward`` on the transition ``(s, a, s')``; trirl's
rewards are functions of ``(s, a)``, so the converted reward is the expectation over the next
state, ``r(s, a) = sum_i prob_i * reward_i``. Q-values, soft values, policies and occupancies
only ever see this expectation (``Q = r + gamma P V`` is linear in the reward), so nothing is
lost. FrozenLake's +1 thus sits on the ``(s, a)`` pairs that may step onto the goal, with
weight equal to the probability of getting there.

Where an episode ends. A ``terminated`` transition leads to an absorbing state (paper
Appendix C.4): it loops to itself under every action with reward 0, so the discounted sum of
rewards equals the episode return of Gymnasium and no termination bias is hidden. Two ways:

- ``terminal="in_place"`` (default): every state entered by a terminated transition becomes
  absorbing itself (FrozenLake's holes and goal, CliffWalking's goal, Taxi's delivered
  states); the state space is Gymnasium's, index for index. Exact only if such a state is
  never entered by a non-terminated transition from a state reachable from ``mu0``
  (unreachable states cannot change any occupancy); otherwise an
  :class:`InvalidMDPError` names the clash and suggests ``terminal="copy"``.
- ``terminal="copy"``: one absorbing state is appended per state entered by a terminated
  transition (state ``n_env + k`` copies terminal state ``terminal_source[k]``), and only
  the terminated transitions go there. Always exact; the original states keep Gymnasium's
  dynamics.

Time limits (``TimeLimit`` truncation) are not part of ``P`` and are ignored: the discount
plays their role.

Soft values are not episode returns. An absorbing state keeps the entropy term: the soft policy
there is uniform and earns ``T log A`` every step, so ``V = T log A / (1 - gamma)`` in every
absorbing state, exactly what a live state earns from a uniform policy. Ending an episode is
therefore entropy-neutral: there is no survival bonus for staying alive to collect entropy and
no penalty for arriving, and only the reward differences decide the policy. The price is that
soft values do not read as Gymnasium returns: on FrozenLake 4x4 at ``gamma = 0.99`` and
temperature 1, soft ``V(start)`` is about 138.64, close to ``log 4 / 0.01 = 138.63``, while no
episode returns more than 1 (the best discounted return from the start is 0.54). Compare
returns with the reward alone (``occupancy`` times ``reward``), not with soft values
(``tests/tabular/test_gym.py::test_soft_values_keep_the_entropy_in_absorbing_states``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from trirl.errors import InvalidConfigError, InvalidMDPError
from trirl.tabular.mdp import MDP

TERMINAL_MODES = ("in_place", "copy")


class GymMDP(NamedTuple):
    """A converted Gymnasium environment.

    Attributes:
        mdp: the MDP; states ``0 .. n_env - 1`` are Gymnasium's observations and actions are
            Gymnasium's (e.g. FrozenLake: left, down, right, up; CliffWalking: up, right, down,
            left; Taxi: south, north, east, west, pickup, dropoff).
        reward: ``[S, A]`` expected reward ``r(s, a) = E[reward | s, a]``, 0 in absorbing states.
        terminal: indices of the absorbing states that stand for episode ends.
        source: ``[S]`` the Gymnasium state each MDP state stands for (identity, except that a
            copied terminal state points to the state it copies).
    """

    mdp: MDP
    reward: np.ndarray
    terminal: np.ndarray
    source: np.ndarray


def from_gymnasium(env, discount: float = 0.99, *, terminal: str = "in_place", initial=None) -> GymMDP:
    """Convert a toy-text environment (or its id, e.g. ``"FrozenLake-v1"``) to an MDP.

    Args:
        env: a Gymnasium environment whose ``unwrapped`` has a transition table ``P``, or an id
            passed to ``gymnasium.make``.
        discount: ``gamma`` in ``[0, 1)``.
        terminal: ``"in_place"`` or ``"copy"``: how terminated transitions become absorbing
            states (module docstring).
        initial: ``[n_env]`` initial distribution; defaults to the env's
            ``initial_state_distrib``.

    Raises:
        ModuleNotFoundError: ``env`` is an id and Gymnasium is not installed (``trirl[gym]``).
        InvalidConfigError: the env has no ``P`` table or no initial distribution, or
            ``terminal`` is unknown.
        InvalidMDPError: the table is not a valid MDP, or ``in_place`` would change the dynamics.
    """
    if isinstance(env, str):
        try:
            import gymnasium
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                f"from_gymnasium({env!r}) needs Gymnasium, an optional dependency of trirl: "
                "pip install 'trirl[gym]' (or pip install gymnasium)", name="gymnasium") from err

        env = gymnasium.make(env)
    if terminal not in TERMINAL_MODES:
        raise InvalidConfigError(f"terminal is {terminal!r}, expected one of {list(TERMINAL_MODES)}")
    base = getattr(env, "unwrapped", env)
    table = getattr(base, "P", None)
    if not isinstance(table, dict) or not table:
        raise InvalidConfigError(
            f"{type(base).__name__} has no transition table P[s][a] = [(prob, next_state, reward, terminated)]; "
            "from_gymnasium supports model-based toy-text envs such as FrozenLake, CliffWalking and Taxi"
        )
    entries = _entries(table)
    n_env, n_actions = len(table), len(table[0])  # _entries checked the table is complete
    if initial is None:
        initial = getattr(base, "initial_state_distrib", None)
        if initial is None:
            raise InvalidConfigError(f"{type(base).__name__} has no initial_state_distrib; pass initial=[S]")
    initial = np.asarray(initial, dtype=float)
    if initial.shape != (n_env,):
        raise InvalidConfigError(f"initial has shape {initial.shape}, expected [S] = [{n_env}]")

    state, action, prob, next_state, reward, done = entries
    ends = np.unique(next_state[done & (prob > 0)])
    if terminal == "in_place":
        _check_in_place(ends, entries, initial)
        n_states, source, absorbing = n_env, np.arange(n_env), ends
        live = ~np.isin(state, ends)
        target = next_state
    else:
        n_states = n_env + len(ends)
        source = np.concatenate([np.arange(n_env), ends])
        absorbing = n_env + np.arange(len(ends))
        live = np.ones(len(state), dtype=bool)
        target = np.where(done, n_env + np.searchsorted(ends, next_state), next_state)

    loops = np.repeat(absorbing, n_actions)
    loop_rows = loops * n_actions + np.tile(np.arange(n_actions), len(absorbing))
    rows = np.concatenate([state[live] * n_actions + action[live], loop_rows])
    cols = np.concatenate([target[live], loops])
    vals = np.concatenate([prob[live], np.ones(len(loops))])
    transitions = sp.coo_matrix((vals, (rows, cols)), shape=(n_states * n_actions, n_states)).tocsr()
    expected = np.zeros(n_states * n_actions)
    np.add.at(expected, state[live] * n_actions + action[live], prob[live] * reward[live])
    mu0 = np.concatenate([initial, np.zeros(n_states - n_env)])
    mdp = MDP(transitions, mu0, discount, absorbing=absorbing.astype(int), n_actions=n_actions)
    return GymMDP(mdp, expected.reshape(n_states, n_actions), absorbing.astype(int), source)


def _entries(table: dict):
    """Flatten ``P[s][a]`` into arrays ``(state, action, prob, next_state, reward, terminated)``."""
    if 0 not in table:
        raise InvalidMDPError("P has no state 0; expected states 0 .. S - 1 as keys")
    n_states, n_actions = len(table), len(table[0])
    flat = []
    for s in range(n_states):
        if s not in table or len(table[s]) != n_actions:
            raise InvalidMDPError(f"P[{s}] is missing or has {len(table.get(s, {}))} actions, expected {n_actions}")
        for a in range(n_actions):
            if a not in table[s] or not table[s][a]:
                raise InvalidMDPError(f"P[{s}][{a}] is missing or empty")
            for outcome in table[s][a]:
                if len(outcome) != 4:
                    raise InvalidMDPError(
                        f"P[{s}][{a}] has {outcome!r}, expected (prob, next_state, reward, terminated)"
                    )
                p, s_next, r, done = outcome
                if not 0 <= int(s_next) < n_states:
                    raise InvalidMDPError(f"P[{s}][{a}] leads to state {s_next}, out of range [0, {n_states})")
                flat.append((s, a, float(p), int(s_next), float(r), bool(done)))
    s, a, p, s_next, r, done = map(np.array, zip(*flat))
    if not np.isfinite(r).all():
        bad = np.flatnonzero(~np.isfinite(r))[0]
        raise InvalidMDPError(f"P[{s[bad]}][{a[bad]}] has reward {r[bad]}, expected a finite number")
    return s, a, p, s_next, r, done


def _check_in_place(ends, entries, initial) -> None:
    """Making ``ends`` absorbing is exact only if no transition from a state reachable from
    ``mu0`` (without passing an episode end) enters them un-terminated; unreachable states,
    such as Taxi's "passenger already delivered" states, cannot change any occupancy."""
    state, action, prob, next_state, _, done = entries
    n_env = len(initial)
    step = (prob > 0) & ~done & ~np.isin(state, ends)
    graph = sp.csr_matrix((np.ones(step.sum()), (state[step], next_state[step])), shape=(n_env, n_env))
    reachable = np.zeros(n_env, dtype=bool)
    for start in np.flatnonzero(initial > 0):
        if not reachable[start]:
            reachable[breadth_first_order(graph, start, return_predecessors=False)] = True
    clash = step & np.isin(next_state, ends) & reachable[state]
    if clash.any():
        i = np.flatnonzero(clash)[0]
        raise InvalidMDPError(
            f"state {next_state[i]} ends episodes but P[{state[i]}][{action[i]}] enters it without terminating; "
            'use terminal="copy"'
        )
