"""Compression, continuous aggregates, late data, and the upkeep jobs, on the real engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl
import pytest
from psycopg import sql

from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.writer import writer_for
from grid_pipeline.defs.resources import TimescaleResource
from grid_pipeline.defs.storage import (
    aggregates_match_raw,
    build_compression_asset,
    continuous_aggregates,
    meter_day_completeness,
    storage_defs,
)
from grid_pipeline.fleet.readings import generate_readings
from grid_pipeline.storage.aggregates import AGGREGATES, aggregate_mismatches, refresh_aggregates
from grid_pipeline.storage.compression import (
    compress_hypertable,
    compressed_layout,
    compression_sizes,
)
from grid_pipeline.storage.historic import read_fleet
from grid_pipeline.storage.seed_queries import SEED_QUERIES, for_table, seed_query
from grid_pipeline_tests.conftest import load_dataset

pytestmark = pytest.mark.integration

METERS, DAYS = 5, 3


@pytest.fixture(scope="module")
def window(database: Database, settings: Settings) -> tuple[datetime, datetime]:
    return load_dataset(database, settings, meters=METERS, days=DAYS)


def seed_results(db: Database, table: str) -> dict[str, list[tuple[object, ...]]]:
    with connect(db) as conn:
        return {
            name: [tuple(round(v, 9) if isinstance(v, float) else v for v in row)
                   for row in conn.execute(for_table(seed_query(name), table)).fetchall()]
            for name in SEED_QUERIES
        }  # fmt: skip


def test_compression_shrinks_and_keeps_rows_and_seed_results(
    database: Database, settings: Settings, window: tuple[datetime, datetime]
) -> None:
    for variant in settings.chunk_variants:
        before = seed_results(database, variant.table)
        study = compress_hypertable(database, variant.table)
        again = compress_hypertable(database, variant.table)  # twice: nothing left to do
        assert study.chunks_compressed > 0 and again.chunks_compressed == 0
        assert study.rows_before == study.rows_after == METERS * DAYS * 288
        assert study.sizes.after_bytes < study.sizes.before_bytes
        assert seed_results(database, variant.table) == before, variant.table
        with connect(database) as conn:
            layout = compressed_layout(conn, variant.table)
        assert layout.rows == study.rows_after, variant.table
        # A meter's day is one batch (fewer rows on the window's partial first and last
        # days): the 3-hour variant is not left at one chunk's 36 readings per meter.
        assert layout.rows_per_batch > 36, variant.table


def test_aggregates_match_raw_then_absorb_late_data_in_compressed_chunks(
    database: Database, window: tuple[datetime, datetime]
) -> None:
    refresh_aggregates(database)
    day_end = window[1].replace(hour=0, minute=0, second=0, microsecond=0)
    day = (day_end - timedelta(days=1), day_end)
    with connect(database) as conn:
        for name in AGGREGATES:
            assert aggregate_mismatches(conn, name, *day) == 0, name
        fleet = read_fleet(conn)
    compress_hypertable(database, "energy_readings")
    with connect(database) as conn:
        count_before = conn.execute("SELECT count(*) FROM energy_readings").fetchone()
    # A late batch into a compressed chunk: the same readings again (duplicates) plus
    # one meter's readings under a new meter id (new rows).
    late = generate_readings(fleet, day[0], day[0] + timedelta(hours=2), seed=7)
    newcomer = late.filter(pl.col("meter_id") == 1).with_columns(meter_id=pl.lit(99, pl.Int32))
    with connect(database) as conn:
        conn.execute(
            "INSERT INTO meters SELECT 99, customer_class, feeder, substation, has_solar, rated_kw,"
            " nominal_voltage, solar_kwp FROM meters WHERE meter_id = 1 ON CONFLICT DO NOTHING"
        )
        inserted = writer_for(database).write(conn, late.vstack(newcomer))
    assert inserted == newcomer.height  # duplicates absorbed by the key
    with connect(database) as conn:
        count_after = conn.execute("SELECT count(*) FROM energy_readings").fetchone()
    assert count_before is not None and count_after == (count_before[0] + newcomer.height,)
    with connect(database) as conn:
        stale = aggregate_mismatches(conn, "energy_readings_15min", *day)
        # the newcomer's meter-hours are not yet in its class and feeder's hourly load
        stale_segments = aggregate_mismatches(conn, "segment_hourly_load", *day)
    assert stale > 0  # the late rows are below the watermark until refreshed
    assert stale_segments > 0
    refresh_aggregates(database, since=day[0])
    with connect(database) as conn:
        for name in AGGREGATES:
            assert aggregate_mismatches(conn, name, *day) == 0, name
        conn.execute("DELETE FROM energy_readings WHERE meter_id = 99")
        conn.execute("DELETE FROM meters WHERE meter_id = 99")
    refresh_aggregates(database, since=day[0])


def test_assets_jobs_and_checks_run_in_process(
    database: Database, settings: Settings, window: tuple[datetime, datetime]
) -> None:
    resource = TimescaleResource(data_dir=str(settings.data_dir))
    compression = build_compression_asset(settings.chunk_variants[1])
    result = dg.materialize(
        [continuous_aggregates, compression, aggregates_match_raw, meter_day_completeness],
        resources={"timescale": resource},
    )
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert set(checks) >= {f"{n}_matches_raw" for n in AGGREGATES} | {
        "row_count_unchanged", "meter_day_completeness"}  # fmt: skip
    assert all(c.passed for c in checks.values()), [n for n, c in checks.items() if not c.passed]
    defs = dg.Definitions.merge(storage_defs(settings), dg.Definitions(
        assets=[dg.AssetSpec(v.table) for v in settings.chunk_variants],
        resources={"timescale": resource}))  # fmt: skip
    for name in ("compression_job", "refresh_aggregates_job"):
        for _ in range(2):  # running a job twice is harmless
            run = defs.resolve_job_def(name).execute_in_process()
            assert run.success
            # The upkeep shows which assets it updated, with its checks.
            assert run.get_asset_materialization_events()
            assert all(c.passed for c in run.get_asset_check_evaluations())


def test_schedules_are_defined_and_on_by_default(settings: Settings) -> None:
    defs = storage_defs(settings)
    schedules = {s.name: s for s in defs.schedules or []}
    jobs = {s.job_name for s in schedules.values()}
    assert jobs == {"compression_job", "refresh_aggregates_job", "rejects_retention_job"}
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in schedules.values())


def test_compression_sizes_report_both_views(
    database: Database, window: tuple[datetime, datetime]
) -> None:
    with connect(database) as conn:
        sizes = compression_sizes(conn, "energy_readings")
        on_disk = conn.execute(
            sql.SQL("SELECT hypertable_size({})").format(sql.Literal("energy_readings"))
        ).fetchone()
    assert sizes.compressed_chunks == sizes.total_chunks > 0
    assert sizes.ratio > 1 and 0 < sizes.saved_percent < 100
    assert on_disk is not None and sizes.detailed_total_bytes == on_disk[0]
    assert datetime.now(UTC) > window[0]
