"""Every dashboard page rendered by Streamlit's AppTest against the real embedded engine.

A small fleet (6 meters x 3 days) is loaded into the session's engine and the
continuous aggregates are refreshed, plus one quarantined payload, one ingestion
run and one benchmark run, so every section of every page has something to draw.
The data set ends "now", at the last interval boundary, so the running interval has
no reading yet: exactly the awkward case where partial time must not look like a failure
(Data quality reads 100 %, Daily energy compares the same elapsed time, Live is normal
between two reporting intervals). Tests that depend on the clock top the data up to the
last boundary and retry when a boundary passes while they run (`on_a_steady_clock`).
A filter that matches no meter makes every page say so. A second set of tests runs the
pages on a fresh, empty engine (empty states, no exception) and with an unreachable
database (a notice and a retry button).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.charts import parse_duration
from dashboard.selection import ALL_METERS, MeterSelection
from grid_pipeline.app.services import start_database
from grid_pipeline.config import Settings, load_settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.embedded.process import free_port
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.aggregates import refresh_aggregates
from grid_pipeline.storage.historic import (
    default_window,
    floor_time,
    load_history,
    read_fleet,
    replace_fleet,
)

pytestmark = pytest.mark.integration

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
METERS, DAYS, INTERVAL = 6, 3, timedelta(minutes=5)
RUN_ID = "dashboard-test-run"
#: The Live page's grace: an interval is due a fifth of an interval after it ends.
GRACE = INTERVAL / 5
NO_MATCH = "No meter matches the sidebar filters"
T = TypeVar("T")

#: page file -> (title, minimum number of Plotly charts, minimum number of metrics)
PAGES = {
    "app_pages/live.py": ("Live readings", 2, 5),
    "app_pages/daily_energy.py": ("Daily energy totals", 3, 4),
    "app_pages/meter_trends.py": ("Meter trends", 3, 0),
    "app_pages/insights.py": ("Insights", 7, 0),
    "app_pages/data_quality.py": ("Data quality", 2, 7),
    "app_pages/storage.py": ("Storage and benchmarks", 1, 1),
    "app_pages/events.py": ("Grid events", 0, 0),  # a clean data set has no events yet
    # nothing computed yet on the pages' data set: the empty state, no chart
    "app_pages/power_quality.py": ("Power quality: EN 50160 and ANSI C84.1", 0, 0),
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


def top_up(db: Database) -> None:
    """Extend the data set to the last interval boundary, so that it ends "now" again."""
    end = floor_time(datetime.now(UTC), INTERVAL)
    with connect(db) as conn:
        row = conn.execute('SELECT max("timestamp") FROM energy_readings').fetchone()
        fleet = read_fleet(conn)
    assert row and row[0] is not None
    start = row[0] + INTERVAL
    if start < end:
        load_history(db, fleet, (start, end), interval=INTERVAL, seed=7, timezone="UTC")
        refresh_aggregates(db, since=start - timedelta(hours=1))


def _clock() -> tuple[datetime, datetime]:
    """The last interval boundary and the Live page's newest due interval: what the pages
    judge against; a test is steady when neither moved while it ran."""
    now = datetime.now(UTC)
    return floor_time(now, INTERVAL), floor_time(now - GRACE, INTERVAL)


def on_a_steady_clock(db: Database, check: Callable[[], T], attempts: int = 3) -> T:
    """Top the data up to the last boundary and run `check`; again if a boundary passed."""
    for _ in range(attempts):
        before = _clock()
        top_up(db)
        st.cache_data.clear()
        result = check()
        if _clock() == before:
            return result
    raise AssertionError(f"the clock crossed an interval boundary {attempts} times in a row")


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


def metrics(at: AppTest) -> dict[str, Any]:
    """Label -> the metric element (value, delta, help)."""
    return {m.label: m for m in at.metric}


def notices(at: AppTest) -> str:
    """Every info, success, warning and error text of the page, in one string."""
    return " | ".join(e.value for e in [*at.info, *at.success, *at.warning, *at.error])


def figure(at: AppTest, index: int) -> dict[str, Any]:
    """The Plotly figure of the `index`-th chart, as the JSON the browser receives."""
    spec: dict[str, Any] = json.loads(at.get("plotly_chart")[index].proto.spec)
    return spec


def set_sidebar(at: AppTest, *, timezone: str | None = None, days: int | None = None) -> AppTest:
    if timezone is not None:
        at.sidebar.selectbox(key="filter_timezone").set_value(timezone).run()
    if days is not None:
        at.sidebar.select_slider(key="filter_days").set_value(days).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_with_data(dashboard_data: Database, page: str) -> None:
    title, min_charts, min_metrics = PAGES[page]
    at = on_a_steady_clock(dashboard_data, lambda: open_page(page))
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == [title]
    assert charts(at) >= min_charts
    assert len(at.metric) >= min_metrics
    assert not at.warning, [w.value for w in at.warning]


def test_live_page_numbers(dashboard_data: Database) -> None:
    at = on_a_steady_clock(dashboard_data, lambda: open_page("app_pages/live.py"))
    values = {m.label: m.value for m in at.metric}
    assert values["Meters reporting"] == f"{METERS} / {METERS}"
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
    assert (diffs < 1e-6).all()
    at = open_page("app_pages/insights.py")
    at.toggle(key="insights_verbatim").set_value(True).run()
    assert not at.exception and charts(at) >= 7


def _first_reading(db: Database) -> datetime:
    with connect(db) as conn:
        row = conn.execute('SELECT min("timestamp") FROM energy_readings').fetchone()
    assert row and row[0] is not None
    first: datetime = row[0]
    return first


def _energy(db: Database, start: datetime, end: datetime) -> tuple[float, int]:
    """kWh and readings in [start, end), straight from the raw readings (stored in Wh)."""
    with connect(db) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(energy), 0) / 1000.0, count(*) FROM energy_readings "
            'WHERE "timestamp" >= %s AND "timestamp" < %s',
            (start, end),
        ).fetchone()
    assert row
    return float(row[0]), int(row[1])


def test_data_quality_reads_100_percent_on_complete_data(dashboard_data: Database) -> None:
    """Complete data ending at the last boundary: the running interval, the rest of today and
    the days before the data set began expect nothing, so the page reads 100 % with no gap,
    no red cell and no day before the first reading, in UTC and Tokyo, over 1 to 30 days."""
    cases = (("UTC", 7), ("UTC", 30), ("Asia/Tokyo", 1), ("Asia/Tokyo", 7))

    def check() -> list[tuple[str, int, dict[str, Any], list[Any], str]]:
        at = open_page("app_pages/data_quality.py")
        seen = []
        for tz, days in cases:
            set_sidebar(at, timezone=tz, days=days)
            values = {label: m.value for label, m in metrics(at).items()}
            heat = figure(at, 0)["data"][0]
            seen.append((tz, days, values, [heat["x"], heat["z"]], notices(at)))
        return seen

    seen = on_a_steady_clock(dashboard_data, check)
    cut, first = _clock()[0], _first_reading(dashboard_data)
    for tz, days, values, (x, z), text in seen:
        assert values["Completeness"] == "100.0%", (tz, days, values)
        assert values["Meter-hours with gaps"] == "0", (tz, days)
        assert "Every meter-hour is complete" in text, (tz, days, text)
        assert {v for row in z for v in row} == {100}, (tz, days, z)
        # One column per day from the data set's first day (or the period's) to the newest.
        zone = ZoneInfo(tz)
        last_day = (cut - INTERVAL).astimezone(zone).date()
        first_day = max(first.astimezone(zone).date(), last_day - timedelta(days=days - 1))
        span = (last_day - first_day).days + 1
        assert x == [str(first_day + timedelta(days=i)) for i in range(span)], (tz, days, x)


def test_daily_energy_compares_the_same_elapsed_time(dashboard_data: Database) -> None:
    """The newest day is partial: this period runs to the end of the newest ended interval
    and the previous one to the same local time of day, so the delta compares like with
    like; the mean and the day count use complete days only."""
    cases = (("Asia/Tokyo", 1), ("UTC", 1), ("UTC", 7))

    def check() -> dict[tuple[str, int], tuple[dict[str, Any], str]]:
        at = open_page("app_pages/daily_energy.py")
        seen = {}
        for tz, days in cases:
            set_sidebar(at, timezone=tz, days=days)
            shown = {label: (m.value, m.delta) for label, m in metrics(at).items()}
            seen[(tz, days)] = (shown, " ".join(c.value for c in at.caption))
        return seen

    seen = on_a_steady_clock(dashboard_data, check)
    cut = _clock()[0]  # the data ends at the last boundary (steady: the same while it ran)
    first = _first_reading(dashboard_data)
    for (tz, days), (shown, caption) in seen.items():
        zone = ZoneInfo(tz)
        last_day = (cut - INTERVAL).astimezone(zone).date()
        partial = cut.astimezone(zone).date() == last_day
        day_starts = [
            datetime.combine(last_day - timedelta(days=i), datetime.min.time(), tzinfo=zone)
            for i in range(days - 1, -2, -1)
        ]  # days + 1 local midnights, the last one ends the period
        this_kwh, this_n = _energy(dashboard_data, day_starts[0], cut)
        assert shown["Energy this period"][0] == f"{this_kwh:,.0f} kWh", (tz, days)
        if partial:
            assert "same elapsed time" in caption, caption
        ended = days - (1 if partial else 0)
        complete = [
            (start, end)
            for start, end in itertools.pairwise(day_starts)
            if start >= first and end <= cut
        ]
        count = f"{len(complete)} / {ended}"
        assert shown["Complete days with data"][0] == count, (tz, days, shown)
        if complete:
            mean = sum(_energy(dashboard_data, *c)[0] for c in complete) / len(complete)
            assert shown["Mean per complete day"][0] == f"{mean:,.0f} kWh"
        previous_start = day_starts[0] - timedelta(days=days)
        if previous_start < first:  # the previous period began before the data set
            assert not shown["Energy this period"][1], (tz, days, shown)
            continue
        previous_cut = cut.astimezone(zone) - timedelta(days=days)
        before_kwh, before_n = _energy(dashboard_data, previous_start, previous_cut)
        assert before_n == this_n  # the same elapsed time: as many readings on both sides
        delta = f"{(this_kwh - before_kwh) / abs(before_kwh):+.1%}"
        assert shown["Energy this period"][1] == delta, (tz, days, shown, delta)
        assert shown["Previous period"][0] == f"{before_kwh:,.0f} kWh"


def test_live_is_normal_between_two_reporting_intervals(dashboard_data: Database) -> None:
    """The data ends at the last boundary and the next interval is still running: the page
    says normal, every meter reported the due interval, readings/s is the fleet's rate per
    interval (not 0.0) and the lag is under one interval plus the grace."""
    at = on_a_steady_clock(dashboard_data, lambda: open_page("app_pages/live.py"))
    assert not at.exception, [e.value for e in at.exception]
    assert not at.warning and not at.error, notices(at)
    normal = " ".join(s.value for s in at.success)
    assert normal.startswith("Normal:") and f"{METERS} of {METERS} meters" in normal, normal
    shown = {label: m.value for label, m in metrics(at).items()}
    assert shown["Meters reporting"] == f"{METERS} / {METERS}"
    assert shown["Readings/s (per interval)"] == f"{METERS / INTERVAL.total_seconds():,.2f}"
    lag = parse_duration(shown["Ingestion lag"])
    assert lag is not None, shown
    lag_s = lag.total_seconds()
    assert lag_s <= (INTERVAL + GRACE).total_seconds(), shown
    rules = " ".join(m.value for m in at.markdown)
    assert "**Normal**" in rules and "**Late**" in rules and "**Stalled**" in rules, rules


@pytest.fixture
def lone_meter(dashboard_data: Database) -> Iterator[Database]:
    """An industrial meter on a feeder of its own (no readings): 'commercial' on that
    feeder is a combination the sidebar offers that selects no meter."""
    with connect(dashboard_data) as conn:
        conn.execute(
            "INSERT INTO meters (meter_id, customer_class, feeder, substation, has_solar, "
            "rated_kw, nominal_voltage) VALUES (990, 'industrial', 'F99', 'S9', false, 50, 400)"
        )
    yield dashboard_data
    with connect(dashboard_data) as conn:
        conn.execute("DELETE FROM meters WHERE meter_id = 990")


#: Pages that say so when the filters select no meter. Insights and Storage do not yet
#: (their files belong to another change; `components.no_meter_matches` is there for them).
NO_MATCH_PAGES = (
    "app_pages/live.py",
    "app_pages/daily_energy.py",
    "app_pages/data_quality.py",
    "app_pages/meter_trends.py",
    "app_pages/insights.py",
)


@pytest.mark.parametrize("page", NO_MATCH_PAGES)
def test_a_filter_that_matches_no_meter_says_so(lone_meter: Database, page: str) -> None:
    at = open_page(page)
    at.sidebar.multiselect(key="filter_classes").set_value(["commercial"]).run()
    at.sidebar.multiselect(key="filter_feeders").set_value(["F99"]).run()
    assert not at.exception, [e.value for e in at.exception]
    text = notices(at)
    assert NO_MATCH in text, (page, text)
    assert "grid-pipeline generate" not in text, (page, text)  # the data is there
    assert "Every meter-hour is complete" not in text, (page, text)
    assert "0 / 0" not in [m.value for m in at.metric], page


#: The small data set's transformer with four meters (1, 2, 4 and the PV meter 6) of six.
TRANSFORMER = "F01-T001"


def transformer_meters(db: Database, transformer: str) -> list[int]:
    with connect(db) as conn:
        rows = conn.execute(
            "SELECT meter_id FROM meters WHERE transformer = %s ORDER BY meter_id", (transformer,)
        ).fetchall()
    return [int(r[0]) for r in rows]


def test_a_transformer_selects_exactly_its_meters_numbers(dashboard_data: Database) -> None:
    """Every filtered statement of the data layer, with a transformer selected, gives the
    numbers of that transformer's meters: the unfiltered per-meter rows restricted to them, or
    sums of their readings computed here from the tables."""
    from dashboard import data

    mine = transformer_meters(dashboard_data, TRANSFORMER)
    assert mine == [1, 2, 4, 6]
    tf = MeterSelection(transformers=(TRANSFORMER,))
    extent = data.extent()
    assert extent.last_reading is not None and extent.first_reading is not None
    # Whole hours from two days back (the hourly aggregates' buckets) up to the newest reading.
    start = (extent.last_reading - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    end = extent.last_reading + INTERVAL
    window = ("UTC", start, end)

    def restricted(frame: Any) -> Any:
        return frame.filter(frame["meter_id"].is_in(mine)).sort("meter_id")

    latest = data.live_latest_per_meter("UTC", tf, INTERVAL * 3)
    assert latest.get_column("meter_id").to_list() == mine
    assert latest.equals(restricted(data.live_latest_per_meter("UTC", ALL_METERS, INTERVAL * 3)))
    top = data.top_consumers(*window, tf, 100).sort("meter_id")
    assert top.equals(restricted(data.top_consumers(*window, ALL_METERS, 100)))
    peaks = data.peak_demand(*window, tf)
    assert peaks.equals(restricted(data.peak_demand(*window, ALL_METERS)))
    first_day, end_day = extent.first_reading.date(), extent.last_reading.date() + timedelta(1)
    complete = data.completeness("UTC", first_day, end_day, INTERVAL, tf)
    everyone = data.completeness("UTC", first_day, end_day, INTERVAL, ALL_METERS)
    assert complete.sort("meter_id", "day").equals(restricted(everyone).sort("meter_id", "day"))

    with connect(dashboard_data) as conn:
        energy, readings = conn.execute(
            'SELECT (sum(energy) FILTER (WHERE "timestamp" < %s))::float8 / 1000, '
            'count(*) FILTER (WHERE "timestamp" >= %s AND "timestamp" < %s) '
            "FROM energy_readings WHERE meter_id = ANY(%s)",
            (extent.cut(INTERVAL), start, end, mine),
        ).fetchone() or (None, None)
        load = dict(
            conn.execute(
                'SELECT "timestamp", sum(power)::float8 / 1000 FROM energy_readings '
                "WHERE meter_id = ANY(%s) AND \"timestamp\" > %s - INTERVAL '1 hour' GROUP BY 1",
                (mine, extent.last_reading),
            ).fetchall()
        )
        hourly = dict(conn.execute(
            "SELECT bucket, sum(avg_power)::float8 / 1000 FROM energy_readings_hourly "
            "WHERE meter_id = ANY(%s) AND bucket >= %s AND bucket < %s GROUP BY 1",
            (mine, start, end),
        ).fetchall())  # fmt: skip
    cut = extent.cut(INTERVAL)
    assert cut is not None
    daily = data.daily_energy("UTC", first_day, end_day, cut, tf)
    assert daily.get_column("energy_kwh").sum() == pytest.approx(energy)
    quality = data.voltage_quality(*window, tf)
    assert int(quality.get_column("readings").sum()) == readings
    fleet_load = data.live_fleet_load("UTC", tf)
    assert fleet_load.get_column("meters_reporting").max() == len(mine)
    assert dict(zip(fleet_load["time"].dt.replace_time_zone("UTC"), fleet_load["power_kw"],
                    strict=True)) == pytest.approx(load)  # fmt: skip
    solar = data.solar_export(*window, tf)
    per_meter = restricted(data.top_consumers(*window, ALL_METERS, 100))
    pv_export = per_meter.filter(per_meter["meter_id"] == 6)["export_kwh"].sum()  # the PV meter
    assert solar.get_column("export_kwh").sum() == pytest.approx(pv_export)
    # 3 days: each weekday-hour of the heatmap is one hour, the transformer's meters' sum.
    heat = data.load_heatmap(*window, tf)
    expected = {(t.isoweekday(), t.hour): kw for t, kw in hourly.items()}
    assert dict(zip(zip(heat["weekday"], heat["hour"], strict=True), heat["power_kw"],
                    strict=True)) == pytest.approx(expected)  # fmt: skip
    # Every transformer selected: the per-meter branch gives the segments' numbers.
    with connect(dashboard_data) as conn:
        every = tuple(r[0] for r in conn.execute("SELECT DISTINCT transformer FROM meters"))
    all_transformers = MeterSelection(transformers=every)
    assert data.load_heatmap(*window, all_transformers).equals(
        data.load_heatmap(*window, ALL_METERS)
    )


def test_pages_follow_the_transformer_filter(dashboard_data: Database) -> None:
    """The sidebar offers the transformers of the selected feeders; a selected one narrows the
    pages to its meters; with a class it does not serve, every page says no meter matches."""
    at = open_page("app_pages/data_quality.py")
    box = at.sidebar.multiselect(key="filter_transformers")
    assert box.options == ["F01-T001", "F01-T002", "F01-T003"]
    box.set_value([TRANSFORMER]).run()
    assert not at.exception, [e.value for e in at.exception]
    mine = transformer_meters(dashboard_data, TRANSFORMER)
    received = int(metrics(at)["Readings received"].value.replace(",", ""))
    with connect(dashboard_data) as conn:
        row = conn.execute(
            "SELECT count(*) FROM energy_readings WHERE meter_id = ANY(%s)", (mine,)
        ).fetchone()
    assert row and received <= row[0] and received > 0
    at.switch_page("app_pages/meter_trends.py").run()
    assert at.sidebar.multiselect(key="filter_transformers").value == [TRANSFORMER]
    picked = at.multiselect(key="trend_meters").value
    assert picked and set(picked) <= set(mine), picked  # meter 3 (on F01-T002) dropped
    # F01-T002 serves only the commercial meter 3
    at.sidebar.multiselect(key="filter_transformers").set_value(["F01-T002"]).run()
    at.sidebar.multiselect(key="filter_classes").set_value(["residential"]).run()
    for page in NO_MATCH_PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert NO_MATCH in notices(at) and "transformer: F01-T002" in notices(at), page


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
