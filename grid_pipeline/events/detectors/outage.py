"""Outages: a meter, all the meters of a transformer, or all the meters of a feeder without supply.

A meter without supply either keeps reporting (its communications run on a backup
supply: the historic generator's outage) and measures no voltage, or stops
reporting (the live stream's outage). So an interval with ``voltage = 0`` or without
a reading, after the meter's first reading, is an interval without supply; clean
readings never read voltage 0 (a zero-reading fault keeps the voltage). The history
and the live watcher read the same `events_outage.sql`, so re-detecting a day that
was watched live finds the live outages again instead of erasing them.

The operator needs the highest asset that lost supply, not fifty meter alarms: at
each interval the meters out are rolled up to a feeder when every meter of the
feeder is out, else to a transformer when every meter of it is out.
Runs are formed per level, and a lower-level run is dropped when every one of its
intervals is covered by a higher-level outage (a meter outage that extends beyond
its transformer's outage stays, as one event from its first to its last interval
not covered).

Severity: a feeder is critical (hundreds of customers), a transformer critical (a
street), a meter warning (one customer, possibly a local fuse).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl
import psycopg

from grid_pipeline.db.sqlfiles import query
from grid_pipeline.events.detectors.base import (
    DetectedEvent,
    frame,
    in_window,
    padded,
    reading_interval,
    utc,
    with_run,
)
from grid_pipeline.events.kinds import AssetType, Severity, Thresholds

NAME = "outage"
SEVERITY: dict[AssetType, Severity] = {
    "feeder": "critical",
    "transformer": "critical",
    "meter": "warning",
}
_SCHEMA = {
    "timestamp": pl.Datetime("us", "UTC"),
    "meter_id": pl.Int32,
    "transformer": pl.Utf8,
    "feeder": pl.Utf8,
    "transformer_meters": pl.Int32,
    "feeder_meters": pl.Int32,
}


def rollup(out: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(feeder, timestamp) and (transformer, timestamp) at which every meter is out.

    `out` holds one row per meter and interval without supply, with the columns of
    ``events_outage.sql``.
    """
    feeders = (
        out.group_by("feeder", "timestamp")
        .agg(pl.len().alias("out"), pl.col("feeder_meters").first())
        .filter(pl.col("out") >= pl.col("feeder_meters"))
        .select("feeder", "timestamp", pl.col("out").alias("meters"))
    )
    transformers = (
        out.filter(pl.col("transformer").is_not_null())
        .group_by("transformer", "feeder", "timestamp")
        .agg(pl.len().alias("out"), pl.col("transformer_meters").first())
        .filter(pl.col("out") >= pl.col("transformer_meters"))
        .select("transformer", "feeder", "timestamp", pl.col("out").alias("meters"))
    )
    return feeders, transformers


def _covered(rows: pl.DataFrame, higher: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """`rows` with ``covered``: whether `higher` has an outage at the row's interval."""
    marks = higher.select(*on).unique().with_columns(pl.lit(True).alias("covered"))
    return rows.join(marks, on=on, how="left").with_columns(pl.col("covered").fill_null(False))


def _events(
    rows: pl.DataFrame, asset_type: AssetType, key: str, interval: timedelta, meters: str
) -> list[DetectedEvent]:
    """One event per run of `key` not wholly covered by a higher-level outage."""
    if rows.is_empty():
        return []
    grouped = (
        with_run(rows, [key], interval)
        .group_by(key, "run")
        .agg(
            pl.col("timestamp").filter(~pl.col("covered")).min().alias("start"),
            (pl.col("timestamp").filter(~pl.col("covered")).max() + interval).alias("end"),
            (~pl.col("covered")).sum().alias("intervals"),
            pl.col(meters).max().alias("meters"),
            pl.col("covered").all().alias("covered"),
        )
        .filter(~pl.col("covered"))
        .sort(key, "start")
    )
    return [
        DetectedEvent(
            kind="outage",
            asset_type=asset_type,
            asset=str(row[key]),
            start=utc(row["start"]),
            end=utc(row["end"]),
            severity=SEVERITY[asset_type],
            evidence={
                "intervals": int(row["intervals"]),
                "minutes": (row["end"] - row["start"]).total_seconds() / 60,
                "meters": int(row["meters"]),
            },
            detector=NAME,
        )
        for row in grouped.iter_rows(named=True)
    ]


def detect_frame(out: pl.DataFrame, interval: timedelta) -> list[DetectedEvent]:
    """Outage events from the meter-intervals without supply (pure: no database)."""
    feeders, transformers = rollup(out)
    feeder_rows = feeders.with_columns(pl.lit(False).alias("covered"))
    transformer_rows = _covered(transformers, feeders, ["feeder", "timestamp"])
    meter_rows = _covered(
        _covered(out, feeders, ["feeder", "timestamp"]).rename({"covered": "by_feeder"}),
        transformers,
        ["transformer", "timestamp"],
    ).with_columns((pl.col("covered") | pl.col("by_feeder")).alias("covered"))
    meter_rows = meter_rows.with_columns(pl.lit(1).alias("meters"))
    return [
        *_events(feeder_rows, "feeder", "feeder", interval, "meters"),
        *_events(transformer_rows, "transformer", "transformer", interval, "meters"),
        *_events(meter_rows, "meter", "meter_id", interval, "meters"),
    ]


def detect(
    conn: psycopg.Connection[Any], window: tuple[datetime, datetime], thresholds: Thresholds
) -> list[DetectedEvent]:
    """Outage events starting in `window` (reads a day either side to see runs whole)."""
    del thresholds  # an interval without voltage is an outage: nothing to tune
    interval = reading_interval(conn, window)
    bounds = padded(window)
    newest = conn.execute(query("events_live_frontier")).fetchone()
    if newest is None or newest[0] is None:
        return []
    # Intervals after the newest reading are the future, not missed.
    judged = min(bounds["hi"], utc(newest[0]) + interval)
    params = {"seen": bounds["lo"], **bounds, "judged": judged, "step": interval}
    out = frame(conn, "events_outage", params, _SCHEMA)
    return in_window(detect_frame(out, interval), window)
