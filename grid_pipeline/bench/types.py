"""Float8 against the stored integers, side by side in the benchmark run.

Migration 009 changed the readings from float8 (kW, kWh, V, A) to integers in
the meter's units (W, Wh, 0.1 V, mA) because TimescaleDB compresses integers
far better. The benchmark shows that claim on the loaded data itself, every
run: one whole UTC day of `energy_readings` is copied into scratch hypertables,
once as the integers it is stored as and once converted back to the float8 of
before (``power / 1000.0`` etc., server-side), for each chunk interval of the
variants; each copy is compressed the way the product compresses (segmentby
meter_id, 3-hour chunks merged into days), and its size and stored bytes per
value per column are read. The scratch tables are dropped afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.units import SCALE
from grid_pipeline.storage.compression import compress_hypertable, compressed_layout

#: Column types compared: the schema now, and the schema before migration 009.
TYPES = ("integer", "float8")
_SCRATCH_PREFIX = "bench_types"


@dataclass(frozen=True)
class TypeResult:
    """One day of readings in one column type and chunk interval, compressed."""

    column_type: str  # integer | float8
    chunk_interval: str
    rows: int
    detailed_bytes_before: int
    detailed_bytes_after: int
    percent_smaller: float
    rows_per_batch: float
    bytes_per_value: dict[str, float] = field(default_factory=dict)


def sample_day(
    conn: psycopg.Connection[Any], interval: timedelta
) -> tuple[datetime, datetime] | None:
    """The first whole UTC day of `energy_readings` (None: it holds no whole day)."""
    row = conn.execute(
        'SELECT CASE WHEN min("timestamp") = date_trunc(\'day\', min("timestamp")) '
        "THEN min(\"timestamp\") ELSE date_trunc('day', min(\"timestamp\")) + interval '1 day' "
        'END, max("timestamp") FROM energy_readings'
    ).fetchone()
    if row is None or row[0] is None:
        return None
    start: datetime = row[0]
    end = start + timedelta(days=1)
    return (start, end) if end <= row[1] + interval else None


def _copy_as(column_type: str) -> sql.Composable:
    """The SELECT list that copies the readings in `column_type`."""
    if column_type == "integer":
        return sql.SQL('"timestamp", meter_id, power, energy, voltage, current')
    return sql.SQL(", ").join(
        [sql.Identifier("timestamp"), sql.Identifier("meter_id")]
        + [
            sql.SQL("{column}::float8 / {scale}").format(
                column=sql.Identifier(name), scale=sql.Literal(float(scale))
            )
            for name, scale in SCALE.items()
        ]
    )


def _scratch(db: Database, table: str, column_type: str, interval: timedelta,
             day: tuple[datetime, datetime]) -> None:  # fmt: skip
    """A fresh hypertable like the readings in `column_type`, holding `day`."""
    value_type = sql.SQL("integer" if column_type == "integer" else "double precision")
    with connect(db) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        conn.execute(
            sql.SQL(
                'CREATE TABLE {table} ("timestamp" timestamptz NOT NULL, meter_id integer '
                "NOT NULL, power {t} NOT NULL, energy {t} NOT NULL, voltage {t} NOT NULL, "
                'current {t} NOT NULL, UNIQUE (meter_id, "timestamp"))'
            ).format(table=sql.Identifier(table), t=value_type)
        )
        conn.execute(
            "SELECT create_hypertable(%s::regclass, 'timestamp', chunk_time_interval => %s)",
            (table, interval),
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {table} SELECT {columns} FROM energy_readings "
                'WHERE "timestamp" >= %s AND "timestamp" < %s'
            ).format(table=sql.Identifier(table), columns=_copy_as(column_type)),
            day,
        )


def _drop(db: Database, table: str) -> None:
    with connect(db) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        conn.execute("DELETE FROM compression_runs WHERE hypertable = %s", (table,))


def compare_column_types(db: Database, settings: Settings) -> list[TypeResult]:
    """Per chunk interval of the variants, one day compressed as integers and as float8."""
    with connect(db) as conn:
        day = sample_day(conn, settings.interval)
    if day is None:
        return []
    results: list[TypeResult] = []
    for variant in settings.chunk_variants:
        for column_type in TYPES:
            table = f"{_SCRATCH_PREFIX}_{column_type}_{int(variant.interval.total_seconds())}"
            try:
                _scratch(db, table, column_type, variant.interval, day)
                study = compress_hypertable(db, table)
                with connect(db) as conn:
                    layout = compressed_layout(conn, table)
            finally:
                _drop(db, table)
            before, after = study.detailed_bytes_before, study.sizes.detailed_total_bytes
            results.append(
                TypeResult(
                    column_type=column_type,
                    chunk_interval=str(variant.interval),
                    rows=study.rows_after,
                    detailed_bytes_before=before,
                    detailed_bytes_after=after,
                    percent_smaller=round(100 * (1 - after / before), 1) if before else 0.0,
                    rows_per_batch=round(layout.rows_per_batch, 1),
                    bytes_per_value={c.column: round(c.per_value, 2) for c in layout.columns},
                )
            )
    return results
