"""Upkeep of the readings: compression, continuous-aggregate refresh, and their checks;
retention of the quarantine.

What the hourly compression job, the 5-minute refresh job and the hourly
rejects retention job do, and what the UI's "Materialize" of the compression and
aggregate assets does. Long work is
split so the embedded engine's one session is handed to other clients (the
dashboard, live ingestion) between steps: one transaction per chunk when
compressing, one statement per day-sized window when refreshing, one transaction per batch of
rows when expiring quarantined payloads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.sqlfiles import query
from grid_pipeline.storage.aggregates import (
    AGGREGATES,
    MeterDayGap,
    add_refresh_policies,
    aggregate_mismatches,
    aggregate_rows,
    incomplete_meter_days,
    readings_span,
    refresh_aggregates,
)
from grid_pipeline.storage.compression import (
    CompressionStudy,
    add_compression_policy,
    compress_hypertable,
)

Progress = Callable[[str], None]


def compress_variant(
    db: Database,
    settings: Settings,
    table: str,
    older_than: timedelta | None,
    *,
    progress: Progress | None = None,
) -> CompressionStudy:
    """Compress the table's chunks (all, or those older than `older_than`), one chunk
    per transaction, and record sizes and row counts before and after.

    Compression settings are applied first, so this works on any database with
    readings; chunks shorter than a day are merged into day-long compressed chunks
    (`compression.MERGE_UP_TO`). On a native server a TimescaleDB policy is added as well.
    """
    study = compress_hypertable(db, table, older_than, progress=progress)
    if db.supports_background_jobs:
        with connect(db) as conn:
            add_compression_policy(conn, table, settings.compress_after)
    return study


@dataclass(frozen=True)
class RefreshReport:
    """What one refresh of the continuous aggregates did."""

    since: datetime | None  # None: all time
    seconds: dict[str, float]
    rows: dict[str, int]


def refresh_continuous_aggregates(
    db: Database,
    settings: Settings,
    lookback: timedelta | None,
    *,
    progress: Progress | None = None,
) -> RefreshReport:
    """Refresh every aggregate over `lookback` (None: all time) in day-sized windows."""
    since = datetime.now(UTC) - lookback if lookback else None
    seconds = refresh_aggregates(db, since, progress=progress)
    with connect(db) as conn:
        rows = aggregate_rows(conn)
        if db.supports_background_jobs:
            add_refresh_policies(conn, settings.refresh_lookback)
    return RefreshReport(since, seconds, rows)


@dataclass(frozen=True)
class AggregateConsistency:
    """One aggregate compared with the raw GROUP BY it stands for."""

    aggregate: str
    mismatched_buckets: int
    window: str


def _sample_window(db: Database) -> tuple[datetime, datetime] | None:
    """The last complete UTC day with data: refreshed, and a whole daily bucket."""
    with connect(db) as conn:
        span = readings_span(conn)
    if span is None:
        return None
    end = _midnight(span[1])
    start = end - timedelta(days=1)
    return (start, end) if start >= span[0] else (span[0], span[1] + timedelta(seconds=1))


def aggregate_consistency(db: Database) -> list[AggregateConsistency]:
    """Each aggregate against raw SQL over the last complete day (0 mismatches = equal)."""
    window = _sample_window(db)
    label = f"{window[0]:%Y-%m-%d %H:%M} .. {window[1]:%Y-%m-%d %H:%M}" if window else "no data"
    with connect(db) as conn:
        return [
            AggregateConsistency(
                name, aggregate_mismatches(conn, name, *window) if window else 0, label
            )
            for name in AGGREGATES
        ]


@dataclass(frozen=True)
class GapReport:
    """Meter-days with fewer readings than a whole day holds."""

    gaps: list[MeterDayGap]
    days_checked: int


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def meter_day_gaps(db: Database, settings: Settings) -> GapReport:
    """Every complete UTC day between the first and the last reading, every meter."""
    per_day = int(timedelta(days=1) / settings.interval)
    with connect(db) as conn:
        span = readings_span(conn)
        if span is None:
            return GapReport([], 0)
        first_full = _midnight(span[0] + timedelta(days=1))
        today = _midnight(span[1])
        if first_full >= today:
            return GapReport([], 0)
        return GapReport(
            incomplete_meter_days(conn, first_full, today, per_day), (today - first_full).days
        )


# Rows deleted per transaction: small enough that the engine's one session is
# handed on within a fraction of a second, large enough that a fuzz's worth of
# rejects (tens of thousands) goes in a few batches.
REJECTS_BATCH_ROWS = 5_000


@dataclass(frozen=True)
class RetentionReport:
    """What one pass of the quarantine retention deleted."""

    cutoff: datetime  # rows received before this went
    rows_deleted: int
    batches: int
    seconds: float


def expire_rejects(
    db: Database,
    retention: timedelta,
    *,
    batch_rows: int = REJECTS_BATCH_ROWS,
    progress: Progress | None = None,
) -> RetentionReport:
    """Delete quarantined payloads (`ingest_rejects`) received more than `retention` ago.

    Raw rejects are kept for diagnosis, not forever (a payload fuzz left 45 MB).
    `ingest_rejects` is a plain table, not a hypertable (its identity key is not
    partitioned by time), so no TimescaleDB retention policy applies to it: this
    batched delete is the rule on the embedded engine and on a native server
    alike, run by the scheduled upkeep job. Set-based, by the received_at index,
    oldest first, one transaction per batch so other clients get the engine's
    session between batches; the cutoff is fixed once, so the pass ends.
    """
    started = time.monotonic()
    cutoff = datetime.now(UTC) - retention
    deleted = batches = 0
    while True:
        with connect(db) as conn:
            cursor = conn.execute(
                query("rejects_expire_batch"), {"cutoff": cutoff, "batch_rows": batch_rows}
            )
            batch = max(cursor.rowcount, 0)
        deleted += batch
        batches += 1
        if progress and batch:
            progress(f"ingest_rejects: {deleted} rows before {cutoff:%Y-%m-%d %H:%M} UTC deleted")
        if batch < batch_rows:
            return RetentionReport(cutoff, deleted, batches, time.monotonic() - started)
