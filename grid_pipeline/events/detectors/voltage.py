"""Voltage sags and swells, judged as EN 50160 judges supply voltage.

EN 50160 sets the limits on 10-minute mean r.m.s. values (``voltage_window``)
within +-10 % of nominal (``voltage_band``); single 5-minute readings are not the
measure, and averaging two of them also keeps one noisy reading from raising an
event. A mean below the band is a sag, above it a swell. Readings without
supply (voltage 0) belong to an outage, not to a sag, and are left out of the
means.

A sag or swell usually comes from upstream (a tap changer, a fault on the
transformer): every meter behind the transformer sees it at once. When at least
``voltage_rollup_share`` of a transformer's meters are outside the band in the
same direction in the same 10 minutes, the event is the transformer's; the meters
then raise no event of their own unless their run reaches beyond the
transformer's. Runs are consecutive 10-minute buckets; an event spans
``[first bucket, last bucket + window)``.

Severity: warning; critical when the worst mean is beyond EN 50160's absolute
limits (+10 % / -15 %), where equipment trips or is damaged.
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
    utc,
    with_run,
)
from grid_pipeline.events.kinds import AssetType, Thresholds

NAME = "voltage"
#: EN 50160's absolute limits on 10-minute means: beyond them the event is critical.
CRITICAL_LOW, CRITICAL_HIGH = 0.85, 1.10
_SCHEMA = {
    "bucket": pl.Datetime("us", "UTC"),
    "meter_id": pl.Int32,
    "transformer": pl.Utf8,
    "transformer_meters": pl.Int32,
    "pu": pl.Float64,
}


def rollup(means: pl.DataFrame, share: float) -> pl.DataFrame:
    """(transformer, kind, bucket) where at least `share` of the transformer's meters
    are outside the band in the same direction. `means` has a ``kind`` column."""
    return (
        means.filter(pl.col("transformer").is_not_null())
        .group_by("transformer", "kind", "bucket")
        .agg(
            pl.len().alias("meters"),
            pl.col("transformer_meters").first(),
            pl.col("pu").min().alias("pu_min"),
            pl.col("pu").max().alias("pu_max"),
        )
        .filter(pl.col("meters") >= share * pl.col("transformer_meters"))
    )


def _events(
    rows: pl.DataFrame, asset_type: AssetType, key: str, window: timedelta
) -> list[DetectedEvent]:
    if rows.is_empty():
        return []
    grouped = (
        with_run(rows, [key, "kind"], window, ts="bucket")
        .group_by(key, "kind", "run")
        .agg(
            pl.col("bucket").min().alias("start"),
            (pl.col("bucket").max() + window).alias("end"),
            pl.len().alias("buckets"),
            pl.col("pu_min").min(),
            pl.col("pu_max").max(),
            pl.col("meters").max(),
            pl.col("covered").all(),
        )
        .filter(~pl.col("covered"))
        .sort(key, "start")
    )
    events = []
    for row in grouped.iter_rows(named=True):
        sag = row["kind"] == "voltage_sag"
        worst = row["pu_min"] if sag else row["pu_max"]
        critical = worst < CRITICAL_LOW if sag else worst > CRITICAL_HIGH
        events.append(
            DetectedEvent(
                kind=row["kind"],
                asset_type=asset_type,
                asset=str(row[key]),
                start=utc(row["start"]),
                end=utc(row["end"]),
                severity="critical" if critical else "warning",
                evidence={
                    "worst_pu": round(float(worst), 4),
                    "windows_10min": int(row["buckets"]),
                    "meters": int(row["meters"]),
                },
                detector=NAME,
            )
        )
    return events


def detect_frame(
    means: pl.DataFrame, thresholds: Thresholds, window: timedelta | None = None
) -> list[DetectedEvent]:
    """Sag and swell events from the out-of-band 10-minute means (pure: no database)."""
    window = window or thresholds.voltage_window
    kinds = means.with_columns(
        pl.when(pl.col("pu") < 1.0)
        .then(pl.lit("voltage_sag"))
        .otherwise(pl.lit("voltage_swell"))
        .alias("kind")
    )
    transformers = rollup(kinds, thresholds.voltage_rollup_share)
    marks = (
        transformers.select("transformer", "kind", "bucket")
        .unique()
        .with_columns(pl.lit(True).alias("covered"))
    )
    meters = kinds.join(marks, on=["transformer", "kind", "bucket"], how="left").with_columns(
        pl.col("covered").fill_null(False),
        pl.col("pu").alias("pu_min"),
        pl.col("pu").alias("pu_max"),
        pl.lit(1).alias("meters"),
    )
    return [
        *_events(
            transformers.with_columns(pl.lit(False).alias("covered")),
            "transformer",
            "transformer",
            window,
        ),
        *_events(meters, "meter", "meter_id", window),
    ]


def detect(
    conn: psycopg.Connection[Any], window: tuple[datetime, datetime], thresholds: Thresholds
) -> list[DetectedEvent]:
    """Sag and swell events starting in `window` (reads a day either side)."""
    params = {
        **padded(window),
        "bucket": thresholds.voltage_window,
        "band": thresholds.voltage_band,
    }
    means = frame(conn, "events_voltage", params, _SCHEMA)
    return in_window(detect_frame(means, thresholds), window)
