"""Base features ``phi(s, a)`` for the feature-based TRIRL variant (paper Section 5.1, Appendix B).

The feature-based variant learns a reward that is linear in known base features,
``r(s, a) = theta^T phi(s, a)`` (a discriminator with ``hidden_sizes = ()``), or linear in a
learnt non-linear transformation ``psi(phi(s, a))`` of them (``hidden_sizes`` non-empty). Every
buffered discriminator and ``R_fit`` then share one input, so the buffer, the correction and the
fitted reward work unchanged; with the linear head each buffered discriminator is a weight vector
and the fitted reward can represent the corrected one exactly.

An environment family declares its feature sets here under ``"<family>:<set>"``; the transfer
variants of a family (``point_maze_mirrored``, ``ant_disabled``) use the **same** definitions,
which is what makes a learnt ``theta`` transferable. Each set is a pure function
``phi(obs [..., O], action [..., A]) -> [..., F]`` of the observation and the executed (clipped)
action; ``FEATURE_SETS[name].size`` is ``F``.

What each set gives away (a reader comparing results must know):

- ``point_maze:goal``: ``[-||p - g||, -||a||^2]``, the negative distance of the position to the
  goal and the control cost: the true reward's own terms (the paper's released code uses these
  two). A linear reward in them is the true reward up to scale; the expert's path around the wall
  is *not* in the features, so the wall is learnt by nobody and only the weight on the distance
  matters. This set contains the answer.
- ``point_maze:rbf``: Gaussian radial basis functions of the position on a 5 x 5 grid over the
  unit square (width 0.25) plus the squared action components ``a_1^2, a_2^2``. Nothing names the
  goal: a linear reward in them must place the goal by weighting the bumps near it, and it can
  also pay for any other region the demonstrations visit (the path through the gap), which does
  not transfer to the mirrored maze.
- ``ant:paper``: ``[v_x, -sum(clip(a)^2), z]`` of the observation ``s`` the action is taken in:
  the torso's forward velocity ``qvel[0]`` (``obs[13]``), the control cost (Ant's v5 reward charges
  ``0.5 * sum(ctrl^2)``, ``ctrl = clip(a, -1, 1)``) and the torso height ``qpos[2]`` (``obs[0]``),
  the terms of the authors' released Ant features (their ``feature_from_transition``). These are
  the true reward's own terms: ``r = (x' - x) / dt + healthy - 0.5 sum(ctrl^2)``, where the
  step's mean velocity ``(x' - x) / dt`` is the velocity ``v_x`` of the *next* observation up to
  the step's acceleration, the control cost is exact, and ``healthy`` (``0.2 <= z <= 1``) is 1 on
  every non-terminal step (unhealthy steps end in the absorbing state, which has its own learnt
  reward), so the bias carries it and ``z`` is the proxy the authors use. A linear reward in them
  is the true reward up to scale, a lag of one step in the velocity and the height term: fitted by
  least squares to the Ant expert's 30 x 1,000 demonstration rewards it explains R^2 = 0.95 with
  velocity weight 0.99 (true 1; the expert's nearly constant control cost leaves its weight
  poorly determined, 0.09 against 0.5; ``tests/continuous/test_features.py``). This set
  contains the answer; ``ant_disabled`` has the same observation layout and action size (its front
  legs' motors have gear 0 but their actions are still charged), so ``theta`` transfers as is.
- ``ant:generic``: the raw observation (27), the clipped action (8) and its squares (8), 43 in
  all, with no term chosen for the task. The forward velocity is one of the 27 coordinates and the
  control cost is the sum of the last 8, so a linear reward *can* represent the true one, but
  nothing singles these out: the discriminator must find them among joint angles and velocities
  that also tell the expert's gait apart from the learner's (what the expert *did*), and those
  weights need not transfer to ``ant_disabled``'s different legs. Meant for a learnt encoder
  ``psi`` (``hidden_sizes`` non-empty) or a linear head.
- ``lqr:quadratic``: every monomial of degree 1 and 2 of ``z = [s; clip(a)]`` (``z_i z_j`` for
  ``i <= j``, then ``z_i``), for the default 2-state, 2-action ``lqr`` instance (14 features);
  ``lqr:quadratic_NxM`` is the same map for ``N`` states and ``M`` actions (1..4 each). A
  quadratic reward ``theta^T phi + b`` is exactly the class the closed forms of
  :mod:`trirl.continuous.lq` handle (same order: ``lq.features``); it contains the true reward.

- ``half_cheetah:paper``, ``hopper:paper``, ``walker2d:paper``, ``humanoid:paper``: the same
  terms for the Gymnasium v5 suite (``envs/locomotion.py``): the forward velocity ``qvel[0]`` of
  ``s``, ``-sum(clip(a)^2)`` and (not for HalfCheetah, which never falls) the height ``z``. For
  HalfCheetah, Hopper and Walker2d they are the true reward's terms up to the one-step lag (the
  healthy bonus is again the bias); the Humanoid's reward pays the centre of mass's velocity and
  ``0.1 sum(ctrl^2)`` with ``ctrl = 0.4 clip(a)``, so its torso velocity is a proxy and the control
  term is the true one up to scale. The transfer variants (``half_cheetah_windy``,
  ``half_cheetah_mars``) observe the same layout, so ``theta`` transfers as is. These sets contain
  the answer.
- ``half_cheetah:generic``, ``hopper:generic``, ``walker2d:generic``, ``humanoid:generic``: the
  observation, the clipped action and its squares, as ``ant:generic``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from trirl.errors import InvalidConfigError


class FeatureSet(NamedTuple):
    """A named base-feature map of an environment family."""

    family: str  #: the environments it applies to: names equal to it or starting with ``family + "_"``
    size: int  #: number of features F
    fn: Callable[[jax.Array, jax.Array], jax.Array]  #: (obs [..., O], action [..., A]) -> [..., F]
    observation_size: int  #: O the map expects
    action_size: int  #: A the map expects


_POINT_MAZE_GOAL = (0.5, 0.8)  # trirl.continuous.envs.point_maze.GOAL (kept equal by a test)


@functools.cache
def _rbf_centres():
    """The ``[25, 2]`` RBF centres, computed on first use: JAX computes nothing at import, so that
    ``jax.distributed`` can start after it (:mod:`trirl.continuous.distributed`)."""
    with jax.ensure_compile_time_eval():  # a concrete array even when first used inside jit
        return jnp.stack(jnp.meshgrid(jnp.linspace(0.1, 0.9, 5), jnp.linspace(0.1, 0.9, 5), indexing="xy"),
                         axis=-1).reshape(-1, 2)

_RBF_WIDTH = 0.25


def _point_maze_goal(obs, action):
    distance = jnp.linalg.norm(obs[..., :2] - jnp.asarray(_POINT_MAZE_GOAL), axis=-1)
    return jnp.stack([-distance, -jnp.sum(jnp.square(action), axis=-1)], axis=-1)


def _point_maze_rbf(obs, action):
    squared = jnp.sum(jnp.square(obs[..., None, :2] - _rbf_centres()), axis=-1)
    return jnp.concatenate([jnp.exp(-0.5 * squared / _RBF_WIDTH**2), jnp.square(action)], axis=-1)


FEATURE_SETS: dict[str, FeatureSet] = {
    "point_maze:goal": FeatureSet("point_maze", 2, _point_maze_goal, 2, 2),
    "point_maze:rbf": FeatureSet("point_maze", 27, _point_maze_rbf, 2, 2),
}


def get(name: str) -> FeatureSet:
    """The feature set ``name`` (a key of ``FEATURE_SETS``); unknown names raise, listing them."""
    if name not in FEATURE_SETS:
        raise InvalidConfigError(
            f"features: unknown feature set {name!r}; choose one of {sorted(FEATURE_SETS)} (or '' for raw inputs)"
        )
    return FEATURE_SETS[name]


def check_env(name: str, env_name: str) -> FeatureSet:
    """``name``'s feature set, after checking it belongs to the environment ``env_name``."""
    features = get(name)
    if not (env_name == features.family or env_name.startswith(features.family + "_")):
        raise InvalidConfigError(
            f"[discriminator] features = {name!r} is defined for {features.family!r} environments, "
            f"not for {env_name!r}"
        )
    return features


