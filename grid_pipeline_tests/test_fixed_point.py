"""Readings are stored as integers in the meter's units (W, Wh, 0.1 V, mA).

Pinned here: the conversion round-trips exactly; the daily total is the
register's difference, to the watt-hour; a data directory made before the
change is converted in place with every reading kept, compressed chunks and
continuous aggregates included.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from psycopg import sql

from grid_pipeline.config import load_settings
from grid_pipeline.db import migrate as migrate_module
from grid_pipeline.db.connection import Database, connect, resolve_database
from grid_pipeline.db.migrate import migrate
from grid_pipeline.db.sqlfiles import schema_files
from grid_pipeline.db.units import SCALE, stored_value, to_display, to_stored
from grid_pipeline.db.writer import as_reading_frame
from grid_pipeline.embedded import engine
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.fleet.readings import generate_readings
from grid_pipeline.storage.aggregates import refresh_aggregates
from grid_pipeline.storage.compression import compress_chunks, enable_compression
from grid_pipeline.storage.historic import read_fleet
from grid_pipeline.storage.hypertables import ensure_variant, fill_variant_window
from grid_pipeline.storage.seed_queries import seed_query
from grid_pipeline_tests.conftest import load_dataset

START = datetime(2026, 3, 1, tzinfo=UTC)
VALUE_COLUMNS = list(SCALE)
FLOAT8_ERA_AGGREGATES = (
    "energy_readings_15min", "energy_readings_hourly", "energy_readings_daily",
    "meter_hourly_stats", "fleet_15min",
)  # fmt: skip


def _readings(meters: int = 6, days: int = 2) -> pl.DataFrame:
    return generate_readings(build_fleet(meters, 3), START, START + timedelta(days=days), seed=3)


def test_generated_readings_round_trip_exactly_through_the_stored_integers() -> None:
    readings = _readings()
    stored = as_reading_frame(readings)
    assert all(stored.schema[name] == pl.Int32 for name in VALUE_COLUMNS)
    back = to_display(stored)
    assert back.select(VALUE_COLUMNS).equals(readings.select(VALUE_COLUMNS))
    assert to_stored(back).equals(stored)


def test_one_value_converts_like_a_column() -> None:
    assert stored_value("power", -1.2345) == -1234  # half to even, like the column
    frame = pl.DataFrame({"power": [-1.2345, 2.5], "voltage": [231.4, 229.9]})
    assert to_stored(frame).rows() == [
        (stored_value("power", -1.2345), stored_value("voltage", 231.4)),
        (stored_value("power", 2.5), stored_value("voltage", 229.9)),
    ]


def test_a_value_too_large_for_an_integer_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="current 3e\\+06 A does not fit"):
        to_stored(pl.DataFrame({"current": [1.0, 3e6]}))


@pytest.mark.integration
def test_daily_energy_is_the_registers_difference_to_the_watt_hour(
    database: Database,
) -> None:
    """A register-reading meter's interval energies are register differences, so a
    day's total must equal register(end) - register(start) exactly: here the
    register is the running sum of the stored Wh, and the database's SUM over the
    day agrees with it to the unit (and with the kWh the generator produced)."""
    settings = load_settings()
    window = load_dataset(database, settings, meters=4, days=2, seed=11)
    with connect(database) as conn:
        stored = pl.DataFrame(
            conn.execute(
                'SELECT meter_id, "timestamp", energy FROM energy_readings ORDER BY 1, 2'
            ).fetchall(),
            schema=["meter_id", "timestamp", "energy"],
            orient="row",
        )
        daily = conn.execute(
            "SELECT meter_id, time_bucket('1 day', \"timestamp\") AS day, sum(energy) "
            "FROM energy_readings GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
    register = stored.with_columns(pl.col("energy").cum_sum().over("meter_id").alias("register"))
    assert len(daily) >= 4
    for meter_id, day, total in daily:
        in_day = register.filter(
            (pl.col("meter_id") == meter_id)
            & (pl.col("timestamp") >= day)
            & (pl.col("timestamp") < day + timedelta(days=1))
        )
        first = in_day.row(0, named=True)
        difference = in_day["register"][-1] - (first["register"] - first["energy"])
        assert total == difference
        assert isinstance(total, int)
    fleet = build_fleet(4, 11)
    generated = generate_readings(fleet, *window, seed=11)
    assert stored["energy"].sum() == sum(
        stored_value("energy", e) for e in generated["energy"].to_list()
    )


def _insert_float_readings(database: Database, readings: pl.DataFrame) -> None:
    """Rows written the way the float8 schema took them (before migration 009)."""
    with connect(database) as conn:
        conn.execute(
            "INSERT INTO energy_readings SELECT * FROM unnest("
            "%s::timestamptz[], %s::integer[], %s::float8[], %s::float8[], "
            "%s::float8[], %s::float8[])",
            [readings[c].to_list() for c in readings.columns],
        )


def _snapshot(database: Database, table: str) -> pl.DataFrame:
    with connect(database) as conn:
        rows = conn.execute(
            sql.SQL(
                'SELECT "timestamp", meter_id, power, energy, voltage, current FROM {} '
                'ORDER BY meter_id, "timestamp"'
            ).format(sql.Identifier(table))
        ).fetchall()
    return pl.DataFrame(
        rows,
        schema=["timestamp", "meter_id", *VALUE_COLUMNS],
        orient="row",
        infer_schema_length=None,
    )


@pytest.mark.integration
def test_a_float8_data_directory_is_converted_with_every_reading_kept(
    fresh_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(fresh_env)
    engine.ensure_running(settings)
    database = resolve_database(settings)
    before_change = [p for p in schema_files() if p.name < "009_"]
    monkeypatch.setattr(migrate_module, "schema_files", lambda: before_change)
    migrate(database)
    monkeypatch.undo()

    fleet = build_fleet(5, 9)
    with connect(database) as conn:  # the meters table as it was then (no grid tables yet)
        conn.execute(
            "INSERT INTO meters SELECT * FROM unnest(%s::int4[], %s::text[], %s::text[], "
            "%s::text[], %s::bool[], %s::float8[], %s::float8[], %s::float8[])",
            [fleet[c].to_list() for c in fleet.columns],
        )
    readings = generate_readings(fleet, START, START + timedelta(days=2), seed=9)
    # The float8 schema held 0.1 Wh; one odd value shows the rounding to whole Wh.
    readings = readings.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.col("energy") + 0.0004)
        .otherwise(pl.col("energy"))
        .alias("energy")
    ).select("timestamp", "meter_id", *VALUE_COLUMNS)
    _insert_float_readings(database, readings)
    three_hour = settings.chunk_variants[1]
    with connect(database) as conn:
        ensure_variant(conn, three_hour)
        fill_variant_window(conn, three_hour, START, START + timedelta(days=2))
        enable_compression(conn, "energy_readings")
        assert compress_chunks(conn, "energy_readings") >= 2
    with connect(database, autocommit=True) as conn:  # the aggregates that schema had, filled
        for name in FLOAT8_ERA_AGGREGATES:
            conn.execute("CALL refresh_continuous_aggregate(%s, NULL, NULL)", (name,))

    with caplog.at_level(logging.INFO, logger="grid_pipeline.db.migrate"):
        report = migrate(database)
    assert report.applied[0] == "009_fixed_point"
    assert "converting energy_readings to fixed-point integers" in caplog.text

    expected = readings.sort("meter_id", "timestamp").with_columns(
        (pl.col(c) * SCALE[c]).round(0).cast(pl.Int64).alias(c) for c in VALUE_COLUMNS
    )
    for table in ("energy_readings", three_hour.table):
        converted = _snapshot(database, table)
        assert converted.height == readings.height
        assert converted.select(VALUE_COLUMNS).equals(expected.select(VALUE_COLUMNS))
    with connect(database) as conn:
        types = conn.execute(
            "SELECT DISTINCT data_type FROM information_schema.columns "
            "WHERE table_name IN ('energy_readings', %s) "
            "AND column_name IN ('power', 'energy', 'voltage', 'current')",
            (three_hour.table,),
        ).fetchall()
        assert types == [("integer",)]
        # Compression comes back with the same settings and keeps every row.
        enable_compression(conn, "energy_readings")
        assert compress_chunks(conn, "energy_readings") >= 2
        count = conn.execute(seed_query("q4_full_scan")).fetchone()
        assert count is not None and count[0] == readings.height
    refresh_aggregates(database, START)
    with connect(database) as conn:
        total = conn.execute("SELECT sum(total_energy) FROM energy_readings_daily").fetchone()
        assert total is not None and total[0] == expected["energy"].sum()
        assert read_fleet(conn).height == 5
