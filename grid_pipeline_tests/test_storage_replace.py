"""Replacing compressed days, compressing chunk by chunk, refreshing in windows: real engine.

TimescaleDB refuses DML that decompresses more than
`timescaledb.max_tuples_decompressed_per_dml_transaction` tuples (100,000 by
default; a day of 500 meters is 144,000). Re-loading a compressed day must
therefore decompress the day's chunks deliberately and compress them again,
all in one transaction. The small data set shows it with the limit lowered to
10 for one transaction (SET LOCAL); one test uses the real default limit on a
private table holding a day of 500 meters.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from grid_pipeline.config import ChunkVariant, Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.aggregates import (
    AGGREGATES,
    aggregate_mismatches,
    refresh_aggregates,
    refresh_windows,
)
from grid_pipeline.storage.compression import (
    CompressDue,
    compress_due,
    compressed_chunks_overlapping,
    compression_enabled,
    writable_range,
)
from grid_pipeline.storage.historic import days_in, load_window, read_fleet
from grid_pipeline.storage.hypertables import (
    PRIMARY_TABLE,
    ensure_variant,
    fill_variant_window,
    fill_variant_window_result,
)
from grid_pipeline_tests.conftest import load_dataset

pytestmark = pytest.mark.integration

METERS, DAYS = 5, 3
INTERVAL = timedelta(minutes=5)
PER_DAY = 288
LOWER_LIMIT = "SET LOCAL timescaledb.max_tuples_decompressed_per_dml_transaction = 10"
SHOW_LIMIT = "SHOW timescaledb.max_tuples_decompressed_per_dml_transaction"
Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class Compressed:
    """The module's data set and the compress_due runs that compressed it."""

    window: Window
    runs: dict[str, list[CompressDue]]
    cutoff: datetime  # now - 1 day, taken just before the first (older_than=1 day) runs


@pytest.fixture(scope="module")
def compressed(database: Database, settings: Settings) -> Compressed:
    """METERS x DAYS in every variant, every chunk compressed by `compress_due`: first the
    chunks older than a day, then the rest, then once more (nothing left)."""
    window = load_dataset(database, settings, meters=METERS, days=DAYS)
    cutoff = datetime.now(UTC) - timedelta(days=1)
    runs: dict[str, list[CompressDue]] = {}
    for variant in settings.chunk_variants:
        free = _session_is_free(database)
        runs[variant.table] = [
            compress_due(database, variant.table, timedelta(days=1), progress=free),
            compress_due(database, variant.table, None),
            compress_due(database, variant.table, None),
        ]
    return Compressed(window, runs, cutoff)


@pytest.fixture
def window(compressed: Compressed) -> Window:
    return compressed.window


@pytest.fixture
def day(window: Window) -> Window:
    """A whole UTC day in the middle of the data set."""
    return list(days_in(window))[1]


# --- helpers ---------------------------------------------------------------------------


def _session_is_free(db: Database) -> Any:
    """A progress callback that proves no connection is held while it runs: a second
    client gets the single session at once (it would queue for minutes otherwise)."""

    def check(line: str) -> None:
        with psycopg.connect(db.url, connect_timeout=5, prepare_threshold=None) as other:
            assert other.execute("SELECT 1").fetchone() == (1,), line

    return check


def chunk_states(conn: psycopg.Connection[Any], table: str) -> list[tuple[str, bool]]:
    rows = conn.execute(
        "SELECT chunk_name, is_compressed FROM timescaledb_information.chunks "
        "WHERE hypertable_name = %s ORDER BY range_start",
        (table,),
    ).fetchall()
    return [(str(name), bool(done)) for name, done in rows]


def digest(conn: psycopg.Connection[Any], table: str, start: datetime, end: datetime) -> Any:
    """Row count and an md5 over every row in [start, end), in key order."""
    return conn.execute(
        sql.SQL(
            "SELECT count(*), md5(coalesce(string_agg(concat_ws('|', {ts}, meter_id, power, "
            "energy, voltage, current), ',' ORDER BY meter_id, {ts}), '')) "
            "FROM {table} WHERE {ts} >= %s AND {ts} < %s"
        ).format(table=sql.Identifier(table), ts=sql.Identifier("timestamp")),
        (start, end),
    ).fetchone()


