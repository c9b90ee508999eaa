"""Every notebook in notebooks/ executes headless, top to bottom, in a fresh kernel."""

import os
import re
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


WIDGET = "application/vnd.jupyter.widget-view+json"
#: what Python's own warning display prints: "/path/to/file.py:63: SomeWarning: ..."
RAW_WARNING = re.compile(r"(\.py:\d+: \w*Warning)|(\w*Warning: )")


def rendered_problems(nb) -> list[str]:
    """What a reader of the executed notebook would see wrongly: a widget without a static fallback
    in the same output (a kernel-less viewer shows only 'VBox(children=...)'), a live panel drawn
    a second time as a static copy in the same cell, a warning as raw text with its file path."""
    problems = []
    for number, cell in enumerate(nb.cells):
        outputs = cell.get("outputs", [])
        widgets = [o for o in outputs if WIDGET in o.get("data", {})]
        for o in widgets:
            if "<img" not in o["data"].get("text/html", ""):
                problems.append(f"cell {number}: a widget without its panels as the static fallback")
        if widgets and any("image/png" in o.get("data", {}) or "<img" in o.get("data", {}).get("text/html", "")
                           for o in outputs if WIDGET not in o.get("data", {})):
            problems.append(f"cell {number}: a live panel drawn twice (a static copy beside the widget)")
        for o in outputs:
            text = o.get("text", "") if o.get("output_type") == "stream" else o.get("data", {}).get("text/plain", "")
            if RAW_WARNING.search(text) or "site-packages" in text:
                problems.append(f"cell {number}: a raw warning: {text[:200]!r}")
    return problems


def test_rendered_problems_are_found():
    """The checks of test_notebook_executes, on outputs made by hand: they can fail."""
    display = nbformat.v4.new_output
    widget = display("display_data", data={WIDGET: {"model_id": "x"}, "text/plain": "VBox()"})
    image = display("display_data", data={"image/png": "iVBOR"})
    raw = display("stream", name="stderr",
                  text="/usr/lib/python3/site-packages/trirl/x.py:57: DualIncreaseWarning: the dual got worse")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("w", outputs=[widget, image]),
                                         nbformat.v4.new_code_cell("run()", outputs=[raw])])
    problems = rendered_problems(nb)
    assert len(problems) == 3 and "static fallback" in problems[0] and "drawn twice" in problems[1]
    assert "raw warning" in problems[2]
    note = display("display_data", data={"text/plain": "Note (DualIncreaseWarning): the dual got worse."})
    live = display("display_data", data={**widget["data"], "text/html": "<img src='data:'/>"})
    ok = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("w", outputs=[live, note])])
    assert rendered_problems(ok) == []


@pytest.mark.notebooks
@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_executes(path):
    nb, seconds = execute(path)
    assert seconds < TIMEOUT
    assert rendered_problems(nb) == [], path.name


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


def test_the_book_hides_its_tooling_and_gives_the_stepper_command():
    """A reader sees the table of tests a chapter cites, not the code that checks the citations;
    each chapter's "Explore it in a notebook" says how to open the notebooks and the stepper app."""
    jupytext = pytest.importorskip("jupytext")

    chapters = sorted((NOTEBOOKS.parent / "book").glob("0*.md"))
    assert chapters
    for chapter in chapters:
        cells = jupytext.read(chapter).cells
        tooling = [c for c in cells if c.cell_type == "code" and "tested_by(" in c.source]
        assert tooling, chapter.name
        for cell in tooling:
            assert "remove-input" in cell.metadata.get("tags", []) or "remove-cell" in cell.metadata.get("tags", []), (
                f"{chapter.name}: a booktools.tested_by cell is shown to readers; tag it remove-input")
        text = chapter.read_text()
        explore = text.split("## Explore it in a notebook", 1)[1]
        assert "voila notebooks/app_trirl_stepper.ipynb" in explore and "jupyter lab notebooks/" in explore, chapter.name
