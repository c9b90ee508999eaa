"""trirl demos import / inspect: Minari datasets, the TRIRL authors' npz and imitation's npz into
trirl's schema, with the environment, dt, observation layout, action bounds and absorbing ends checked."""

import numpy as np
import pytest

pytest.importorskip("mujoco")
gymnasium = pytest.importorskip("gymnasium")

from trirl.continuous import demo_formats  # noqa: E402
from trirl.continuous.demos import load_demonstrations  # noqa: E402
from trirl.errors import DemonstrationWarning, InvalidConfigError, InvalidDemonstrationError  # noqa: E402

pytestmark = pytest.mark.continuous

HOPPER_OBS, HOPPER_ACT = 11, 3


def _episodes(rng, lengths=(5, 3), obs=HOPPER_OBS, act=HOPPER_ACT):
    """Continuous trajectories (next_states[t] == states[t + 1] within an episode)."""
    out = []
    for t in lengths:
        states = rng.normal(size=(t + 1, obs))
        out.append((states, rng.uniform(-1, 1, (t, act)), rng.normal(size=t)))
    return out


def _authors_npz(path, episodes, absorbing_last=(True, False), dones=False, **extra):
    states = np.concatenate([s[:-1] for s, _, _ in episodes])
    next_states = np.concatenate([s[1:] for s, _, _ in episodes])
    absorbing = np.concatenate([np.eye(len(a), dtype=bool)[-1] & flag for (_, a, _), flag in zip(episodes, absorbing_last)])
    fields = dict(states=states, actions=np.concatenate([a for _, a, _ in episodes]), next_states=next_states,
                  absorbing=absorbing, rewards=np.concatenate([r for _, _, r in episodes]), **extra)
    if dones:
        fields["dones"] = np.concatenate([np.eye(len(a), dtype=bool)[-1] for _, a, _ in episodes])
    np.savez(path, **fields)
    return path


def _imitation_npz(path, episodes, terminal=(True, False)):
    lengths = [len(a) for _, a, _ in episodes]
    np.savez(path, obs=np.concatenate([s for s, _, _ in episodes]), acts=np.concatenate([a for _, a, _ in episodes]),
             indices=np.cumsum(lengths)[:-1], terminal=np.asarray(terminal), rews=np.concatenate([r for _, _, r in episodes]))
    return path


@pytest.mark.parametrize("dones", [False, True])
def test_authors_npz_splits_episodes_and_keeps_absorbing_ends(tmp_path, dones):
    episodes = _episodes(np.random.default_rng(0))
    demos = demo_formats.import_demonstrations(str(_authors_npz(tmp_path / "a.npz", episodes, dones=dones)), "hopper")
    assert demos.lengths.tolist() == [5, 3]
    assert demos.absorbing[0, 4] and not demos.absorbing[1].any() and demos.absorbing.sum() == 1
    np.testing.assert_allclose(demos.observations[1, :3], episodes[1][0][:-1], rtol=1e-6)
    np.testing.assert_allclose(demos.next_observations[0, :5], episodes[0][0][1:], rtol=1e-6)
    np.testing.assert_allclose(demos.returns, [episodes[0][2].sum(), episodes[1][2].sum()], rtol=1e-5)
    assert demos.env_spec["name"] == "hopper" and demos.env_spec["version"] == 2


