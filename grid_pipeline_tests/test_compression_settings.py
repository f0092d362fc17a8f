"""Compression settings that fit the data, on the real embedded engine.

A 3-hour chunk holds 36 readings per meter (5-minute interval): compressed on its
own, every meter's batch is 36 rows. The 3-hour variant's chunks are merged into
day-long compressed chunks (`compress_chunk_time_interval`), compressed again when
the day is complete, and kept to UTC days, so replacing a day (re-materialising a
partition) still touches one compressed chunk and leaves it compressed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from grid_pipeline.config import ChunkVariant
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.compression import (
    READINGS_COLUMNS,
    add_compression_policy,
    compress_due,
    compressed_chunks_overlapping,
    compressed_layout,
    current_merge_interval,
    enable_compression,
    merge_interval,
    on_boundary,
)
from grid_pipeline.storage.historic import days_in, load_window
from grid_pipeline.storage.hypertables import ensure_variant

pytestmark = pytest.mark.integration

METERS = 4
INTERVAL = timedelta(minutes=5)
PER_DAY = 288
# A partial first day (from 09:00), then two whole UTC days.
WINDOW = (datetime(2026, 1, 4, 9, tzinfo=UTC), datetime(2026, 1, 7, tzinfo=UTC))
ROWS = METERS * (PER_DAY * 2 + 15 * 12)
DAY = (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC))
DAY_LONG = timedelta(days=1)


def _drop(db: Database, table: str) -> None:
    with connect(db) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


def _loaded(db: Database, table: str, interval: timedelta) -> None:
    """A private readings variant with `interval` chunks holding WINDOW (nothing compressed)."""
    _drop(db, table)
    with connect(db) as conn:
        ensure_variant(conn, ChunkVariant(table, interval))
    fleet = build_fleet(METERS, 5)
    for part in days_in(WINDOW):
        load_window(db, fleet, part, interval=INTERVAL, seed=5, timezone="UTC", table=table)


def _count(conn: psycopg.Connection[Any], table: str, window: tuple[datetime, datetime]) -> int:
    row = conn.execute(
        sql.SQL('SELECT count(*) FROM {} WHERE "timestamp" >= %s AND "timestamp" < %s').format(
            sql.Identifier(table)
        ),
        window,
    ).fetchone()
    return int(row[0]) if row else 0


def _chunks(conn: psycopg.Connection[Any], table: str) -> list[tuple[datetime, datetime, bool]]:
    rows = conn.execute(
        "SELECT range_start, range_end, is_compressed FROM timescaledb_information.chunks "
        "WHERE hypertable_name = %s ORDER BY range_start",
        (table,),
    ).fetchall()
    return [(start, end, bool(done)) for start, end, done in rows]


@pytest.fixture
def three_hour(database: Database) -> Iterator[str]:
    table = "settings_probe_3h"
    _loaded(database, table, timedelta(hours=3))
    yield table
    _drop(database, table)


def test_merge_interval_is_a_day_for_chunks_that_tile_a_day() -> None:
    assert merge_interval(timedelta(hours=3)) == timedelta(days=1)
    assert merge_interval(timedelta(hours=6)) == timedelta(days=1)
    assert merge_interval(timedelta(days=1)) is None
    assert merge_interval(timedelta(weeks=1)) is None
    assert merge_interval(timedelta(hours=5)) is None  # 24 h is no multiple of 5 h
    assert merge_interval(None) is None
    assert on_boundary(datetime(2026, 1, 5, tzinfo=UTC), timedelta(days=1))
    assert not on_boundary(datetime(2026, 1, 5, 3, tzinfo=UTC), timedelta(days=1))


def test_bytes_per_value_gives_one_positive_figure_per_readings_column(
    database: Database,
) -> None:
    table = "settings_probe_1d"
    try:
        _loaded(database, table, timedelta(days=1))
        with connect(database) as conn:
            assert compressed_layout(conn, table).batches == 0  # nothing compressed yet
        compress_due(database, table, None)
        with connect(database) as conn:
            layout = compressed_layout(conn, table)
        figures = {c.column: c for c in layout.columns}
        assert set(READINGS_COLUMNS) <= set(figures)
        for column in READINGS_COLUMNS:
            assert figures[column].values == ROWS, column
            assert 0 < figures[column].per_value < 9, column  # float8: at most 8 + overhead
        assert layout.rows == ROWS and layout.batches == METERS * 3  # a batch per meter-day
    finally:
        _drop(database, table)


def test_three_hour_chunks_compress_into_whole_days(database: Database, three_hour: str) -> None:
    """Compressed as the hourly job does (the older chunks first, then the rest): batches
    of more than 36 rows, compressed chunks that keep to UTC days, every row kept."""
    with connect(database) as conn:
        assert current_merge_interval(conn, three_hour) == timedelta(days=1)
    first = compress_due(database, three_hour, datetime.now(UTC) - DAY[1])
    rest = compress_due(database, three_hour, None)
    assert first.chunks and rest.chunks and rest.consolidated
    with connect(database) as conn:
        layout = compressed_layout(conn, three_hour)
        chunks = _chunks(conn, three_hour)
        assert _count(conn, three_hour, WINDOW) == ROWS
    assert layout.rows == ROWS and layout.rows_per_batch > 36
    assert layout.batches == METERS * 3  # one batch per meter and day
    assert [(start, end) for start, end, _ in chunks] == list(days_in(WINDOW))
    assert all(done for _, _, done in chunks)


def test_a_replaced_day_on_the_compressed_three_hour_variant_stays_whole(
    database: Database, three_hour: str
) -> None:
    compress_due(database, three_hour, None)
    with connect(database) as conn:
        before = _chunks(conn, three_hour)
        assert len(compressed_chunks_overlapping(conn, three_hour, *DAY)) == 1
    result = load_window(
        database, build_fleet(METERS, 5), DAY, interval=INTERVAL, seed=5, timezone="UTC",
        table=three_hour,
    )  # fmt: skip
    assert result.rows == METERS * PER_DAY and result.recompressed_chunks == 1
    with connect(database) as conn:
        assert _count(conn, three_hour, DAY) == METERS * PER_DAY
        assert _count(conn, three_hour, WINDOW) == ROWS
        assert _chunks(conn, three_hour) == before  # the same days, all compressed
        layout = compressed_layout(conn, three_hour)
    assert layout.rows == ROWS and layout.batches == METERS * 3


def test_a_table_enabled_before_gets_the_merge_interval(database: Database) -> None:
    """Data directories whose 3-hour variant was compressed without merging."""
    table = "settings_probe_old"
    try:
        with connect(database) as conn:
            ensure_variant(conn, ChunkVariant(table, timedelta(hours=3)))
            conn.execute(
                sql.SQL("ALTER TABLE {} SET (timescaledb.compress_chunk_time_interval = '0')")
                .format(sql.Identifier(table))
            )  # fmt: skip
            assert current_merge_interval(conn, table) is None
            enable_compression(conn, table)
            assert current_merge_interval(conn, table) == timedelta(days=1)
            ensure_variant(conn, ChunkVariant(f"{table}_1d", timedelta(days=1)))
            assert current_merge_interval(conn, f"{table}_1d") is None
    finally:
        _drop(database, table)
        _drop(database, f"{table}_1d")


def test_merged_tables_get_no_background_policy(database: Database) -> None:
    """TimescaleDB's policy would compress 3-hour chunks one by one, appending 36-row
    batches to the day; the scheduled `compress_due` compresses whole days instead."""
    jobs = (
        "SELECT count(*) FROM timescaledb_information.jobs "
        "WHERE hypertable_name = %s AND proc_name = 'policy_compression'"
    )
    tables = {"settings_probe_pol_3h": timedelta(hours=3), "settings_probe_pol_1d": DAY_LONG}
    try:
        with connect(database) as conn:
            for table, interval in tables.items():
                ensure_variant(conn, ChunkVariant(table, interval))
                conn.execute(
                    "SELECT add_compression_policy(%s::regclass, compress_after => %s)",
                    (table, DAY_LONG),
                )  # one added before: removed for the merged table
                add_compression_policy(conn, table, DAY_LONG)
                add_compression_policy(conn, table, DAY_LONG)  # twice: no error
            assert conn.execute(jobs, ("settings_probe_pol_3h",)).fetchone() == (0,)
            assert conn.execute(jobs, ("settings_probe_pol_1d",)).fetchone() == (1,)
    finally:
        for table in tables:
            _drop(database, table)
