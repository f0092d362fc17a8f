"""Why compression lands where it does: the same readings stored several ways.

Two studies on the same generated days, side by side in one run.

Column types (`--part types`). The readings are noisy measurements with 3-4
significant decimals; stored as float8 (the schema before migration 009),
TimescaleDB's Gorilla float compression XORs consecutive values, which saves
little when every value differs in its low mantissa bits. The same days go into
hypertables (1-day chunks, segmentby meter_id, orderby timestamp DESC) that
differ only in column types:

* float8   - the schema before migration 009, kW / kWh / V / A;
* float4   - half the width, same decimals;
* fixed    - the schema now: integers in the meter's own units (W, Wh, 0.1 V,
             mA; `db.units.to_stored`), delta-of-delta + simple-8b compression;
* float8 rounded coarser - power to 0.01 kW, voltage to 1 V (less precision).

Compression settings (`--part settings`), on the schema's integer columns (or the
float8 columns of before with `--columns float8`): the chunk intervals of the readings
variants with the seed's settings, the 3-hour chunks merged into day-long
compressed chunks (`compress_chunk_time_interval`), as TimescaleDB appends them
and as the project compresses them (`compress_due`: the merged day compressed once
more), and orderby timestamp ASC against DESC.
Per setting: rows per compressed batch and per segment, the size before and after
(TimescaleDB's compression stats and the whole table on disk), stored bytes per
value per column beside the Gorilla paper's 1.37, and for the 3-hour settings the
median time to replace one compressed day (`writable_range`, as re-materialising a
partition does).

Run: `.venv/bin/python benchmarks/compression_study.py [--meters 500 --days 2]
[--part types|settings|all] [--columns float8|fixed|both]` (about 3 min at the defaults).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl
from psycopg import sql

from grid_pipeline.app.services import start_database
from grid_pipeline.config import load_settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.units import to_stored
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.fleet.readings import iter_readings
from grid_pipeline.storage.compression import (
    GORILLA_BYTES_PER_VALUE,
    ORDER_BY,
    READINGS_COLUMNS,
    SEGMENT_BY,
    CompressedLayout,
    CompressionSizes,
    compress_chunks,
    compress_due,
    compress_hypertable,
    compressed_layout,
    compression_sizes,
    detailed_total_bytes,
    writable_range,
)
from grid_pipeline.storage.historic import days_in, default_window

FLOAT8 = ("float8", "float8", "float8", "float8")
LAYOUTS = {
    "study_float8": FLOAT8,
    "study_float4": ("float4", "float4", "float4", "float4"),
    "study_fixed_int": ("int4", "int4", "int4", "int4"),
    "study_float8_coarse": FLOAT8,
}
DAY, THREE_HOURS, WEEK = timedelta(days=1), timedelta(hours=3), timedelta(weeks=1)
ASC = '"timestamp" ASC'
REPLACE_REPEATS = 3


@dataclass(frozen=True)
class Setting:
    """One way of compressing the readings."""

    table: str
    label: str
    chunk_interval: timedelta
    order_by: str = ORDER_BY
    merge: timedelta | None = None  # compress_chunk_time_interval
    project: bool = False  # compressed by `compress_due` (merged days compressed again)


SETTINGS = (
    Setting("study_1d", "1-day chunks, current", DAY),
    Setting("study_1d_asc", "1-day chunks, orderby ASC", DAY, order_by=ASC),
    Setting("study_3h", "3-hour chunks, current", THREE_HOURS),
    Setting("study_3h_append", "3-hour, merged to 1 day (appended)", THREE_HOURS, merge=DAY),
    Setting("study_3h_merged", "3-hour, merged to 1 day (project)", THREE_HOURS, merge=DAY,
            project=True),
    Setting("study_3h_merged_asc", "3-hour, merged, orderby ASC", THREE_HOURS, order_by=ASC,
            merge=DAY, project=True),
    Setting("study_1w", "1-week chunks, current", WEEK),
)  # fmt: skip


@dataclass(frozen=True)
class SettingResult:
    setting: Setting
    chunks: int
    sizes: CompressionSizes
    detailed_before: int
    layout: CompressedLayout
    replace_day_s: float | None  # median of REPLACE_REPEATS, 3-hour settings only


def readings_frame(meters: int, days: int) -> pl.DataFrame:
    """`meters` x `days` of 5-minute readings ending now, as the generator makes them."""
    fleet = build_fleet(meters, 42)
    window = default_window(days, timedelta(minutes=5))
    return pl.concat(list(iter_readings(fleet, *window, timedelta(minutes=5), 42, "UTC")))


def create_and_load(
    db: Database, table: str, types: Sequence[str], frame: pl.DataFrame, interval: timedelta
) -> None:
    """A fresh hypertable like the readings (column types `types`), loaded with `frame`."""
    with connect(db) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        conn.execute(
            sql.SQL(
                'CREATE TABLE {} ("timestamp" timestamptz NOT NULL, meter_id int NOT NULL, '
                "power {} NOT NULL, energy {} NOT NULL, voltage {} NOT NULL, "
                'current {} NOT NULL, UNIQUE (meter_id, "timestamp"))'
            ).format(sql.Identifier(table), *(sql.SQL(t) for t in types))
        )
        conn.execute(
            "SELECT create_hypertable(%s::regclass, 'timestamp', chunk_time_interval => %s)",
            (table, interval),
        )
        conn.execute(
            sql.SQL("INSERT INTO {} SELECT * FROM unnest({})").format(
                sql.Identifier(table),
                sql.SQL(", ").join(
                    sql.SQL("{}::{}[]").format(sql.Placeholder(), sql.SQL(t))
                    for t in ("timestamptz", "int4", *types)
                ),
            ),
            [frame.get_column(c).to_list() for c in frame.columns],
        )


def drop(db: Database, table: str) -> None:
    with connect(db) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        conn.execute("DELETE FROM compression_runs WHERE hypertable = %s", (table,))


# --- column types ------------------------------------------------------------------------


def fixed_point(frame: pl.DataFrame) -> pl.DataFrame:
    """The readings as the schema stores them: integers in W, Wh, 0.1 V and mA."""
    return to_stored(frame)


def types_study(db: Database, frame: pl.DataFrame) -> None:
    data = {
        "study_float8": frame,
        "study_float4": frame,
        "study_fixed_int": fixed_point(frame),
        "study_float8_coarse": frame.with_columns(
            pl.col("power").round(2), pl.col("energy").round(3), pl.col("voltage").round(0),
            pl.col("current").round(1),
        ),
    }  # fmt: skip
    print("\n## Column types (1-day chunks, segmentby meter_id, orderby timestamp DESC)")
    print(
        f"{'layout':<22} {'before MB':>10} {'after MB':>9} {'ratio':>7} {'smaller':>8} {'B/row':>6}"
    )
    for table, types in LAYOUTS.items():
        create_and_load(db, table, types, data[table], DAY)
        study = compress_hypertable(db, table)
        drop(db, table)
        before, after = study.detailed_bytes_before, study.sizes.detailed_total_bytes
        print(f"{table:<22} {before / 1e6:>10.1f} {after / 1e6:>9.1f} "
              f"{before / after:>6.1f}x {100 * (1 - after / before):>7.1f}% "
              f"{after / frame.height:>6.1f}")  # fmt: skip


# --- compression settings ----------------------------------------------------------------


def apply_setting(db: Database, setting: Setting) -> None:
    """Compression on with the setting's orderby (and merge interval), nothing compressed."""
    with connect(db) as conn:
        conn.execute(
            sql.SQL(
                "ALTER TABLE {} SET (timescaledb.compress, timescaledb.compress_segmentby = {}, "
                "timescaledb.compress_orderby = {})"
            ).format(
                sql.Identifier(setting.table), sql.Literal(SEGMENT_BY),
                sql.Literal(setting.order_by),
            )
        )  # fmt: skip
        if setting.merge:
            merge = sql.SQL("ALTER TABLE {} SET (timescaledb.compress_chunk_time_interval = {})")
            interval = sql.Literal(f"{setting.merge.days} day")
            conn.execute(merge.format(sql.Identifier(setting.table), interval))