def snapshot(db: Database, table: str, window: Window, day: Window) -> tuple[Any, ...]:
    """Everything a replacement must keep: the table's rows, the day's rows, chunk states."""
    with connect(db) as conn:
        return (
            digest(conn, table, *window),
            digest(conn, table, *day),
            chunk_states(conn, table),
        )


def overlapping_chunks(db: Database, table: str, day: Window) -> list[str]:
    with connect(db) as conn:
        return compressed_chunks_overlapping(conn, table, *day)


def delete_statement(table: str) -> sql.Composed:
    return sql.SQL('DELETE FROM {} WHERE "timestamp" >= %s AND "timestamp" < %s').format(
        sql.Identifier(table)
    )


# --- compression chunk by chunk --------------------------------------------------------


def test_compress_due_compresses_each_due_chunk_once(
    database: Database, settings: Settings, compressed: Compressed
) -> None:
    for variant in settings.chunk_variants:
        older, rest, again = compressed.runs[variant.table]
        with connect(database) as conn:
            states = chunk_states(conn, variant.table)
            ends = dict(
                conn.execute(
                    "SELECT format('%%I.%%I', chunk_schema, chunk_name), range_end "
                    "FROM timescaledb_information.chunks WHERE hypertable_name = %s",
                    (variant.table,),
                ).fetchall()
            )
        assert states and all(done for _, done in states), variant.table
        # First run: only chunks that ended a day ago or earlier; the newest stayed.
        assert older.already_compressed == 0
        assert all(ends[c] <= datetime.now(UTC) - timedelta(days=1) for c in older.chunks)
        assert rest.chunks and all(ends[c] > compressed.cutoff for c in rest.chunks)
        assert sorted(older.chunks + rest.chunks) == sorted(ends), variant.table
        assert rest.already_compressed == len(older.chunks)
        # Idempotent: nothing left to do.
        assert again.chunks == [] and again.already_compressed == len(states)
        assert all(run.table == variant.table for run in (older, rest, again))
        assert 0 < rest.longest_hold_s <= rest.seconds
    # The 1-day table had chunks old enough for the first run.
    assert compressed.runs[PRIMARY_TABLE][0].chunks


def test_ensure_variant_enables_compression(database: Database, settings: Settings) -> None:
    name = "replace_probe_enable"
    try:
        with connect(database) as conn:
            ensure_variant(conn, ChunkVariant(name, timedelta(hours=6)))
            assert compression_enabled(conn, name)
            ensure_variant(conn, ChunkVariant(name, timedelta(hours=6)))  # again: no-op
            for variant in settings.chunk_variants:
                ensure_variant(conn, variant)
                assert compression_enabled(conn, variant.table), variant.table
        due = compress_due(database, name, None)  # a table with no chunks: nothing to do
        assert due.chunks == [] and due.already_compressed == 0
    finally:
        with connect(database) as conn:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


# --- replacing a compressed day --------------------------------------------------------


@pytest.mark.parametrize("table", ["energy_readings", "energy_readings_week"])
def test_plain_delete_of_a_compressed_day_hits_the_decompression_limit(
    database: Database, settings: Settings, day: Window, window: Window, table: str
) -> None:
    """The old path (DELETE on compressed chunks) fails once the limit is below a day.

    (Not asserted for the 3-hour variant: there the day covers whole chunks, and
    TimescaleDB 2.23 deletes their compressed batches without decompressing them.)
    """
    assert table in {v.table for v in settings.chunk_variants}
    before = snapshot(database, table, window, day)
    with pytest.raises(psycopg.errors.ConfigurationLimitExceeded), connect(database) as conn:
        conn.execute(LOWER_LIMIT)
        conn.execute(delete_statement(table), day)
    assert snapshot(database, table, window, day) == before


def test_fill_variant_window_refills_a_compressed_day_under_the_limit(
    database: Database, settings: Settings, day: Window, window: Window
) -> None:
    for variant in settings.chunk_variants[1:]:
        before = snapshot(database, variant.table, window, day)
        chunks = overlapping_chunks(database, variant.table, day)
        assert chunks, variant.table
        with connect(database) as conn:
            conn.execute(LOWER_LIMIT)
            result = fill_variant_window_result(conn, variant, *day)
        assert result.rows == METERS * PER_DAY, variant.table
        assert result.recompressed_chunks == len(chunks), variant.table
        assert snapshot(database, variant.table, window, day) == before, variant.table
        with connect(database) as conn:  # the int-returning function, too
            assert fill_variant_window(conn, variant, *day) == METERS * PER_DAY
        assert snapshot(database, variant.table, window, day) == before, variant.table


