"""Every notebook in notebooks/ executes headless, top to bottom, in a fresh kernel."""

import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
TIMEOUT = 120


def execute(path: Path) -> tuple[nbformat.NotebookNode, float]:
    """Run a notebook in its own folder; returns it with outputs and the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    # one BLAS thread: the linear solves are small and threads only contend on a shared CI machine
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    tick = time.perf_counter()
    client.execute(env=env)
    return nb, time.perf_counter() - tick


def test_the_notebooks_are_there():
    names = [p.stem for p in PATHS]
    for prefix in ("01_", "02_", "03_", "04_", "05_", "06_", "07_", "08_"):
        assert any(n.startswith(prefix) for n in names), f"no notebook {prefix}*"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_executes(path):
    nb, seconds = execute(path)
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    assert seconds < TIMEOUT
    if path.stem[:2].isdigit():
        # a widget shows only as 'VBox(children=...)' without a live frontend (the book, a viewer of
        # the executed notebook): every cell that shows one also shows a static image
        for cell in nb.cells:
            outputs = cell.get("outputs", [])
            if any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs):
                assert any("image/png" in o.get("data", {}) for o in outputs), cell.source


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebooks_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") and cell.get("execution_count") is None
               for cell in nb.cells if cell.cell_type == "code"), f"clear the outputs of {path.name}"


def test_notebooks_match_their_generator():
    """Edit notebooks/make_notebooks.py and rerun it, rather than the .ipynb files."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert sorted(module.NOTEBOOKS) == [p.stem for p in PATHS]
    for name, cells in module.NOTEBOOKS.items():
        committed = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        assert [c.source for c in committed.cells] == [c.source for c in module.notebook(cells).cells], (
            f"{name}.ipynb differs from make_notebooks.py: run python notebooks/make_notebooks.py")
