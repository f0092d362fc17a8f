"""Continuous aggregates: refresh (in hierarchy order) and verify against raw SQL.

The aggregates are defined in `sql/schema/002_aggregates.sql`. TimescaleDB
tracks which buckets inserts invalidated, so a refresh recomputes only what
changed; the scheduled job refreshes a look-back window that covers late data.

A refresh is cut into windows of at most a day, each `CALL` in its own
connection: the embedded engine is one session shared by every client in turn,
and one `CALL` over all time holds it for seconds per million rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.sqlfiles import query

# Refresh order matters: hourly reads the 15-minute aggregate, daily the hourly.
AGGREGATES = (
    "energy_readings_15min",
    "energy_readings_hourly",
    "energy_readings_daily",
    "meter_hourly_stats",
    "fleet_15min",
    "meter_daily_stats",  # on meter_hourly_stats (migration 010)
    "meter_daily_peak",  # on energy_readings_15min (migration 010)
    "segment_hourly_load",  # on energy_readings_hourly and meters (migration 014)
)
# Coarsest bucket of each: a refresh window is widened to whole buckets.
BUCKETS = {
    "energy_readings_15min": timedelta(minutes=15),
    "energy_readings_hourly": timedelta(hours=1),
    "energy_readings_daily": timedelta(days=1),
    "meter_hourly_stats": timedelta(hours=1),
    "fleet_15min": timedelta(minutes=15),
    "meter_daily_stats": timedelta(days=1),
    "meter_daily_peak": timedelta(days=1),
    "segment_hourly_load": timedelta(hours=1),
}


def _floor(moment: datetime, bucket: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return moment - (moment - epoch) % bucket


RefreshWindow = tuple[datetime | None, datetime | None]
REFRESH_STEP = timedelta(days=1)


def refresh_windows(
    start: datetime | None, first: datetime | None, now: datetime, step: timedelta = REFRESH_STEP
) -> list[RefreshWindow]:
    """Consecutive refresh windows covering [start, +infinity) with no gap.

    `start` None means all time: the first window is then open below (NULL) and ends
    at the day after `first` (the first reading), so buckets left over from deleted
    rows are refreshed too. Boundaries are multiples of `step` since the epoch (UTC
    midnights for a day), which every bucket divides; windows are at most `step` long
    up to the last boundary at or before `now`, then one open-ended tail (NULL end)
    refreshes whatever lies after it. An empty table (`first` None) gives one window
    over all time.
    """
    if start is None and first is None:
        return [(None, None)]
    cursor = start if start is not None else _floor(first or now, step)
    windows: list[RefreshWindow] = []
    lower: datetime | None = start
    boundary = _floor(cursor, step) + step
    limit = _floor(now, step)
    while boundary <= limit:
        windows.append((lower, boundary))
        lower = boundary
        boundary += step
    windows.append((lower, None))
    return windows


def _first_reading(db: Database) -> datetime | None:
    with connect(db) as conn:
        row = conn.execute('SELECT min("timestamp") FROM energy_readings').fetchone()
    return row[0] if row and row[0] else None


def refresh_aggregates(
    db: Database,
    since: datetime | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    step: timedelta = REFRESH_STEP,
) -> dict[str, float]:
    """Refresh every aggregate from `since` (None: all time) to now; seconds per aggregate.

    Hierarchy order: each aggregate is refreshed completely before the next, so the
    hourly aggregate reads a finished 15-minute one and the daily a finished hourly.
    Each aggregate's range is cut by `refresh_windows` into windows of at most `step`
    (from `since` floored to the aggregate's bucket, or from the first reading's day
    when `since` is None, to now) plus an open-ended tail; each window is one
    `CALL refresh_continuous_aggregate` in its own autocommit connection (the
    procedure cannot run inside a transaction), so other clients get the engine
    between windows. `progress` gets one line per window, called while no connection
    is held.
    """
    now = datetime.now(UTC)
    first = _first_reading(db) if since is None else None
    seconds: dict[str, float] = {}
    for name in AGGREGATES:
        start = _floor(since, BUCKETS[name]) if since else None
        total = 0.0
        for lower, upper in refresh_windows(start, first, now, step):
            started = time.perf_counter()
            with connect(db, autocommit=True) as conn:
                conn.execute(
                    "CALL refresh_continuous_aggregate(%s::regclass, %s::timestamptz, "
                    "%s::timestamptz)",
                    (name, lower, upper),
                )
            held = time.perf_counter() - started
            total += held
            if progress:
                progress(f"{name}: {_label(lower)} .. {_label(upper)} refreshed in {held:.2f} s")
        seconds[name] = total
    return seconds


def _label(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}" if moment else "open"


def aggregate_rows(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Rows each aggregate returns (materialised plus real-time part), for metadata."""
    counts = {}
    for name in AGGREGATES:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))
        ).fetchone()
        counts[name] = int(row[0]) if row else 0
    return counts


def aggregate_mismatches(
    conn: psycopg.Connection[Any], name: str, start: datetime, end: datetime
) -> int:
    """Buckets of `name` in [start, end) that differ from the raw GROUP BY (0 = equal)."""
    row = conn.execute(query(f"cagg_check_{name}"), {"start": start, "end": end}).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class MeterDayGap:
    meter_id: int
    day: str
    readings: int


def incomplete_meter_days(
    conn: psycopg.Connection[Any], start: datetime, end: datetime, per_day: int
) -> list[MeterDayGap]:
    """Meter-days in [start, end) (whole UTC days) with fewer than `per_day` readings."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            query("incomplete_meter_days"), {"start": start, "end": end, "per_day": per_day}
        )
        return [MeterDayGap(r["meter_id"], r["day"].isoformat(), r["readings"]) for r in cur]


def readings_span(conn: psycopg.Connection[Any]) -> tuple[datetime, datetime] | None:
    """First and last reading timestamp of the primary table (None when empty)."""
    row = conn.execute('SELECT min("timestamp"), max("timestamp") FROM energy_readings').fetchone()
    return (row[0], row[1]) if row and row[0] else None


def add_refresh_policies(conn: psycopg.Connection[Any], lookback: timedelta) -> None:
    """Background refresh policies, for native servers (the embedded engine runs none)."""
    for name in AGGREGATES:
        conn.execute(
            "SELECT add_continuous_aggregate_policy(%s::regclass, start_offset => %s::interval, "
            "end_offset => NULL, schedule_interval => INTERVAL '5 minutes', if_not_exists => TRUE)",
            (name, lookback + BUCKETS[name]),
        )
