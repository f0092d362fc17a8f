"""The Events page rendered by Streamlit's AppTest against the real embedded engine.

A fleet of 8 meters on two feeders (F01 with transformers F01-T001/T002, F02 with
F02-T001/T002) gets one day of readings, and five events are inserted by SQL: a meter outage
on F01, an overload of transformer F02-T001, an open outage of feeder F01, a spike on a meter
of F02-T001, and an old stuck register outside the 7-day window. The tests read what a user
reads: the metrics, the rows of the list (times in the chosen zone, "open" for the open
event), the per-feeder and per-transformer counts, that the feeder filter keeps exactly the
events of that feeder's assets, and what the page says when the table is empty or a filter
matches nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.historic import default_window, load_history, read_fleet, replace_fleet
from grid_pipeline_tests.dashboard_support import open_page as open_dashboard_page

pytestmark = pytest.mark.integration

PAGE = "app_pages/events.py"
INTERVAL = timedelta(minutes=5)
SHOWN = "%Y-%m-%d %H:%M"


def two_feeder_fleet() -> pl.DataFrame:
    """8 meters: 1-4 on F01, 5-8 on F02 (the grid model derives two transformers each)."""
    return build_fleet(8, 7).with_columns(
        pl.when(pl.col("meter_id") > 4)
        .then(pl.lit("F02"))
        .otherwise(pl.col("feeder"))
        .alias("feeder")
    )


@pytest.fixture(scope="module")
def newest(database: Database) -> datetime:
    """The fleet and one day of readings; the newest reading's time (the window's anchor)."""
    with connect(database) as conn:
        conn.execute("TRUNCATE energy_readings")
    replace_fleet(database, two_feeder_fleet())
    with connect(database) as conn:
        fleet = read_fleet(conn)
    load_history(database, fleet, default_window(1, INTERVAL), interval=INTERVAL, seed=7,
                 timezone="UTC")  # fmt: skip
    with connect(database) as conn:
        row = conn.execute('SELECT max("timestamp") FROM energy_readings').fetchone()
    assert row and row[0] is not None
    last: datetime = row[0]
    return last


def event_rows(last: datetime) -> list[tuple[Any, ...]]:
    """(kind, asset_type, asset, start, end, severity, evidence) of the five test events."""
    hour = timedelta(hours=1)
    return [
        ("outage", "meter", "1", last - 5 * hour, last - 4 * hour, "warning",
         {"intervals": 12, "minutes": 60.0, "meters": 1}),
        ("overload", "transformer", "F02-T001", last - 10 * hour, last - 9 * hour, "critical",
         {"peak_ratio": 1.42, "intervals": 12}),
        ("outage", "feeder", "F01", last - 2 * hour, None, "critical",
         {"intervals": 24, "minutes": 120.0, "meters": 4}),
        ("spike", "meter", "6", last - hour, last - hour + INTERVAL, "info",
         {"power_kw": 12.5, "rated_kw": 5.0, "multiple": 2.5}),
        ("stuck", "meter", "2", last - timedelta(days=10), last - timedelta(days=10) + 2 * hour,
         "warning", {"intervals": 24, "minutes": 120.0, "power_w": 800}),
    ]  # fmt: skip


@pytest.fixture
def events(database: Database, newest: datetime) -> Iterator[datetime]:
    """The five events in `grid_events` (nothing else); emptied again afterwards."""
    with connect(database) as conn:
        conn.execute("TRUNCATE grid_events")
        for kind, asset_type, asset, start, end, severity, evidence in event_rows(newest):
            conn.execute(
                "INSERT INTO grid_events (kind, asset_type, asset, start_ts, end_ts, severity, "
                "evidence, detector) VALUES (%s, %s, %s, %s, %s, %s, %s, 'test')",
                (kind, asset_type, asset, start, end, severity, json.dumps(evidence)),
            )
    yield newest
    with connect(database) as conn:
        conn.execute("TRUNCATE grid_events")


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """Cached query results must not leak from one test into another."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def open_page() -> AppTest:
    return open_dashboard_page(PAGE)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def rows(at: AppTest) -> list[dict[str, str]]:
    """The events list as the user reads it, one dict per row."""
    frame = at.dataframe[0].value
    return [{str(k): str(v) for k, v in r.items()} for r in frame.to_dict("records")]


def notices(at: AppTest) -> str:
    return " | ".join(e.value for e in [*at.info, *at.success, *at.warning, *at.error])