def test_load_window_reloads_a_compressed_day(
    database: Database, settings: Settings, day: Window, window: Window
) -> None:
    before = snapshot(database, PRIMARY_TABLE, window, day)
    chunks = overlapping_chunks(database, PRIMARY_TABLE, day)
    assert len(chunks) == 1  # one-day chunks, a whole UTC day
    with connect(database) as conn:
        fleet = read_fleet(conn)
    result = load_window(database, fleet, day, interval=INTERVAL, seed=7, timezone="UTC")
    assert result.rows == METERS * PER_DAY
    assert result.recompressed_chunks == 1
    assert snapshot(database, PRIMARY_TABLE, window, day) == before


@pytest.mark.parametrize("table", ["energy_readings", "energy_readings_week"])
def test_a_failure_inside_the_range_leaves_rows_and_compression_as_before(
    database: Database, settings: Settings, day: Window, window: Window, table: str
) -> None:
    assert table in {v.table for v in settings.chunk_variants}
    before = snapshot(database, table, window, day)
    # Own transaction: the block's error rolls everything back.
    with (
        connect(database) as conn,
        pytest.raises(RuntimeError, match="mid-way"),
        writable_range(conn, table, *day) as rng,
    ):
        assert rng.decompressed
        conn.execute(delete_statement(table), day)
        raise RuntimeError("mid-way")
    assert snapshot(database, table, window, day) == before
    # Inside a caller's open transaction: a failing statement in the block is rolled
    # back to before the decompression, and even a caller that carries on and commits
    # keeps the old, compressed rows.
    with connect(database) as conn:
        conn.execute("SELECT 1")  # the caller's transaction is open
        with pytest.raises(psycopg.errors.NotNullViolation), writable_range(conn, table, *day):
            conn.execute(delete_statement(table), day)
            conn.execute(
                sql.SQL('INSERT INTO {} ("timestamp", meter_id) VALUES (%s, 1)').format(
                    sql.Identifier(table)
                ),
                (day[0],),
            )
        assert chunk_states(conn, table) == before[2]
    assert snapshot(database, table, window, day) == before


def test_real_limit_a_day_of_500_meters(database: Database) -> None:
    """At the default limit (100,000), a compressed day of 500 meters (144,000 rows) cannot be
    deleted, but load_window replaces it; a failure mid-way changes nothing.

    The private table gets a continuous aggregate, as `energy_readings` has: without one,
    TimescaleDB 2.23 deletes compressed batches that lie wholly inside the DELETE's range
    without decompressing them, and the plain DELETE would pass.
    """
    table = "replace_probe_readings"
    day = (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC))
    fleet = build_fleet(500, 11)
    whole = (day[0] - timedelta(days=1), day[1] + timedelta(days=1))

    def load() -> Any:
        return load_window(
            database, fleet, day, interval=INTERVAL, seed=11, timezone="UTC", table=table
        )

    try:
        with connect(database) as conn:
            ensure_variant(conn, ChunkVariant(table, timedelta(days=1)))
            assert conn.execute(SHOW_LIMIT).fetchone() == ("100000",)
        with connect(database, autocommit=True) as conn:
            conn.execute(
                sql.SQL(
                    "CREATE MATERIALIZED VIEW {view} WITH (timescaledb.continuous) AS "
                    "SELECT meter_id, time_bucket('1 hour', {ts}) AS bucket, count(*) "
                    "FROM {table} GROUP BY 1, 2 WITH NO DATA"
                ).format(
                    view=sql.Identifier(f"{table}_hourly"),
                    ts=sql.Identifier("timestamp"),
                    table=sql.Identifier(table),
                )
            )
        first = load()
        assert first.rows == 500 * PER_DAY and first.recompressed_chunks == 0
        assert len(compress_due(database, table, None).chunks) == 1
        before = snapshot(database, table, whole, day)
        assert before[0][0] == 500 * PER_DAY and before[2][0][1]
        with pytest.raises(psycopg.errors.ConfigurationLimitExceeded), connect(database) as conn:
            conn.execute(delete_statement(table), day)
        again = load()
        assert again.rows == 500 * PER_DAY and again.recompressed_chunks == 1
        assert snapshot(database, table, whole, day) == before
        # A failure in the middle of the insert (a trigger rejecting one meter's rows).
        with connect(database) as conn:
            conn.execute(
                "CREATE FUNCTION replace_probe_reject() RETURNS trigger LANGUAGE plpgsql "
                "AS $$ BEGIN RAISE EXCEPTION 'rejected by the test'; END $$"
            )
            conn.execute(
                sql.SQL(
                    "CREATE TRIGGER reject_meter BEFORE INSERT ON {} FOR EACH ROW "
                    "WHEN (NEW.meter_id = 250) EXECUTE FUNCTION replace_probe_reject()"
                ).format(sql.Identifier(table))
            )
        with pytest.raises(psycopg.errors.RaiseException, match="rejected by the test"):
            load()
        assert snapshot(database, table, whole, day) == before
    finally:
        with connect(database) as conn:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(table)))
            conn.execute("DROP FUNCTION IF EXISTS replace_probe_reject()")


