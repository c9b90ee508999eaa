"""The wheel, as a user gets it: built without warnings, installed into a fresh virtual environment
(not editable), then ``trirl --version``, ``trirl grid`` and a shipped point-maze config run from an
empty folder, away from the source tree.

Offline and about a minute: the wheel is built with the running interpreter's setuptools (no build
isolation), and the fresh environment sees the running one's third-party packages through a
``.pth`` line (numpy, jax, ...) while trirl itself comes only from the installed wheel.
"""

import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD_OUTPUTS = shutil.ignore_patterns(
    ".git", ".venv", "runs", "build", "dist", "_build", "*.egg-info", "__pycache__", ".hypothesis",
    ".pytest_cache", ".ipynb_checkpoints",
)

pytestmark = [pytest.mark.wheel, pytest.mark.slow]


def _run(args, cwd, env=None, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a copy of the checkout, failing on any build-backend warning."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=BUILD_OUTPUTS)
    dist = tmp / "dist"
    dist.mkdir()
    build = ("import sys, warnings; warnings.simplefilter('always'); import setuptools.build_meta as backend; "
             "print(backend.build_wheel(sys.argv[1]))")
    result = _run([sys.executable, "-c", build, str(dist)], cwd=src)
    warnings = [line for line in result.stderr.splitlines() if "Warning" in line]
    assert not warnings, "the build backend warned:\n" + result.stderr
    return dist / result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh virtual environment with the wheel installed; returns (bin dir, env, empty cwd)."""
    tmp = tmp_path_factory.mktemp("venv")
    env_dir = tmp / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=tmp).stdout.strip()
    # the running environment's dependencies, as plain path entries (its .pth files, among them an
    # editable install of trirl, are not processed from a .pth line)
    (Path(purelib) / "_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
         cwd=tmp)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    cwd = tmp / "work"
    cwd.mkdir()
    return env_dir / "bin", env, cwd


def test_wheel_holds_every_module_and_the_shipped_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "trirl").rglob("*.py")}
    assert not modules - names, f"modules missing from the wheel (add their package to pyproject.toml): {sorted(modules - names)}"
    shipped = [*(ROOT / "gridworlds").glob("*.toml"), *(ROOT / "gridworlds").glob("*.txt"),
               *(ROOT / "continuous").glob("*.toml"), *(p for p in (ROOT / "continuous" / "experts").rglob("*") if p.is_file())]
    wanted = {f"trirl/_data/{p.relative_to(ROOT).as_posix()}" for p in shipped}
    wanted |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "trirl" / "help").glob("*.txt")}  # trirl.helptext
    assert len(wanted) > 10 and not wanted - names, f"data missing from the wheel: {sorted(wanted - names)}"
    assert not any(n.startswith(("gridworlds/", "continuous/", "tests/")) for n in names)


def test_installed_trirl_runs_grid_from_an_empty_folder(installed):
    bin_dir, env, cwd = installed
    where = _run([str(bin_dir / "python"), "-c", "import trirl; print(trirl.__file__)"], cwd, env).stdout
    assert str(bin_dir.parent) in where, f"trirl was not imported from the installed wheel: {where}"
    version = _run([str(bin_dir / "trirl"), "--version"], cwd, env).stdout
    assert version.strip() == "trirl 0.1.0"
    result = _run([str(bin_dir / "trirl"), "grid", "--iterations", "3", "--quiet", "--out", "grid"], cwd, env)
    assert "reverse KL" in result.stdout
    assert (cwd / "grid" / "figure2.png").is_file() and (cwd / "grid" / "summary.txt").is_file()
    lava = _run([str(bin_dir / "trirl"), "grid", "--world", "lava_corridor", "--variant", "slippery", "--iterations", "1",
                 "--quiet", "--out", "lava"], cwd, env)
    assert "lava_corridor" in lava.stdout


def test_installed_trirl_trains_a_shipped_point_maze_config(installed):
    pytest.importorskip("jax")
    bin_dir, env, cwd = installed
    trirl = str(bin_dir / "trirl")
    # the README's command, from a folder without continuous/: the config, expert demos and returns ship
    result = _run([trirl, "train", "--config", "continuous/trirl_point_maze.toml", "--steps", "1024", "--out", "pm",
                   "--no-progress"], cwd, env)
    assert result.stdout.startswith("done: 1 iteration in ") and "eval_normalised_return" in result.stdout
    assert (cwd / "pm" / "summary.json").is_file()
    # the python -m alias finds the shipped demonstrations too; without them, the error says how to make them
    missing = _run([str(bin_dir / "python"), "-m", "trirl.continuous.train", "--env", "point_maze",
                    "--demos", "nowhere.npz", "--out", "pm2"], cwd, env, check=False)
    assert missing.returncode == 2
    assert "nowhere.npz does not exist" in missing.stderr and "trirl expert collect" in missing.stderr
