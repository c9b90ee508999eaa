import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def compile_cache_in_tmp(tmp_path_factory):
    """The command lines cache compiled programs; in tests, not in the user's ~/.cache."""
    old = os.environ.get("TRIRL_COMPILE_CACHE")
    os.environ["TRIRL_COMPILE_CACHE"] = str(tmp_path_factory.mktemp("jax_cache"))
    yield
    if old is None:
        os.environ.pop("TRIRL_COMPILE_CACHE", None)
    else:
        os.environ["TRIRL_COMPILE_CACHE"] = old


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
