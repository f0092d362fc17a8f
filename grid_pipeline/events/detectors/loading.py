"""Transformer overload and reverse power flow: a load beyond a share of the rating, sustained.

A distribution transformer is rated in kVA; its load is the sum of its meters'
active power divided by their power factor (``fleet.meters.POWER_FACTOR``).
Thermal damage comes from sustained load, not from one interval, so an overload is
a load above ``overload_ratio`` x rating for at least ``overload_min`` of
consecutive intervals (IEC 60076-7 loading guide: ageing accrues over tens of
minutes). Reverse power flow is solar export pushing power back through the
transformer: a load below ``-reverse_flow_ratio`` x rating for at least
``reverse_flow_min``; it is real physics, not a fault, reported for planning and
protection settings.

`sustained_runs` is the whole rule, a pure function over a frame of loads; it cuts
runs with `grid_pipeline.events.runs.sustained_runs`, which the generator applies
to the true flows for its ground truth, so both use exactly the same rule.

Severity: overload warning, critical from 1.5 x rating (emergency loading);
reverse flow info.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl
import psycopg

from grid_pipeline.events.detectors.base import (
    DetectedEvent,
    frame,
    in_window,
    padded,
    reading_interval,
    utc,
)
from grid_pipeline.events.kinds import Thresholds
from grid_pipeline.events.runs import sustained_runs as held_runs
from grid_pipeline.fleet.meters import CUSTOMER_CLASSES, POWER_FACTOR

NAME = "loading"
#: Overload at or above this multiple of the rating is critical (emergency loading).
CRITICAL_OVERLOAD = 1.5
LOAD_SCHEMA: dict[str, pl.DataType] = {
    "transformer": pl.Utf8(),
    "timestamp": pl.Datetime("us", "UTC"),
    "load_kva": pl.Float64(),
    "rating_kva": pl.Float64(),
}
RUN_SCHEMA: dict[str, pl.DataType] = {
    "transformer": pl.Utf8(),
    "start": pl.Datetime("us", "UTC"),
    "end": pl.Datetime("us", "UTC"),
    "intervals": pl.Int64(),
    "peak_ratio": pl.Float64(),
}


def sustained_runs(
    loads: pl.DataFrame,
    *,
    ratio: float,
    min_duration: timedelta,
    interval: timedelta,
    export: bool,
) -> pl.DataFrame:
    """Runs where a transformer's load stays beyond `ratio` x its rating for `min_duration`.

    `loads` has one row per transformer and interval: ``transformer``, ``timestamp``,
    ``load_kva`` (negative = export) and ``rating_kva``; missing intervals break a
    run. With ``export=False`` the condition is ``load_kva > ratio * rating_kva``
    (overload); with ``export=True`` it is ``load_kva < -ratio * rating_kva``
    (reverse flow). A run of n consecutive intervals counts n x `interval` and is
    kept when that is at least `min_duration`. Returns `RUN_SCHEMA`: transformer,
    start, end (last interval + `interval`, half-open), intervals and peak_ratio
    (the largest ``|load_kva| / rating_kva`` in the run), sorted by transformer, start.
    """
    limit = ratio * pl.col("rating_kva")
    beyond = pl.col("load_kva") < -limit if export else pl.col("load_kva") > limit
    rows = loads.filter(beyond).with_columns(
        (pl.col("load_kva").abs() / pl.col("rating_kva")).alias("peak_ratio")
    )
    if rows.is_empty():
        return pl.DataFrame(schema=RUN_SCHEMA)
    flags = rows.select(pl.col("transformer").alias("key"), "timestamp", pl.lit(True).alias("flag"))
    found = held_runs(flags, interval, min_duration).rename({"key": "transformer"})
    peaks = (
        found.join(rows.select("transformer", "timestamp", "peak_ratio"), on="transformer")
        .filter((pl.col("timestamp") >= pl.col("start")) & (pl.col("timestamp") < pl.col("end")))
        .group_by("transformer", "start")
        .agg(pl.col("peak_ratio").max())
    )
    return (
        found.join(peaks, on=["transformer", "start"])
        .select(list(RUN_SCHEMA))
        .cast(pl.Schema(RUN_SCHEMA))
        .sort("transformer", "start")
    )


def overload_runs(loads: pl.DataFrame, thresholds: Thresholds, interval: timedelta) -> pl.DataFrame:
    """`sustained_runs` with the overload thresholds."""
    return sustained_runs(
        loads,
        ratio=thresholds.overload_ratio,
        min_duration=thresholds.overload_min,
        interval=interval,
        export=False,
    )


def reverse_flow_runs(
    loads: pl.DataFrame, thresholds: Thresholds, interval: timedelta
) -> pl.DataFrame:
    """`sustained_runs` with the reverse-flow thresholds (the generator's ground truth too)."""
    return sustained_runs(
        loads,
        ratio=thresholds.reverse_flow_ratio,
        min_duration=thresholds.reverse_flow_min,
        interval=interval,
        export=True,
    )


def _events(found: pl.DataFrame, kind: str) -> list[DetectedEvent]:
    events = []
    for row in found.iter_rows(named=True):
        peak = float(row["peak_ratio"])
        if kind == "overload":
            severity = "critical" if peak >= CRITICAL_OVERLOAD else "warning"
        else:
            severity = "info"
        events.append(
            DetectedEvent(
                kind=kind,
                asset_type="transformer",
                asset=str(row["transformer"]),
                start=utc(row["start"]),
                end=utc(row["end"]),
                severity=severity,  # type: ignore[arg-type]
                evidence={"peak_ratio": round(peak, 3), "intervals": int(row["intervals"])},
                detector=NAME,
            )
        )
    return events


def detect_frame(
    loads: pl.DataFrame, thresholds: Thresholds, interval: timedelta
) -> list[DetectedEvent]:
    """Overload and reverse-flow events from transformer loads (pure: no database)."""
    return [
        *_events(overload_runs(loads, thresholds, interval), "overload"),
        *_events(reverse_flow_runs(loads, thresholds, interval), "reverse_flow"),
    ]


def detect(
    conn: psycopg.Connection[Any], window: tuple[datetime, datetime], thresholds: Thresholds
) -> list[DetectedEvent]:
    """Overload and reverse-flow events starting in `window` (reads a day either side)."""
    params = {
        **padded(window),
        "classes": list(CUSTOMER_CLASSES),
        "pf": list(POWER_FACTOR),
        "over": thresholds.overload_ratio,
        "reverse": thresholds.reverse_flow_ratio,
    }
    loads = frame(conn, "events_transformer_load", params, LOAD_SCHEMA)
    return in_window(detect_frame(loads, thresholds, reading_interval(conn, window)), window)
