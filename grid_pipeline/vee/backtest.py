"""How close estimates come to the truth: hide valid readings, estimate them, compare.

A backtest picks gaps at random (deterministic from a seed) inside intervals that
passed every rule, on meters without solar (net energy near zero makes a relative
error meaningless), hides their readings, runs the same `estimate` as production,
and compares each gap's estimated energy with what the meter really measured.
Gap lengths cover both methods: up to 2 hours (linear) and longer (like-day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from grid_pipeline.vee.estimate import LINEAR_UP_TO, estimate

#: Gap lengths tried, in minutes: the short ones are linear's, the long ones like-day's.
GAP_MINUTES = (5, 15, 30, 60, 120, 180, 360, 720)


@dataclass(frozen=True)
class LengthScore:
    """Estimates of gaps of one length against the truth."""

    minutes: int
    gaps: int
    mape: float  # mean absolute percentage error of each gap's energy
    median_ape: float
    within_5pct: float  # share of gaps whose energy is within 5 %
    total_error: float  # |sum estimated - sum true| / sum true over all these gaps


def pick_gaps(
    candidates: pl.DataFrame, window: tuple[datetime, datetime], interval: timedelta,
    per_length: int, seed: int,
) -> pl.DataFrame:  # fmt: skip
    """`per_length` gaps per length: (gap, meter_id, start, intervals) inside `window`."""
    rng = np.random.default_rng(seed)
    meters = candidates["meter_id"].unique().sort().to_numpy()
    slots = int((window[1] - window[0]) / interval)
    rows: list[tuple[int, int, datetime, int, int]] = []
    for minutes in GAP_MINUTES:
        length = max(1, int(timedelta(minutes=minutes) / interval))
        for _ in range(per_length):
            meter = int(rng.choice(meters))
            start = window[0] + int(rng.integers(0, max(1, slots - length))) * interval
            rows.append((len(rows), meter, start, length, minutes))
    return pl.DataFrame(
        rows,
        schema={"gap": pl.Int64, "meter_id": pl.Int32, "start": pl.Datetime("us", "UTC"),
                "intervals": pl.Int64, "minutes": pl.Int64},
        orient="row",
    )  # fmt: skip


def backtest(
    readings: pl.DataFrame,
    flagged: pl.DataFrame,
    solar_meters: set[int],
    window: tuple[datetime, datetime],
    interval: timedelta,
    per_length: int = 50,
    seed: int = 7,
) -> tuple[list[LengthScore], pl.DataFrame]:
    """Scores per gap length and the per-gap comparison.

    `readings` (timestamp, meter_id, energy Wh) cover `window` and the like days before
    it; `flagged` holds the (timestamp, meter_id) pairs any rule flagged: gaps that would
    touch them are dropped, so only truly valid readings are hidden.
    """
    candidates = readings.filter(~pl.col("meter_id").is_in(sorted(solar_meters)))
    gaps = pick_gaps(candidates, window, interval, per_length, seed)
    step = pl.duration(microseconds=interval // timedelta(microseconds=1))
    hidden = (
        gaps.with_columns(pl.int_ranges(0, pl.col("intervals")).alias("k"))
        .explode("k")
        .with_columns((pl.col("start") + step * pl.col("k")).alias("timestamp"))
        .select("gap", "meter_id", "timestamp", "minutes")
    )
    touched = hidden.join(flagged, on=["timestamp", "meter_id"], how="semi")["gap"].unique()
    overlapping = (
        hidden.group_by("meter_id", "timestamp")
        .agg(pl.col("gap"))
        .filter(pl.col("gap").list.len() > 1)["gap"]
        .explode()
        .unique()
    )
    hidden = hidden.filter(~pl.col("gap").is_in(touched.to_list() + overlapping.to_list()))
    truth = hidden.join(readings, on=["timestamp", "meter_id"])
    kept = readings.join(hidden, on=["timestamp", "meter_id"], how="anti")
    flags = hidden.select("timestamp", "meter_id", pl.lit("missing").alias("rule"))
    estimates = estimate(kept, flags, interval)
    per_gap = (
        truth.join(estimates.select("timestamp", "meter_id", pl.col("energy").alias("estimated")),
                   on=["timestamp", "meter_id"])
        .group_by("gap", "minutes")
        .agg(pl.col("energy").sum().alias("true_wh"),
             pl.col("estimated").sum().alias("estimated_wh"))
        .filter(pl.col("true_wh") > 0)
        .with_columns(((pl.col("estimated_wh") - pl.col("true_wh")).abs() / pl.col("true_wh"))
                      .alias("ape"))
        .sort("minutes", "gap")
    )  # fmt: skip
    scores = []
    for minutes in GAP_MINUTES:
        mine = per_gap.filter(pl.col("minutes") == minutes)
        if mine.is_empty():
            continue
        true_total = float(mine["true_wh"].sum())
        scores.append(LengthScore(
            minutes=minutes, gaps=mine.height,
            mape=float(mine["ape"].mean()),  # type: ignore[arg-type]
            median_ape=float(mine["ape"].median()),  # type: ignore[arg-type]
            within_5pct=float((mine["ape"] <= 0.05).mean()),  # type: ignore[arg-type]
            total_error=abs(float(mine["estimated_wh"].sum()) - true_total) / true_total,
        ))  # fmt: skip
    return scores, per_gap


def short_gap_limit_minutes() -> int:
    """The longest gap linear interpolation fills (2 hours), for reports."""
    return int(LINEAR_UP_TO.total_seconds() // 60)
