"""Building the historic data set: the fleet, one UTC day of readings, one day of a variant.

These are the units Dagster materialises (`meters`, one partition of
`energy_readings`, one partition of each chunk-interval variant) and the steps
`grid-pipeline generate` runs in sequence, so both run the same code. Each day
is one transaction that replaces the day (compressed chunks are decompressed
for it and compressed again), so any day can be rebuilt at any time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
import psycopg
from psycopg import sql

from grid_pipeline.app.dataset import history_window
from grid_pipeline.config import ChunkVariant, Settings
from grid_pipeline.db.connection import Database, connect, resolve_database
from grid_pipeline.events.inject import FaultRates, Scenario
from grid_pipeline.fleet.grid import Grid, build_grid
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.historic import (
    LoadResult,
    days_in,
    load_history,
    load_window,
    read_fleet,
    read_grid,
    replace_fleet,
)
from grid_pipeline.storage.hypertables import (
    HypertableStats,
    ensure_variant,
    fill_variant_window_result,
    hypertable_stats,
)
from grid_pipeline.storage.quality import WindowQuality, window_preview, window_quality

Window = tuple[datetime, datetime]
Progress = Callable[[str], None]


class EmptyFleet(RuntimeError):
    """Readings need the fleet first."""


@dataclass(frozen=True)
class FleetLoad:
    """What storing the fleet did."""

    fleet: pl.DataFrame
    grid: Grid
    seconds: float


def store_fleet(db: Database, settings: Settings) -> FleetLoad:
    """Make `meters` hold the configured fleet (GRID_METERS meters from GRID_SEED),
    and `transformers` and `feeders` its grid."""
    started = time.monotonic()
    fleet = build_fleet(settings.meters, settings.seed)
    replace_fleet(db, fleet)
    return FleetLoad(fleet, build_grid(fleet), time.monotonic() - started)


@dataclass(frozen=True)
class WindowFacts:
    """The data contract's counts for a loaded window, and the table's size facts."""

    table: str
    window: Window
    quality: WindowQuality
    stats: HypertableStats
    preview: list[dict[str, Any]]


def window_facts(db: Database, table: str, window: Window, settings: Settings) -> WindowFacts:
    """Evaluate the data contract on a window (for checks) and collect size facts."""
    with connect(db) as conn:
        quality = window_quality(conn, table, window[0], window[1], settings.interval)
        stats = hypertable_stats(conn, table, exact=False)
        preview = window_preview(conn, table, window[0], window[1])
    return WindowFacts(table, window, quality, stats, preview)


def load_readings(db: Database, settings: Settings, window: Window) -> LoadResult:
    """Generate the fleet's readings for `window` (at most one UTC day) and replace them."""
    primary = settings.chunk_variants[0]
    with connect(db) as conn:
        ensure_variant(conn, primary)
        fleet = read_fleet(conn)
        scenario = fault_scenario(conn, settings, history_window(settings))
    if fleet.is_empty():
        raise EmptyFleet("the meters table is empty: build the fleet (`meters`) first")
    return load_window(
        db, fleet, window, interval=settings.interval, seed=settings.seed,
        timezone=settings.timezone, table=primary.table, scenario=scenario,
    )  # fmt: skip


def fault_scenario(conn: psycopg.Connection[Any], settings: Settings, dataset: Window) -> Scenario:
    """What the generator injects into each day: the stored grid, and the physical faults
    at their documented rates when GRID_PHYSICAL_FAULTS is on (none otherwise; feeder heads
    and reverse-flow truth are written either way)."""
    rates = FaultRates() if settings.physical_faults else FaultRates.none()
    return Scenario(
        grid=read_grid(conn), seed=settings.seed, interval=settings.interval,
        data_start=dataset[0], data_end=dataset[1], rates=rates,
    )  # fmt: skip


@dataclass(frozen=True)
class VariantFill:
    """One window of a chunk-interval variant copied from the primary table."""

    rows: int
    recompressed_chunks: int
    seconds: float


def fill_variant(
    db: Database, settings: Settings, variant: ChunkVariant, window: Window
) -> VariantFill:
    """Make the variant's rows in `window` equal the primary table's (server-side)."""
    started = time.monotonic()
    with connect(db) as conn:
        ensure_variant(conn, variant)
        filled = fill_variant_window_result(conn, variant, *window)
    return VariantFill(filled.rows, filled.recompressed_chunks, time.monotonic() - started)


def generate_history(
    db: Database,
    settings: Settings,
    window: Window,
    *,
    variants: bool = True,
    progress: Progress = print,
) -> LoadResult:
    """The whole data set in sequence: fleet, every day of readings, every variant by day."""
    fleet = store_fleet(db, settings).fleet
    progress(f"fleet: {fleet.height} meters (seed {settings.seed})")
    progress(f"readings: {window[0]:%Y-%m-%d %H:%M} .. {window[1]:%Y-%m-%d %H:%M} UTC, "
             f"every {settings.interval}")  # fmt: skip

    def day_done(i: int, n: int, part: Window, day: LoadResult) -> None:
        progress(f"  [{i:>2}/{n}] {part[0]:%Y-%m-%d}  {day.rows:>9,} rows  "
                 f"{day.rows_per_s:>8,.0f} rows/s")  # fmt: skip

    with connect(db) as conn:
        ensure_variant(conn, settings.chunk_variants[0])
        scenario = fault_scenario(conn, settings, window)
    if scenario.rates.enabled:
        progress("physical faults: injected at their documented rates, truth in injected_faults")
    total = load_history(
        db, fleet, window, interval=settings.interval, seed=settings.seed,
        timezone=settings.timezone, progress=day_done, scenario=scenario,
    )  # fmt: skip
    parts = list(days_in(window))
    progress(f"{settings.chunk_variants[0].table}: {total.rows:,} rows in {total.seconds:.1f} s "
             f"(generate {total.generate_s:.1f} s, write {total.write_s:.1f} s, "
             f"{total.rows_per_s:,.0f} rows/s)")  # fmt: skip
    if variants:
        for variant in settings.chunk_variants[1:]:
            started = time.monotonic()
            for part in parts:
                fill_variant(db, settings, variant, part)
            with connect(db) as conn:
                stats = hypertable_stats(conn, variant.table)
            progress(f"{variant.table}: {stats.rows:,} rows, {stats.chunks} chunks of "
                     f"{variant.interval}, {time.monotonic() - started:.1f} s")  # fmt: skip
    return total


def day_of(partition_key: str) -> date:
    """A daily partition key (YYYY-MM-DD) as a date."""
    return date.fromisoformat(partition_key)


def history_is_built(settings: Settings) -> bool:
    """True when the primary table holds every reading of the fixed window for the fleet.

    `make run` submits the seed backfill when this is false: on an empty database,
    and after a bootstrap that was interrupted half-way.
    """
    start, end = history_window(settings)
    per_meter = int((end - start) / settings.interval)
    with connect(resolve_database(settings)) as conn:
        row = conn.execute(
            sql.SQL(
                'SELECT (SELECT count(*) FROM {t} WHERE "timestamp" >= %s AND "timestamp" < %s), '
                "(SELECT count(*) FROM meters)"
            ).format(t=sql.Identifier(settings.chunk_variants[0].table)),
            (start, end),
        ).fetchone()
    rows, meters = (int(row[0]), int(row[1])) if row else (0, 0)
    return meters > 0 and rows >= meters * per_meter
