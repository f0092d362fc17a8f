"""Native TimescaleDB compression of the readings hypertables.

Segment by `meter_id` (each meter's readings become one columnar segment per
chunk) and order by `timestamp DESC` (delta-of-delta timestamps, smooth values
next to each other for Gorilla float compression), as the seed did. The study
compresses every chunk; the scheduled `compression_job` compresses only chunks
older than `GRID_COMPRESS_AFTER`, leaving the chunks being written uncompressed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from grid_pipeline.db.sqlfiles import query

SEGMENT_BY = "meter_id"
ORDER_BY = '"timestamp" DESC'


def compression_enabled(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute(
        "SELECT compression_enabled FROM timescaledb_information.hypertables "
        "WHERE hypertable_schema = current_schema() AND hypertable_name = %s",
        (table,),
    ).fetchone()
    if row is None:
        raise ValueError(f"{table} is not a hypertable")
    return bool(row[0])


def enable_compression(conn: psycopg.Connection[Any], table: str) -> None:
    """Turn compression on with our segmentby/orderby (no-op if already on)."""
    if compression_enabled(conn, table):
        return
    conn.execute(
        sql.SQL(
            "ALTER TABLE {table} SET (timescaledb.compress, "
            "timescaledb.compress_segmentby = {segment_by}, "
            "timescaledb.compress_orderby = {order_by})"
        ).format(
            table=sql.Identifier(table),
            segment_by=sql.Literal(SEGMENT_BY),
            order_by=sql.Literal(ORDER_BY),
        )
    )


def compress_chunks(
    conn: psycopg.Connection[Any], table: str, older_than: timedelta | None = None
) -> int:
    """Compress the hypertable's uncompressed chunks (only those older than `older_than`
    if given); returns how many chunks were compressed now."""
    rows = conn.execute(
        "SELECT compress_chunk(c, if_not_compressed => TRUE) "
        "FROM show_chunks(%s::regclass, older_than => %s::interval) AS c "
        "WHERE NOT EXISTS (SELECT 1 FROM timescaledb_information.chunks AS i "
        "  WHERE format('%%I.%%I', i.chunk_schema, i.chunk_name)::regclass = c "
        "  AND i.is_compressed)",
        (table, older_than),
    ).fetchall()
    return len(rows)


@dataclass(frozen=True)
class CompressionSizes:
    """Both of TimescaleDB's views of a hypertable's size."""

    total_chunks: int
    compressed_chunks: int
    before_bytes: int  # hypertable_compression_stats, compressed chunks before
    after_bytes: int  # ... and after compression
    detailed_total_bytes: int  # hypertable_detailed_size: everything on disk now

    @property
    def ratio(self) -> float:
        """How many times smaller the compressed chunks became."""
        return self.before_bytes / self.after_bytes if self.after_bytes else 0.0

    @property
    def saved_percent(self) -> float:
        return 100.0 * (1 - self.after_bytes / self.before_bytes) if self.before_bytes else 0.0


def compression_sizes(conn: psycopg.Connection[Any], table: str) -> CompressionSizes:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query("compression_sizes"), {"table": table})
        row = cur.fetchone()
    assert row is not None
    return CompressionSizes(
        total_chunks=int(row["total_chunks"] or 0),
        compressed_chunks=int(row["number_compressed_chunks"] or 0),
        before_bytes=int(row["before_compression_total_bytes"] or 0),
        after_bytes=int(row["after_compression_total_bytes"] or 0),
        detailed_total_bytes=int(row["total_bytes"] or 0),
    )


def detailed_total_bytes(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(
        "SELECT total_bytes FROM hypertable_detailed_size(%s::regclass)", (table,)
    ).fetchone()
    return int(row[0] or 0) if row else 0


@dataclass(frozen=True)
class CompressionStudy:
    """What compressing one hypertable did."""

    table: str
    chunks_compressed: int
    rows_before: int
    rows_after: int
    detailed_bytes_before: int
    sizes: CompressionSizes
    seconds: float


def count_rows(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    return int(row[0]) if row else 0


def compress_hypertable(
    conn: psycopg.Connection[Any], table: str, older_than: timedelta | None = None
) -> CompressionStudy:
    """Enable compression, compress the chunks, measure sizes and rows before and after,
    and record the run in `compression_runs`."""
    rows_before = count_rows(conn, table)
    bytes_before = detailed_total_bytes(conn, table)
    started = time.perf_counter()
    enable_compression(conn, table)
    chunks = compress_chunks(conn, table, older_than)
    seconds = time.perf_counter() - started
    sizes = compression_sizes(conn, table)
    rows_after = count_rows(conn, table)
    conn.execute(
        "INSERT INTO compression_runs (hypertable, chunks_compressed, rows_before, rows_after, "
        "before_total_bytes, after_total_bytes, detailed_bytes_before, detailed_bytes_after, "
        "seconds) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (table, chunks, rows_before, rows_after, sizes.before_bytes, sizes.after_bytes,
         bytes_before, sizes.detailed_total_bytes, seconds),
    )  # fmt: skip
    return CompressionStudy(table, chunks, rows_before, rows_after, bytes_before, sizes, seconds)


def add_compression_policy(conn: psycopg.Connection[Any], table: str, after: timedelta) -> None:
    """A TimescaleDB background policy, for native servers (the embedded engine runs none)."""
    conn.execute(
        "SELECT add_compression_policy(%s::regclass, compress_after => %s::interval, "
        "if_not_exists => TRUE)",
        (table, after),
    )
