"""Benchmark: our bulk loader vs the engine's ceiling vs naive row-by-row inserts.

Same engine, same row count, one run, printed side by side:

* ceiling  - server-side `INSERT ... SELECT generate_series(...)` of the same row
             count (no client, no wire: the most the engine can insert);
* ours     - generated with polars and written with the engine's bulk writer
             (`UnnestWriter`: binary arrays + `INSERT ... SELECT FROM unnest`);
* naive    - `executemany` of single-row INSERTs on a sample, scaled up.

Each is repeated (`--repeat`, default 3) into a fresh hypertable; medians are
quoted. Run: `.venv/bin/python benchmarks/load_historic.py [--meters 500 --days 14]`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta

import polars as pl
from psycopg import sql

from grid_pipeline.app.services import start_database
from grid_pipeline.config import load_settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.writer import READING_COLUMNS, as_reading_frame, writer_for
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.fleet.readings import iter_readings
from grid_pipeline.storage.historic import default_window

TABLE = "bench_load_readings"
INTERVAL = timedelta(minutes=5)


def fresh_table(db: Database) -> None:
    with connect(db) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(TABLE)))
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE energy_readings INCLUDING ALL)").format(
                sql.Identifier(TABLE)
            )
        )
        conn.execute(
            "SELECT create_hypertable(%s::regclass, 'timestamp', chunk_time_interval => %s)",
            (TABLE, timedelta(days=1)),
        )


def ceiling(db: Database, meters: int, days: int) -> float:
    """Seconds for the server to insert meters x days of 5-minute rows by itself."""
    fresh_table(db)
    started = time.perf_counter()
    with connect(db) as conn:
        conn.execute(
            sql.SQL(
                # Cheapest value expressions (integers in the stored units: W, Wh,
                # 0.1 V, mA), so the time is the engine's insert path and nothing else.
                "INSERT INTO {} SELECT t, m, (random() * 5000)::int, (random() * 400)::int, "
                "2280 + (random() * 40)::int, (random() * 20000)::int "
                "FROM generate_series(now() - %s * interval '1 day', now() - interval '1 second', "
                "interval '5 minutes') AS t, generate_series(1, %s) AS m "
                "ON CONFLICT DO NOTHING"
            ).format(sql.Identifier(TABLE)),
            (days, meters),
        )
    return time.perf_counter() - started


def ours(db: Database, frames: list[pl.DataFrame]) -> float:
    fresh_table(db)
    writer = writer_for(db, TABLE)
    started = time.perf_counter()
    for frame in frames:  # one transaction per day, as the loader does
        with connect(db) as conn:
            writer.write(conn, frame)
    return time.perf_counter() - started


def naive(db: Database, sample: pl.DataFrame) -> float:
    fresh_table(db)
    rows = as_reading_frame(sample).rows()
    statement = sql.SQL("INSERT INTO {} ({}) VALUES (%s, %s, %s, %s, %s, %s)").format(
        sql.Identifier(TABLE), sql.SQL(", ").join(map(sql.Identifier, READING_COLUMNS))
    )
    started = time.perf_counter()
    with connect(db) as conn, conn.cursor() as cur:
        cur.executemany(statement, rows)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meters", type=int, default=500)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--naive-rows", type=int, default=5_000)
    args = parser.parse_args()

    db = start_database(load_settings())
    fleet = build_fleet(args.meters, 42)
    window = default_window(args.days, INTERVAL)
    gen_times, frames = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        frames = list(iter_readings(fleet, *window, INTERVAL, 42, "UTC"))
        gen_times.append(time.perf_counter() - started)
    rows = sum(f.height for f in frames)
    sample = pl.concat(frames).head(args.naive_rows)
    print(f"engine: {'embedded' if db.embedded else 'native'}; rows: {rows:,} "
          f"({args.meters} meters x {args.days} days x 5 min); repeat {args.repeat}")  # fmt: skip

    results = {
        "ceiling (server-side generate_series)": [ceiling(db, args.meters, args.days)
                                                   for _ in range(args.repeat)],
        "ours (polars + binary UNNEST batches)": [ours(db, frames) for _ in range(args.repeat)],
    }  # fmt: skip
    naive_s = [naive(db, sample) for _ in range(args.repeat)]
    rates = {name: rows / statistics.median(times) for name, times in results.items()}
    rates["naive (executemany, row by row)"] = len(sample) / statistics.median(naive_s)
    ceiling_rate = rates["ceiling (server-side generate_series)"]
    naive_rate = rates["naive (executemany, row by row)"]
    print(f"polars generation of {rows:,} rows: median {statistics.median(gen_times):.2f} s")
    print(f"{'path':<40} {'rows/s':>10} {'x ceiling':>10} {'x naive':>9}")
    for name, rate in rates.items():
        print(f"{name:<40} {rate:>10,.0f} {rate / ceiling_rate:>10.2f} {rate / naive_rate:>9.1f}")
    with connect(db) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(TABLE)))


if __name__ == "__main__":
    main()
