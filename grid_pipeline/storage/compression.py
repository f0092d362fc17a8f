"""Native TimescaleDB compression of the readings hypertables.

Segment by `meter_id` (each meter's readings become one columnar segment per
chunk) and order by `timestamp DESC` (delta-of-delta timestamps, smooth values
next to each other for Gorilla float compression), as the seed did. The study
compresses every chunk; the scheduled compression compresses only chunks older
than `GRID_COMPRESS_AFTER`, leaving the chunks being written uncompressed.

Chunks shorter than a day are compressed into day-long compressed chunks
(`timescaledb.compress_chunk_time_interval`, `MERGE_UP_TO`): a 3-hour chunk holds
36 readings per meter at 5-minute intervals, too few for a compressed batch to
pay for its per-batch overhead (measured at 500 meters: 54 % smaller alone, 74 %
as a day, as much as 1-day chunks). TimescaleDB merges a chunk into its
compressed predecessor by appending its batches, so `compress_due` compresses a
whole UTC day at a time and then the merged day once more from its rows, and a
chunk that starts a day is never merged into the day before (`_compress_one`):
compressed chunks keep to UTC days, the unit `writable_range` replaces.

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
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.sqlfiles import query

SEGMENT_BY = "meter_id"
ORDER_BY = '"timestamp" DESC'
MERGE_UP_TO = timedelta(days=1)
READINGS_COLUMNS = ("power", "energy", "voltage", "current")
GORILLA_BYTES_PER_VALUE = 1.37  # the Gorilla paper's float compression, for comparison
_TIME_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # TimescaleDB aligns chunk ranges on it


def compression_enabled(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute(
        "SELECT compression_enabled FROM timescaledb_information.hypertables "
        "WHERE hypertable_schema = current_schema() AND hypertable_name = %s",
        (table,),
    ).fetchone()
    if row is None:
        raise ValueError(f"{table} is not a hypertable")
    return bool(row[0])


def merge_interval(chunk_interval: timedelta | None) -> timedelta | None:
    """The `compress_chunk_time_interval` for a hypertable with this chunk interval.

    A day for chunks that tile a day (eight 3-hour chunks of 36 readings per meter
    become one compressed day of 288), None for chunks of a day or longer: they hold
    enough readings per meter already, and a compressed chunk longer than a day would
    make replacing one day decompress several.
    """
    if chunk_interval is None or chunk_interval >= MERGE_UP_TO or MERGE_UP_TO % chunk_interval:
        return None
    return MERGE_UP_TO


def time_chunk_interval(conn: psycopg.Connection[Any], table: str) -> timedelta | None:
    """The time dimension's chunk interval as TimescaleDB reports it."""
    row = conn.execute(
        "SELECT time_interval FROM timescaledb_information.dimensions "
        "WHERE hypertable_schema = current_schema() AND hypertable_name = %s "
        "AND dimension_number = 1",
        (table,),
    ).fetchone()
    return row[0] if row else None


def current_merge_interval(conn: psycopg.Connection[Any], table: str) -> timedelta | None:
    """The `compress_chunk_time_interval` set on `table` now (None: chunks are not merged).

    Read from TimescaleDB's catalog (`compress_interval_length`, microseconds for a
    timestamptz dimension): no documented view shows it.
    """
    row = conn.execute(
        "SELECT d.compress_interval_length FROM _timescaledb_catalog.dimension AS d "
        "JOIN _timescaledb_catalog.hypertable AS h ON h.id = d.hypertable_id "
        "WHERE h.schema_name = current_schema() AND h.table_name = %s "
        "AND d.interval_length IS NOT NULL ORDER BY d.id LIMIT 1",
        (table,),
    ).fetchone()
    return timedelta(microseconds=int(row[0])) if row and row[0] else None


def _write_merge_interval(
    conn: psycopg.Connection[Any], table: str, merge: timedelta | None
) -> None:
    """Set `compress_chunk_time_interval` (None: '0', TimescaleDB's "do not merge")."""
    seconds = int(merge.total_seconds()) if merge else 0
    conn.execute(
        sql.SQL("ALTER TABLE {table} SET (timescaledb.compress_chunk_time_interval = {i})").format(
            table=sql.Identifier(table), i=sql.Literal(f"{seconds} seconds")
        )
    )


def enable_compression(conn: psycopg.Connection[Any], table: str) -> None:
    """Turn compression on with our segmentby/orderby (kept if already on) and, for
    chunks shorter than a day, merge them into day-long compressed chunks.

    The merge interval is set on every call, so tables whose compression was enabled
    before it existed get it too (it applies to chunks compressed from then on).
    """
    if not compression_enabled(conn, table):
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
    merge = merge_interval(time_chunk_interval(conn, table))
    if merge is not None and current_merge_interval(conn, table) != merge:
        _write_merge_interval(conn, table, merge)


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
    # The compressed chunks this run made or merged chunks into, schema-qualified, oldest
    # first (a chunk merged into its predecessor no longer exists: its predecessor is listed)
    chunks: list[str]
    already_compressed: int  # due chunks that were compressed before the run
    seconds: float  # the whole run
    longest_hold_s: float = 0.0  # the longest single connection (one chunk) of the run
    merged_into: list[str] = field(default_factory=list)  # chunks that absorbed others
    consolidated: list[str] = field(default_factory=list)  # merged days compressed again


