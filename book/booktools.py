"""Helpers for the book's code cells: checks that cited tests and notebooks exist.

The book cites the tests that check each claim (``tests/tabular/test_objectives.py::test_weak_duality``)
and the notebooks that explore it. :func:`tested_by` fails the build when a cited test has
been renamed or removed, so a citation cannot silently rot. Nothing here computes IRL: every
number in the book comes from the ``trirl`` library.
"""

from __future__ import annotations

import ast
from pathlib import Path

from IPython.display import Markdown

ROOT = Path(__file__).resolve().parent.parent


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def tested_by(*test_ids: str) -> Markdown:
    """Check that each ``tests/file.py::name`` exists and list them as a Markdown table."""
    rows = []
    for test_id in test_ids:
        file, _, name = test_id.partition("::")
        path = ROOT / file
        if not path.is_file():
            raise FileNotFoundError(f"the book cites {test_id}, but {file} does not exist")
        if name and name not in _test_names(path):
            raise LookupError(f"the book cites {test_id}, but {file} has no test named {name}")
        rows.append(f"| `{test_id}` |")
    return Markdown("| test that checks it (run with `pytest '<id>'`) |\n|---|\n" + "\n".join(rows))


def notebook(name: str) -> str:
    """The repository path of a notebook, checked to exist."""
    path = ROOT / "notebooks" / name
    if not path.is_file():
        raise FileNotFoundError(f"the book cites notebooks/{name}, which does not exist")
    return f"notebooks/{name}"
