"""Power quality per meter and week, computed in SQL and stored in `power_quality_weekly`.

EN 50160 judges a week of 10-minute mean voltages and ANSI C84.1 reads the same means
against its ranges; both are answered by one INSERT ... SELECT per week over the readings
(`sql/queries/power_quality_insert_week.sql`), so the dashboard reads one row per meter
and week instead of scanning 10 million readings per page view. A week's rows are
replaced in one transaction: computing a week again gives the same rows, never twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg

from grid_pipeline.db.sqlfiles import query

WEEK = timedelta(days=7)
#: Memory per sort or hash while a week is computed (see `power_quality_work_mem.sql`).
WORK_MEM = "64MB"


def week_start(instant: datetime | date) -> datetime:
    """The Monday 00:00 UTC starting the week that holds `instant` (a date is a UTC day)."""
    day = instant.astimezone(UTC).date() if isinstance(instant, datetime) else instant
    monday = day - timedelta(days=day.weekday())
    return datetime.combine(monday, time(), UTC)


def weeks_touching(start: datetime, end: datetime) -> Iterator[datetime]:
    """The week starts of every week that [start, end) touches, oldest first."""
    week = week_start(start)
    while week < end:
        yield week
        week += WEEK


def readings_extent(conn: psycopg.Connection[Any]) -> tuple[datetime, datetime] | None:
    """The first reading and the instant after the last one; None without readings."""
    row = conn.execute(query("power_quality_extent")).fetchone()
    if row is None or row[0] is None:
        return None
    return row[0], row[1] + timedelta(microseconds=1)


def replace_week(conn: psycopg.Connection[Any], week: datetime) -> int:
    """Compute the week starting `week` (a Monday 00:00 UTC) again; the rows stored.

    The delete and the insert run in one transaction, so a reader sees the old week or
    the new one, never a mix or nothing in between.
    """
    if week != week_start(week):
        raise ValueError(f"{week.isoformat()} is not a Monday 00:00 UTC")
    with conn.transaction():
        conn.execute(query("power_quality_work_mem"), {"work_mem": WORK_MEM})
        conn.execute(query("power_quality_delete_week"), {"week": week})
        cur = conn.execute(query("power_quality_insert_week"), {"week": week})
        return cur.rowcount


def verdict_counts(conn: psycopg.Connection[Any], week: datetime) -> dict[str, int]:
    """How many meters passed, failed or are incomplete in the stored week."""
    rows = conn.execute(query("power_quality_verdict_counts"), {"week": week}).fetchall()
    return {"pass": 0, "fail": 0, "incomplete": 0} | {str(v): int(n) for v, n in rows}