@dataclass(frozen=True)
class ChunkRange:
    """One chunk of a hypertable: schema-qualified name, time range, compressed or not."""

    name: str
    start: datetime
    end: datetime
    compressed: bool


def _due_chunks(
    conn: psycopg.Connection[Any], table: str, older_than: timedelta | None
) -> list[ChunkRange]:
    """The chunks older than `older_than` (every chunk when None), oldest first."""
    rows = conn.execute(
        "SELECT format('%%I.%%I', i.chunk_schema, i.chunk_name), i.range_start, i.range_end, "
        "i.is_compressed "
        "FROM show_chunks(%s::regclass, older_than => %s::interval) AS c "
        "JOIN timescaledb_information.chunks AS i "
        "  ON format('%%I.%%I', i.chunk_schema, i.chunk_name)::regclass = c "
        "ORDER BY i.range_start, i.chunk_name",
        (table, older_than),
    ).fetchall()
    return [ChunkRange(str(name), start, end, bool(done)) for name, start, end, done in rows]


def _chunk_range(conn: psycopg.Connection[Any], chunk: str) -> ChunkRange | None:
    row = conn.execute(
        "SELECT range_start, range_end, is_compressed FROM timescaledb_information.chunks "
        "WHERE format('%%I.%%I', chunk_schema, chunk_name) = %s",
        (chunk,),
    ).fetchone()
    return ChunkRange(chunk, row[0], row[1], bool(row[2])) if row else None


def on_boundary(moment: datetime, merge: timedelta) -> bool:
    """Whether `moment` starts a merge interval (a UTC midnight for a day)."""
    return interval_start(moment, merge) == moment


def _compress_one(
    conn: psycopg.Connection[Any], table: str, chunk: str, merge: timedelta | None
) -> str | None:
    """Compress `chunk` if it still exists and is not compressed; returns the chunk now
    holding its rows (a compressed predecessor it was merged into, else itself), None
    if it was dropped or compressed since the listing.

    A chunk that starts a merge interval (a day) is compressed with merging switched
    off for the statement: TimescaleDB would otherwise append it to a compressed
    predecessor shorter than a day (the first, partial day of the data), and every
    compressed chunk after it would straddle two days.
    """
    current = _chunk_range(conn, chunk)
    if current is None or current.compressed:
        return None
    starts_interval = merge is not None and on_boundary(current.start, merge)
    if starts_interval:
        _write_merge_interval(conn, table, None)
    row = conn.execute("SELECT compress_chunk(%s::regclass)::text", (chunk,)).fetchone()
    if starts_interval:
        _write_merge_interval(conn, table, merge)
    return str(row[0]) if row else chunk


def consolidate(conn: psycopg.Connection[Any], chunk: str) -> None:
    """Compress a merged chunk again from its rows: merging appends a chunk's batches to
    its predecessor's (36 rows per meter for 3 hours), compressing the whole day at once
    makes each meter's day one batch (288 rows; at most 1,000 per batch)."""
    conn.execute("SELECT decompress_chunk(%s::regclass)", (chunk,))
    conn.execute("SELECT compress_chunk(%s::regclass)", (chunk,))


def _whole_intervals(
    chunks: list[ChunkRange], merge: timedelta | None, older_than: timedelta | None
) -> list[ChunkRange]:
    """The chunks whose whole merge interval (UTC day) is older than `older_than`.

    A day is compressed when all of it is due, as a one-day chunk would be: merging its
    chunks in one run and compressing the merged day once more costs one pass per day,
    where compressing each 3-hour chunk as it comes due would recompress the growing day
    up to eight times. Every chunk when nothing is merged or `older_than` is None.
    """
    if merge is None or older_than is None:
        return chunks
    cutoff = datetime.now(UTC) - older_than
    return [c for c in chunks if interval_start(c.start, merge) + merge <= cutoff]


def interval_start(moment: datetime, merge: timedelta) -> datetime:
    """The start of the merge interval (UTC day) holding `moment`."""
    return moment - (moment - _TIME_ORIGIN) % merge


