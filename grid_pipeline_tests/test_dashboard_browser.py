"""The dashboard in a real browser: `streamlit run` on a free port, every page in headless
Chromium (Debian's package, driven by Playwright), a PNG per page in test-artifacts/.

AppTest checks the scripts; this checks what a user gets: the server starts, the
pages load over the websocket, Plotly draws, and no Streamlit error box appears.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grid_pipeline.db.connection import Database
from grid_pipeline.embedded.process import free_port, port_accepts
from grid_pipeline_tests.test_dashboard_pages import load_dashboard_data, remove_dashboard_rows

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("GRID_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: URL path (st.Page derives it from the file name; "" is the default page) -> (title, charts)
PAGES = {
    "": ("Live readings", 2),
    "daily_energy": ("Daily energy totals", 3),
    "meter_trends": ("Meter trends", 3),
    "insights": ("Insights", 7),
    "data_quality": ("Data quality", 2),
    "storage": ("Storage and benchmarks", 1),
    "events": ("Grid events", 0),
    "power_quality": ("Power quality: EN 50160 and ANSI C84.1", 0),
}

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright for Python is not installed (pip install playwright); the browser test "
    "drives Debian's chromium with it",
)


@pytest.fixture(scope="module")
def server(database: Database) -> Iterator[str]:
    """`streamlit run dashboard/app.py` against the session engine holding the small data set."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    ids = load_dashboard_data(database)
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "streamlit-server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not port_accepts("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start; see {log.name}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        remove_dashboard_rows(database, ids)


def test_every_page_renders_in_chromium(server: str) -> None:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])  # fmt: skip
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            for path, (title, min_charts) in PAGES.items():
                started = time.perf_counter()
                page.goto(f"{server}/{path}", wait_until="domcontentloaded")
                page.get_by_role("heading", name=title).wait_for(timeout=60_000)
                if min_charts:  # a page without data (Events on a clean set) draws none
                    charts = page.locator('[data-testid="stPlotlyChart"] .main-svg')
                    charts.nth(min_charts - 1).wait_for(timeout=60_000)
                # the script has finished once Streamlit's "running" indicator is gone
                page.wait_for_function(
                    "!document.querySelector('[data-testid=\"stStatusWidget\"]')",
                    timeout=60_000,
                )
                elapsed = time.perf_counter() - started
                name = path or "live"
                page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)
                errors = page.locator(
                    '[data-testid="stException"], [data-testid="stAlertContentError"]'
                )
                assert errors.count() == 0, (name, errors.all_inner_texts())
                assert page.locator('[data-testid="stPlotlyChart"]').count() >= min_charts, name
                print(f"{name}: first chart and finished script in {elapsed:.2f} s")
        finally:
            browser.close()
