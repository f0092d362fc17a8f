"""Continuous aggregates: refresh (in hierarchy order) and verify against raw SQL.

The aggregates are defined in `sql/schema/002_aggregates.sql`. TimescaleDB
tracks which buckets inserts invalidated, so a refresh recomputes only what
changed; the scheduled job refreshes a look-back window that covers late data.
"""

from __future__ import annotations

import time
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
)
# Coarsest bucket of each: a refresh window is widened to whole buckets.
BUCKETS = {
    "energy_readings_15min": timedelta(minutes=15),
    "energy_readings_hourly": timedelta(hours=1),
    "energy_readings_daily": timedelta(days=1),
    "meter_hourly_stats": timedelta(hours=1),
    "fleet_15min": timedelta(minutes=15),
}


def _floor(moment: datetime, bucket: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return moment - (moment - epoch) % bucket


def refresh_aggregates(db: Database, since: datetime | None = None) -> dict[str, float]:
    """Refresh every aggregate from `since` (None: all time) to now; seconds per aggregate.

    `CALL refresh_continuous_aggregate` cannot run inside a transaction, hence
    autocommit. Each window starts at a whole bucket of its aggregate.
    """
    seconds: dict[str, float] = {}
    with connect(db, autocommit=True) as conn:
        for name in AGGREGATES:
            start = _floor(since, BUCKETS[name]) if since else None
            started = time.perf_counter()
            conn.execute(
                "CALL refresh_continuous_aggregate(%s::regclass, %s::timestamptz, NULL)",
                (name, start),
            )
            seconds[name] = time.perf_counter() - started
    return seconds


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