# Ant / Ant-Disabled observation (envs/locomotion.py): qpos[2:] (13: z, quaternion, 8 joints) ++ qvel (14)
_ANT_OBS, _ANT_ACT = 27, 8
_ANT_Z, _ANT_VX = 0, 13  # torso height qpos[2], torso forward velocity qvel[0]


def _ant_paper(obs, action):
    ctrl = jnp.clip(action, -1.0, 1.0)
    return jnp.stack([obs[..., _ANT_VX], -jnp.sum(jnp.square(ctrl), axis=-1), obs[..., _ANT_Z]], axis=-1)


def _ant_generic(obs, action):
    ctrl = jnp.clip(action, -1.0, 1.0)
    return jnp.concatenate([obs, ctrl, jnp.square(ctrl)], axis=-1)


FEATURE_SETS.update({
    "ant:paper": FeatureSet("ant", 3, _ant_paper, _ANT_OBS, _ANT_ACT),
    "ant:generic": FeatureSet("ant", _ANT_OBS + 2 * _ANT_ACT, _ant_generic, _ANT_OBS, _ANT_ACT),
})


def _quadratic(obs, action):
    z = jnp.concatenate([obs, jnp.clip(action, -1.0, 1.0)], axis=-1)
    i, j = jnp.triu_indices(z.shape[-1])
    return jnp.concatenate([z[..., i] * z[..., j], z], axis=-1)


