"""Hypertable variants of the readings, one per configured chunk interval.

The seed compared chunk intervals by cloning `energy_readings` (`LIKE ...
INCLUDING ALL`) into tables with other intervals and copying the rows across
(`INSERT ... SELECT`). The same happens here, server-side and window by window,
so no row ever travels through Python, and re-filling a window is idempotent
(delete the window, insert it again, in one transaction). Compressed chunks in
the window are decompressed for the copy and compressed again
(`compression.writable_range`), so a compressed day can be re-filled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from grid_pipeline.config import ChunkVariant
from grid_pipeline.storage.compression import (
    enable_compression,
    time_chunk_interval,
    writable_range,
)

logger = logging.getLogger(__name__)
PRIMARY_TABLE = "energy_readings"


def ensure_variant(conn: psycopg.Connection[Any], variant: ChunkVariant) -> None:
    """Create the variant as a hypertable with its chunk interval (no-op if it exists),
    with compression enabled (segmentby/orderby of `compression`, no chunk compressed).

    An existing hypertable whose interval differs from the configuration gets the
    configured one for its future chunks (existing chunks keep their size). Enabling
    compression here means scheduled compression works on any database with
    readings, not only after the compression study ran.
    """
    table = sql.Identifier(variant.table)
    if variant.table != PRIMARY_TABLE:
        conn.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {table} (LIKE {primary} INCLUDING ALL)").format(
                table=table, primary=sql.Identifier(PRIMARY_TABLE)
            )
        )
    conn.execute(
        "SELECT create_hypertable(%s::regclass, 'timestamp', "
        "chunk_time_interval => %s::interval, if_not_exists => TRUE)",
        (variant.table, variant.interval),
    )
    current = time_chunk_interval(conn, variant.table)
    if current != variant.interval:
        logger.info("%s: chunk interval %s -> %s", variant.table, current, variant.interval)
        conn.execute(
            "SELECT set_chunk_time_interval(%s::regclass, %s::interval)",
            (variant.table, variant.interval),
        )
    enable_compression(conn, variant.table)


@dataclass(frozen=True)
class FillResult:
    """What re-filling one window of a variant did."""

    rows: int  # rows copied
    recompressed_chunks: int  # compressed chunks decompressed for the copy and compressed again


def fill_variant_window_result(
    conn: psycopg.Connection[Any], variant: ChunkVariant, start: datetime, end: datetime
) -> FillResult:
    """Make the variant's rows in [start, end) equal the primary table's, in the caller's
    transaction; compressed chunks overlapping the window are compressed again after."""
    if variant.table == PRIMARY_TABLE:
        raise ValueError("the primary table is loaded, not filled from itself")
    table = sql.Identifier(variant.table)
    window = sql.SQL('"timestamp" >= %s AND "timestamp" < %s')
    with writable_range(conn, variant.table, start, end) as rng:
        conn.execute(
            sql.SQL("DELETE FROM {table} WHERE {w}").format(table=table, w=window), (start, end)
        )
        cur = conn.execute(
            sql.SQL("INSERT INTO {table} SELECT * FROM {primary} WHERE {w}").format(
                table=table, primary=sql.Identifier(PRIMARY_TABLE), w=window
            ),
            (start, end),
        )
        rows = max(cur.rowcount, 0)
    return FillResult(rows, len(rng.recompressed))


def fill_variant_window(
    conn: psycopg.Connection[Any], variant: ChunkVariant, start: datetime, end: datetime
) -> int:
    """Make the variant's rows in [start, end) equal the primary table's; returns rows copied.

    See `fill_variant_window_result` for how many chunks were recompressed."""
    return fill_variant_window_result(conn, variant, start, end).rows


@dataclass(frozen=True)
class HypertableStats:
    """Size facts about one hypertable, for asset metadata and reports."""

    table: str
    rows: int
    chunks: int
    total_bytes: int
    chunk_interval: timedelta | None


def hypertable_stats(
    conn: psycopg.Connection[Any], table: str, *, exact: bool = True
) -> HypertableStats:
    """Rows, chunks and total bytes (hypertable_size, indexes included).

    `exact=False` takes TimescaleDB's `approximate_row_count` (statistics, no
    scan): per-partition asset metadata should not scan the whole table each time.
    """
    count = (
        sql.SQL("SELECT count(*) FROM {table}").format(table=sql.Identifier(table))
        if exact
        else sql.SQL("SELECT approximate_row_count({table})").format(table=sql.Literal(table))
    )
    rows = conn.execute(count).fetchone()
    chunks = conn.execute(
        "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = %s", (table,)
    ).fetchone()
    size = conn.execute("SELECT hypertable_size(%s::regclass)", (table,)).fetchone()
    return HypertableStats(
        table=table,
        rows=int(rows[0]) if rows else 0,
        chunks=int(chunks[0]) if chunks else 0,
        total_bytes=int(size[0] or 0) if size else 0,
        chunk_interval=time_chunk_interval(conn, table),
    )
