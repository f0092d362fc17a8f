"""What every detector shares: the event it returns, the reading interval, runs of intervals.

Detectors are set-based: SQL reduces the readings to the few rows that can be part
of an event (a voltage of zero, a 10-minute mean outside the band, a transformer's
load per interval), and polars turns consecutive rows into runs. A run is a set
of rows of one asset whose timestamps follow each other at exactly the reading
interval; its event is ``[first, last + interval)``, half-open like the faults.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import psycopg

from grid_pipeline.db.sqlfiles import query
from grid_pipeline.events.kinds import AssetType, Severity

#: The interval assumed when the window holds too few readings to measure it.
DEFAULT_INTERVAL = timedelta(minutes=5)
#: Every fault but theft lies within one UTC day: detectors read this much around the
#: window so that a run crossing the window's edge is seen whole.
MARGIN = timedelta(days=1)

Evidence = dict[str, float | int | str]


@dataclass(frozen=True)
class DetectedEvent:
    """One event a detector found: a kind on an asset over ``[start, end)``."""

    kind: str
    asset_type: AssetType
    asset: str
    start: datetime
    end: datetime | None
    severity: Severity
    evidence: Evidence = field(default_factory=dict)
    detector: str = ""


def event_columns(events: list[DetectedEvent]) -> dict[str, list[Any]]:
    """The events as one array per `grid_events` column, for an ``unnest`` insert (the
    embedded engine has no COPY FROM STDIN; arrays cost one round trip)."""
    return {
        "kind": [e.kind for e in events],
        "asset_type": [e.asset_type for e in events],
        "asset": [e.asset for e in events],
        "start_ts": [e.start for e in events],
        "end_ts": [e.end for e in events],
        "severity": [e.severity for e in events],
        "evidence": [json.dumps(e.evidence, sort_keys=True) for e in events],
        "detector": [e.detector for e in events],
    }


def reading_interval(conn: psycopg.Connection[Any], window: tuple[datetime, datetime]) -> timedelta:
    """The reading interval, measured: the step between one meter's first two readings."""
    row = conn.execute(query("events_interval"), {"start": window[0], "end": window[1]}).fetchone()
    if row is None or row[0] is None:
        return DEFAULT_INTERVAL
    step: timedelta = row[0]
    return step if step > timedelta(0) else DEFAULT_INTERVAL


def padded(window: tuple[datetime, datetime], margin: timedelta = MARGIN) -> dict[str, datetime]:
    """Bound parameters for reading the window and `margin` either side of it."""
    return {"lo": window[0] - margin, "hi": window[1] + margin}


def frame(
    conn: psycopg.Connection[Any], name: str, params: dict[str, Any], schema: dict[str, Any]
) -> pl.DataFrame:
    """The rows of `sql/queries/<name>.sql` as a polars frame of `schema`."""
    rows = conn.execute(query(name), params).fetchall()
    return pl.DataFrame(rows, schema=schema, orient="row")


def runs(
    rows: pl.DataFrame, keys: list[str], interval: timedelta, ts: str = "timestamp"
) -> pl.DataFrame:
    """Group rows into runs of consecutive intervals per `keys`.

    Returns `keys`, ``start``, ``end`` (last + interval) and ``intervals``, plus the
    run's row index ``run`` so callers can aggregate other columns per run by joining
    back on (`keys`, ``run``) with :func:`with_run`.
    """
    labelled = with_run(rows, keys, interval, ts)
    return (
        labelled.group_by([*keys, "run"])
        .agg(
            pl.col(ts).min().alias("start"),
            (pl.col(ts).max() + interval).alias("end"),
            pl.len().cast(pl.Int64).alias("intervals"),
        )
        .sort([*keys, "start"])
    )


def with_run(
    rows: pl.DataFrame, keys: list[str], interval: timedelta, ts: str = "timestamp"
) -> pl.DataFrame:
    """`rows` sorted, with ``run``: a number per asset that changes where the next row
    is not exactly one interval after the previous (gaps-and-islands)."""
    ordered = rows.sort([*keys, ts])
    step = pl.col(ts).diff().over(keys)
    new_run = step.is_null() | (step != interval)
    return ordered.with_columns(new_run.cast(pl.Int64).cum_sum().over(keys).alias("run"))


def in_window(
    events: list[DetectedEvent], window: tuple[datetime, datetime]
) -> list[DetectedEvent]:
    """Only the events that start inside the window (a detector reads beyond it)."""
    return [e for e in events if window[0] <= e.start < window[1]]


def utc(moment: datetime) -> datetime:
    """A timestamp from polars (naive or aware) as an aware UTC datetime."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