# --- continuous aggregates in windows --------------------------------------------------


def test_refresh_windows_cover_everything_in_days() -> None:
    day = timedelta(days=1)
    now = datetime(2026, 3, 10, 13, 20, tzinfo=UTC)
    first = datetime(2026, 3, 7, 2, 10, tzinfo=UTC)
    midnight = datetime(2026, 3, 8, tzinfo=UTC)
    # All time: open below to the day after the first reading, whole days, open tail.
    assert refresh_windows(None, first, now) == [
        (None, midnight),
        (midnight, midnight + day),
        (midnight + day, midnight + 2 * day),
        (midnight + 2 * day, None),
    ]
    # From a bucket inside a day: a partial first window, then whole days.
    since = datetime(2026, 3, 9, 6, 45, tzinfo=UTC)
    assert refresh_windows(since, None, now) == [
        (since, midnight + 2 * day),
        (midnight + 2 * day, None),
    ]
    assert refresh_windows(now, None, now) == [(now, None)]
    assert refresh_windows(None, None, now) == [(None, None)]  # an empty table
    for windows in (refresh_windows(None, first, now), refresh_windows(since, None, now)):
        bounded = [(lo, hi) for lo, hi in windows if lo is not None and hi is not None]
        assert all(hi - lo <= day for lo, hi in bounded)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))


def test_refresh_aggregates_in_windows_matches_raw_and_absorbs_changes(
    database: Database, settings: Settings, day: Window, window: Window
) -> None:
    lines: list[str] = []
    free = _session_is_free(database)

    def progress(line: str) -> None:
        lines.append(line)
        free(line)

    seconds = refresh_aggregates(database, progress=progress)
    assert set(seconds) == set(AGGREGATES)
    # Per aggregate: one window open below up to the second day, one per further whole
    # day, an open tail: as many windows as days from the first reading to now.
    per_aggregate = len(list(days_in((window[0], datetime.now(UTC)))))
    assert len(lines) == len(AGGREGATES) * per_aggregate
    assert [line.split(":")[0] for line in lines[::per_aggregate]] == list(AGGREGATES)
    full_days = (day[0], window[1].replace(hour=0, minute=0))
    with connect(database) as conn:
        for name in AGGREGATES:
            assert aggregate_mismatches(conn, name, *full_days) == 0, name
        # Change a compressed day behind the aggregates' back: they go stale.
        with writable_range(conn, PRIMARY_TABLE, *day):
            conn.execute(
                "UPDATE energy_readings SET power = power + 1, energy = energy + 1 "
                'WHERE meter_id = 2 AND "timestamp" >= %s AND "timestamp" < %s',
                day,
            )
    with connect(database) as conn:
        assert aggregate_mismatches(conn, "energy_readings_15min", *day) > 0
    lines.clear()
    refresh_aggregates(database, since=day[0], progress=progress)
    assert lines and all("refreshed" in line for line in lines)
    with connect(database) as conn:
        for name in AGGREGATES:
            assert aggregate_mismatches(conn, name, *full_days) == 0, name
        fleet = read_fleet(conn)
    # Put the day back (a compressed day re-loaded) and refresh again.
    load_window(database, fleet, day, interval=INTERVAL, seed=7, timezone="UTC")
    refresh_aggregates(database, since=day[0])
    with connect(database) as conn:
        for name in AGGREGATES:
            assert aggregate_mismatches(conn, name, *full_days) == 0, name
        assert all(done for _, done in chunk_states(conn, PRIMARY_TABLE))
