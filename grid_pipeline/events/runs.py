"""Runs of consecutive intervals where a condition holds: the shape of most grid events.

A transformer is overloaded, a meter is stuck, a feeder exports power: each is a
condition per interval that matters only once it lasts. Both the ground truth
(the generator, on the true flows) and the detectors (on the stored readings)
cut conditions into runs with this one function, so the two sides apply the
same rule.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

RUN_SCHEMA = pl.Schema(
    {"key": pl.Utf8(), "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC"),
     "intervals": pl.UInt32()}
)  # fmt: skip


def sustained_runs(
    flags: pl.DataFrame, interval: timedelta, min_duration: timedelta
) -> pl.DataFrame:
    """Runs ``[start, end)`` per ``key`` of consecutive intervals with ``flag`` true that last
    at least ``min_duration`` (RUN_SCHEMA).

    `flags` has columns key (any type, cast to text), timestamp (on the interval grid) and
    flag. An interval missing from `flags` breaks a run, as an interval without the
    condition does: a run is only as long as the evidence for it.
    """
    if flags.is_empty():
        return pl.DataFrame(schema=RUN_SCHEMA)
    step = pl.duration(microseconds=interval // timedelta(microseconds=1))
    held = (
        flags.filter(pl.col("flag"))
        .select(pl.col("key").cast(pl.Utf8), pl.col("timestamp").cast(pl.Datetime("us", "UTC")))
        .unique()
        .sort("key", "timestamp")
    )
    breaks = (pl.col("timestamp").diff().over("key") != step).fill_null(True)
    runs = (
        held.with_columns(breaks.cum_sum().over("key").alias("run"))
        .group_by("key", "run")
        .agg(
            pl.col("timestamp").min().alias("start"),
            (pl.col("timestamp").max() + step).alias("end"),
            pl.len().cast(pl.UInt32).alias("intervals"),
        )
    )
    shortest = -(-min_duration // interval)  # intervals, rounded up
    return (
        runs.filter(pl.col("intervals") >= shortest)
        .select(RUN_SCHEMA.names())
        .cast(RUN_SCHEMA)
        .sort("key", "start")
    )