def compress_setting(db: Database, setting: Setting) -> None:
    """The project's `compress_due`, or TimescaleDB alone: every chunk, oldest first."""
    if setting.project:
        compress_due(db, setting.table, None)
        return
    with connect(db) as conn:
        compress_chunks(conn, setting.table)


def whole_days(db: Database, table: str) -> list[tuple[datetime, datetime]]:
    with connect(db) as conn:
        row = conn.execute(
            sql.SQL('SELECT min("timestamp"), max("timestamp") FROM {}').format(
                sql.Identifier(table)
            )
        ).fetchone()
    assert row is not None
    return [d for d in days_in((row[0], row[1])) if d[1] - d[0] == DAY]


def replace_day(db: Database, table: str, day: tuple[datetime, datetime]) -> float:
    """Replace one compressed day by its own rows, as re-materialising a partition does;
    returns the seconds taken and checks the rows and the compression stayed."""
    ident, window = sql.Identifier(table), sql.SQL('"timestamp" >= %s AND "timestamp" < %s')
    with connect(db) as conn:
        count = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(ident, window)
        before = conn.execute(count, day).fetchone()
        conn.execute(
            sql.SQL("CREATE TEMP TABLE study_day ON COMMIT DROP AS SELECT * FROM {} WHERE {}")
            .format(ident, window), day,
        )  # fmt: skip
        started = time.perf_counter()
        with writable_range(conn, table, *day) as rng:
            conn.execute(sql.SQL("DELETE FROM {} WHERE {}").format(ident, window), day)
            conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM study_day").format(ident))
        seconds = time.perf_counter() - started
        after = conn.execute(count, day).fetchone()
    if before != after or not rng.recompressed:
        raise RuntimeError(f"{table}: replacing {day[0]:%Y-%m-%d} changed rows or compression")
    return seconds


