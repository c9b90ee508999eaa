"""The persistent compilation cache of the continuous command lines, run as a user runs them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jax")

from trirl.continuous import compile_cache  # noqa: E402

pytestmark = pytest.mark.continuous

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
env = "point_maze"
total_steps = 32
eval_every = 1
eval_episodes = 2
checkpoint_every = 1

[env_options]
episode_length = 10

[ppo]
num_envs = 4
rollout_length = 8
num_epochs = 1
num_minibatches = 1
policy_hidden = [8]
value_hidden = [8]
"""


def train_expert(tmp_path: Path, name: str, extra: list[str], env: dict[str, str]) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(CONFIG)
    environ = {k: v for k, v in os.environ.items() if k not in ("TRIRL_COMPILE_CACHE", "XDG_CACHE_HOME",
                                                                "JAX_COMPILATION_CACHE_DIR")}
    environ.update(env, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    subprocess.run([sys.executable, "-m", "trirl.continuous.expert", "train", "--env", "point_maze",
                    "--config", str(config), "--out", str(tmp_path / name), *extra],
                   env=environ, check=True, timeout=600, capture_output=True)


def files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_cli_writes_the_cache_in_the_documented_folder_and_the_flag_turns_it_off(tmp_path):
    # default: $XDG_CACHE_HOME/trirl/jax
    train_expert(tmp_path, "cached", [], {"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert files(tmp_path / "xdg" / "trirl" / "jax"), "no compiled program was cached"
    # --no-compile-cache: nothing written, not even where TRIRL_COMPILE_CACHE points
    train_expert(tmp_path, "uncached", ["--no-compile-cache"], {"TRIRL_COMPILE_CACHE": str(tmp_path / "off")})
    assert files(tmp_path / "off") == []


def test_cache_folder_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv(compile_cache.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.default_dir() == tmp_path / "xdg" / "trirl" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert compile_cache.default_dir() == Path.home() / ".cache" / "trirl" / "jax"
    monkeypatch.setenv(compile_cache.ENV_VAR, str(tmp_path / "env"))
    assert compile_cache.default_dir() == tmp_path / "env"
