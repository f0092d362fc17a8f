"""VEE as the product runs it: validate and estimate a day, the whole history, a backtest.

The CLI (`grid-pipeline vee run|backtest`) and the Dagster `validated_readings` asset call
these. A day is validated with an hour of context before it (sustained rules), and
estimated with `LIKE_DAYS` days before it and two hours after (neighbours, like days).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl

from grid_pipeline.app.dataset import history_window
from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.storage.historic import days_in, read_fleet
from grid_pipeline.storage.vee import (
    WindowCheck,
    check_window,
    data_bounds,
    read_conflicts,
    read_meter_energy,
    read_readings,
    replace_window,
)
from grid_pipeline.vee.backtest import LengthScore, backtest
from grid_pipeline.vee.estimate import LIKE_DAYS, LINEAR_UP_TO, estimate
from grid_pipeline.vee.rules import INVALIDATING, RULES, meter_facts, validate

Window = tuple[datetime, datetime]
Progress = Callable[[str], None]
CONTEXT = timedelta(hours=1)


@dataclass(frozen=True)
class VeeReport:
    """What one VEE run of a window found and wrote."""

    window: Window
    run: int
    flags: dict[str, int] = field(default_factory=dict)  # per rule
    estimates: dict[str, int] = field(default_factory=dict)  # per method
    seconds: float = 0.0


def _expected(fleet: pl.DataFrame, window: Window, interval: timedelta,
              bounds: tuple[datetime | None, datetime]) -> pl.DataFrame:  # fmt: skip
    """(timestamp, meter_id) of every ended interval of `window` inside the data set."""
    first, data_end = bounds
    if first is None:
        return pl.DataFrame(schema={"timestamp": pl.Datetime("us", "UTC"), "meter_id": pl.Int32})
    start, end = max(window[0], first), min(window[1], data_end)
    if end <= start:
        return pl.DataFrame(schema={"timestamp": pl.Datetime("us", "UTC"), "meter_id": pl.Int32})
    stamps = pl.datetime_range(start, end, interval, closed="left", time_zone="UTC", eager=True)
    return pl.DataFrame({"timestamp": stamps.dt.cast_time_unit("us")}).join(
        fleet.select(pl.col("meter_id").cast(pl.Int32)), how="cross"
    )


def vee_window(db: Database, settings: Settings, window: Window, actor: str) -> VeeReport:
    """Validate and estimate one window (a UTC day) and store flags, estimates and the audit."""
    started = time.perf_counter()
    with connect(db) as conn:
        fleet = read_fleet(conn)
        bounds = data_bounds(conn, settings.interval)
        nearby = read_readings(conn, window[0] - CONTEXT, window[1] + LINEAR_UP_TO)
        expected = _expected(fleet, window, settings.interval, bounds)
        conflicts = read_conflicts(conn, *window)
        flags = validate(nearby, meter_facts(fleet), expected, settings.interval,
                         datetime.now(UTC), conflicts)  # fmt: skip
        invalid = flags.filter(pl.col("rule").is_in(sorted(INVALIDATING)))
        meters = invalid.get_column("meter_id").unique().sort().to_list()
        # Like days only for the meters with something to estimate: a week of every meter
        # would cost more on the wire than the whole run.
        before = read_meter_energy(conn, meters, window[0] - timedelta(days=LIKE_DAYS),
                                   window[0] - CONTEXT) if meters else None  # fmt: skip
    energy = nearby.select("timestamp", "meter_id", "energy")
    if before is not None:
        energy = pl.concat([before, energy])
    estimates = estimate(energy, flags, settings.interval)
    with connect(db) as conn:
        run = replace_window(conn, window, actor, ",".join(RULES), flags, estimates)
    return VeeReport(
        window=window,
        run=run,
        flags=dict(sorted(Counter(flags.get_column("rule").to_list()).items())),
        estimates=dict(sorted(Counter(estimates.get_column("method").to_list()).items())),
        seconds=time.perf_counter() - started,
    )


def vee_window_check(db: Database, settings: Settings, window: Window) -> WindowCheck:
    """The validated series of `window` against its contract: every ended interval of every
    meter inside the data set once, and every flag and estimate under a finished run."""
    with connect(db) as conn:
        first, data_end = data_bounds(conn, settings.interval)
        start = max(window[0], first) if first is not None else window[1]
        end = max(start, min(window[1], data_end))
        return check_window(conn, start, end, settings.interval)


def vee_history(
    db: Database, settings: Settings, actor: str, window: Window | None = None,
    progress: Progress = print,
) -> list[VeeReport]:  # fmt: skip
    """VEE day by day over `window` (default: the data set), as the daily partitions do."""
    reports = []
    parts = list(days_in(window or history_window(settings)))
    for i, part in enumerate(parts, start=1):
        report = vee_window(db, settings, part, actor)
        reports.append(report)
        flagged = ", ".join(f"{rule} {n}" for rule, n in report.flags.items()) or "no flags"
        estimated = sum(report.estimates.values())
        progress(f"  [{i:>2}/{len(parts)}] {part[0]:%Y-%m-%d}  {flagged}; {estimated} estimates "
                 f"({report.seconds:.1f} s)")  # fmt: skip
    return reports


def backtest_history(
    db: Database, settings: Settings, days: int = 3, per_length: int = 50, seed: int = 7
) -> list[LengthScore]:
    """Backtest the estimator on the data set's last `days` whole days (with a week of like
    days before them): hidden valid readings against their estimates, per gap length."""
    start, end = history_window(settings)
    tested = (max(start + timedelta(days=LIKE_DAYS), end - timedelta(days=days)), end)
    with connect(db) as conn:
        fleet = read_fleet(conn)
        bounds = data_bounds(conn, settings.interval)
        readings = read_readings(conn, tested[0] - timedelta(days=LIKE_DAYS), tested[1])
    expected = _expected(fleet, tested, settings.interval, bounds)
    flags = validate(readings, meter_facts(fleet), expected, settings.interval, datetime.now(UTC))
    solar = set(fleet.filter(pl.col("has_solar")).get_column("meter_id").to_list())
    energy = readings.select("timestamp", "meter_id", "energy")
    scores, _ = backtest(energy, flags.select("timestamp", "meter_id"), solar, tested,
                         settings.interval, per_length=per_length, seed=seed)  # fmt: skip
    return scores
