"""Native TimescaleDB compression of the readings hypertables.

Segment by `meter_id` (each meter's readings become one columnar segment per
chunk) and order by `timestamp DESC` (delta-of-delta timestamps, smooth values
next to each other for Gorilla float compression), as the seed did. The study
compresses every chunk; the scheduled compression compresses only chunks older
than `GRID_COMPRESS_AFTER`, leaving the chunks being written uncompressed.

Two rules for the single-session embedded engine (and good manners on a native
server too):

* Upkeep holds the engine briefly: `compress_due` compresses one chunk per
  connection and transaction, so other clients get the session between chunks.
* Replacing rows in compressed chunks goes through `writable_range`: DML on
  compressed chunks decompresses tuples one batch at a time and stops at
  `timescaledb.max_tuples_decompressed_per_dml_transaction` (100,000 by
  default; one day of 500 meters is 144,000 rows). The limit is never raised;
  the affected chunks are decompressed deliberately, written, and compressed
  again, all in the caller's transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from grid_pipeline.db.connection import Database, connect
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
    if given) in the caller's transaction; returns how many chunks were compressed now.

    One statement for all chunks: it holds the engine for the whole run. Scheduled
    upkeep uses `compress_due` (one chunk per transaction) instead.
    """
    rows = conn.execute(
        "SELECT compress_chunk(c, if_not_compressed => TRUE) "
        "FROM show_chunks(%s::regclass, older_than => %s::interval) AS c "
        "WHERE NOT EXISTS (SELECT 1 FROM timescaledb_information.chunks AS i "
        "  WHERE format('%%I.%%I', i.chunk_schema, i.chunk_name)::regclass = c "
        "  AND i.is_compressed)",
        (table, older_than),
    ).fetchall()
    return len(rows)


# --- upkeep: one chunk per transaction ------------------------------------------------


@dataclass(frozen=True)
class CompressDue:
    """What one `compress_due` run did to one hypertable."""

    table: str
    chunks: list[str]  # compressed by this run, schema-qualified, oldest first
    already_compressed: int  # due chunks that were compressed before the run
    seconds: float  # the whole run
    longest_hold_s: float = 0.0  # the longest single connection (one chunk) of the run


def _due_chunks(
    conn: psycopg.Connection[Any], table: str, older_than: timedelta | None
) -> list[tuple[str, bool]]:
    """(schema-qualified chunk, is_compressed) of the chunks older than `older_than`
    (every chunk when None), oldest first."""
    rows = conn.execute(
        "SELECT format('%%I.%%I', i.chunk_schema, i.chunk_name), i.is_compressed "
        "FROM show_chunks(%s::regclass, older_than => %s::interval) AS c "
        "JOIN timescaledb_information.chunks AS i "
        "  ON format('%%I.%%I', i.chunk_schema, i.chunk_name)::regclass = c "
        "ORDER BY i.range_start, i.chunk_name",
        (table, older_than),
    ).fetchall()
    return [(str(name), bool(compressed)) for name, compressed in rows]


def _compress_one(conn: psycopg.Connection[Any], chunk: str) -> bool:
    """Compress `chunk` if it still exists and is not compressed; True if it was now."""
    row = conn.execute(
        "SELECT is_compressed FROM timescaledb_information.chunks "
        "WHERE format('%%I.%%I', chunk_schema, chunk_name) = %s",
        (chunk,),
    ).fetchone()
    if row is None or row[0]:  # dropped or compressed since the listing
        return False
    conn.execute("SELECT compress_chunk(%s::regclass)", (chunk,))
    return True


def compress_due(
    db: Database,
    table: str,
    older_than: timedelta | None,
    *,
    progress: Callable[[str], None] | None = None,
) -> CompressDue:
    """Compress the chunks of `table` older than `older_than` (None: every chunk), each in
    its own short connection and transaction, so other clients get the engine in between.

    Compression is first enabled with the project's settings if it is not on yet (so a
    scheduled run works on any database with readings). Idempotent: chunks compressed
    already, or compressed by someone else since the listing, are left alone. `progress`
    gets one line per chunk, called while no connection is held.
    """
    started = time.perf_counter()
    with connect(db) as conn:
        enable_compression(conn, table)
        due = _due_chunks(conn, table, older_than)
    longest = time.perf_counter() - started
    done: list[str] = []
    pending = [chunk for chunk, compressed in due if not compressed]
    for i, chunk in enumerate(pending, start=1):
        held = time.perf_counter()
        with connect(db) as conn:
            compressed = _compress_one(conn, chunk)
        held = time.perf_counter() - held
        longest = max(longest, held)
        if compressed:
            done.append(chunk)
        if progress:
            state = "compressed" if compressed else "skipped (compressed or dropped meanwhile)"
            progress(f"{table}: [{i}/{len(pending)}] {chunk} {state} in {held:.2f} s")
    return CompressDue(
        table=table,
        chunks=done,
        already_compressed=len(due) - len(pending),
        seconds=time.perf_counter() - started,
        longest_hold_s=longest,
    )


# --- replacing rows in compressed chunks ----------------------------------------------


@dataclass
class WritableRange:
    """The chunks `writable_range` decompressed for a write, and what it did with them."""

    table: str
    start: datetime
    end: datetime
    decompressed: list[str] = field(default_factory=list)  # schema-qualified, oldest first
    recompressed: list[str] = field(default_factory=list)  # filled on normal exit
    decompress_s: float = 0.0
    compress_s: float = 0.0


