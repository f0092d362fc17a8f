"""The historic data set: the fleet into `meters`, generated readings into `energy_readings`.

Readings are generated with polars one UTC day at a time and written with the
engine's bulk writer. Each day is one transaction that first deletes the day's
window and then inserts it, so loading a day twice leaves exactly the same rows
and a failure leaves the day as it was. A day in compressed chunks is replaced
the same way: the chunks are decompressed for the transaction and compressed
again at its end (`compression.writable_range`). The same functions serve the CLI
(`grid-pipeline generate`) and the Dagster assets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import psycopg
from psycopg import sql

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.writer import writer_for
from grid_pipeline.events.inject import Scenario, inject
from grid_pipeline.fleet.grid import FEEDER_SCHEMA, TRANSFORMER_SCHEMA, Grid, build_grid
from grid_pipeline.fleet.meters import FLEET_SCHEMA
from grid_pipeline.fleet.readings import iter_readings
from grid_pipeline.storage.compression import writable_range
from grid_pipeline.storage.hypertables import PRIMARY_TABLE

FLEET_COLUMNS = tuple(FLEET_SCHEMA.names())
_FLEET_PG_TYPES = {
    "meter_id": "int4", "customer_class": "text", "feeder": "text", "substation": "text",
    "has_solar": "bool", "rated_kw": "float8", "nominal_voltage": "float8", "solar_kwp": "float8",
}  # fmt: skip
_FEEDER_PG_TYPES = {
    "feeder": "text", "substation": "text", "rating_kva": "int4", "head_meter_id": "int4",
    "transformer": "text",
}  # fmt: skip


def floor_time(moment: datetime, interval: timedelta) -> datetime:
    """`moment` aligned down to the interval grid (multiples of interval since the epoch)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return moment - (moment - epoch) % interval


def default_window(
    days: int, interval: timedelta, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The `days` days ending at the current interval boundary, so "today" queries find data."""
    end = floor_time(now or datetime.now(UTC), interval)
    return end - timedelta(days=days), end


def day_window(day: date, window: tuple[datetime, datetime]) -> tuple[datetime, datetime] | None:
    """The part of UTC `day` inside `window`, or None if they do not overlap."""
    start = max(datetime.combine(day, datetime.min.time(), tzinfo=UTC), window[0])
    end = min(datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC), window[1])
    return (start, end) if start < end else None


def days_in(window: tuple[datetime, datetime]) -> Iterator[tuple[datetime, datetime]]:
    """The window cut at UTC midnights: the unit of loading, one transaction each."""
    day = window[0].date()
    while (part := day_window(day, window)) is not None:
        yield part
        day += timedelta(days=1)


def replace_fleet(db: Database, fleet: pl.DataFrame) -> int:
    """Make `meters` hold exactly this fleet, and `feeders` and `transformers` its grid
    (`fleet.grid.build_grid`), in one transaction."""
    fleet = fleet.select(FLEET_COLUMNS)
    grid = build_grid(fleet)
    with connect(db) as conn:
        conn.execute("DELETE FROM meters")
        conn.execute("DELETE FROM feeders")  # its transformers go with it (ON DELETE CASCADE)
        # One statement per table, one array per column (typed by the table's columns).
        _insert_columns(conn, "meters", fleet, _FLEET_PG_TYPES)
        _insert_columns(conn, "feeders", grid.feeders.drop("transformers"), _FEEDER_PG_TYPES)
        _insert_columns(conn, "transformers", grid.transformers.drop("meters"), _FEEDER_PG_TYPES)
        conn.execute(
            "UPDATE meters AS m SET transformer = t.transformer "
            "FROM unnest(%s::int4[], %s::text[]) AS t (meter_id, transformer) "
            "WHERE m.meter_id = t.meter_id",
            [grid.meter_transformer[c].to_list() for c in ("meter_id", "transformer")],
        )
    return fleet.height


def _insert_columns(
    conn: psycopg.Connection[Any], table: str, frame: pl.DataFrame, pg_types: dict[str, str]
) -> None:
    """INSERT every row of `frame` into `table` in one statement, one array per column."""
    columns = frame.columns
    conn.execute(
        sql.SQL("INSERT INTO {table} ({cols}) SELECT * FROM unnest({arrays})").format(
            table=sql.Identifier(table),
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            arrays=sql.SQL(", ").join(
                sql.SQL("{}::{}[]").format(sql.Placeholder(), sql.SQL(pg_types[c])) for c in columns
            ),
        ),
        [frame.get_column(c).to_list() for c in columns],
    )


def read_grid(conn: psycopg.Connection[Any]) -> Grid:
    """The stored grid: each meter's transformer, the transformers, the feeders."""
    meter_transformer = pl.DataFrame(
        conn.execute(
            "SELECT meter_id, transformer FROM meters WHERE transformer IS NOT NULL "
            "ORDER BY meter_id"
        ).fetchall(),
        schema={"meter_id": pl.Int32, "transformer": pl.Utf8},
        orient="row",
    )
    transformers = pl.DataFrame(
        conn.execute(
            "SELECT t.transformer, t.feeder, t.rating_kva, count(m.meter_id)::int4 "
            "FROM transformers AS t LEFT JOIN meters AS m USING (transformer) "
            "GROUP BY 1, 2, 3 ORDER BY 1"
        ).fetchall(),
        schema=TRANSFORMER_SCHEMA,
        orient="row",
    )
    feeders = pl.DataFrame(
        conn.execute(
            "SELECT f.feeder, f.substation, f.rating_kva, f.head_meter_id, "
            "count(t.transformer)::int4 FROM feeders AS f "
            "LEFT JOIN transformers AS t USING (feeder) GROUP BY 1, 2, 3, 4 ORDER BY 1"
        ).fetchall(),
        schema=FEEDER_SCHEMA,
        orient="row",
    )
    return Grid(meter_transformer, transformers, feeders)


def read_fleet(conn: psycopg.Connection[Any]) -> pl.DataFrame:
    """The fleet as stored, in the generator's schema (meter_id order)."""
    cur = conn.execute(
        sql.SQL("SELECT {cols} FROM meters ORDER BY meter_id").format(
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in FLEET_COLUMNS)
        )
    )
    return pl.DataFrame(cur.fetchall(), schema=FLEET_SCHEMA, orient="row")


