"""What the query benchmark runs: the seed's four queries and the dashboard's, raw on
every hypertable variant (uncompressed and compressed) and from the aggregates."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

from psycopg import sql

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.sqlfiles import query
from grid_pipeline.storage.seed_queries import for_table


@dataclass(frozen=True)
class BenchQuery:
    """A question asked of the readings, raw (any variant) and, if it exists, from an aggregate."""

    name: str
    raw_file: str  # sql/queries/<raw_file>.sql, reads FROM energy_readings
    aggregate_file: str | None  # the same question answered from a continuous aggregate

    def raw(self, table: str) -> sql.Composed:
        return for_table(query(self.raw_file), table)

    def aggregate(self) -> sql.SQL | None:
        return sql.SQL(query(self.aggregate_file)) if self.aggregate_file else None


QUERIES = (
    BenchQuery("q1_hourly_power_today", "seed_q1_hourly_power_today", "agg_q1_hourly_power_today"),
    BenchQuery("q2_peak_15min_this_week", "seed_q2_peak_15min_this_week",
               "agg_q2_peak_15min_this_week"),
    BenchQuery("q3_monthly_consumption_by_meter", "seed_q3_monthly_consumption_by_meter",
               "agg_q3_monthly_consumption_by_meter"),
    BenchQuery("q4_full_scan", "seed_q4_full_scan", "agg_q4_full_scan"),
    BenchQuery("live_last_hour", "bench_live_last_hour", None),
    BenchQuery("meter_week", "bench_meter_week", "agg_bench_meter_week"),
    BenchQuery("daily_totals", "bench_daily_totals", "agg_bench_daily_totals"),
)  # fmt: skip


@dataclass(frozen=True)
class Timing:
    """Repeated timings of one statement (after warm-up) and its plan."""

    median_ms: float
    p95_ms: float
    repetitions: int
    result_rows: int
    plan: str


def p95(values: list[float]) -> float:
    """95th percentile by nearest rank, rank ceil(0.95 n) (the slowest of fewer than 20)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def time_statement(
    db: Database, statement: sql.SQL | sql.Composed, repeat: int, warmup: int = 1
) -> Timing:
    """Warm up, run `repeat` times, then keep an EXPLAIN (ANALYZE, BUFFERS) plan.

    Each execution has its own connection (the time is the statement's alone), so
    on the embedded engine other clients get the session between repetitions.
    """
    rows = 0
    samples = []
    for i in range(warmup + repeat):
        with connect(db) as conn:
            started = time.perf_counter()
            rows = len(conn.execute(statement).fetchall())
            if i >= warmup:
                samples.append((time.perf_counter() - started) * 1000)
    with connect(db) as conn:
        plan_rows = conn.execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + statement).fetchall()
    return Timing(
        median_ms=statistics.median(samples),
        p95_ms=p95(samples),
        repetitions=repeat,
        result_rows=rows,
        plan="\n".join(r[0] for r in plan_rows),
    )
