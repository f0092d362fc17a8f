"""Render time per dashboard page on whatever data set the environment points at.

Server side: each page is rendered by Streamlit's AppTest `--repeat` times with
the query cache cleared first ("cold": every query runs) and `--repeat` times
with it warm (what a rerun, a widget click or a second viewer costs). Browser
side (`--browser`, needs Playwright and Debian's chromium): time from
navigation to the page's first Plotly chart and to the script finishing, on a
`streamlit run` server.

    GRID_DATA_DIR=... GRID_DB_PORT=... python benchmarks/dashboard_render.py --repeat 5 --browser

The default data set is `grid-pipeline generate` (500 meters x 14 days x 5 min,
2,016,000 rows) with the continuous aggregates refreshed. Printed, not a test.

`--queries` also prints, per page, the median seconds of each statement of
`sql/queries/dashboard_*.sql` over the cold renders (what the page waits for in
the database; the rest of a cold render is Python, polars and Plotly).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grid_pipeline.bench.queries import p95  # noqa: E402 (the project's, after the path)

APP = str(ROOT / "dashboard" / "app.py")
PAGES = {
    "app_pages/live.py": "",
    "app_pages/daily_energy.py": "daily_energy",
    "app_pages/meter_trends.py": "meter_trends",
    "app_pages/insights.py": "insights",
    "app_pages/data_quality.py": "data_quality",
    "app_pages/storage.py": "storage",
    "app_pages/events.py": "events",
    "app_pages/power_quality.py": "power_quality",
}
TITLES = {
    "": "Live readings", "daily_energy": "Daily energy totals", "meter_trends": "Meter trends",
    "insights": "Insights", "data_quality": "Data quality", "storage": "Storage and benchmarks",
    "events": "Grid events", "power_quality": "Power quality: EN 50160 and ANSI C84.1",
}  # fmt: skip


#: Per page, per statement (`sql/queries/<name>.sql`): seconds of each cold render's run.
QueryTimes = dict[str, dict[str, list[float]]]


def timed_statements(into: dict[str, list[float]]) -> Callable[[], None]:
    """Time every statement the data layer runs (`dashboard.data._frame`) into `into`;
    returns the function that puts the original back."""
    from dashboard import data

    original = data._frame

    def timed(name: str, params: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return original(name, params)
        finally:
            into[name].append(time.perf_counter() - started)

    data._frame = timed

    def restore() -> None:
        data._frame = original

    return restore


def server_side(
    repeat: int, queries: QueryTimes | None = None
) -> dict[str, tuple[list[float], list[float]]]:
    """Per page: (cold render seconds, warm render seconds); with `queries`, also the time of
    each statement of the cold renders (summed per render when a page runs it twice)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    results: dict[str, tuple[list[float], list[float]]] = {}
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    for page in PAGES:
        cold: list[float] = []
        warm: list[float] = []
        for _ in range(repeat):
            st.cache_data.clear()
            runs: dict[str, list[float]] = defaultdict(list)
            restore = timed_statements(runs) if queries is not None else None
            started = time.perf_counter()
            try:
                at.switch_page(page).run()
            finally:
                if restore:
                    restore()
            cold.append(time.perf_counter() - started)
            if at.exception:
                raise SystemExit(f"{page}: {at.exception[0].value}")
            if queries is not None:
                for name, seconds in runs.items():
                    queries.setdefault(page, {}).setdefault(name, []).append(sum(seconds))
        for _ in range(repeat):
            started = time.perf_counter()
            at.switch_page(page).run()
            warm.append(time.perf_counter() - started)
        results[page] = (cold, warm)
    return results


def browser_side(repeat: int) -> dict[str, tuple[list[float], list[float]]]:
    """Per page: (seconds to the first chart, seconds to the script finishing)."""
    from playwright.sync_api import sync_playwright

    from grid_pipeline.embedded.process import free_port, port_accepts

    chromium = os.environ.get("GRID_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", APP, "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    results: dict[str, tuple[list[float], list[float]]] = {}
    try:
        while not port_accepts("127.0.0.1", port):
            time.sleep(0.2)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
            page.get_by_role("heading", name=TITLES[""]).wait_for(timeout=120_000)
            for path in PAGES.values():
                first: list[float] = []
                done: list[float] = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    page.goto(f"http://127.0.0.1:{port}/{path}", wait_until="domcontentloaded")
                    page.get_by_role("heading", name=TITLES[path]).wait_for(timeout=120_000)
                    # a page without charts (storage before any benchmark) shows a notice instead
                    page.locator(
                        '[data-testid="stPlotlyChart"] .main-svg, [data-testid="stAlert"]'
                    ).first.wait_for(timeout=120_000)
                    first.append(time.perf_counter() - started)
                    page.wait_for_function(
                        "!document.querySelector('[data-testid=\"stStatusWidget\"]')",
                        timeout=120_000,
                    )
                    done.append(time.perf_counter() - started)
                results[path or "live"] = (first, done)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return results


def table(
    title: str, heads: tuple[str, str], rows: dict[str, tuple[list[float], list[float]]]
) -> None:
    print(f"\n{title}")
    print(f"| page | {heads[0]} median | {heads[0]} p95 | {heads[1]} median | {heads[1]} p95 |")
    print("|---|---:|---:|---:|---:|")
    for name, (a, b) in rows.items():
        short = Path(name).stem
        print(
            f"| {short} | {median(a):.3f} s | {p95(a):.3f} s | {median(b):.3f} s | {p95(b):.3f} s |"
        )


def statements(queries: QueryTimes) -> None:
    """Per page, its statements slowest first: median and p95 seconds over the cold renders."""
    print("\nStatements of the cold renders (sql/queries/<name>.sql)")
    print("| page | statement | median | p95 |")
    print("|---|---|---:|---:|")
    for page, times in queries.items():
        for name, seconds in sorted(times.items(), key=lambda item: -median(item[1])):
            row = f"| {Path(page).stem} | {name} | {median(seconds):.3f} s | {p95(seconds):.3f} s |"
            print(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--browser", action="store_true", help="also time pages in Chromium")
    parser.add_argument(
        "--queries", action="store_true", help="also time each statement of the cold renders"
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from dashboard import data

    extent = data.extent()
    span = f"{extent.first_reading} .. {extent.last_reading}"
    print(f"data set: {extent.meters} meters, readings {span}")
    queries: QueryTimes | None = {} if args.queries else None
    table("Server-side render (AppTest, queries + charts)", ("cold", "warm"),
          server_side(args.repeat, queries))  # fmt: skip
    if queries is not None:
        statements(queries)
    if args.browser:
        table("Browser (headless Chromium, full page load)", ("first chart or notice", "finished"),
              browser_side(args.repeat))  # fmt: skip


if __name__ == "__main__":
    main()
