"""Metering faults, the targets of VEE: stuck registers, zero reads, spikes.

These are faults of the meter, not of the grid: the load still flows.

* Stuck: the meter repeats one reading. Clean readings never repeat for long:
  power has 1 W resolution and voltage 0.1 V with noise, so the same non-zero
  power with the same voltage, energy and current for ``stuck_min`` (an hour, 12
  readings) is a frozen register. The SQL first finds the few meters with a whole
  ``stuck_min / 2`` bucket of identical readings (any run of ``stuck_min``
  contains one), then the runs are measured exactly on those meters' rows.
* Zero: power and current 0 with the voltage present for ``zero_min``: a failed
  current sensor or a bypass. (Voltage 0 is an outage, detected there.) A
  household's base load never reads exactly 0 W for an hour.
* Spike: a reading above ``spike_rating_multiple`` x the connection rating, which
  the connection cannot carry, alone: its neighbours are below the limit. A spike is
  a transient of one reading; readings beyond the limit for consecutive intervals
  are a sustained draw (a transformer overload shows them), not a spike.

Severity: stuck and zero warning (billing data is wrong until estimated), spike info
(one reading to edit).
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
    runs,
    utc,
)
from grid_pipeline.events.kinds import Thresholds

NAME = "metering"
_TS = pl.Datetime("us", "UTC")
_STUCK = {"timestamp": _TS, "meter_id": pl.Int32, "power": pl.Int64, "energy": pl.Int64,
          "voltage": pl.Int64, "current": pl.Int64}  # fmt: skip
_ZERO = {"timestamp": _TS, "meter_id": pl.Int32, "voltage": pl.Int64}
_SPIKE = {"timestamp": _TS, "meter_id": pl.Int32, "power": pl.Int64, "rated_kw": pl.Float64}
_READING = ["power", "energy", "voltage", "current"]


def _needed(duration: timedelta, interval: timedelta) -> int:
    """Whole intervals that make `duration`, rounded up."""
    return max(1, -(-duration // interval))


def stuck_runs(rows: pl.DataFrame, min_duration: timedelta, interval: timedelta) -> pl.DataFrame:
    """Runs of one meter repeating the same non-zero reading, consecutive, for `min_duration`.

    `rows` holds readings (timestamp, meter_id, power, energy, voltage, current).
    Returns meter_id, start, end, intervals, power.
    """
    if rows.is_empty():
        return pl.DataFrame(schema={"meter_id": pl.Int32, "start": _TS, "end": _TS,
                                    "intervals": pl.Int64, "power": pl.Int64})  # fmt: skip
    ordered = rows.sort("meter_id", "timestamp")
    changed = pl.col("timestamp").diff().over("meter_id") != interval
    for column in _READING:
        changed = changed | (pl.col(column).diff().over("meter_id") != 0)
    labelled = ordered.with_columns(
        changed.fill_null(True).cast(pl.Int64).cum_sum().over("meter_id").alias("run")
    )
    return (
        labelled.group_by("meter_id", "run")
        .agg(
            pl.col("timestamp").min().alias("start"),
            (pl.col("timestamp").max() + interval).alias("end"),
            pl.len().cast(pl.Int64).alias("intervals"),
            pl.col("power").first(),
        )
        .filter((pl.col("intervals") >= _needed(min_duration, interval)) & (pl.col("power") != 0))
        .drop("run")
        .sort("meter_id", "start")
    )


def zero_runs(rows: pl.DataFrame, min_duration: timedelta, interval: timedelta) -> pl.DataFrame:
    """Runs of zero reads (rows of ``events_zero.sql``) lasting at least `min_duration`."""
    if rows.is_empty():
        return pl.DataFrame(schema={"meter_id": pl.Int32, "start": _TS, "end": _TS,
                                    "intervals": pl.Int64})  # fmt: skip
    found = runs(rows, ["meter_id"], interval)
    return found.filter(pl.col("intervals") >= _needed(min_duration, interval)).drop("run")


def run_events(found: pl.DataFrame, kind: str, extra: list[str]) -> list[DetectedEvent]:
    """Stuck or zero runs (one row per run) as meter events with their length as evidence."""
    return [
        DetectedEvent(
            kind=kind,
            asset_type="meter",
            asset=str(row["meter_id"]),
            start=utc(row["start"]),
            end=utc(row["end"]),
            severity="warning",
            evidence={
                "intervals": int(row["intervals"]),
                "minutes": (row["end"] - row["start"]).total_seconds() / 60,
                **{f"{name}_w" if name == "power" else name: int(row[name]) for name in extra},
            },
            detector=NAME,
        )
        for row in found.iter_rows(named=True)
    ]


def spike_events(rows: pl.DataFrame, interval: timedelta) -> list[DetectedEvent]:
    """One event per reading above the spike limit whose neighbouring intervals are not
    (rows of ``events_spike.sql``)."""
    if rows.is_empty():
        return []
    step = pl.col("timestamp").diff().over("meter_id")
    after = pl.col("timestamp").diff(-1).over("meter_id")
    rows = rows.sort("meter_id", "timestamp").filter(
        (step.is_null() | (step != interval)) & (after.is_null() | (after != -interval))
    )
    return [
        DetectedEvent(
            kind="spike",
            asset_type="meter",
            asset=str(row["meter_id"]),
            start=utc(row["timestamp"]),
            end=utc(row["timestamp"] + interval),
            severity="info",
            evidence={
                "power_kw": row["power"] / 1000,
                "rated_kw": float(row["rated_kw"]),
                "multiple": round(row["power"] / 1000 / row["rated_kw"], 2),
            },
            detector=NAME,
        )
        for row in rows.sort("meter_id", "timestamp").iter_rows(named=True)
    ]


def detect(
    conn: psycopg.Connection[Any], window: tuple[datetime, datetime], thresholds: Thresholds
) -> list[DetectedEvent]:
    """Stuck, zero and spike events starting in `window` (reads a day either side)."""
    interval = reading_interval(conn, window)
    bounds = padded(window)
    probe = max(interval, (thresholds.stuck_min // 2) // interval * interval)
    stuck = frame(conn, "events_stuck", {**bounds, "probe": probe}, _STUCK)
    zero = frame(conn, "events_zero", bounds, _ZERO)
    spikes = frame(
        conn, "events_spike", {**bounds, "multiple": thresholds.spike_rating_multiple}, _SPIKE
    )
    events = [
        *run_events(stuck_runs(stuck, thresholds.stuck_min, interval), "stuck", ["power"]),
        *run_events(zero_runs(zero, thresholds.zero_min, interval), "zero", []),
        *spike_events(spikes, interval),
    ]
    return in_window(events, window)
