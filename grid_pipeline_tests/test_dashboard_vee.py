"""VEE's flags on the Data quality page, rendered by Streamlit's AppTest against the real
embedded engine.

Eight meters on two feeders get one day of readings; meter 2 loses two hours of readings
(rule `missing`) and meter 7 sends an impossible power (rule `spike`); then VEE runs over the
day as `grid-pipeline vee run` does. The page must say how to run VEE before it ran, count
exactly the stored flags per rule after (and only those of the transformer the sidebar
selects), show whatever rule the table holds (one VEE does not know yet included), and list
the chosen meter's flagged readings with the original value, the estimate and the audit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from grid_pipeline.app.vee import vee_window
from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.storage.historic import default_window, load_history, read_fleet, replace_fleet
from grid_pipeline_tests.dashboard_support import open_page as open_dashboard_page
from grid_pipeline_tests.test_dashboard_events import plotly_values, two_feeder_fleet

pytestmark = pytest.mark.integration

PAGE = "app_pages/data_quality.py"
INTERVAL = timedelta(minutes=5)
ACTOR = "test:dashboard"


def empty_vee(db: Database) -> None:
    with connect(db) as conn:
        conn.execute("TRUNCATE reading_flags, reading_estimates, vee_runs")


@pytest.fixture(scope="module")
def readings(database: Database) -> Iterator[tuple[datetime, datetime]]:
    """The fleet and one day of readings with two faults; the day's window [start, end)."""
    with connect(database) as conn:
        conn.execute("TRUNCATE energy_readings")
    empty_vee(database)
    replace_fleet(database, two_feeder_fleet())
    with connect(database) as conn:
        fleet = read_fleet(conn)
    window = default_window(1, INTERVAL)
    load_history(database, fleet, window, interval=INTERVAL, seed=7, timezone="UTC")
    start, end = window
    with connect(database) as conn:
        conn.execute(
            'DELETE FROM energy_readings WHERE meter_id = 2 AND "timestamp" >= %s '
            'AND "timestamp" < %s',
            (end - timedelta(hours=6), end - timedelta(hours=4)),
        )
        conn.execute(
            "UPDATE energy_readings SET power = power + 500000 WHERE meter_id = 7 "
            'AND "timestamp" = %s',
            (end - timedelta(hours=3),),
        )
    yield start, end
    empty_vee(database)


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture
def vee_ran(
    database: Database, settings: Settings, readings: tuple[datetime, datetime]
) -> Iterator[tuple[datetime, datetime]]:
    """VEE run over the day (flags, estimates, audit stored); emptied again afterwards."""
    empty_vee(database)
    vee_window(database, settings, readings, ACTOR)
    yield readings
    empty_vee(database)


def open_page() -> AppTest:
    return open_dashboard_page(PAGE)


def notices(at: AppTest) -> str:
    return " | ".join(e.value for e in [*at.info, *at.success, *at.warning, *at.error])


def rule_bars(at: AppTest) -> dict[str, int]:
    """The per-rule chart: rule -> flagged readings (both outcomes summed)."""
    spec = next(
        json.loads(c.proto.spec)
        for c in at.get("plotly_chart")
        if "VEE rule" in json.loads(c.proto.spec)["layout"]["title"]["text"]
    )
    totals: dict[str, int] = {}
    for trace in spec["data"]:
        for n, rule in zip(plotly_values(trace["x"]), plotly_values(trace["y"]), strict=True):
            totals[rule] = totals.get(rule, 0) + int(n)
    return {r: n for r, n in totals.items() if n}


def stored_flags(db: Database, transformer: str | None = None) -> dict[str, int]:
    with connect(db) as conn:
        rows = conn.execute(
            "SELECT f.rule, count(*) FROM reading_flags AS f "
            "JOIN meters AS m ON m.meter_id = f.meter_id "
            "WHERE %(t)s::text IS NULL OR m.transformer = %(t)s GROUP BY f.rule",
            {"t": transformer},
        ).fetchall()
    return {str(r): int(n) for r, n in rows}


def table(at: AppTest) -> list[dict[str, Any]]:
    frame = next(d for d in at.dataframe if "Rules" in d.value.columns).value
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def test_before_vee_ran_the_page_says_how_to_run_it(
    database: Database, readings: tuple[datetime, datetime]
) -> None:
    empty_vee(database)
    at = open_page()
    text = notices(at)
    assert "VEE has not run yet" in text and "grid-pipeline vee run" in text, text


def test_flags_per_rule_and_a_meters_readings(vee_ran: tuple[datetime, datetime],
                                              database: Database) -> None:  # fmt: skip
    stored = stored_flags(database)
    assert stored.get("missing", 0) >= 24 and stored.get("spike", 0) >= 1, stored
    at = open_page()
    assert rule_bars(at) == stored
    shown = {m.label: m.value for m in at.metric}
    assert shown["Flagged readings"] == f"{sum(stored.values()):,}"
    assert "by test:dashboard" in " ".join(c.value for c in at.caption)

    # The most flagged meter first: meter 2 with its two missing hours, each estimated.
    assert at.selectbox(key="vee_meter").value == 2
    rows = table(at)
    missing = [r for r in rows if "missing" in r["Rules"]]
    assert len(missing) == 24
    assert all(r["Sent (kWh)"] == "missing" and r["Estimate (kWh)"] != "-" for r in missing)
    assert {r["By"] for r in rows} == {ACTOR}
    assert all(r["Method"] in {"linear", "like_day", "hold"} for r in missing)

    at.selectbox(key="vee_meter").set_value(7).run()
    spike = next(r for r in table(at) if "spike" in r["Rules"])
    assert spike["Sent (kWh)"] != "missing" and "spike" in spike["Why"]


def test_the_transformer_filter_keeps_its_meters_flags(
    vee_ran: tuple[datetime, datetime], database: Database
) -> None:
    with connect(database) as conn:
        row = conn.execute("SELECT transformer FROM meters WHERE meter_id = 2").fetchone()
    assert row
    at = open_page()
    at.sidebar.multiselect(key="filter_transformers").set_value([row[0]]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert rule_bars(at) == stored_flags(database, row[0])
    assert "spike" not in rule_bars(at)  # meter 7 is on F02


def test_a_rule_vee_adds_later_shows_up(
    vee_ran: tuple[datetime, datetime], database: Database
) -> None:
    end = vee_ran[1]
    with connect(database) as conn:
        conn.execute(
            'INSERT INTO reading_flags ("timestamp", meter_id, rule, detail, vee_run) '
            "SELECT %s, 5, 'duplicate_conflict', 'two values for one interval', max(vee_run) "
            "FROM vee_runs",
            (end - timedelta(hours=1),),
        )
    at = open_page()
    assert rule_bars(at)["duplicate_conflict"] == 1
    at.selectbox(key="vee_meter").set_value(5).run()
    (row,) = [r for r in table(at) if "duplicate_conflict" in r["Rules"]]
    assert row["Method"] == "kept" and "two values" in row["Why"]
