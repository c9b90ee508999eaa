"""The `slow` marker selects the long tests (and only them), so -m "not slow" is a real quick loop."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def collect(*args) -> set[str]:
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                         cwd=ROOT, capture_output=True, text=True).stdout
    return {line.split("[")[0] for line in out.splitlines() if "::" in line}


def test_slow_selects_the_long_tests_and_not_the_quick_ones():
    files = ["tests/test_wheel.py", "tests/test_notebooks.py", "tests/tabular/test_layout.py"]
    slow, quick = collect("-m", "slow", *files), collect("-m", "not slow", *files)
    assert "tests/test_wheel.py::test_installed_trirl_runs_grid_from_an_empty_folder" in slow
    assert "tests/test_notebooks.py::test_notebook_executes" in slow
    assert "tests/tabular/test_layout.py::test_random_mdp_is_the_generator_the_book_and_benchmarks_pasted" in quick
    assert "tests/test_notebooks.py::test_notebooks_match_their_text_sources" in quick
    assert not slow & quick
