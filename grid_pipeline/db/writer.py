"""Bulk writing of readings: one interface, the fastest strategy each engine allows.

* `UnnestWriter`: `INSERT ... SELECT FROM unnest(<binary typed arrays>)`; the
  embedded engine's path (its wire server cannot COPY).
* `CopyWriter`: binary COPY into a temporary staging table, then one
  `INSERT ... SELECT`; the native server's path.

Writers take readings as people read them (kW, kWh, V, A) and store them as
the meter's integers (W, Wh, 0.1 V, mA; `units.to_stored`): this is the one
door through which readings enter the database, so the conversion is here.

Both end in `ON CONFLICT (meter_id, timestamp) DO NOTHING`, so writing the same
rows twice is harmless, and both return how many rows were new. Batches are
sent in slices of `batch_rows`; the caller owns the transaction (one unit of
work = one transaction, so a failure leaves nothing half-written).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl
import psycopg
from psycopg import sql

from grid_pipeline.db.binary import BinaryArray, BinaryArrayDumper, binary_array, copy_binary_stream
from grid_pipeline.db.connection import Database
from grid_pipeline.db.units import to_stored

READING_COLUMNS = ("timestamp", "meter_id", "power", "energy", "voltage", "current")
#: Readings as callers hand them over: kW, kWh, V and A.
READING_SCHEMA: dict[str, Any] = {
    "timestamp": pl.Datetime("us", "UTC"),
    "meter_id": pl.Int32,
    "power": pl.Float64,
    "energy": pl.Float64,
    "voltage": pl.Float64,
    "current": pl.Float64,
}
#: Readings as the table stores them: W, Wh, 0.1 V and mA.
STORED_SCHEMA: dict[str, Any] = {
    "timestamp": pl.Datetime("us", "UTC"),
    "meter_id": pl.Int32,
    "power": pl.Int32,
    "energy": pl.Int32,
    "voltage": pl.Int32,
    "current": pl.Int32,
}
DEFAULT_BATCH_ROWS = 50_000


def as_reading_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Readings in kW, kWh, V and A as the stored integers, in table order, with the
    exact types the encoders expect."""
    missing = set(READING_COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"readings frame lacks columns {sorted(missing)}")
    readings = frame.select(pl.col(name).cast(dtype) for name, dtype in READING_SCHEMA.items())
    return to_stored(readings).select(
        pl.col(name).cast(dtype) for name, dtype in STORED_SCHEMA.items()
    )


class ReadingsWriter(Protocol):
    """Writes a readings frame into a table; returns the number of rows inserted."""

    def write(self, conn: psycopg.Connection[Any], frame: pl.DataFrame) -> int: ...


def _column_list() -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(c) for c in READING_COLUMNS)


@dataclass(frozen=True)
class UnnestWriter:
    """INSERT ... SELECT FROM unnest(binary arrays) ON CONFLICT DO NOTHING, in batches."""

    table: str
    batch_rows: int = DEFAULT_BATCH_ROWS

    def statement(self) -> sql.Composed:
        return sql.SQL(
            "INSERT INTO {table} ({columns}) SELECT * FROM unnest({params}) "
            "ON CONFLICT (meter_id, {ts}) DO NOTHING"
        ).format(
            table=sql.Identifier(self.table),
            columns=_column_list(),
            params=sql.SQL(", ").join(sql.Placeholder() * len(READING_COLUMNS)),
            ts=sql.Identifier("timestamp"),
        )

    def write(self, conn: psycopg.Connection[Any], frame: pl.DataFrame) -> int:
        frame = as_reading_frame(frame)
        statement = self.statement()
        inserted = 0
        with conn.cursor() as cur:
            cur.adapters.register_dumper(BinaryArray, BinaryArrayDumper)
            for batch in frame.iter_slices(self.batch_rows):
                cur.execute(statement, [binary_array(batch.get_column(c)) for c in READING_COLUMNS])
                inserted += max(cur.rowcount, 0)
        return inserted


@dataclass(frozen=True)
class CopyWriter:
    """Binary COPY into a temp staging table, then INSERT ... ON CONFLICT DO NOTHING."""

    table: str
    batch_rows: int = 500_000

    def write(self, conn: psycopg.Connection[Any], frame: pl.DataFrame) -> int:
        frame = as_reading_frame(frame)
        staging = sql.Identifier(f"_staging_{self.table}")
        inserted = 0
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL(
                    "CREATE TEMP TABLE IF NOT EXISTS {staging} "
                    "(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                ).format(staging=staging, table=sql.Identifier(self.table))
            )
            for batch in frame.iter_slices(self.batch_rows):
                cur.execute(sql.SQL("TRUNCATE {staging}").format(staging=staging))
                copy_sql = sql.SQL("COPY {staging} ({columns}) FROM STDIN (FORMAT BINARY)").format(
                    staging=staging, columns=_column_list()
                )
                with cur.copy(copy_sql) as copy:
                    copy.write(copy_binary_stream(batch))
                cur.execute(
                    sql.SQL(
                        "INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} "
                        "ON CONFLICT (meter_id, {ts}) DO NOTHING"
                    ).format(
                        table=sql.Identifier(self.table),
                        columns=_column_list(),
                        staging=staging,
                        ts=sql.Identifier("timestamp"),
                    )
                )
                inserted += max(cur.rowcount, 0)
        return inserted


def writer_for(db: Database, table: str = "energy_readings") -> ReadingsWriter:
    """The fastest idempotent writer the engine supports."""
    return CopyWriter(table) if db.supports_copy else UnnestWriter(table)