def _quadratic_set(n: int, m: int) -> FeatureSet:
    d = n + m
    return FeatureSet("lqr", d * (d + 1) // 2 + d, _quadratic, n, m)


FEATURE_SETS["lqr:quadratic"] = _quadratic_set(2, 2)
FEATURE_SETS.update({f"lqr:quadratic_{n}x{m}": _quadratic_set(n, m) for n in range(1, 5) for m in range(1, 5)})

def _reward_terms(velocity: int, height: int | None):
    """``[v_x, -sum(clip(a)^2)(, z)]`` read at observation indices ``velocity`` and ``height``."""

    def phi(obs, action):
        ctrl = jnp.clip(action, -1.0, 1.0)
        terms = [obs[..., velocity], -jnp.sum(jnp.square(ctrl), axis=-1)]
        if height is not None:
            terms.append(obs[..., height])
        return jnp.stack(terms, axis=-1)

    return phi


# The Gymnasium v5 tasks (envs/locomotion.py, version 2): (family, observation size, action size,
# index of the forward velocity, index of the height or None). Planar robots observe qpos[1:] ++ qvel,
# so z is obs[0] and v_x = qvel[0] is obs[nq - 1]; the Humanoid observes qpos[2:] (22) first, and
# its torso's v_x (obs[22]) stands in for the centre of mass's that its reward pays.
_SUITE = (
    ("half_cheetah", 17, 6, 8, None),
    ("hopper", 11, 3, 5, 0),
    ("walker2d", 17, 6, 8, 0),
    ("humanoid", 270, 17, 22, 0),
)
for _family, _obs, _act, _vx, _z in _SUITE:
    FEATURE_SETS[f"{_family}:paper"] = FeatureSet(_family, 2 + (_z is not None), _reward_terms(_vx, _z), _obs, _act)
    FEATURE_SETS[f"{_family}:generic"] = FeatureSet(_family, _obs + 2 * _act, _ant_generic, _obs, _act)


__all__ = ["FEATURE_SETS", "FeatureSet", "check_env", "get"]