def settings_study(
    db: Database, frame: pl.DataFrame, types: Sequence[str] = FLOAT8
) -> list[SettingResult]:
    results: list[SettingResult] = []
    for setting in SETTINGS:
        create_and_load(db, setting.table, types, frame, setting.chunk_interval)
        apply_setting(db, setting)
        with connect(db) as conn:
            detailed_before = detailed_total_bytes(conn, setting.table)
        compress_setting(db, setting)
        with connect(db) as conn:
            sizes = compression_sizes(conn, setting.table)
            layout = compressed_layout(conn, setting.table)
        replace_s = None
        if setting.chunk_interval == THREE_HOURS:
            day = whole_days(db, setting.table)[0]
            replace_s = statistics.median(
                replace_day(db, setting.table, day) for _ in range(REPLACE_REPEATS)
            )
        drop(db, setting.table)
        results.append(
            SettingResult(setting, sizes.total_chunks, sizes, detailed_before, layout, replace_s)
        )
    return results


def print_settings(results: list[SettingResult], columns: str) -> None:
    print(f"\n## Compression settings ({columns} columns, segmentby meter_id)")
    print(
        f"{'setting':<36} {'chunks':>6} {'rows/batch':>10} {'rows/seg':>8} "
        f"{'stats smaller':>13} {'table smaller':>13} {'replace day s':>13}"
    )
    for r in results:
        table_saved = 100 * (1 - r.sizes.detailed_total_bytes / r.detailed_before)
        replace = f"{r.replace_day_s:.2f}" if r.replace_day_s is not None else "-"
        print(
            f"{r.setting.label:<36} {r.chunks:>6} {r.layout.rows_per_batch:>10.0f} "
            f"{r.layout.rows_per_segment:>8.0f} {r.sizes.saved_percent:>12.1f}% "
            f"{table_saved:>12.1f}% {replace:>13}"
        )
    names = [c.column for c in results[0].layout.columns]
    print(
        f"\n## Stored bytes per value, {columns} "
        f"(Gorilla paper: {GORILLA_BYTES_PER_VALUE} per float)"
    )
    print(f"{'setting':<36} " + " ".join(f"{c:>9}" for c in names) + f" {'readings':>9}")
    for r in results:
        figures = {c.column: c.per_value for c in r.layout.columns}
        readings = statistics.fmean(figures[c] for c in READINGS_COLUMNS)
        print(
            f"{r.setting.label:<36} "
            + " ".join(f"{figures[c]:>9.2f}" for c in names)
            + f" {readings:>9.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meters", type=int, default=500)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--part", choices=("types", "settings", "all"), default="all")
    parser.add_argument(
        "--columns", choices=("float8", "fixed", "both"), default="both",
        help="column types of the settings study (fixed: the schema's integers; "
        "float8: the schema before migration 009; both: side by side)",
    )  # fmt: skip
    args = parser.parse_args()
    db = start_database(load_settings())
    frame = readings_frame(args.meters, args.days)
    started = datetime.now(UTC)
    print(f"{frame.height:,} rows ({args.meters} meters x {args.days} days, 5 min)")
    if args.part in ("types", "all"):
        types_study(db, frame)
    if args.part in ("settings", "all"):
        if args.columns in ("float8", "both"):
            print_settings(settings_study(db, frame), "float8")
        if args.columns in ("fixed", "both"):
            fixed = settings_study(db, fixed_point(frame), LAYOUTS["study_fixed_int"])
            print_settings(fixed, "fixed-point integer")
    print(f"\n{(datetime.now(UTC) - started).total_seconds():.0f} s")


if __name__ == "__main__":
    main()
