"""The Gymnasium v5 locomotion suite on MJX (envs/locomotion.py, version 2) against Gymnasium's own
environments: observation layout, health, progress and reset noise from the same state; the
transfer variants' physics; the per-task base features. The agreement of states over k steps is
in test_suite_equivalence.py (slow)."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
mujoco = pytest.importorskip("mujoco")
gymnasium = pytest.importorskip("gymnasium")
pytest.importorskip("imageio")  # gymnasium[mujoco]
from trirl.continuous.envs.mjx import mjx  # noqa: E402

from trirl.continuous import envs  # noqa: E402
from trirl.continuous.envs import features, locomotion  # noqa: E402
from trirl.continuous.envs.locomotion import LocomotionConfig  # noqa: E402
from trirl.errors import InvalidConfigError  # noqa: E402

pytestmark = pytest.mark.continuous

BASE_TASKS = ("half_cheetah", "hopper", "walker2d", "ant", "humanoid")


def _gym(task, **kwargs):
    config = LocomotionConfig(robot=task, version=2)
    if task in ("ant", "humanoid"):
        kwargs.setdefault("include_cfrc_ext_in_observation", False)
    return config, gymnasium.make(config.task.gym_id, **kwargs).unwrapped


def test_registry_lists_every_locomotion_task():
    assert sorted(envs.LOCOMOTION_NAMES) == sorted(locomotion.TASK_NAMES)
    assert set(envs.ENV_NAMES) >= set(locomotion.TASK_NAMES)


@pytest.mark.parametrize("task", BASE_TASKS)
def test_observation_health_and_progress_are_gymnasiums_from_the_same_state(task):
    config, env = _gym(task)
    model = locomotion.load_model(config)
    rng = np.random.default_rng(0)
    for trial in range(4):
        obs, _ = env.reset(seed=trial)
        if trial >= 2:  # states far from the start, healthy or not
            qpos = env.data.qpos + rng.normal(0, 0.3, env.model.nq)
            env.set_state(qpos, env.data.qvel + rng.normal(0, 3.0, env.model.nv))
            obs = env._get_obs()
        data = mjx.put_data(model, env.data)
        np.testing.assert_allclose(np.asarray(locomotion.observation(config, data)), obs, rtol=1e-5, atol=1e-5)
        gym_healthy = getattr(env, "is_healthy", True)
        assert bool(locomotion.is_healthy(config, data)) == bool(gym_healthy)
        expected_x = {"qpos": env.data.qpos[0], "torso": env.data.body(1).xpos[0],
                      "com": (env.model.body_mass @ env.data.xipos[:, 0]) / env.model.body_mass.sum()}[config.task.progress]
        assert float(locomotion.forward_position(config, mjx.put_model(model), data)) == pytest.approx(expected_x, abs=1e-5)
    assert model.opt.timestep * config.frame_skip == pytest.approx(env.dt)
    assert locomotion.observation_size(config, model) == env.observation_space.shape[0]
    assert locomotion.observation_structure(config, model) == {
        k: v for k, v in env.observation_structure.items() if k != "skipped_qpos" and v}


def test_contact_forces_in_the_observation_follow_gymnasiums_layout():
    config = LocomotionConfig(robot="ant", version=2, include_cfrc_ext_in_observation=True)
    env = gymnasium.make("Ant-v5").unwrapped
    obs, _ = env.reset(seed=0)
    for _ in range(10):  # let the feet touch the floor
        obs, *_ = env.step(np.zeros(8))
    model = locomotion.load_model(config)
    data = mjx.put_data(model, env.data)
    np.testing.assert_allclose(np.asarray(locomotion.observation(config, data)), obs, rtol=1e-5, atol=1e-5)
    assert np.abs(obs[27:]).max() > 0  # the contact forces are in it, not zeros


def test_the_transfer_variants_change_only_their_physics():
    cheetah = locomotion.load_model(LocomotionConfig(robot="half_cheetah"))
    windy = locomotion.load_model(LocomotionConfig(robot="half_cheetah_windy"))
    mars = locomotion.load_model(LocomotionConfig(robot="half_cheetah_mars"))
    assert tuple(windy.opt.wind) == (-5.0, 0.0, 0.0) and windy.opt.density == 1.2 and cheetah.opt.density == 0
    assert tuple(mars.opt.gravity) == (0.0, 0.0, -3.73) and tuple(cheetah.opt.gravity) == (0.0, 0.0, -9.81)
    # at rest, the wind pushes the cheetah backwards (-x); without it nothing does
    for model, sign in ((windy, -1), (cheetah, 0)):
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        assert np.sign(round(float(data.qfrc_passive[0]), 6)) == sign
    ant = locomotion.load_model(LocomotionConfig(robot="ant", version=2))
    disabled = locomotion.load_model(LocomotionConfig(robot="ant_disabled", version=2))
    names = [mujoco.mj_id2name(ant, mujoco.mjtObj.mjOBJ_JOINT, j) for j in ant.actuator_trnid[:, 0]]
    gears = dict(zip(names, disabled.actuator_gear[:, 0]))
    assert names[:4] == ["hip_4", "ankle_4", "hip_1", "ankle_1"]
    assert [gears[j] for j in ("hip_1", "ankle_1", "hip_4", "ankle_4")] == [0, 0, 0, 0]
    assert [gears[j] for j in ("hip_2", "ankle_2", "hip_3", "ankle_3")] == list(ant.actuator_gear[4:, 0])
    for geom in ("left_ankle_geom", "fourth_ankle_geom", "left_leg_geom"):  # forward legs: a quarter
        assert disabled.geom(geom).size[1] == pytest.approx(ant.geom(geom).size[1] / 4)
    for geom in ("right_ankle_geom", "third_ankle_geom", "aux_1_geom"):  # the others, and the hips' aux geoms
        assert disabled.geom(geom).size[1] == pytest.approx(ant.geom(geom).size[1])


def test_version_1_keeps_the_old_models_and_version_2_is_the_default_of_the_new_tasks():
    assert LocomotionConfig(robot="ant").version == 1 and LocomotionConfig(robot="hopper").version == 2
    old = locomotion.load_model(LocomotionConfig(robot="ant"))
    assert old.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER and old.opt.iterations == 1
    new = locomotion.load_model(LocomotionConfig(robot="ant", version=2))
    assert new.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4
    assert LocomotionConfig(robot="ant", version=2).contact_cost_weight == 5e-4
    assert LocomotionConfig(robot="ant").contact_cost_weight == 0.0


@pytest.mark.parametrize("options, message", [
    ({"robot": "hopper", "version": 1}, "LocomotionConfig.version of 'hopper' must be 2, got 1"),
    ({"robot": "ant", "version": 3}, "LocomotionConfig.version of 'ant' must be 1 or 2, got 3"),
    ({"robot": "hopper", "integrator": "verlet"}, "LocomotionConfig.integrator must be one of"),
    ({"robot": "hopper", "contacts": "none"}, "LocomotionConfig.contacts must be 'model' or 'floor'"),
    ({"robot": "half_cheetah_windy", "wind": (1.0, 2.0)}, r"LocomotionConfig.wind must be 3 numbers"),
    ({"robot": "half_cheetah_mars", "gravity": -1.0}, "LocomotionConfig.gravity must be >= 0"),
    ({"robot": "ant", "include_cfrc_ext_in_observation": True}, "version 1 computes no contact forces"),
    ({"robot": "swimmer"}, "LocomotionConfig.robot must be one of"),
    ({"robot": "hopper", "max_qvel": float("nan")}, r"LocomotionConfig.max_qvel must be > 0 \(inf: no bound\), got nan"),
])
def test_bad_options_name_the_field(options, message):
    with pytest.raises(InvalidConfigError, match=message):
        LocomotionConfig(**options)


@pytest.mark.parametrize("family", ["half_cheetah", "hopper", "walker2d", "humanoid"])
def test_paper_features_read_the_forward_velocity_the_control_and_the_height(family):
    config = LocomotionConfig(robot=family, version=2)
    model = locomotion.load_model(config)
    qpos_size = locomotion.observation_structure(config, model)["qpos"]
    paper, generic = features.get(f"{family}:paper"), features.get(f"{family}:generic")
    obs = np.random.default_rng(0).normal(size=(5, paper.observation_size)).astype(np.float32)
    action = np.random.default_rng(1).uniform(-2, 2, (5, paper.action_size)).astype(np.float32)
    phi = np.asarray(paper.fn(obs, action))
    np.testing.assert_allclose(phi[:, 0], obs[:, qpos_size])  # qvel[0], the first velocity
    np.testing.assert_allclose(phi[:, 1], -np.sum(np.clip(action, -1, 1) ** 2, axis=1), rtol=1e-6)
    if family != "half_cheetah":
        np.testing.assert_allclose(phi[:, 2], obs[:, 0])  # the height: the first observed qpos
    assert paper.observation_size == locomotion.observation_size(config, model) == generic.observation_size
    assert generic.size == generic.fn(obs, action).shape[-1] == paper.observation_size + 2 * paper.action_size
    if family == "half_cheetah":
        for variant in ("half_cheetah_windy", "half_cheetah_mars"):
            assert features.check_env(f"{family}:paper", variant) is paper


@pytest.mark.slow
@pytest.mark.parametrize("task", ["half_cheetah", "hopper"])
def test_reset_noise_has_gymnasiums_distribution(task):
    # HalfCheetah: qvel ~ 0.1 N(0, 1); Hopper: qvel ~ U(-5e-3, 5e-3) (std 5e-3 / sqrt 3)
    config, env = _gym(task)
    resets = jax.jit(jax.vmap(envs.make(task).reset))(jax.random.split(jax.random.PRNGKey(0), 512))
    ours = np.asarray(resets.physics.qvel)
    theirs = np.stack([env.reset(seed=i)[0][-env.model.nv:] for i in range(512)])
    if task == "hopper":
        theirs = np.clip(theirs, -10, 10)
    assert np.std(ours) == pytest.approx(np.std(theirs), rel=0.1)
    # the shape: a normal with std s exceeds s about 32 % of the time, a uniform on [-s, s] never
    beyond = np.mean(np.abs(ours) > config.reset_noise_scale)
    assert beyond == pytest.approx(0.32, abs=0.04) if task == "half_cheetah" else beyond == 0


def test_half_cheetah_total_mass_is_set_without_the_deprecated_compiler_attribute(capfd):
    """Gymnasium's HalfCheetah asks for ``settotalmass="14"``: trirl's compilation gives the
    same model bit for bit, and MuJoCo prints no deprecation warning on it."""
    text = locomotion.model_xml(LocomotionConfig(robot="half_cheetah"))
    assert 'settotalmass="14"' in text
    capfd.readouterr()
    ours = locomotion.compile_model(text)
    assert "settotalmass" not in capfd.readouterr().out
    reference = mujoco.MjModel.from_xml_string(text)
    for field in ("body_mass", "body_inertia", "body_subtreemass", "dof_invweight0", "body_invweight0",
                  "actuator_acc0", "dof_M0"):
        assert np.array_equal(getattr(ours, field), getattr(reference, field)), field
    assert np.isclose(ours.body_mass.sum(), 14.0)


def test_importing_the_suite_prints_nothing():
    """MJX's notice that its optional Warp backend is missing is not shown to trirl's users."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import trirl.continuous.envs.locomotion"],
                          capture_output=True, text=True, check=True)
    assert "warp" not in done.stdout.lower(), done.stdout
    assert done.stdout == ""
