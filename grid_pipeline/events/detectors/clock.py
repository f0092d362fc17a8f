"""Clock drift: a meter whose clock runs fast or slow files readings under the wrong
intervals (`grid_pipeline.events.inject` says how), and some of them twice.

Clean readings never repeat: power has 1 W resolution and voltage 0.1 V with noise,
so the same power, energy, voltage and current twice within `ECHO_MAX_LAG` (and not a
third time near them) is an echo, one measured interval filed under two stamps. A fast
clock leaves one echo each time its offset grows by an interval (lag one interval,
spaced evenly); a slow clock, when it is set right, files the intervals it had filed
early again (a block of echoes at the same lag). A single echo can be chance (two
readings agree to the watt and the decivolt; about one per meter a fortnight), so an
event needs `MIN_ECHOES` of them on one meter, each within `CLUSTER_GAP` of the one
before, either at one lag or in consecutive intervals; the event spans the first echoed
reading to the last echo.

Echoes inside constant power (a stuck register, a meter held at its share of an
overload) are not echoes of a clock: the power must appear exactly twice around them.
So a business or plant held at its connection limit for most of a drift (3 % of the
default fleet reads its limit a tenth of the time; households never do) shows only the
echoes of its other readings, and a drift there can go unseen.

The VEE rule ``clock_drift`` (`grid_pipeline.vee.rules`) flags the echoes of these
clusters with `echo_pairs` and `drift_clusters`; the detector finds the same pairs in
SQL (``events_clock_echoes.sql``) so only the few echoes cross the wire.

Severity warning: the billed energy is filed under the wrong intervals (and some of it
twice) until the clock is set right and the echoes are estimated.
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

NAME = "clock"
#: The largest offset a drifting clock reaches before the head-end's sync (30 min).
ECHO_MAX_LAG = timedelta(minutes=30)
#: Echoes of one drift follow each other within this (a fast clock's steps).
CLUSTER_GAP = timedelta(hours=2)
#: Echoes that make an event: one or two can be chance.
MIN_ECHOES = 3
_TS = pl.Datetime("us", "UTC")
PAIR_SCHEMA = pl.Schema({"meter_id": pl.Int32(), "first": _TS, "second": _TS})
CLUSTER_SCHEMA = pl.Schema(
    {"meter_id": pl.Int32(), "start": _TS, "end": _TS, "echoes": pl.UInt32(),
     "max_lag": pl.Int64()}
)  # fmt: skip
_READING = ["power", "energy", "voltage", "current"]


def echo_pairs(readings: pl.DataFrame, max_lag: timedelta = ECHO_MAX_LAG) -> pl.DataFrame:
    """Echoes in `readings` (timestamp, meter_id, power, energy, voltage, current): a
    non-zero reading that a meter files twice at most `max_lag` apart with no third copy
    within `max_lag` of the two, and whose power no other reading within `max_lag` of them
    has. PAIR_SCHEMA (first, second stamp). Local: a window of any length gives the same
    pairs inside it, as ``events_clock_echoes.sql`` does."""
    keys = ["meter_id", *_READING]
    ts = pl.col("timestamp")
    copies = (
        readings.filter(pl.col("power") != 0)
        .sort(*keys, "timestamp")
        .with_columns(
            ts.shift(1).over(keys).alias("first"),
            ts.shift(2).over(keys).alias("before"),
            ts.shift(-1).over(keys).alias("after"),
        )
    )
    pairs = copies.filter(
        pl.col("first").is_not_null()
        & (ts - pl.col("first") <= max_lag)
        & (pl.col("before").is_null() | (pl.col("first") - pl.col("before") > max_lag))
        & (pl.col("after").is_null() | (pl.col("after") - ts > max_lag))
    ).select("meter_id", "power", "first", ts.alias("second"))
    if pairs.is_empty():
        return pl.DataFrame(schema=PAIR_SCHEMA)
    near = (
        pairs.join(copies.select("meter_id", "power", "timestamp"), on=["meter_id", "power"])
        .filter((ts >= pl.col("first") - max_lag) & (ts <= pl.col("second") + max_lag))
        .group_by("meter_id", "first", "second")
        .agg(pl.len().alias("same_power"))
    )
    return (
        near.filter(pl.col("same_power") == 2)
        .select(PAIR_SCHEMA.names())
        .cast(PAIR_SCHEMA)
        .sort("meter_id", "second")
    )


def drift_clusters(pairs: pl.DataFrame, interval: timedelta) -> pl.DataFrame:
    """Echoes of one meter chained within `CLUSTER_GAP`, kept when at least `MIN_ECHOES`
    share one lag (a fast clock's are all one interval) or follow each other interval by
    interval (a slow clock's block, whose lag can change by one inside it): meter_id,
    start (first echoed reading), end (last echo + interval), echoes, max_lag
    (intervals). CLUSTER_SCHEMA."""
    if pairs.is_empty():
        return pl.DataFrame(schema=CLUSTER_SCHEMA)
    gap = pl.col("second").diff().over("meter_id")
    labelled = pairs.sort("meter_id", "second").with_columns(
        (gap.is_null() | (gap > CLUSTER_GAP)).cast(pl.Int64).cum_sum().over("meter_id")
        .alias("cluster")
    )  # fmt: skip
    step_us = interval // timedelta(microseconds=1)
    lag = (pl.col("second") - pl.col("first")).dt.total_microseconds() // step_us
    labelled = labelled.with_columns(lag.alias("lag"))
    one_lag = (
        labelled.group_by("meter_id", "cluster", "lag")
        .len()
        .group_by("meter_id", "cluster")
        .agg(pl.col("len").max().alias("same_lag"))
    )
    return (
        labelled.group_by("meter_id", "cluster")
        .agg(
            pl.col("first").min().alias("start"),
            (pl.col("second").max() + interval).alias("end"),
            pl.len().alias("echoes"),
            pl.col("lag").max().alias("max_lag"),
            (pl.col("second").max() - pl.col("second").min()).alias("span"),
            ((pl.len() - 1) * pl.lit(interval)).alias("block"),
        )
        .join(one_lag, on=["meter_id", "cluster"])
        .filter(
            (pl.col("same_lag") >= MIN_ECHOES)
            | ((pl.col("echoes") >= MIN_ECHOES) & (pl.col("span") == pl.col("block")))
        )
        .select(CLUSTER_SCHEMA.names())
        .cast(CLUSTER_SCHEMA)
        .sort("meter_id", "start")
    )


def detect(
    conn: psycopg.Connection[Any], window: tuple[datetime, datetime], thresholds: Thresholds
) -> list[DetectedEvent]:
    """Clock-drift events starting in `window` (reads a day either side)."""
    interval = reading_interval(conn, window)
    pairs = frame(conn, "events_clock_echoes", {**padded(window), "max_lag": ECHO_MAX_LAG},
                  dict(PAIR_SCHEMA))  # fmt: skip
    events = [
        DetectedEvent(
            kind="clock_drift",
            asset_type="meter",
            asset=str(row["meter_id"]),
            start=utc(row["start"]),
            end=utc(row["end"]),
            severity="warning",
            evidence={
                "echoes": int(row["echoes"]),
                "max_lag_intervals": int(row["max_lag"]),
                "clock": "fast" if row["max_lag"] == 1 else "slow",
            },
            detector=NAME,
        )
        for row in drift_clusters(pairs, interval).iter_rows(named=True)
    ]
    return in_window(events, window)
