import importlib.util
import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def compile_cache_of_the_session():
    """In-process compilations use the session's cache too (tests/conftest.py): the tiny learners,
    envs and evaluations several tests build are compiled once for the whole suite."""
    if importlib.util.find_spec("jax") is None:
        return  # the continuous tests skip themselves
    from trirl.continuous import compile_cache

    compile_cache.configure(os.environ[compile_cache.ENV_VAR])


def interrupt_after_rows(module: str, argv: list[str], out, rows: int = 3) -> tuple[int, str]:
    """Run ``python -m MODULE ARGV``, send SIGINT once ``out/metrics.jsonl`` holds ``rows`` rows,
    and return its exit code and stderr (the Ctrl-C path a user takes)."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from trirl.rundir import read_metrics

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen([sys.executable, "-m", module, *argv], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (Path(out) / "metrics.jsonl").exists() or len(read_metrics(out)) < rows:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    return process.returncode, err


@pytest.fixture
def interrupt():
    """:func:`interrupt_after_rows`, for tests of Ctrl-C in the continuous command lines."""
    return interrupt_after_rows