#: The page's charts in order: the timeline, then events per feeder and per transformer.
CHARTS = {"timeline": 0, "per_feeder": 1, "per_transformer": 2}


def plotly_values(values: Any) -> list[Any]:
    """A trace's array as a list: Plotly sends numeric arrays as base64 typed arrays."""
    if isinstance(values, dict) and "bdata" in values:
        return list(np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]))
    return list(values)


def bars(at: AppTest, chart: str) -> dict[str, int]:
    """A per-asset chart's totals: asset -> events (summed over the severity traces)."""
    spec = json.loads(at.get("plotly_chart")[CHARTS[chart]].proto.spec)
    totals: dict[str, int] = {}
    for trace in spec["data"]:
        for asset, n in zip(plotly_values(trace["y"]), plotly_values(trace["x"]), strict=True):
            totals[str(asset)] = totals.get(str(asset), 0) + int(n)
    return totals


def local(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime(SHOWN)


def test_metrics_list_and_counts(events: datetime) -> None:
    last = events
    at = open_page()
    assert [t.value for t in at.title] == ["Grid events"]
    shown = metrics(at)
    assert shown["Open events"] == "1"
    assert shown["Open: critical"] == "1" and shown["Open: warning"] == "0"
    # the stuck register 10 days ago is stored but outside the 7-day window
    assert shown["Events in window"] == "4"
    assert [shown[f"In window: {s}"] for s in ("critical", "warning", "info")] == ["2", "1", "1"]

    listed = rows(at)
    assert [(r["Kind"], r["Asset"]) for r in listed] == [
        ("spike", "meter 6"),
        ("outage", "feeder F01"),
        ("outage", "meter 1"),
        ("overload", "transformer F02-T001"),
    ]
    spike, feeder, meter, overload = listed
    assert (meter["Transformer"], meter["Feeder"]) == ("F01-T001", "F01")
    assert (spike["Transformer"], spike["Feeder"]) == ("F02-T001", "F02")
    assert (overload["Transformer"], overload["Feeder"]) == ("F02-T001", "F02")
    assert (feeder["Transformer"], feeder["Feeder"]) == ("-", "F01")
    assert feeder["End"] == "open" and feeder["Severity"] == "critical"
    # open: its duration runs to the end of the data (the newest reading's interval)
    assert feeder["Duration"] == "2 hours 5 min so far"
    assert meter["Start"] == local(last - timedelta(hours=5), "UTC")
    assert meter["End"] == local(last - timedelta(hours=4), "UTC")
    assert meter["Duration"] == "1 hour" and meter["Severity"] == "warning"
    assert overload["Evidence"] == "intervals=12, peak_ratio=1.42"
    assert spike["Duration"] == "5 min"

    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in spec["data"]} == {"spike", "outage", "overload"}
    assert set(spec["layout"]["yaxis"]["categoryarray"]) == {
        "meter 6", "feeder F01", "meter 1", "transformer F02-T001"
    }  # fmt: skip
    assert bars(at, "per_feeder") == {"F01": 2, "F02": 2}
    assert bars(at, "per_transformer") == {"F02-T001": 2, "F01-T001": 1}


def test_times_follow_the_selected_zone(events: datetime) -> None:
    at = open_page()
    at.sidebar.selectbox(key="filter_timezone").set_value("Asia/Tokyo").run()
    assert not at.exception, [e.value for e in at.exception]
    meter = next(r for r in rows(at) if r["Asset"] == "meter 1")
    assert meter["Start"] == local(events - timedelta(hours=5), "Asia/Tokyo")
    assert meter["Start"] != local(events - timedelta(hours=5), "UTC")