def test_imitation_npz_gives_the_same_demonstrations_as_the_authors_layout(tmp_path):
    episodes = _episodes(np.random.default_rng(1))
    a = demo_formats.import_demonstrations(str(_authors_npz(tmp_path / "a.npz", episodes)), "hopper")
    b = demo_formats.import_demonstrations(str(_imitation_npz(tmp_path / "i.npz", episodes)), "hopper")
    for field in ("observations", "actions", "next_observations", "absorbing", "lengths", "rewards"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def test_contact_forces_and_positions_are_sliced_off_by_name(tmp_path):
    rng = np.random.default_rng(2)
    episodes = _episodes(rng, obs=27 + 78, act=8)  # Ant-v5's default observation: qpos[2:], qvel, cfrc_ext[1:]
    demos = demo_formats.import_demonstrations(str(_authors_npz(tmp_path / "a.npz", episodes)), "ant",
                                               {"version": 2})
    np.testing.assert_allclose(demos.observations[0, :5], episodes[0][0][:-1, :27], rtol=1e-6)
    positions = _episodes(rng, obs=HOPPER_OBS + 1)  # exclude_current_positions_from_observation=False
    demos = demo_formats.import_demonstrations(str(_authors_npz(tmp_path / "p.npz", positions)), "hopper")
    np.testing.assert_allclose(demos.observations[0, :5], positions[0][0][:-1, 1:], rtol=1e-6)


@pytest.mark.parametrize("change, message", [
    (lambda f: f.update(actions=2 * f["actions"]), r"actions of episode 0 reach .* outside the action bounds \[-1, 1\] of hopper"),
    (lambda f: f.update(states=f["states"][:, :7], next_states=f["next_states"][:, :7]), "states have 7 entries per step; hopper observes 11"),
    (lambda f: f.update(dt=np.float64(0.05)), r"dt is 0.05 s but hopper steps 0.008 s"),
    (lambda f: f.pop("next_states"), "the field 'next_states' is missing"),
    (lambda f: f.update(actions=f["actions"][:-1]), "actions has 7 steps but states has 8"),
    (lambda f: f["states"].__setitem__((0, 0), np.nan), "observations of episode 0 contain NaN"),
])
def test_bad_authors_files_name_the_field(tmp_path, change, message):
    path = _authors_npz(tmp_path / "a.npz", _episodes(np.random.default_rng(3)))
    with np.load(path) as data:
        fields = {name: data[name] for name in data.files}
    change(fields)
    np.savez(path, **fields)
    with pytest.raises(InvalidDemonstrationError, match=message):
        demo_formats.import_demonstrations(str(path), "hopper", fmt="trirl-authors")


def test_bad_imitation_files_and_unknown_formats_are_refused(tmp_path):
    episodes = _episodes(np.random.default_rng(4))
    path = _imitation_npz(tmp_path / "i.npz", episodes, terminal=(True, False, True))
    with pytest.raises(InvalidDemonstrationError, match="terminal has 3 entries but indices describe 2"):
        demo_formats.import_demonstrations(str(path), "hopper")
    np.savez(tmp_path / "x.npz", foo=np.zeros(3))
    with pytest.raises(InvalidDemonstrationError, match="the format is not recognised from its fields"):
        demo_formats.import_demonstrations(str(tmp_path / "x.npz"), "hopper")
    with pytest.raises(InvalidConfigError, match="demonstrations can be imported for the MuJoCo tasks"):
        demo_formats.import_demonstrations(str(path), "point_maze")


def test_missing_rewards_warn_and_are_zero(tmp_path):
    episodes = _episodes(np.random.default_rng(5))
    path = tmp_path / "a.npz"
    _authors_npz(path, episodes)
    with np.load(path) as data:
        fields = {name: data[name] for name in data.files if name != "rewards"}
    np.savez(path, **fields)
    with pytest.warns(DemonstrationWarning, match="records no rewards"):
        demos = demo_formats.import_demonstrations(str(path), "hopper")
    assert not demos.rewards.any()


def _record_minari(tmp_path, monkeypatch, gym_id, episodes=3, steps=40, policy=None, **kwargs):
    minari = pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    env = minari.DataCollector(gymnasium.make(gym_id, max_episode_steps=steps, **kwargs))
    rng = np.random.default_rng(0)
    for episode in range(episodes):
        obs, _ = env.reset(seed=episode)
        done = False
        while not done:
            action = policy(obs) if policy else rng.uniform(-1, 1, env.action_space.shape)
            obs, _, terminated, truncated, _ = env.step(action.astype(np.float32))
            done = terminated or truncated
    name = gym_id.split("-")[0].lower()
    dataset = env.create_dataset(dataset_id=f"trirl/{name}-test-v0", algorithm_name="random" if policy is None else "trirl expert",
                                 author="trirl", author_email="tests@trirl.invalid", description="trirl test data",
                                 code_permalink="https://example.invalid/trirl")
    env.close()
    return dataset


def test_minari_dataset_imports_with_terminations_as_absorbing_ends(tmp_path, monkeypatch):
    dataset = _record_minari(tmp_path, monkeypatch, "Hopper-v5")
    demos = demo_formats.import_demonstrations("trirl/hopper-test-v0", "hopper")
    recorded = list(dataset.iterate_episodes())
    assert demos.lengths.tolist() == [len(e.actions) for e in recorded]
    assert demos.absorbing.sum(1).tolist() == [int(e.terminations[-1]) for e in recorded]
    np.testing.assert_allclose(demos.observations[0, : demos.lengths[0]], recorded[0].observations[:-1], rtol=1e-6)
    np.testing.assert_allclose(demos.returns, [e.rewards.sum() for e in recorded], rtol=1e-5)
    with pytest.raises(InvalidDemonstrationError, match="env_spec.id is 'Hopper-v5', but walker2d .* is Walker2d-v5"):
        demo_formats.import_demonstrations("trirl/hopper-test-v0", "walker2d")


def test_minari_ant_with_contact_forces_imports_into_the_gymnasium_ant_only(tmp_path, monkeypatch):
    dataset = _record_minari(tmp_path, monkeypatch, "Ant-v5", episodes=2, steps=10)
    folder = tmp_path / "minari" / "trirl" / "ant-test-v0"
    demos = demo_formats.import_demonstrations(str(folder), "ant", {"version": 2})
    first = next(iter(dataset.iterate_episodes()))
    assert first.observations.shape[1] == 105 and demos.observations.shape[2] == 27
    np.testing.assert_allclose(demos.observations[0, :10], first.observations[:-1, :27], rtol=1e-6)
    with pytest.raises(InvalidDemonstrationError, match="ant version 1 is trirl's old physics, not Ant-v5: pass "
                                                        "--env-option version=2"):
        demo_formats.import_demonstrations(str(folder), "ant")


def test_cli_import_and_inspect_print_episodes_returns_falls_and_ranges(tmp_path, capsys):
    from trirl import cli

    episodes = _episodes(np.random.default_rng(6))
    source = _authors_npz(tmp_path / "a.npz", episodes)
    out = tmp_path / "demos.npz"
    assert cli.main(["demos", "import", str(source), "--env", "hopper", "--out", str(out)]) == 0
    assert load_demonstrations(out).lengths.tolist() == [5, 3]
    capsys.readouterr()
    assert cli.main(["demos", "inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "env hopper version 2, observation 11, action 3" in text
    assert "episodes 2, steps 8; length min 3 / mean 4.0 / max 5" in text
    assert "absorbing ends (falls): 1 of 2, episodes 0" in text
    low = min(s[:-1, 10].min() for s, _, _ in episodes)
    assert f" 10: {low:9.3g} .. " in text
    assert cli.main(["demos", "import", str(source), "--env", "hopper", "--out", str(out), "--env-option",
                     "version=1"]) == 2
    assert "LocomotionConfig.version of 'hopper' must be 2, got 1" in capsys.readouterr().err


@pytest.mark.slow
def test_minari_dataset_of_the_expert_in_gymnasiums_ant_trains_trirl_on_trirls_ant(tmp_path, monkeypatch):
    # The pipeline a user with Minari data takes: record (here: the committed expert, trained on
    # version 1's physics, acting in Gymnasium's Ant-v5 with its default 105-number observation),
    # import into trirl's Ant version 2 (contact forces sliced off by name), train TRIRL on it.
    import json

    jax = pytest.importorskip("jax")
    from trirl import cli
    from trirl.continuous import train as train_cli
    from trirl.continuous.evaluation import policy_act_fn
    from trirl.continuous.expert import load_expert
    from trirl.continuous.train import EXPERTS_DIR
    from trirl.rundir import read_metrics

    _, ppo, state = load_expert(EXPERTS_DIR / "ant")
    act = jax.jit(policy_act_fn(ppo.networks, state.params.policy, state.normalizer))
    key = jax.random.PRNGKey(0)
    _record_minari(tmp_path, monkeypatch, "Ant-v5", episodes=3, steps=30,
                   policy=lambda obs: np.asarray(act(obs[:27].astype(np.float32), key)))
    demos_path = tmp_path / "ant_demos.npz"
    assert cli.main(["demos", "import", "trirl/ant-test-v0", "--env", "ant", "--env-option", "version=2",
                     "--env-option", "episode_length=30", "--out", str(demos_path)]) == 0
    demos = load_demonstrations(demos_path)
    assert demos.env_spec == {"name": "ant", "version": 2, "observation_size": 27, "action_size": 8,
                              "episode_length": 30}
    config = tmp_path / "trirl_ant_tiny.toml"
    config.write_text(f"""
env = "ant"
algo = "trirl"
seeds = 1
total_steps = 64
eval_every = 2
eval_episodes = 1
checkpoint_every = 2
demos = {json.dumps(str(demos_path))}
expert_returns = {json.dumps(str(tmp_path / "no_returns.json"))}

[env_options]
version = 2
episode_length = 30
integrator = "euler"      # the Ant-v5 task with cheaper physics: this test checks the pipeline, not the dynamics
solver_iterations = 1

[ppo]
num_envs = 4
rollout_length = 8
num_epochs = 1
num_minibatches = 2
policy_hidden = [16]
value_hidden = [16]

[discriminator]
hidden_sizes = [16]
minibatch_size = 16
epochs = 1

[buffer]
capacity = 2
fit_steps = 2
""")
    out = tmp_path / "run"
    assert train_cli.main(["--config", str(config), "--out", str(out), "--no-progress"]) == 0
    rows = read_metrics(out)
    assert len(rows) == 2 and all(np.isfinite(row["reverse_kl"]) for row in rows if "reverse_kl" in row)
