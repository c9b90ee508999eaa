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
    """Run a notebook in its own folder; returns it with outputs and the seconds it took.

    A cell that raises fails the calling test with the notebook, the cell's number and source and
    the error (nbclient stops at the first failing cell)."""
    nb = nbformat.read(path, as_version=4)
    # one BLAS thread: the linear solves are small and threads only contend on a shared CI machine
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    tick = time.perf_counter()
    try:
        client.execute(env=env)
    except nbclient.exceptions.CellExecutionError as error:
        failed = [(i, cell) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
                  and any(o.get("output_type") == "error" for o in cell.get("outputs", []))]
        where = f"cell {failed[0][0]}:\n{failed[0][1].source}\n" if failed else ""
        pytest.fail(f"{path.name}: {where}raised {error.ename}: {error.evalue}", pytrace=False)
    return nb, time.perf_counter() - tick


def test_the_notebooks_are_there():
    names = [p.stem for p in PATHS]
    for prefix in ("01_", "02_", "03_", "04_", "05_", "06_", "07_", "08_"):
        assert any(n.startswith(prefix) for n in names), f"no notebook {prefix}*"


@pytest.mark.notebooks
@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_executes(path):
    nb, seconds = execute(path)
    assert seconds < TIMEOUT
    if path.stem[:2].isdigit():
        # a widget shows only as 'VBox(children=...)' without a live frontend (the book, a viewer of
        # the executed notebook): every cell that shows one also shows a static image
        for cell in nb.cells:
            outputs = cell.get("outputs", [])
            if any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs):
                assert any("image/png" in o.get("data", {}) for o in outputs), cell.source


@pytest.mark.notebooks
def test_a_failing_cell_fails_the_test_with_its_error(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell("raise ValueError(f'boom {x}')"),
                                         nbformat.v4.new_code_cell("y = 2")])
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(pytest.fail.Exception) as failure:
        execute(path)
    message = str(failure.value)
    assert "broken.ipynb: cell 1:" in message and "ValueError: boom 1" in message


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebooks_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") and cell.get("execution_count") is None
               for cell in nb.cells if cell.cell_type == "code"), f"clear the outputs of {path.name}"


def test_notebooks_match_their_text_sources():
    """notebooks/NAME.md (MyST) is the source of NAME.ipynb: same cells, in the same order."""
    jupytext = pytest.importorskip("jupytext")

    sources = sorted(p for p in NOTEBOOKS.glob("*.md") if p.name != "README.md")
    assert [p.stem for p in sources] == [p.stem for p in PATHS], "every notebook needs its .md source and vice versa"
    for source in sources:
        text = jupytext.read(source)
        committed = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
        assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in text.cells], (
            f"{source.stem}.ipynb differs from {source.name}: run jupytext --sync notebooks/*.md")