def _compressed(conn: psycopg.Connection[Any], names: list[str]) -> list[str]:
    """Those of `names` that exist and are compressed."""
    ranges = (_chunk_range(conn, name) for name in names)
    return [r.name for r in ranges if r is not None and r.compressed]


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
    already, or compressed by someone else since the listing, are left alone. Chunks
    shorter than a day are compressed a whole UTC day at a time, merged into one
    compressed chunk per day that is then compressed once more from its rows
    (`consolidate`, its own transaction). `progress` gets one line per chunk, called
    while no connection is held.
    """
    started = time.perf_counter()
    with connect(db) as conn:
        enable_compression(conn, table)
        merge = current_merge_interval(conn, table)
        due = _whole_intervals(_due_chunks(conn, table, older_than), merge, older_than)
    longest = time.perf_counter() - started
    holders: list[str] = []
    merged: list[str] = []
    pending = [chunk.name for chunk in due if not chunk.compressed]
    for i, chunk in enumerate(pending, start=1):
        held = time.perf_counter()
        with connect(db) as conn:
            holder = _compress_one(conn, table, chunk, merge)
        held = time.perf_counter() - held
        longest = max(longest, held)
        if holder is not None and holder not in holders:
            holders.append(holder)
        if holder is not None and holder != chunk and holder not in merged:
            merged.append(holder)
        if progress:
            state = (
                "skipped (compressed or dropped meanwhile)" if holder is None
                else "compressed" if holder == chunk else f"compressed into {holder}"
            )  # fmt: skip
            progress(f"{table}: [{i}/{len(pending)}] {chunk} {state} in {held:.2f} s")
    with connect(db) as conn:
        again = _compressed(conn, merged)
    for chunk in again:
        held = time.perf_counter()
        with connect(db) as conn:
            consolidate(conn, chunk)
        held = time.perf_counter() - held
        longest = max(longest, held)
        if progress:
            progress(f"{table}: {chunk} (merged) compressed again in {held:.2f} s")
    return CompressDue(
        table=table,
        chunks=holders,
        already_compressed=len(due) - len(pending),
        seconds=time.perf_counter() - started,
        longest_hold_s=longest,
        merged_into=merged,
        consolidated=again,
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
        merge = current_merge_interval(conn, table) if rng.decompressed else None
        for chunk in rng.decompressed:
            _compress_one(conn, table, chunk, merge)
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
class ColumnBytes:
    """One compressed column of a hypertable: its values and their stored bytes."""

    column: str
    values: int
    stored_bytes: int  # pg_column_size summed over the compressed batches (toast included)

    @property
    def per_value(self) -> float:
        return self.stored_bytes / self.values if self.values else 0.0


@dataclass(frozen=True)
class CompressedLayout:
    """How a hypertable's compressed data is laid out: batches, segments, bytes per value."""

    table: str
    batches: int  # compressed tuples: up to 1,000 rows of one segment each
    rows: int  # readings held by the batches
    segments: int  # (compressed chunk, meter) pairs
    columns: list[ColumnBytes]

    @property
    def rows_per_batch(self) -> float:
        return self.rows / self.batches if self.batches else 0.0

    @property
    def rows_per_segment(self) -> float:
        return self.rows / self.segments if self.segments else 0.0


def compressed_layout(
    conn: psycopg.Connection[Any],
    table: str,
    columns: tuple[str, ...] = ("timestamp", *READINGS_COLUMNS),
) -> CompressedLayout:
    """Batches, rows, segments and stored bytes per column of the compressed chunks.

    Read from the internal tables holding the compressed data (one tuple per batch,
    `_ts_meta_count` rows each, every compressed column one value whose
    `pg_column_size` is what it occupies, compressed toast included). Uncompressed
    chunks are not counted. Tuple headers, the segmentby value and the min/max
    metadata are per batch and not in any column's figure.
    """
    sizes = sql.SQL(", ").join(
        sql.SQL("coalesce(sum(pg_column_size({})), 0)").format(sql.Identifier(c)) for c in columns
    )
    batches = rows = segments = 0
    stored = [0] * len(columns)
    for schema, name in conn.execute(query("compressed_chunk_tables"), {"table": table}):
        row = conn.execute(
            sql.SQL(
                "SELECT count(*), coalesce(sum(_ts_meta_count), 0), count(DISTINCT {seg}), {sizes} "
                "FROM {table}"
            ).format(
                seg=sql.Identifier(SEGMENT_BY),
                sizes=sizes,
                table=sql.Identifier(schema, name),
            )
        ).fetchone()
        assert row is not None
        batches, rows, segments = batches + row[0], rows + int(row[1]), segments + row[2]
        stored = [total + int(size) for total, size in zip(stored, row[3:], strict=True)]
    return CompressedLayout(
        table, batches, rows, segments,
        [ColumnBytes(c, rows, size) for c, size in zip(columns, stored, strict=True)],
    )  # fmt: skip


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
    """A TimescaleDB background policy, for native servers (the embedded engine runs none).

    Not for tables whose chunks are merged into days (an existing one is removed): the
    policy compresses each chunk as it comes due, which appends its 36-row batches to
    the day and leaves them there; the project's scheduled compression (`compress_due`)
    compresses whole days and compresses the merged day once more.
    """
    if current_merge_interval(conn, table) is not None:
        conn.execute("SELECT remove_compression_policy(%s::regclass, if_exists => TRUE)", (table,))
        return
    conn.execute(
        "SELECT add_compression_policy(%s::regclass, compress_after => %s::interval, "
        "if_not_exists => TRUE)",
        (table, after),
    )
