"""The dashboard's numbers, straight from the query functions in `dashboard/data.py`.

The page tests (test_dashboard_pages.py) check what a user reads; these check the
figures behind it on the real embedded engine with a small fleet (4 meters x 2
days ending at the last interval boundary), including the cases the pages'
complete data never shows: real gaps, a reading already sent for the running
interval, meters or intervals missing from the Live view. Partial time is never a
failure: only intervals that have ended and lie inside the data set are expected,
and energy is compared over the same elapsed time. A few pure checks of the helpers
need no database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import streamlit as st

from dashboard import components, data
from dashboard.selection import ALL_METERS, MeterSelection
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.aggregates import refresh_aggregates
from grid_pipeline.storage.historic import (
    default_window,
    floor_time,
    load_history,
    read_fleet,
    replace_fleet,
)
from grid_pipeline_tests.test_dashboard_pages import GRACE, INTERVAL, on_a_steady_clock

METERS, DAYS = 4, 2
PER_HOUR = int(timedelta(hours=1) / INTERVAL)
PER_DAY = int(timedelta(days=1) / INTERVAL)
T = TypeVar("T")


def fresh(fn: Callable[..., T], *args: Any) -> T:
    """Call a cached query function with an empty cache (each call sees the database now)."""
    st.cache_data.clear()
    return fn(*args)


def reload(db: Database, start: datetime) -> None:
    """Put back every reading from `start` to the last boundary, and the aggregates over it."""
    with connect(db) as conn:
        fleet = read_fleet(conn)
    end = floor_time(datetime.now(UTC), INTERVAL)
    load_history(db, fleet, (start, end), interval=INTERVAL, seed=7, timezone="UTC")
    refresh_aggregates(db, since=start - timedelta(hours=1))


def delete(db: Database, where: str, *params: Any) -> None:
    with connect(db) as conn:
        conn.execute(f"DELETE FROM energy_readings WHERE {where}", params)


@pytest.fixture(scope="module")
def figures_data(database: Database) -> Iterator[Database]:
    """The session engine holding 4 meters x 2 days ending at the last boundary."""
    with connect(database) as conn:
        conn.execute("TRUNCATE energy_readings")
    replace_fleet(database, build_fleet(METERS, 7))
    with connect(database) as conn:
        fleet = read_fleet(conn)
    load_history(
        database, fleet, default_window(DAYS, INTERVAL), interval=INTERVAL, seed=7, timezone="UTC"
    )
    refresh_aggregates(database)
    yield database


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def first_reading(db: Database) -> datetime:
    with connect(db) as conn:
        row = conn.execute('SELECT min("timestamp") FROM energy_readings').fetchone()
    assert row and row[0] is not None
    first: datetime = row[0]
    return first


def days_up_to_now(days: int) -> tuple[date, date]:
    today = datetime.now(UTC).date()
    return today - timedelta(days=days - 1), today + timedelta(days=1)


# --- data quality -------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("tz", ["UTC", "Asia/Tokyo"])
def test_completeness_expects_only_ended_intervals_inside_the_data_set(
    figures_data: Database, tz: str
) -> None:
    """Ten local days around a 2-day data set: only its days have rows, each reads 100 %, and
    exactly 2 days of intervals are expected (none for the running interval)."""
    start_day, end_day = days_up_to_now(10)
    start_day -= timedelta(days=1)  # Tokyo is ahead of UTC: cover its today as well

    def check() -> tuple[pl.DataFrame, pl.DataFrame]:
        args = (tz, start_day, end_day + timedelta(days=1), INTERVAL, ALL_METERS)
        return fresh(data.completeness, *args), fresh(data.gaps, *args)

    complete, gaps = on_a_steady_clock(figures_data, check)
    first, end = first_reading(figures_data), floor_time(datetime.now(UTC), INTERVAL)
    intervals = (end - first) // INTERVAL  # DAYS days, more once a top-up extended the data
    assert intervals >= DAYS * PER_DAY
    assert complete.get_column("completeness").min() == 1.0
    assert complete.get_column("expected").sum() == METERS * intervals
    assert complete.get_column("readings").sum() == METERS * intervals
    zone = ZoneInfo(tz)  # one row per meter for each local day from the first to the newest
    days = ((end - INTERVAL).astimezone(zone).date() - first.astimezone(zone).date()).days + 1
    assert complete.height == METERS * days
    assert gaps.is_empty(), gaps


@pytest.mark.integration
def test_a_reading_for_the_running_interval_counts_for_nothing(figures_data: Database) -> None:
    """The live simulator sends an interval's readings at its start: they are not expected
    yet and must not fill a gap elsewhere, so the counts stay exactly those of ended time."""
    start_day, end_day = days_up_to_now(3)

    def check() -> tuple[pl.DataFrame, pl.DataFrame]:
        boundary = floor_time(datetime.now(UTC), INTERVAL)
        with connect(figures_data) as conn:
            fleet = read_fleet(conn)
        window = (boundary, boundary + INTERVAL)
        load_history(figures_data, fleet, window, interval=INTERVAL, seed=7, timezone="UTC")
        try:
            args = ("UTC", start_day, end_day, INTERVAL, ALL_METERS)
            return fresh(data.completeness, *args), fresh(data.gaps, *args)
        finally:
            delete(figures_data, '"timestamp" >= %s', boundary)

    complete, gaps = on_a_steady_clock(figures_data, check)
    assert complete.get_column("readings").sum() == complete.get_column("expected").sum()
    assert complete.get_column("completeness").min() == 1.0
    assert gaps.is_empty(), gaps


@pytest.mark.integration
def test_gaps_are_the_real_missing_readings_worst_first(figures_data: Database) -> None:
    """Three readings missing from one meter-hour, a whole hour from another meter and a whole
    UTC day from a third are the only gaps (the running hour is none), worst first, counted
    in full: the empty day hour by hour, like the others."""
    hour = floor_time(datetime.now(UTC), timedelta(hours=1)) - timedelta(hours=3)
    earlier = hour - timedelta(hours=1)
    yesterday = floor_time(datetime.now(UTC), timedelta(days=1)) - timedelta(days=1)
    delete(figures_data, 'meter_id = 1 AND "timestamp" >= %s AND "timestamp" < %s',
           hour, hour + 3 * INTERVAL)  # fmt: skip
    delete(figures_data, 'meter_id = 2 AND "timestamp" >= %s AND "timestamp" < %s',
           earlier, hour)  # fmt: skip
    delete(figures_data, 'meter_id = 3 AND "timestamp" >= %s AND "timestamp" < %s',
           yesterday, yesterday + timedelta(days=1))  # fmt: skip
    refresh_aggregates(figures_data, since=yesterday)
    try:
        start_day, end_day = days_up_to_now(3)
        args = ("UTC", start_day, end_day, INTERVAL, ALL_METERS)
        complete, gaps = on_a_steady_clock(
            figures_data, lambda: (fresh(data.completeness, *args), fresh(data.gaps, *args))
        )
    finally:
        reload(figures_data, yesterday)
    naive = [h.replace(tzinfo=None) for h in (hour, earlier, yesterday)]
    day = [(3, naive[2] + timedelta(hours=k), 0, PER_HOUR, PER_HOUR) for k in range(24)]
    expected = [(2, naive[1], 0, PER_HOUR, PER_HOUR), (1, naive[0], PER_HOUR - 3, PER_HOUR, 3)]
    expected = sorted(expected + day, key=lambda row: (-row[4], -row[1].timestamp(), row[0]))
    rows = gaps.select("meter_id", "hour", "readings", "expected", "missing").rows()
    assert rows == expected
    assert gaps.get_column("gap_hours").to_list() == [26] * 26
    assert gaps.get_column("missing_total").to_list() == [PER_HOUR * 25 + 3] * 26
    missing = int(complete.get_column("expected").sum()) - int(
        complete.get_column("readings").sum()
    )
    assert missing == PER_HOUR * 25 + 3


# --- daily energy -------------------------------------------------------------------------------


def raw_kwh(db: Database, start: datetime, end: datetime) -> float:
    """kWh in [start, end), straight from the raw readings (stored in Wh)."""
    with connect(db) as conn:
        row = conn.execute(
            "SELECT sum(energy) / 1000.0 FROM energy_readings "
            'WHERE "timestamp" >= %s AND "timestamp" < %s',
            (start, end),
        ).fetchone()
    assert row and row[0] is not None
    return float(row[0])


@pytest.mark.integration
def test_daily_energy_counts_the_readings_before_the_cut(figures_data: Database) -> None:
    """Yesterday (UTC) cut at 13:35: the hourly aggregate up to 13:00 plus the raw readings to
    13:35, and the day is not complete; cut at midnight it is the whole day, complete."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    midnight = datetime.combine(yesterday, datetime.min.time(), tzinfo=UTC)
    assert midnight >= first_reading(figures_data)
    for cut, complete in ((midnight + timedelta(hours=13, minutes=35), False),
                          (midnight + timedelta(days=1), True)):  # fmt: skip
        daily = fresh(
            data.daily_energy, "UTC", yesterday, yesterday + timedelta(days=1), cut, ALL_METERS
        )
        assert set(daily.get_column("day").to_list()) == {yesterday}
        assert daily.get_column("complete").to_list() == [complete] * daily.height
        assert daily.get_column("energy_kwh").sum() == pytest.approx(
            raw_kwh(figures_data, midnight, cut), rel=1e-9
        )


