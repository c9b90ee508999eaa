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

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "notebooks" / "app_trirl_stepper.ipynb"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
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


@pytest.fixture(scope="module")
def voila_url():
    reason = _missing()
    if reason:
        pytest.skip(reason)
    port = _free_port()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "voila.log", "w")
    server = subprocess.Popen(
        [VOILA, str(APP), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
         "--ServerApp.open_browser=False", "--show_tracebacks=True"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"voila exited with {server.returncode}; see {ARTIFACTS / 'voila.log'}")
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
            expect(page.get_by_text(re.compile("may stop improving monotonically"))).to_be_visible(timeout=10_000)
            goal_after, wind_after, clipped_after = geometry()
            assert not clipped_after, clipped_after
            assert goal_after == goal and wind_after == wind
            assert goal_after["x"] + goal_after["width"] <= 1200
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "stepper-warning.png"), full_page=True)
        finally:
            browser.close()
