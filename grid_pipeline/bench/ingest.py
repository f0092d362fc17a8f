"""The ingest-path ladder: the same readings written every way, same engine, one run.

From naive to the engine's own ceiling: row-by-row autocommit INSERTs,
`executemany` in one transaction, multi-row VALUES, our binary UNNEST batches,
binary COPY (where the engine supports it; the embedded one does not, so a
native PostgreSQL, if reachable, stands in with a plain table), and a
server-side `INSERT ... SELECT generate_series` of the same row count. Slow
paths run on a sample and are reported as rows/s.

The scratch table has the readings table's integer columns (W, Wh, 0.1 V, mA):
the naive paths send the stored integers themselves, our writers take the
readings in kW, kWh, V and A and convert at their door (`as_reading_frame`), as
in production, so the ladder times the conversion too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import polars as pl
import psycopg
from psycopg import sql

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.writer import READING_COLUMNS, CopyWriter, UnnestWriter, as_reading_frame

SCRATCH = "bench_ingest_readings"


@dataclass(frozen=True)
class IngestPath:
    name: str
    engine: str
    rows: int
    seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _scratch(conn: psycopg.Connection[Any], hypertable: bool) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SCRATCH)))
    conn.execute(
        sql.SQL(
            'CREATE TABLE {} ("timestamp" timestamptz NOT NULL, meter_id int NOT NULL, '
            "power integer NOT NULL, energy integer NOT NULL, voltage integer NOT NULL, "
            'current integer NOT NULL, UNIQUE (meter_id, "timestamp"))'
        ).format(sql.Identifier(SCRATCH))
    )
    if hypertable:
        conn.execute(
            "SELECT create_hypertable(%s::regclass, 'timestamp', chunk_time_interval => %s)",
            (SCRATCH, timedelta(days=1)),
        )


def _insert_one() -> sql.Composed:
    return sql.SQL("INSERT INTO {} ({}) VALUES (%s, %s, %s, %s, %s, %s)").format(
        sql.Identifier(SCRATCH), sql.SQL(", ").join(map(sql.Identifier, READING_COLUMNS))
    )


def row_by_row(conn: psycopg.Connection[Any], frame: pl.DataFrame) -> None:
    conn.autocommit = True
    statement = _insert_one()
    for row in frame.rows():
        conn.execute(statement, row)


def execute_many(conn: psycopg.Connection[Any], frame: pl.DataFrame) -> None:
    with conn.cursor() as cur:
        cur.executemany(_insert_one(), frame.rows())


def multi_row_values(
    conn: psycopg.Connection[Any], frame: pl.DataFrame, per_statement: int = 1000
) -> None:
    for batch in frame.iter_slices(per_statement):
        values = sql.SQL(", ").join(
            sql.SQL("(%s, %s, %s, %s, %s, %s)") for _ in range(batch.height)
        )
        statement = sql.SQL("INSERT INTO {} ({}) VALUES {}").format(
            sql.Identifier(SCRATCH),
            sql.SQL(", ").join(map(sql.Identifier, READING_COLUMNS)),
            values,
        )
        conn.execute(statement, [v for row in batch.rows() for v in row])


def unnest_batches(conn: psycopg.Connection[Any], frame: pl.DataFrame) -> None:
    UnnestWriter(SCRATCH).write(conn, frame)


def binary_copy(conn: psycopg.Connection[Any], frame: pl.DataFrame) -> None:
    CopyWriter(SCRATCH).write(conn, frame)


def server_ceiling(conn: psycopg.Connection[Any], rows: int) -> None:
    conn.execute(
        sql.SQL(
            "INSERT INTO {} SELECT now() - (g / 1000) * interval '5 minutes', g %% 1000, "
            "(random() * 5000)::int, (random() * 400)::int, 2280 + (random() * 40)::int, "
            "(random() * 20000)::int "
            "FROM generate_series(0, %s - 1) AS g"
        ).format(sql.Identifier(SCRATCH)),
        (rows,),
    )


Writer = Callable[[psycopg.Connection[Any], pl.DataFrame], None]


def _measure(
    db: Database, engine: str, name: str, frame: pl.DataFrame, write: Writer, hypertable: bool
) -> IngestPath:
    with connect(db) as conn:
        _scratch(conn, hypertable)
    with connect(db) as conn:
        started = time.perf_counter()
        write(conn, frame)
        if not conn.autocommit:
            conn.commit()
        seconds = time.perf_counter() - started
    return IngestPath(name, engine, frame.height, seconds)


def ingest_ladder(
    db: Database,
    frame: pl.DataFrame,
    *,
    native: Database | None = None,
    sample_rows: int = 2_000,
    progress: Callable[[str], None] = lambda _: None,
) -> list[IngestPath]:
    """Every path on `db` (hypertable scratch table); COPY and UNNEST also on `native`.

    ``frame`` is in kW, kWh, V and A (the generator's units).
    """
    stored = as_reading_frame(frame)  # the naive paths send the stored integers as they are
    engine = "embedded" if db.embedded else "native"
    hyper = True
    paths: list[IngestPath] = []
    plan: list[tuple[str, pl.DataFrame, Writer]] = [
        ("row-by-row INSERT (autocommit)", stored.head(sample_rows), row_by_row),
        ("executemany (one transaction)", stored.head(sample_rows * 5), execute_many),
        ("multi-row VALUES (1,000 per statement)", stored.head(sample_rows * 25), multi_row_values),
        ("binary UNNEST batches (ours)", frame, unnest_batches),
    ]
    if db.supports_copy:
        plan.append(("binary COPY (ours, native)", frame, binary_copy))
    for name, rows, write in plan:
        progress(f"ingest: {name} ({rows.height:,} rows)")
        paths.append(_measure(db, engine, name, rows, write, hyper))
    progress(f"ingest: server-side generate_series ceiling ({frame.height:,} rows)")
    paths.append(_measure(db, engine, "server-side INSERT ... SELECT generate_series (ceiling)",
                          frame, lambda c, f: server_ceiling(c, f.height), hyper))  # fmt: skip
    if native is not None and not db.supports_copy:
        for name, write in (
            ("binary COPY (ours)", binary_copy),
            ("binary UNNEST batches (ours)", unnest_batches),
        ):
            progress(f"ingest: {name} on native PostgreSQL ({frame.height:,} rows)")
            paths.append(
                _measure(native, "native PostgreSQL (plain table)", name, frame, write, False)
            )
    for target in filter(None, (db, native)):
        with connect(target) as conn:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SCRATCH)))
    return paths