# --- live ---------------------------------------------------------------------------------------


def live() -> dict[str, Any]:
    return fresh(data.live_ingest, "UTC", INTERVAL, GRACE, 3, 0.95, ALL_METERS)


@pytest.mark.integration
def test_live_state_is_judged_per_reporting_interval(figures_data: Database) -> None:
    """Normal with every meter in the due interval; late with a meter missing from it or up
    to 3 due intervals missing; stalled beyond that, and with nothing in the last hour."""

    def check() -> tuple[datetime, dict[str, dict[str, Any]]]:
        due = floor_time(datetime.now(UTC) - GRACE, INTERVAL) - INTERVAL
        seen = {"complete": live()}
        for name, where, restore in (
            ("one meter late", 'meter_id = 1 AND "timestamp" >= %s', due),
            ("two intervals late", '"timestamp" >= %s', due - INTERVAL),
            ("four intervals late", '"timestamp" >= %s', due - 3 * INTERVAL),
            ("silent for an hour", '"timestamp" >= %s', due - timedelta(hours=2)),
        ):
            delete(figures_data, where, restore)
            seen[name] = live()
            reload(figures_data, restore)
        return due, seen

    due, seen = on_a_steady_clock(figures_data, check)
    judged = {name: (row["state"], row["behind"], row["due_meters"]) for name, row in seen.items()}
    assert judged == {
        "complete": ("normal", 0, METERS),
        "one meter late": ("late", 0, METERS - 1),
        "two intervals late": ("late", 2, 0),
        "four intervals late": ("stalled", 4, 0),
        "silent for an hour": ("stalled", None, 0),
    }
    normal = seen["complete"]
    assert normal["due_start"] == due.replace(tzinfo=None)
    assert normal["meters"] == METERS
    assert normal["readings_per_s"] == pytest.approx(METERS / INTERVAL.total_seconds())
    assert normal["expected_per_s"] == pytest.approx(METERS / INTERVAL.total_seconds())
    assert normal["lag_s"] <= (INTERVAL + GRACE).total_seconds()
    assert seen["silent for an hour"]["lag_s"] is None


