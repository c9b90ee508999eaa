"""End to end: the TRIRL stepper served by Voila on localhost, driven in headless Chromium.

Needs Debian's Chromium at /usr/bin/chromium (``apt-get install -y chromium``), voila and
playwright (the ``notebooks`` extra); skips with the reason otherwise. Playwright only drives
the system browser (``executable_path``); it never downloads one. Screenshots go to
``tests/artifacts/`` (gitignored); ``TRIRL_UPDATE_SCREENSHOT=1`` also refreshes
``notebooks/stepper.png`` for the README.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "notebooks" / "app_trirl_stepper.ipynb"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VOILA = shutil.which("voila", path=str(Path(sys.executable).parent)) or shutil.which("voila")

pytestmark = [pytest.mark.browser, pytest.mark.notebooks, pytest.mark.slow]


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (apt-get install -y chromium)"
    if VOILA is None:
        return "voila is not installed (pip install -e '.[notebooks]')"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[notebooks]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(notebook: Path):
    """Serve ``notebook`` with Voila on a free localhost port; yields its URL."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    port = _free_port()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / f"voila-{notebook.stem}.log", "w")
    server = subprocess.Popen(
        [VOILA, str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
         "--ServerApp.open_browser=False", "--show_tracebacks=True"],
        cwd=notebook.parent, stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"voila exited with {server.returncode}; see {log.name}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("voila did not start within 60 s")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def voila_url():
    yield from _serve(APP)


def test_slider_and_step_update_the_page(voila_url):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1350})
            page.route(re.compile(r"^(?!http://127\.0\.0\.1)"), lambda route: route.abort())  # localhost only
            page.goto(voila_url, timeout=90_000)
            label = page.get_by_text(re.compile(r"iteration 0"))
            expect(label).to_be_visible(timeout=90_000)
            # the live widget, not its static fallback (a viewer without a kernel shows that instead)
            assert page.locator(".trirl-panels").count() == 0 and page.locator("img").count() == 3
            curves = page.locator("img").last
            before = curves.get_attribute("src")

            # move the eps slider with the keyboard (its handle takes arrow keys)
            eps = page.locator(".widget-slider", has=page.get_by_text("eps", exact=True))
            readout = eps.locator(".widget-readout")
            old = readout.inner_text()
            eps.locator(".noUi-handle").first.click()
            page.keyboard.press("ArrowLeft")
            page.keyboard.press("ArrowLeft")
            expect(readout).not_to_have_text(old, timeout=10_000)

            page.get_by_role("button", name=re.compile("Step")).click()
            expect(page.get_by_text(re.compile(r"iteration 1\b"))).to_be_visible(timeout=30_000)
            page.get_by_role("button", name=re.compile("Step")).click()
            expect(page.get_by_text(re.compile(r"iteration 2\b"))).to_be_visible(timeout=30_000)
            expect(page.get_by_text(re.compile("Theorem 3.2 holds"))).to_be_visible(timeout=30_000)
            page.wait_for_function("([el, old]) => el.src !== old", arg=[curves.element_handle(), before], timeout=30_000)
            assert curves.get_attribute("src") != before

            page.get_by_role("button", name=re.compile("Run")).click()  # 20 more steps, drawn once
            expect(page.get_by_text(re.compile(r"iteration 22\b"))).to_be_visible(timeout=60_000)

            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "stepper.png"), full_page=True)
            if os.environ.get("TRIRL_UPDATE_SCREENSHOT"):
                page.screenshot(path=str(ROOT / "notebooks" / "stepper.png"), full_page=True)
        finally:
            browser.close()


