"""The package's shape: the library (trirl.tabular, trirl.continuous) apart from its applications
(trirl.bench), and modules short enough to read."""

import ast
from pathlib import Path

import trirl

ROOT = Path(trirl.__file__).parent
#: the most lines a module of trirl/ may have: one job per module, readable in a sitting
MODULE_LINES = 450


def test_the_library_does_not_import_the_applications():
    """trirl.tabular and trirl.continuous are the library; trirl.bench (studies, reports and
    benchmarks) sits above them and may import them, never the other way round."""
    root = ROOT
    offenders = []
    for path in sorted([*(root / "tabular").rglob("*.py"), *(root / "continuous").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom) else
                     [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            if isinstance(node, ast.ImportFrom) and node.module == "trirl":
                names = [f"trirl.{alias.name}" for alias in node.names]
            offenders += [f"{path.relative_to(root)}:{node.lineno} imports {name}" for name in names
                          if name == "trirl.bench" or name.startswith("trirl.bench.")]
    assert not offenders, offenders


def test_the_ground_floor_imports_neither_half():
    """The modules both halves stand on (trirl/*.py but the command line, and trirl/rundir) import
    nothing of trirl.tabular, trirl.continuous, trirl.bench or trirl.verify, not even lazily inside a
    function: what they need of JAX (the seed mesh, the gather of a state) is generic and lives on
    the ground floor (trirl.devices)."""
    above = ("trirl.tabular", "trirl.continuous", "trirl.bench", "trirl.verify")
    applications = {"cli.py", "__main__.py"}
    offenders = []
    for path in sorted([*(p for p in ROOT.glob("*.py") if p.name not in applications), *(ROOT / "rundir").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom) else
                     [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            if isinstance(node, ast.ImportFrom) and node.module == "trirl":
                names = [f"trirl.{alias.name}" for alias in node.names]
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} imports {name}" for name in names
                          if any(name == top or name.startswith(top + ".") for top in above)]
    assert not offenders, offenders


def test_no_module_exceeds_the_line_budget():
    long = {str(path.relative_to(ROOT)): n for path in sorted(ROOT.rglob("*.py"))
            if (n := len(path.read_text().splitlines())) > MODULE_LINES}
    assert not long, f"modules over {MODULE_LINES} lines (split them by job): {long}"
