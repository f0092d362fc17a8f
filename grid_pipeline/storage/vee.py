"""Where VEE reads and writes: readings in, flags, estimates and the run's audit row out.

A run replaces the flags and estimates of its window in one transaction with the row
that says who ran it, when and with which rules, so the validated series never mixes
two runs and every estimate can be traced to the run that made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import psycopg

from grid_pipeline.db.sqlfiles import query
from grid_pipeline.vee.rules import CONFLICT_SCHEMA

READING_SCHEMA = pl.Schema(
    {"timestamp": pl.Datetime("us", "UTC"), "meter_id": pl.Int32(), "power": pl.Int64(),
     "energy": pl.Int64(), "voltage": pl.Int64(), "current": pl.Int64()}
)  # fmt: skip


def read_readings(conn: psycopg.Connection[Any], start: datetime, end: datetime) -> pl.DataFrame:
    """The stored readings of [start, end), in stored units (READING_SCHEMA)."""
    rows = conn.execute(query("vee_readings"), {"start": start, "end": end}).fetchall()
    return pl.DataFrame(rows, schema=READING_SCHEMA, orient="row")


def read_meter_energy(
    conn: psycopg.Connection[Any], meters: list[int], start: datetime, end: datetime
) -> pl.DataFrame:
    """The energy (Wh) of `meters` over [start, end): timestamp, meter_id, energy."""
    rows = conn.execute(
        query("vee_meter_readings"), {"meters": meters, "start": start, "end": end}
    ).fetchall()
    schema = {name: READING_SCHEMA[name] for name in ("timestamp", "meter_id", "energy")}
    return pl.DataFrame(rows, schema=schema, orient="row")


def read_conflicts(conn: psycopg.Connection[Any], start: datetime, end: datetime) -> pl.DataFrame:
    """The readings of [start, end) received again with other values (CONFLICT_SCHEMA)."""
    rows = conn.execute(query("vee_conflicts"), {"start": start, "end": end}).fetchall()
    return pl.DataFrame(rows, schema=CONFLICT_SCHEMA, orient="row")


def data_bounds(
    conn: psycopg.Connection[Any], interval: timedelta
) -> tuple[datetime | None, datetime]:
    """The first reading (None: no readings) and the last ended interval boundary."""
    row = conn.execute(query("vee_data_bounds"), {"interval": interval}).fetchone()
    assert row is not None
    return row[0], row[1]


@dataclass(frozen=True)
class WindowCheck:
    """A validated window against its contract (`vee_window_check.sql`)."""

    expected: int  # (meter, interval) pairs that expect a reading
    present: int  # of those, the pairs the validated series holds
    duplicates: int  # rows of the series beyond one per pair
    unaudited_flags: int  # flags without a finished run behind them
    unaudited_estimates: int

    @property
    def complete(self) -> bool:
        return self.present == self.expected and self.duplicates == 0

    @property
    def audited(self) -> bool:
        return self.unaudited_flags == 0 and self.unaudited_estimates == 0


def check_window(
    conn: psycopg.Connection[Any], start: datetime, end: datetime, interval: timedelta
) -> WindowCheck:
    """Count what the validated series of [start, end) holds against what it should;
    `start` and `end` bound the intervals that expect a reading (end > start)."""
    row = conn.execute(
        query("vee_window_check"), {"start": start, "end": end, "interval": interval}
    ).fetchone()
    assert row is not None
    return WindowCheck(*(int(v) for v in row))


def replace_window(
    conn: psycopg.Connection[Any],
    window: tuple[datetime, datetime],
    actor: str,
    rules: str,
    flags: pl.DataFrame,
    estimates: pl.DataFrame,
) -> int:
    """Replace the window's flags and estimates with these, under a new audited run; its id."""
    with conn.transaction():
        row = conn.execute(
            query("vee_start_run"),
            {"start": window[0], "end": window[1], "actor": actor, "rules": rules},
        ).fetchone()
        assert row is not None
        run = int(row[0])
        conn.execute(query("vee_replace_window"), {"start": window[0], "end": window[1]})
        if flags.height:
            conn.execute(
                query("vee_insert_flags"),
                {"run": run} | {c: flags.get_column(c).to_list()
                                for c in ("timestamp", "meter_id", "rule", "detail")},
            )  # fmt: skip
        if estimates.height:
            columns = ("timestamp", "meter_id", "energy", "original_energy", "method", "reason")
            conn.execute(
                query("vee_insert_estimates"),
                {"run": run} | {c: estimates.get_column(c).to_list() for c in columns},
            )
        conn.execute(
            query("vee_finish_run"),
            {"run": run, "flags": flags.height, "estimates": estimates.height},
        )
    return run