@pytest.mark.parametrize(
    ("feeder", "assets", "open_events"),
    [
        ("F01", ["feeder F01", "meter 1"], "1"),
        ("F02", ["meter 6", "transformer F02-T001"], "0"),
    ],
)
def test_feeder_filter_keeps_exactly_that_feeders_events(
    events: datetime, feeder: str, assets: list[str], open_events: str
) -> None:
    at = open_page()
    at.sidebar.multiselect(key="filter_feeders").set_value([feeder]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [r["Asset"] for r in rows(at)] == assets
    assert {r["Feeder"] for r in rows(at)} == {feeder}
    shown = metrics(at)
    assert shown["Events in window"] == str(len(assets))
    assert shown["Open events"] == open_events
    assert bars(at, "per_feeder") == {feeder: len(assets)}


@pytest.mark.parametrize(
    ("transformer", "assets"),
    [
        # meter 1's outage; F01's open feeder outage is on no transformer
        ("F01-T001", ["meter 1"]),
        ("F02-T001", ["meter 6", "transformer F02-T001"]),
        ("F02-T002", []),
    ],
)
def test_transformer_filter_keeps_exactly_that_transformers_events(
    events: datetime, database: Database, transformer: str, assets: list[str]
) -> None:
    with connect(database) as conn:
        served = {
            str(r[0])
            for r in conn.execute("SELECT meter_id FROM meters WHERE transformer = %s",
                                  (transformer,))
        }  # fmt: skip
    expected = [  # the window's events on the transformer or on one of its meters
        a for a in ["meter 6", "feeder F01", "meter 1", "transformer F02-T001"]
        if a == f"transformer {transformer}" or a.removeprefix("meter ") in served
    ]  # fmt: skip
    assert expected == assets
    at = open_page()
    feeder = transformer.split("-")[0]
    at.sidebar.multiselect(key="filter_feeders").set_value([feeder]).run()
    assert at.sidebar.multiselect(key="filter_transformers").options == [
        f"{feeder}-T001", f"{feeder}-T002"
    ]  # fmt: skip
    at.sidebar.multiselect(key="filter_transformers").set_value([transformer]).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = metrics(at)
    assert shown["Events in window"] == str(len(assets))
    assert shown["Open events"] == "0"
    if not assets:
        assert "No events in this window on the selected assets" in notices(at)
        return
    assert [r["Asset"] for r in rows(at)] == assets
    assert {r["Transformer"] for r in rows(at)} == {transformer}
    assert bars(at, "per_transformer") == {transformer: len(assets)}
    assert bars(at, "per_feeder") == {feeder: len(assets)}


def test_class_filter_selects_assets_serving_that_class(
    events: datetime, database: Database
) -> None:
    with connect(database) as conn:
        served = conn.execute(
            "SELECT meter_id::text, transformer, feeder FROM meters "
            "WHERE customer_class = 'commercial'"
        ).fetchall()
    assets = {f"meter {m}" for m, _, _ in served} | {f"transformer {t}" for _, t, _ in served}
    assets |= {f"feeder {f}" for _, _, f in served}
    at = open_page()
    at.sidebar.multiselect(key="filter_classes").set_value(["commercial"]).run()
    assert not at.exception, [e.value for e in at.exception]
    in_window = {"meter 6", "feeder F01", "meter 1", "transformer F02-T001"}
    expected = in_window & assets
    assert "feeder F01" in expected  # meter 3 on F01 is commercial
    assert {r["Asset"] for r in rows(at)} == expected


def test_a_kind_filter_that_matches_nothing_says_so(events: datetime) -> None:
    at = open_page()
    at.multiselect(key="events_kinds").set_value(["theft"]).run()
    assert not at.exception, [e.value for e in at.exception]
    text = notices(at)
    assert "No event matches the Kind and Severity filters (kind: theft)" in text, text
    assert not at.dataframe and not at.get("plotly_chart")
    assert metrics(at)["Events in window"] == "4"  # the headline still tells the truth
    at.multiselect(key="events_kinds").set_value(["outage"]).run()
    assert [r["Asset"] for r in rows(at)] == ["feeder F01", "meter 1"]
    at.multiselect(key="events_severities").set_value(["critical"]).run()
    assert [r["Asset"] for r in rows(at)] == ["feeder F01"]


def test_a_sidebar_filter_that_matches_no_meter_says_so(
    events: datetime, database: Database
) -> None:
    with connect(database) as conn:
        conn.execute(
            "INSERT INTO meters (meter_id, customer_class, feeder, substation, has_solar, "
            "rated_kw, nominal_voltage) VALUES (990, 'industrial', 'F99', 'S9', false, 50, 400)"
        )
    try:
        at = open_page()
        at.sidebar.multiselect(key="filter_classes").set_value(["commercial"]).run()
        at.sidebar.multiselect(key="filter_feeders").set_value(["F99"]).run()
        assert not at.exception, [e.value for e in at.exception]
        text = notices(at)
        assert "No meter matches the sidebar filters" in text, text
        assert "grid-pipeline events detect" not in text  # the events are there
        assert not at.metric and not at.dataframe
    finally:
        with connect(database) as conn:
            conn.execute("DELETE FROM meters WHERE meter_id = 990")


def test_no_events_in_the_window_says_where_they_are(events: datetime, database: Database) -> None:
    at = open_page()
    at.sidebar.select_slider(key="filter_days").set_value(1).run()
    at.sidebar.multiselect(key="filter_feeders").set_value(["F02"]).run()
    assert not at.exception, [e.value for e in at.exception]
    # F02's overload (10 h ago) and spike (1 h ago) are both inside one day: still listed
    assert [r["Asset"] for r in rows(at)] == ["meter 6", "transformer F02-T001"]
    with connect(database) as conn:
        conn.execute("DELETE FROM grid_events WHERE asset IN ('6', 'F02-T001')")
    st.cache_data.clear()
    at.run()
    text = notices(at)
    assert "No events in this window on the selected assets" in text, text
    assert "3 events are stored in all" in text, text
    assert metrics(at)["Events in window"] == "0"


def test_an_empty_table_says_how_to_get_events(database: Database, newest: datetime) -> None:
    with connect(database) as conn:
        conn.execute("TRUNCATE grid_events")
    at = open_page()
    text = notices(at)
    assert "No grid events detected yet" in text, text
    assert "grid-pipeline generate --physical-faults" in text
    assert "grid-pipeline events detect" in text
    assert not at.metric and not at.dataframe and not at.get("plotly_chart")


def event_ids(db: Database) -> dict[str, int]:
    """Asset label ("meter 1", "feeder F01") -> event id of the test events."""
    with connect(db) as conn:
        rows = conn.execute("SELECT asset_type, asset, event_id FROM grid_events").fetchall()
    return {f"{t} {a}": int(i) for t, a, i in rows}


def test_acknowledging_chosen_events(events: datetime, database: Database) -> None:
    ids = event_ids(database)
    at = open_page()
    pick = at.multiselect(key="events_ack")
    # the listed events nobody acknowledged, the open feeder outage first
    assert pick.options[0].startswith("OPEN · outage · feeder F01"), pick.options
    assert len(pick.options) == 4
    assert at.button(key="events_ack_button").disabled  # nothing chosen, no name yet
    pick.set_value([ids["feeder F01"], ids["meter 1"]]).run()
    at.text_input(key="events_ack_by").input("alice").run()
    assert not at.button(key="events_ack_button").disabled
    at.button(key="events_ack_button").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Acknowledged 2 events as alice." in notices(at), notices(at)

    with connect(database) as conn:
        stored = conn.execute(
            "SELECT event_id, acknowledged_by FROM grid_events "
            "WHERE acknowledged_at IS NOT NULL ORDER BY event_id"
        ).fetchall()
    assert stored == sorted([(ids["feeder F01"], "alice"), (ids["meter 1"], "alice")])
    # The list is read again (the cached one was dropped): acknowledged rows say by whom.
    acked = {r["Asset"]: r["Acknowledged"] for r in rows(at)}
    assert acked["feeder F01"].startswith("alice · ") and acked["meter 1"].startswith("alice · ")
    assert acked["meter 6"] == "" and acked["transformer F02-T001"] == ""
    assert len(at.multiselect(key="events_ack").options) == 2
    assert at.multiselect(key="events_ack").value == []

    # A stale id (re-detection renumbered the events) acknowledges nothing and says so.
    with connect(database) as conn:
        conn.execute("DELETE FROM grid_events WHERE event_id = %s", (ids["meter 6"],))
    at.multiselect(key="events_ack").set_value([ids["meter 6"]]).run()
    at.button(key="events_ack_button").click().run()
    assert not at.exception, [e.value for e in at.exception]
    text = notices(at)
    assert "Nothing acknowledged: no grid event with id" in text, text


def test_acknowledging_needs_the_operator_role_against_a_configured_database(
    events: datetime, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Production-like: a configured database read through the reader URL, no operator URL.
    monkeypatch.setenv("GRID_DATABASE_URL", database.url)
    monkeypatch.setenv("GRID_READER_DATABASE_URL", database.url)
    monkeypatch.delenv("GRID_OPERATOR_DATABASE_URL", raising=False)
    at = open_page()
    assert at.button(key="events_ack_button").disabled
    assert at.multiselect(key="events_ack").disabled
    reason = " ".join(c.value for c in at.caption)
    assert "Acknowledging needs GRID_OPERATOR_DATABASE_URL" in reason, reason

    monkeypatch.setenv("GRID_OPERATOR_DATABASE_URL", database.url)
    at = open_page()
    ids = event_ids(database)
    at.multiselect(key="events_ack").set_value([ids["transformer F02-T001"]]).run()
    at.text_input(key="events_ack_by").input("bob").run()
    at.button(key="events_ack_button").click().run()
    assert "Acknowledged 1 event as bob." in notices(at), notices(at)