@dataclass(frozen=True)
class LoadResult:
    """What loading a window did."""

    rows: int
    generate_s: float
    write_s: float  # the transaction: decompress, delete, insert, compress again
    recompressed_chunks: int = 0  # compressed chunks decompressed for the write and recompressed

    @property
    def seconds(self) -> float:
        return self.generate_s + self.write_s

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def load_window(
    db: Database,
    fleet: pl.DataFrame,
    window: tuple[datetime, datetime],
    *,
    interval: timedelta,
    seed: int,
    timezone: str,
    table: str = PRIMARY_TABLE,
    scenario: Scenario | None = None,
) -> LoadResult:
    """Generate the readings of one window (at most a day), then replace the window's rows
    with them in one transaction.

    With a `scenario`, the day also gets its physical faults (if its rates are not all
    zero), its feeder-head readings and its ground truth (`events.inject`), written in
    the same transaction, so readings, heads and truth always describe the same day.

    The rows are generated before the connection is opened, so the engine's single
    session is held only for the write. Compressed chunks overlapping the window are
    decompressed for the transaction and compressed again before it commits; a
    failure leaves the old rows, compressed as they were.
    """
    started = time.perf_counter()
    frames = list(iter_readings(fleet, window[0], window[1], interval, seed, timezone))
    injected = None
    if scenario is not None and frames:
        injected = inject(pl.concat(frames), fleet, window, scenario)
        frames = [injected.readings]
    generate_s = time.perf_counter() - started
    writer = writer_for(db, table)
    rows = 0
    started = time.perf_counter()
    with connect(db) as conn, writable_range(conn, table, *window) as rng:
        conn.execute(
            sql.SQL('DELETE FROM {t} WHERE "timestamp" >= %s AND "timestamp" < %s').format(
                t=sql.Identifier(table)
            ),
            window,
        )
        for frame in frames:
            rows += writer.write(conn, frame)
        if injected is not None:
            replace_grid_truth(conn, window, injected.head, injected.truth)
    write_s = time.perf_counter() - started
    return LoadResult(rows, generate_s, write_s, len(rng.recompressed))


def replace_grid_truth(
    conn: psycopg.Connection[Any],
    window: tuple[datetime, datetime],
    head: pl.DataFrame,
    truth: pl.DataFrame,
) -> None:
    """Replace the window's feeder-head readings and its day's ground truth (in the
    caller's transaction): loading a day twice leaves the same rows."""
    conn.execute(
        'DELETE FROM feeder_head_readings WHERE "timestamp" >= %s AND "timestamp" < %s', window
    )
    conn.execute("DELETE FROM injected_faults WHERE day = %s", (window[0].date(),))
    conn.execute(  # unnest, not COPY: the embedded engine's wire server cannot COPY
        'INSERT INTO feeder_head_readings ("timestamp", feeder, power, energy) '
        "SELECT * FROM unnest(%s::timestamptz[], %s::text[], %s::int4[], %s::int4[])",
        [head.get_column(c).to_list() for c in ("timestamp", "feeder", "power", "energy")],
    )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO injected_faults (day, kind, asset_type, asset, start_ts, end_ts, "
            "magnitude) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            truth.rows(),
        )


ProgressFn = Callable[[int, int, tuple[datetime, datetime], LoadResult], None]


def load_history(
    db: Database,
    fleet: pl.DataFrame,
    window: tuple[datetime, datetime],
    *,
    interval: timedelta,
    seed: int,
    timezone: str,
    progress: ProgressFn | None = None,
    scenario: Scenario | None = None,
) -> LoadResult:
    """Load every day of the window into the primary table, reporting progress per day."""
    parts = list(days_in(window))
    total = LoadResult(0, 0.0, 0.0)
    for i, part in enumerate(parts, start=1):
        result = load_window(
            db, fleet, part, interval=interval, seed=seed, timezone=timezone, scenario=scenario
        )
        total = LoadResult(
            total.rows + result.rows,
            total.generate_s + result.generate_s,
            total.write_s + result.write_s,
            total.recompressed_chunks + result.recompressed_chunks,
        )
        if progress:
            progress(i, len(parts), part, result)
    return total
