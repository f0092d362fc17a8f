"""Estimation: an energy for every interval that is missing or failed validation.

For each meter, consecutive invalid intervals form a gap. The method follows the
length of the gap, as meter-data-management practice does:

* ``linear``: gaps of at most `LINEAR_UP_TO` (2 hours) with a valid reading on both
  sides: the energy moves in a straight line from the reading before to the reading
  after. Over a short gap a household's load is closest to its neighbours.
* ``like_day``: longer gaps, or a side missing: the mean of the same interval on the
  previous `LIKE_DAYS` days of the same kind (weekday or weekend), valid readings only;
  if there are none of the same kind, any of those days. Load follows the clock and the
  calendar more than its last reading over hours.
* ``hold``: no like day has a valid reading (the data set's first days): the mean of
  the valid neighbours, or zero when there are none.

Every estimate keeps the original energy (None where the reading is missing) and the
rules that rejected it, so the edit can be audited and undone.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from grid_pipeline.events.runs import sustained_runs
from grid_pipeline.vee.rules import INVALIDATING

LINEAR_UP_TO = timedelta(hours=2)
LIKE_DAYS = 7
ESTIMATE_SCHEMA = pl.Schema(
    {"timestamp": pl.Datetime("us", "UTC"), "meter_id": pl.Int32(), "energy": pl.Int32(),
     "original_energy": pl.Int32(), "method": pl.Utf8(), "reason": pl.Utf8()}
)  # fmt: skip


def _weekend(ts: pl.Expr) -> pl.Expr:
    return ts.dt.weekday() >= 6


def estimate(readings: pl.DataFrame, flags: pl.DataFrame, interval: timedelta) -> pl.DataFrame:
    """Estimates (ESTIMATE_SCHEMA) for the flagged intervals.

    `readings` (timestamp, meter_id, energy in Wh) must cover the flagged intervals and
    `LIKE_DAYS` days before them, plus `LINEAR_UP_TO` after, so both neighbours and like
    days are visible; `flags` are `rules.validate`'s.
    """
    invalid = (
        flags.filter(pl.col("rule").is_in(sorted(INVALIDATING)))
        .group_by("timestamp", "meter_id")
        .agg(pl.col("rule").sort().str.join(",").alias("reason"))
    )
    if invalid.is_empty():
        return pl.DataFrame(schema=ESTIMATE_SCHEMA)
    energy = readings.select("timestamp", pl.col("meter_id").cast(pl.Int32), "energy")
    valid = energy.join(invalid, on=["timestamp", "meter_id"], how="anti")
    step = pl.duration(microseconds=interval // timedelta(microseconds=1))
    runs = sustained_runs(
        invalid.select(pl.col("meter_id").alias("key"), "timestamp", pl.lit(True).alias("flag")),
        interval,
        interval,
    ).with_columns(pl.col("key").cast(pl.Int32).alias("meter_id"))
    gaps = (
        invalid.join(runs.select("meter_id", "start", "end", "intervals"), on="meter_id")
        .filter((pl.col("timestamp") >= pl.col("start")) & (pl.col("timestamp") < pl.col("end")))
        .join(energy.rename({"energy": "original_energy"}), on=["timestamp", "meter_id"],
              how="left")
        .with_columns((pl.col("start") - step).alias("before_ts"))
        .join(valid.rename({"timestamp": "before_ts", "energy": "before"}),
              on=["meter_id", "before_ts"], how="left")
        .join(valid.rename({"timestamp": "end", "energy": "after"}), on=["meter_id", "end"],
              how="left")
    )  # fmt: skip
    like = [
        gaps.select("timestamp", "meter_id",
                    (pl.col("timestamp") - pl.duration(days=d)).alias("like_ts"))
        .join(valid.rename({"timestamp": "like_ts", "energy": "like"}),
              on=["meter_id", "like_ts"])
        .with_columns((_weekend(pl.col("like_ts")) == _weekend(pl.col("timestamp")))
                      .alias("same_kind"))
        for d in range(1, LIKE_DAYS + 1)
    ]  # fmt: skip
    like_days = (
        pl.concat(like)
        .group_by("timestamp", "meter_id")
        .agg(
            pl.col("like").filter(pl.col("same_kind")).mean().alias("like_same"),
            pl.col("like").mean().alias("like_any"),
        )
    )
    position = ((pl.col("timestamp") - pl.col("start")) / step + 1).cast(pl.Float64)
    linear = pl.col("before") + (pl.col("after") - pl.col("before")) * position / (
        pl.col("intervals").cast(pl.Float64) + 1.0
    )
    short = pl.col("intervals") * interval.total_seconds() <= LINEAR_UP_TO.total_seconds()
    can_line = short & pl.col("before").is_not_null() & pl.col("after").is_not_null()
    like_value = pl.coalesce("like_same", "like_any")
    hold = pl.mean_horizontal("before", "after").fill_null(0.0)
    return (
        gaps.join(like_days, on=["timestamp", "meter_id"], how="left")
        .with_columns(
            pl.when(can_line)
            .then(linear)
            .when(like_value.is_not_null())
            .then(like_value)
            .otherwise(hold)
            .round(0)
            .cast(pl.Int32)
            .alias("energy"),
            pl.when(can_line)
            .then(pl.lit("linear"))
            .when(like_value.is_not_null())
            .then(pl.lit("like_day"))
            .otherwise(pl.lit("hold"))
            .alias("method"),
        )
        .select(ESTIMATE_SCHEMA.names())
        .cast(ESTIMATE_SCHEMA)
        .sort("meter_id", "timestamp")
    )