def compressed_chunks_overlapping(
    conn: psycopg.Connection[Any], table: str, start: datetime, end: datetime
) -> list[str]:
    """The compressed chunks of `table` whose time range overlaps [start, end), oldest first.

    `show_chunks(newer_than, older_than)` selects chunks lying entirely inside the
    bounds, so a day inside a one-week chunk would find nothing; overlap is
    computed from `timescaledb_information.chunks` instead.
    """
    rows = conn.execute(
        "SELECT format('%%I.%%I', chunk_schema, chunk_name) "
        "FROM timescaledb_information.chunks "
        "WHERE hypertable_schema = current_schema() AND hypertable_name = %s "
        "AND is_compressed AND range_start < %s AND range_end > %s "
        "ORDER BY range_start, chunk_name",
        (table, end, start),
    ).fetchall()
    return [str(name) for (name,) in rows]


@contextmanager
def writable_range(
    conn: psycopg.Connection[Any], table: str, start: datetime, end: datetime
) -> Iterator[WritableRange]:
    """Make [start, end) of `table` plain rows for the block, compressed again after it.

    Use inside the caller's transaction, around the DELETE/INSERT that replaces the
    range. The compressed chunks overlapping the range are decompressed
    (`decompress_chunk`) before the block and the same chunks compressed again
    (`compress_chunk`) after it, so the writes touch no compressed tuples and the
    decompression limit is never reached (nor raised). Chunks that were not
    compressed before (including chunks the block creates) stay uncompressed.

    All or nothing: the block runs in `conn.transaction()` (a savepoint when the
    caller's transaction is open, else its own transaction). If the block raises,
    everything since the decompression is rolled back, chunks and rows alike, and
    the error propagates; even a caller that catches it and commits keeps the old,
    compressed rows. Both functions are transactional on this engine (PGlite +
    TimescaleDB 2.23, checked: a rollback restores the compressed chunk) as on a
    native server. The price: a decompressed chunk is rewritten twice and the whole
    chunk is recompressed, so a day in a one-week chunk costs a week's decompression
    and compression (measured at 500 meters: ~5.8 s for a day of the 1-week variant,
    ~2.7 s for a day of the 1-day table).
    """
    rng = WritableRange(table, start, end)
    with conn.transaction():
        started = time.perf_counter()
        for chunk in compressed_chunks_overlapping(conn, table, start, end):
            conn.execute("SELECT decompress_chunk(%s::regclass)", (chunk,))
            rng.decompressed.append(chunk)
        rng.decompress_s = time.perf_counter() - started
        yield rng
        started = time.perf_counter()
        for chunk in rng.decompressed:
            conn.execute("SELECT compress_chunk(%s::regclass)", (chunk,))
        rng.recompressed = list(rng.decompressed)
        rng.compress_s = time.perf_counter() - started


# --- sizes and the study --------------------------------------------------------------


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
    db: Database,
    table: str,
    older_than: timedelta | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> CompressionStudy:
    """The seed's study on one hypertable: rows and size before, compression enabled,
    the chunks compressed one per transaction (`compress_due`), sizes and rows after,
    recorded in `compression_runs`."""
    with connect(db) as conn:
        rows_before = count_rows(conn, table)
        bytes_before = detailed_total_bytes(conn, table)
    due = compress_due(db, table, older_than, progress=progress)
    with connect(db) as conn:
        sizes = compression_sizes(conn, table)
        rows_after = count_rows(conn, table)
        study = CompressionStudy(
            table, len(due.chunks), rows_before, rows_after, bytes_before, sizes, due.seconds
        )
        record_compression_run(conn, study)
    return study


def decompress_all(db: Database, table: str) -> int:
    """Decompress every compressed chunk of `table`, one chunk per transaction (the
    benchmark's uncompressed measurements); returns how many were decompressed."""
    with connect(db) as conn:
        if not compression_enabled(conn, table):
            return 0
        chunks = [
            str(row[0])
            for row in conn.execute(
                "SELECT format('%%I.%%I', chunk_schema, chunk_name) "
                "FROM timescaledb_information.chunks "
                "WHERE hypertable_schema = current_schema() AND hypertable_name = %s "
                "AND is_compressed ORDER BY range_start",
                (table,),
            )
        ]
    for chunk in chunks:
        with connect(db) as conn:
            conn.execute("SELECT decompress_chunk(%s::regclass, if_compressed => TRUE)", (chunk,))
    return len(chunks)


def record_compression_run(conn: psycopg.Connection[Any], study: CompressionStudy) -> None:
    """Append one row to `compression_runs` (the dashboard's storage page reads them)."""
    sizes = study.sizes
    conn.execute(
        "INSERT INTO compression_runs (hypertable, chunks_compressed, rows_before, rows_after, "
        "before_total_bytes, after_total_bytes, detailed_bytes_before, detailed_bytes_after, "
        "seconds) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (study.table, study.chunks_compressed, study.rows_before, study.rows_after,
         sizes.before_bytes, sizes.after_bytes, study.detailed_bytes_before,
         sizes.detailed_total_bytes, study.seconds),
    )  # fmt: skip


def add_compression_policy(conn: psycopg.Connection[Any], table: str, after: timedelta) -> None:
    """A TimescaleDB background policy, for native servers (the embedded engine runs none)."""
    conn.execute(
        "SELECT add_compression_policy(%s::regclass, compress_after => %s::interval, "
        "if_not_exists => TRUE)",
        (table, after),
    )
