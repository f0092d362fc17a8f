"""Data-quality facts about a window of readings, shared by asset checks and reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from grid_pipeline.db.sqlfiles import query


@dataclass(frozen=True)
class WindowQuality:
    """Counts over one table and window.

    `expected_rows` assumes one reading per meter of the fleet per interval.
    """

    rows: int
    duplicates: int
    out_of_bounds: int
    meters_reporting: int
    meters_in_fleet: int
    expected_rows: int

    @property
    def complete(self) -> bool:
        return self.rows >= self.expected_rows


def window_quality(
    conn: psycopg.Connection[Any],
    table: str,
    start: datetime,
    end: datetime,
    interval: timedelta,
) -> WindowQuality:
    """Run `readings_quality.sql` on the window and add the expected row count."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL(query("readings_quality")).format(table=sql.Identifier(table)),
            {"start": start, "end": end},
        )
        row = cur.fetchone()
    assert row is not None
    intervals = int((end - start) / interval)
    return WindowQuality(**row, expected_rows=intervals * int(row["meters_in_fleet"]))


def window_preview(
    conn: psycopg.Connection[Any], table: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The first rows of the window, for a Markdown preview."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL(query("readings_preview")).format(table=sql.Identifier(table)),
            {"start": start, "end": end},
        )
        return cur.fetchall()


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows as a Markdown table (Dagster renders it in the asset's metadata)."""
    if not rows:
        return "_no rows_"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in rows]
    return "\n".join(lines)
