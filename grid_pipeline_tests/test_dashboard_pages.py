"""Every dashboard page rendered by Streamlit's AppTest against the real embedded engine.

A small fleet (6 meters x 3 days) is loaded into the session's engine and the
continuous aggregates are refreshed, plus one quarantined payload, one ingestion
run and one benchmark run, so every section of every page has something to draw.
A second set of tests runs the pages on a fresh, empty engine (empty states, no
exception) and with an unreachable database (a notice and a retry button).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from grid_pipeline.app.services import start_database
from grid_pipeline.config import Settings, load_settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.embedded.process import free_port
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.aggregates import refresh_aggregates
from grid_pipeline.storage.historic import default_window, load_history, read_fleet, replace_fleet

pytestmark = pytest.mark.integration

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
METERS, DAYS, INTERVAL = 6, 3, timedelta(minutes=5)
RUN_ID = "dashboard-test-run"

#: page file -> (title, minimum number of Plotly charts, minimum number of metrics)
PAGES = {
    "app_pages/live.py": ("Live readings", 2, 5),
    "app_pages/daily_energy.py": ("Daily energy totals", 3, 4),
    "app_pages/meter_trends.py": ("Meter trends", 3, 0),
    "app_pages/insights.py": ("Insights", 7, 0),
    "app_pages/data_quality.py": ("Data quality", 2, 7),
    "app_pages/storage.py": ("Storage and benchmarks", 1, 1),
}


def load_dashboard_data(db: Database) -> dict[str, int]:
    """Load the small data set, refresh the aggregates, add ingestion and benchmark rows.

    Returns the ids of the rows added outside the readings, for `remove_dashboard_rows`.
    """
    with connect(db) as conn:
        conn.execute("TRUNCATE energy_readings")
    replace_fleet(db, build_fleet(METERS, 7))
    with connect(db) as conn:
        fleet = read_fleet(conn)
    window = default_window(DAYS, INTERVAL)
    load_history(db, fleet, window, interval=INTERVAL, seed=7, timezone="UTC")
    refresh_aggregates(db)
    with connect(db) as conn:
        reject = conn.execute(
            "INSERT INTO ingest_rejects (topic, payload, reason) VALUES (%s, %s, %s) "
            "RETURNING reject_id",
            ("grid/meters/999/readings", b'{"meter_id": 999, "power": "\xff"}', "unknown meter"),
        ).fetchone()
        conn.execute(
            "INSERT INTO ingest_runs (run_id, client_id, broker, subscription, protocol, status, "
            "received, readings, inserted, rejected) VALUES (%s, 'test', 'mqtt://test', "
            "'grid/#', 'mqtt5', 'finished', 10, 9, 9, 1) ON CONFLICT (run_id) DO NOTHING",
            (RUN_ID,),
        )
        run = conn.execute(
            "INSERT INTO benchmark_runs (engine, timescaledb_version, rows, meters, days, cores, "
            "repetitions, advice) VALUES ('embedded (PGlite)', 'test', %s, %s, %s, 2, 3, %s) "
            "RETURNING run_id",
            (METERS * DAYS * 288, METERS, DAYS,
             json.dumps({"summary": "1 day chunks fit this data set", "best": "energy_readings"})),
        ).fetchone()  # fmt: skip
        assert reject and run
        conn.execute(
            "INSERT INTO benchmark_results (run_id, query_name, variant, storage, median_ms, "
            "p95_ms, repetitions) VALUES (%(r)s, 'q4_full_scan', 'energy_readings', "
            "'uncompressed', 12.5, 14.0, 3), (%(r)s, 'q4_full_scan', 'energy_readings', "
            "'compressed', 3.5, 4.0, 3)",
            {"r": run[0]},
        )
    return {"reject_id": int(reject[0]), "run_id": int(run[0])}


def remove_dashboard_rows(db: Database, ids: dict[str, int]) -> None:
    """Delete the ingestion and benchmark rows `load_dashboard_data` added."""
    with connect(db) as conn:
        conn.execute("DELETE FROM ingest_rejects WHERE reject_id = %s", (ids["reject_id"],))
        conn.execute("DELETE FROM ingest_runs WHERE run_id = %s", (RUN_ID,))
        conn.execute("DELETE FROM benchmark_runs WHERE run_id = %s", (ids["run_id"],))


@pytest.fixture(scope="module")
def dashboard_data(database: Database) -> Iterator[Database]:
    """The session engine holding the small data set for the module's tests."""
    ids = load_dashboard_data(database)
    yield database
    remove_dashboard_rows(database, ids)


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """Cached query results must not leak from one database (or test) into another."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def open_page(page: str) -> AppTest:
    """Run the app, then switch to `page` (AppTest's way of visiting an st.navigation page)."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page(page).run()
    return at


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_with_data(dashboard_data: Database, page: str) -> None:
    title, min_charts, min_metrics = PAGES[page]
    at = open_page(page)
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == [title]
    assert charts(at) >= min_charts
    assert len(at.metric) >= min_metrics
    assert not at.warning, [w.value for w in at.warning]


def test_live_page_numbers(dashboard_data: Database) -> None:
    at = open_page("app_pages/live.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Meters reporting"] == f"{METERS} / {METERS}"
    table = at.dataframe[0].value
    assert len(table) == METERS and set(table["status"]) <= {"ok", "exporting", "stale",
                                                              "voltage out of band"}  # fmt: skip


def test_meter_trends_offers_the_shown_data_as_csv(dashboard_data: Database) -> None:
    at = open_page("app_pages/meter_trends.py")
    assert at.multiselect(key="trend_meters").value == [1, 2, 3]
    assert at.get("download_button"), "no CSV download button"
    # Seven days: the hourly aggregate with bands; one day: raw readings.
    assert "Hourly aggregate" in at.caption[0].value
    at.sidebar.select_slider(key="filter_days").set_value(1).run()
    assert not at.exception
    assert "Raw readings" in at.caption[0].value


def test_sidebar_filters_persist_across_pages(dashboard_data: Database) -> None:
    at = open_page("app_pages/daily_energy.py")
    at.sidebar.selectbox(key="filter_timezone").set_value("Europe/Berlin").run()
    at.sidebar.multiselect(key="filter_classes").set_value(["residential"]).run()
    assert not at.exception
    at.switch_page("app_pages/insights.py").run()
    assert not at.exception
    assert at.sidebar.selectbox(key="filter_timezone").value == "Europe/Berlin"
    assert at.sidebar.multiselect(key="filter_classes").value == ["residential"]


def test_seed_queries_verbatim_match_the_aggregates(dashboard_data: Database) -> None:
    """The Insights page answers seed query 3 from the daily aggregate: same rows as verbatim."""
    from dashboard import data

    fast = data.monthly_consumption_by_meter(False)
    slow = data.monthly_consumption_by_meter(True)
    assert fast.height == slow.height > 0
    assert fast.get_column("meter_id").to_list() == slow.get_column("meter_id").to_list()
    diffs = (fast.get_column("total_energy") - slow.get_column("total_energy")).abs()
    assert diffs.max() < 1e-6
    at = open_page("app_pages/insights.py")
    at.toggle(key="insights_verbatim").set_value(True).run()
    assert not at.exception and charts(at) >= 7


def test_pages_show_empty_states_on_an_empty_database(
    fresh_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in fresh_env.items():
        monkeypatch.setenv(name, value)
    # The dashboard starts nothing: with the engine down it says how to start it.
    down = open_page("app_pages/live.py")
    assert not down.exception
    notices = " ".join(e.value for e in [*down.info, *down.warning, *down.error])
    assert "grid-pipeline db start" in notices, notices
    start_database(load_settings(fresh_env))
    for page, (title, _, _) in PAGES.items():
        at = open_page(page)
        assert not at.exception, (page, [e.value for e in at.exception])
        assert [t.value for t in at.title] == [title]
        hints = " ".join(i.value for i in at.info)
        assert "grid-pipeline" in hints, (page, hints)


def test_a_down_database_gives_a_notice_and_a_retry_button(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"postgresql://reader:secret@127.0.0.1:{free_port()}/postgres?connect_timeout=3"
    monkeypatch.setenv("GRID_READER_DATABASE_URL", closed)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "not reachable" in at.warning[0].value
    assert at.button(key="retry_database")
    at.button(key="retry_database").click().run()
    assert not at.exception and "not reachable" in at.warning[0].value


def test_windows_follow_the_newest_reading() -> None:
    from dashboard.state import Filters

    newest = datetime(2026, 3, 29, 21, 55, tzinfo=UTC)  # 23:55 in Berlin (summer time)
    filters = Filters("Europe/Berlin", 7, (), ())
    start, end = filters.window(newest, INTERVAL)
    assert end == newest + INTERVAL and end - start == timedelta(days=7)
    first, last = filters.local_days(newest)
    assert str(last) == "2026-03-30" and (last - first).days == 7