# --- pure helpers -------------------------------------------------------------------------------


def test_matching_meters_counts_the_filtered_fleet() -> None:
    fleet = pl.DataFrame(
        {"customer_class": ["residential", "residential", "industrial"],
         "feeder": ["F01", "F02", "F02"]}
    )  # fmt: skip
    assert components.matching_meters(fleet, ALL_METERS) == 3
    assert components.matching_meters(fleet, MeterSelection(("residential",))) == 2
    assert components.matching_meters(fleet, MeterSelection(("residential",), ("F02",))) == 1
    assert components.matching_meters(fleet, MeterSelection(("industrial",), ("F01",))) == 0
    assert components.matching_meters(fleet.clear(), MeterSelection(("industrial",))) == 0


def test_where_the_data_ends() -> None:
    """data_end is the last boundary; the cut never lies after it nor after the newest
    reading's interval (a data set that stopped yesterday is cut yesterday)."""
    boundary = datetime(2026, 3, 29, 12, 35, tzinfo=UTC)
    now = boundary + timedelta(minutes=2, seconds=10)

    def extent(last: datetime) -> data.Extent:
        return data.Extent(METERS, last - timedelta(days=2), last, now)

    loaded = extent(boundary - INTERVAL)  # historic data ends at the boundary
    assert loaded.data_end(INTERVAL) == boundary and loaded.cut(INTERVAL) == boundary
    running = extent(boundary)  # the simulator already sent the running interval
    assert running.cut(INTERVAL) == boundary
    old = extent(boundary - timedelta(days=1))
    assert old.cut(INTERVAL) == boundary - timedelta(days=1) + INTERVAL
    assert data.Extent(0, None, None, now).cut(INTERVAL) is None