def test_alpha_warning_wraps_without_clipping_the_map_or_the_readouts(voila_url):
    """Raising eps until alpha > 0.1 shows a long warning; the editor keeps its size."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1350})
            page.route(re.compile(r"^(?!http://127\.0\.0\.1)"), lambda route: route.abort())
            page.goto(voila_url, timeout=90_000)
            expect(page.get_by_text(re.compile(r"iteration 0"))).to_be_visible(timeout=90_000)

            def geometry():
                goal = page.get_by_role("button", name="G", exact=True).bounding_box()
                wind = page.locator("select").first.bounding_box()
                clipped = page.evaluate("""() => [...document.querySelectorAll('.widget-readout, select')]
                    .filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.textContent)""")
                return goal, wind, clipped

            goal, wind, clipped = geometry()
            assert not clipped
            eps = page.locator(".widget-slider", has=page.get_by_text("eps", exact=True))
            eps.locator(".noUi-handle").first.click()
            for _ in range(12):
                page.keyboard.press("ArrowRight")  # eps 0.5 -> 1.0: alpha = 0.2
            expect(page.get_by_text(re.compile("above 0.1"))).to_be_visible(timeout=10_000)
            goal_after, wind_after, clipped_after = geometry()
            assert not clipped_after, clipped_after
            assert goal_after == goal and wind_after == wind
            assert goal_after["x"] + goal_after["width"] <= 1200
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "stepper-warning.png"), full_page=True)
        finally:
            browser.close()


def _open(p, voila_url):
    from playwright.sync_api import expect

    browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1200, "height": 1350})
    page.route(re.compile(r"^(?!http://127\.0\.0\.1)"), lambda route: route.abort())  # localhost only
    page.goto(voila_url, timeout=90_000)
    expect(page.get_by_text(re.compile(r"iteration 0"))).to_be_visible(timeout=90_000)
    return browser, page


def _set_readout(page, description: str, value: str) -> None:
    """Type ``value`` into the readout of the slider labelled ``description``."""
    slider = page.locator(".widget-slider", has=page.get_by_text(description, exact=True))
    readout = slider.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def test_editor_labels_follow_the_cells_on_the_page(voila_url):
    """Erasing a lava cell removes its "L"; moving the start moves its "S" (the browser keeps a
    button's old text when its description becomes empty, so this is checked on the page)."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, voila_url)
        try:
            lava, start, new_start = (page.locator(f"button[title='({r}, {c})']") for r, c in ((2, 3), (4, 0), (0, 0)))
            expect(lava).to_have_text("L")
            expect(start).to_have_text("S")
            page.get_by_role("button", name="floor", exact=True).click()
            lava.click()
            expect(lava).to_have_text(re.compile(r"^\s*$"), timeout=10_000)
            page.get_by_role("button", name="start", exact=True).click()
            new_start.click()
            expect(new_start).to_have_text("S", timeout=10_000)
            start.click()
            expect(start).to_have_text(re.compile(r"^\s*$"), timeout=10_000)
            labels = page.evaluate("""() => [...document.querySelectorAll('button[title^="("]')]
                .map(b => [b.title, b.textContent.trim()]).filter(([_, t]) => t)""")
            cells = [list(row) for row in (ROOT / "gridworlds" / "icy_goal.txt").read_text().split()]
            cells[2][3], cells[0][0], cells[4][0] = ".", "S", "."  # the three edits above
            expected = {f"({r}, {c})": char for r, row in enumerate(cells) for c, char in enumerate(row) if char in "SGL"}
            assert dict(labels) == expected
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "editor-labels.png"), full_page=True)
        finally:
            browser.close()


def test_a_diverging_fixed_step_stops_with_its_cause_on_the_page(voila_url):
    """eps 1 and eta 100 with the paper's fixed step: Run stops with the message and the remedy,
    the Theorem 3.2 panel does not claim a violation; the safeguarded step then goes on. No label
    of the app is cut short."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, voila_url)
        try:
            clipped = page.evaluate("""() => [...document.querySelectorAll('.widget-label, .widget-readout')]
                .filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.textContent)""")
            assert not clipped, clipped
            page.get_by_role("button", name="fixed (paper)").click()
            _set_readout(page, "eps", "1")
            _set_readout(page, "eta (start)", "100")
            expect(page.get_by_text(re.compile(r"alpha = eps·beta/\(1\+eta\) = 99"))).to_be_visible(timeout=10_000)
            page.get_by_role("button", name=re.compile("Run")).click()
            stopped = page.get_by_text(re.compile("stopped: this step diverges"))
            expect(stopped).to_be_visible(timeout=60_000)
            expect(page.get_by_text(re.compile("set step to safeguarded"))).to_be_visible()
            expect(page.get_by_text(re.compile(r"Theorem 3\.2 holds"))).to_be_visible()
            assert page.get_by_text(re.compile("does NOT hold")).count() == 0
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "stepper-diverging.png"), full_page=True)

            label = page.get_by_text(re.compile(r"iteration \d+\b")).first.inner_text()
            kept = int(re.search(r"iteration (\d+)", label).group(1))
            page.get_by_role("button", name="safeguarded").click()
            page.get_by_role("button", name=re.compile("Step")).click()
            expect(page.get_by_text(re.compile(rf"iteration {kept + 1}\b"))).to_be_visible(timeout=30_000)
            expect(page.get_by_text(re.compile("the safeguard halved eps"))).to_be_visible()
        finally:
            browser.close()


def test_the_explorer_in_notebook_01_shows_whole_labels_once():
    """Notebook 01 served by Voila: the explorer's sliders read "temperature" and "gamma" in full
    (not "temperat..."), and its panels appear once (the live widget, not also its fallback)."""
    from playwright.sync_api import expect, sync_playwright

    server = _serve(ROOT / "notebooks" / "01_mdps_soft_value_iteration.ipynb")
    url = next(server)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 1350})
                page.route(re.compile(r"^(?!http://127\.0\.0\.1)"), lambda route: route.abort())
                page.goto(url, timeout=90_000)
                temperature = page.locator(".widget-label", has_text="temperature")
                expect(temperature).to_be_visible(timeout=90_000)
                clipped = page.evaluate("""() => [...document.querySelectorAll('.widget-label, .widget-readout')]
                    .filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.textContent)""")
                assert not clipped, clipped
                assert page.locator(".trirl-panels").count() == 0
                expect(page.get_by_text(re.compile(r"temperature 1, gamma 0.95: V\(start\)"))).to_have_count(1)
                temperature.scroll_into_view_if_needed()
                page.screenshot(path=str(ARTIFACTS / "explorer.png"))
            finally:
                browser.close()
    finally:
        server.close()
