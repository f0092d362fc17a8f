"""Why compression lands where it does: the same readings stored four ways.

The readings are noisy measurements with 3-4 significant decimals stored as
float8; TimescaleDB's Gorilla float compression XORs consecutive values, which
saves little when every value differs in its low mantissa bits. This study loads
the same generated days into hypertables (1-day chunks, segmentby meter_id,
orderby timestamp DESC) that differ only in column types:

* float8   - the schema (the seed's SQL needs kW / kWh / V / A values);
* float4   - half the width, same decimals;
* fixed    - fixed-point integers in the meter's own resolution
             (W, 0.1 Wh, 0.1 V, 10 mA): delta + simple8b compression;
* float8 rounded coarser - power to 0.01 kW, voltage to 1 V (less precision).

Run: `.venv/bin/python benchmarks/compression_study.py [--meters 500 --days 2]`.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

import polars as pl
from psycopg import sql

from grid_pipeline.app.services import start_database
from grid_pipeline.db.connection import connect
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.fleet.readings import iter_readings
from grid_pipeline.storage.compression import compress_hypertable
from grid_pipeline.storage.historic import default_window

LAYOUTS = {
    "study_float8": ("float8", "float8", "float8", "float8"),
    "study_float4": ("float4", "float4", "float4", "float4"),
    "study_fixed_int": ("int4", "int4", "int4", "int4"),
    "study_float8_coarse": ("float8", "float8", "float8", "float8"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meters", type=int, default=500)
    parser.add_argument("--days", type=int, default=2)
    args = parser.parse_args()
    db = start_database()
    fleet = build_fleet(args.meters, 42)
    window = default_window(args.days, timedelta(minutes=5))
    frame = pl.concat(list(iter_readings(fleet, *window, timedelta(minutes=5), 42, "UTC")))
    ts = frame.get_column("timestamp").to_list()
    data = {
        "study_float8": frame,
        "study_float4": frame,
        "study_fixed_int": frame.with_columns(
            (pl.col("power") * 1000).round().cast(pl.Int32),
            (pl.col("energy") * 10000).round().cast(pl.Int32),
            (pl.col("voltage") * 10).round().cast(pl.Int32),
            (pl.col("current") * 100).round().cast(pl.Int32),
        ),
        "study_float8_coarse": frame.with_columns(
            pl.col("power").round(2), pl.col("energy").round(3), pl.col("voltage").round(0),
            pl.col("current").round(1),
        ),
    }  # fmt: skip
    del ts
    print(f"{frame.height:,} rows ({args.meters} meters x {args.days} days, 5 min)")
    print(
        f"{'layout':<22} {'before MB':>10} {'after MB':>9} {'ratio':>7} {'smaller':>8} {'B/row':>6}"
    )
    for table, types in LAYOUTS.items():
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
                (table, timedelta(days=1)),
            )
            cols = data[table].columns
            conn.execute(
                sql.SQL("INSERT INTO {} SELECT * FROM unnest({})").format(
                    sql.Identifier(table),
                    sql.SQL(", ").join(
                        sql.SQL("{}::{}[]").format(sql.Placeholder(), sql.SQL(t))
                        for t in ("timestamptz", "int4", *types)
                    ),
                ),
                [data[table].get_column(c).to_list() for c in cols],
            )
        study = compress_hypertable(db, table)
        with connect(db) as conn:
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(table)))
            conn.execute("DELETE FROM compression_runs WHERE hypertable = %s", (table,))
        s = study.sizes
        before, after = study.detailed_bytes_before, s.detailed_total_bytes
        print(f"{table:<22} {before / 1e6:>10.1f} {after / 1e6:>9.1f} "
              f"{before / after:>6.1f}x {100 * (1 - after / before):>7.1f}% "
              f"{after / frame.height:>6.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
