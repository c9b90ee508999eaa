import json

import pytest

pytest.importorskip("jax")
import numpy as np  # noqa: E402

from trirl.continuous.demos import Demonstrations, load_demonstrations, save_demonstrations  # noqa: E402
from trirl.continuous.envs import EnvSpec  # noqa: E402
from trirl.errors import InvalidDemonstrationError  # noqa: E402

pytestmark = pytest.mark.continuous

SPEC = EnvSpec("point_maze", 1, 2, 2, 4)


def make_demos(n=3, t=4):
    rng = np.random.default_rng(0)
    lengths = np.array([4, 2, 3], np.int32)[:n]
    mask = np.arange(t)[None] < lengths[:, None]
    rewards = (rng.normal(size=(n, t)) * mask).astype(np.float32)
    absorbing = np.zeros((n, t), bool)
    absorbing[1, 1] = True  # the second episode terminated at its last step
    return Demonstrations(
        observations=rng.normal(size=(n, t, 2)).astype(np.float32),
        actions=rng.uniform(-1, 1, size=(n, t, 2)).astype(np.float32),
        next_observations=rng.normal(size=(n, t, 2)).astype(np.float32),
        absorbing=absorbing, rewards=rewards, lengths=lengths, returns=rewards.sum(1), env_spec=SPEC.to_dict(),
    )


def test_round_trip(tmp_path):
    demos = make_demos()
    path = save_demonstrations(tmp_path / "d.npz", demos)
    back = load_demonstrations(path, env_spec=SPEC)
    for name in Demonstrations._fields:
        if name == "env_spec":
            assert back.env_spec == SPEC.to_dict()
        else:
            np.testing.assert_array_equal(getattr(back, name), getattr(demos, name))
    obs, actions, next_obs, absorbing = back.flat()
    assert obs.shape == (9, 2) and actions.shape == (9, 2) and next_obs.shape == (9, 2)
    assert absorbing.sum() == 1


def write_raw(path, demos, **changes):
    arrays = {name: getattr(demos, name) for name in Demonstrations._fields if name != "env_spec"}
    arrays["schema_version"] = np.int64(1)
    arrays["env_spec"] = np.frombuffer(json.dumps(demos.env_spec).encode(), np.uint8)
    arrays.update(changes)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"actions": None}, "'actions' is missing"),
        ({"schema_version": np.int64(7)}, "schema_version"),
        ({"observations": np.zeros((3, 4, 5), np.float32)}, "observations have 5 features"),
        ({"actions": np.zeros((3, 4, 1), np.float32)}, "actions must have shape"),
        ({"absorbing": np.zeros((3, 4), np.float32)}, "absorbing must have a bool dtype"),
        ({"rewards": np.full((3, 4), np.nan, np.float32)}, "rewards contains NaN"),
        ({"lengths": np.array([0, 2, 3], np.int32)}, "lengths must lie"),
        ({"actions": np.full((3, 4, 2), 3.0, np.float32)}, r"actions must lie in \[-1, 1\]"),
        ({"env_spec": np.frombuffer(b"\xff\xfe", np.uint8)}, "env_spec is not UTF-8 JSON"),
    ],
)
def test_malformed_files_name_the_field(tmp_path, changes, match):
    path = write_raw(tmp_path / "bad.npz", make_demos(), **changes)
    with pytest.raises(InvalidDemonstrationError, match=match):
        load_demonstrations(path)


def test_absorbing_only_on_the_last_step(tmp_path):
    demos = make_demos()
    absorbing = demos.absorbing.copy()
    absorbing[0, 1] = True
    with pytest.raises(InvalidDemonstrationError, match="absorbing is True on a step"):
        load_demonstrations(write_raw(tmp_path / "bad.npz", demos, absorbing=absorbing))


def test_environment_mismatch_and_missing_file(tmp_path):
    path = save_demonstrations(tmp_path / "d.npz", make_demos())
    with pytest.raises(InvalidDemonstrationError, match="env_spec.name"):
        load_demonstrations(path, env_spec=EnvSpec("point_maze_mirrored", 1, 2, 2, 4))
    with pytest.raises(InvalidDemonstrationError, match="env_spec.version"):
        load_demonstrations(path, env_spec=EnvSpec("point_maze", 2, 2, 2, 4))
    with pytest.raises(InvalidDemonstrationError, match="does not exist"):
        load_demonstrations(tmp_path / "nothing.npz")
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(InvalidDemonstrationError, match="not a readable"):
        load_demonstrations(tmp_path / "text.npz")
