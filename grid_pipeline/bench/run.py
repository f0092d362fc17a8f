"""`grid-pipeline bench`: the storage study as one reproducible run.

For every hypertable variant: decompress, time every query uncompressed,
compress (recording sizes), time them compressed; then time the aggregate
equivalents, compress one day as the stored integers and as float8 side by side
(`bench.types`), run the ingest-path ladder, and compute the chunk-interval advice.
Everything is stored in `benchmark_runs` / `benchmark_results`, so the dashboard
shows it and runs can be compared over time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb

from grid_pipeline.bench.advisor import Advice, AdvisorInputs, advise
from grid_pipeline.bench.ingest import IngestPath, ingest_ladder
from grid_pipeline.bench.queries import QUERIES, Timing, time_statement
from grid_pipeline.bench.types import TypeResult, compare_column_types
from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.fleet.readings import generate_readings
from grid_pipeline.storage.aggregates import refresh_aggregates
from grid_pipeline.storage.compression import (
    compress_hypertable,
    compressed_layout,
    compression_enabled,
    count_rows,
    decompress_all,
    detailed_total_bytes,
)
from grid_pipeline.storage.historic import default_window

Progress = Callable[[str], None]


@dataclass(frozen=True)
class QueryResult:
    query: str
    variant: str
    storage: str  # uncompressed | compressed | aggregate
    timing: Timing


@dataclass(frozen=True)
class CompressionResult:
    table: str
    chunk_interval: str
    chunks: int
    rows: int
    before_bytes: int
    after_bytes: int
    detailed_bytes_before: int
    detailed_bytes_after: int
    ratio: float
    percent_smaller: float
    seconds: float
    rows_per_batch: float = 0.0  # readings per compressed batch (one meter's segment)
    bytes_per_value: dict[str, float] = field(default_factory=dict)  # per compressed column


@dataclass
class BenchReport:
    started_at: str
    engine: str
    timescaledb_version: str
    rows: int
    meters: int
    days: float
    cores: int
    memory_bytes: int
    repetitions: int
    run_id: int | None = None
    queries: list[QueryResult] = field(default_factory=list)
    compression: list[CompressionResult] = field(default_factory=list)
    ingest: list[IngestPath] = field(default_factory=list)
    column_types: list[TypeResult] = field(default_factory=list)
    advice: Advice | None = None

    def median(self, query: str, variant: str, storage: str) -> float | None:
        for r in self.queries:
            if (r.query, r.variant, r.storage) == (query, variant, storage):
                return r.timing.median_ms
        return None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["advice"] = self.advice.to_json() if self.advice else None
        data["ingest"] = [{**asdict(p), "rows_per_s": p.rows_per_s} for p in self.ingest]
        return json.loads(json.dumps(data, default=str))  # type: ignore[no-any-return]


def machine_memory_bytes() -> int:
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def _facts(db: Database, settings: Settings, repeat: int) -> BenchReport:
    with connect(db) as conn:
        version = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        server = conn.execute("SHOW server_version").fetchone()
        span = conn.execute(
            'SELECT count(*), count(DISTINCT meter_id), min("timestamp"), max("timestamp") '
            "FROM energy_readings"
        ).fetchone()
    assert span is not None
    if not span[0]:
        raise RuntimeError("energy_readings is empty: run `grid-pipeline generate` first")
    days = (span[3] - span[2]).total_seconds() / 86400 + settings.interval.total_seconds() / 86400
    return BenchReport(
        started_at=datetime.now(UTC).isoformat(),
        engine=f"embedded PGlite (PostgreSQL {server[0] if server else '?'})"
        if db.embedded
        else f"PostgreSQL {server[0] if server else '?'}",
        timescaledb_version=str(version[0]) if version else "absent",
        rows=int(span[0]),
        meters=int(span[1]),
        days=round(days, 2),
        cores=os.cpu_count() or 1,
        memory_bytes=machine_memory_bytes(),
        repetitions=repeat,
    )


def run_benchmark(
    db: Database,
    settings: Settings,
    *,
    repeat: int = 5,
    ingest_rows: int | None = None,
    native: Database | None = None,
    progress: Progress = lambda _: None,
) -> BenchReport:
    """Run the whole study on the loaded data and store it; returns the report."""
    report = _facts(db, settings, repeat)
    bytes_per_row = 0.0
    for variant in settings.chunk_variants:
        table = variant.table
        decompress_all(db, table)  # chunk by chunk, for the uncompressed measurements
        with connect(db) as conn:
            rows = count_rows(conn, table)
            if table == settings.chunk_variants[0].table and rows:
                bytes_per_row = detailed_total_bytes(conn, table) / rows
        for storage in ("uncompressed", "compressed"):
            if storage == "compressed":
                progress(f"{table}: compressing")
                study = compress_hypertable(db, table)
                with connect(db) as conn:
                    layout = compressed_layout(conn, table)
                report.compression.append(
                    CompressionResult(
                        table=table, chunk_interval=str(variant.interval),
                        chunks=study.sizes.total_chunks,
                        rows=study.rows_after, before_bytes=study.sizes.before_bytes,
                        after_bytes=study.sizes.after_bytes,
                        detailed_bytes_before=study.detailed_bytes_before,
                        detailed_bytes_after=study.sizes.detailed_total_bytes,
                        ratio=round(study.sizes.ratio, 2),
                        percent_smaller=round(study.sizes.saved_percent, 1),
                        seconds=round(study.seconds, 2),
                        rows_per_batch=round(layout.rows_per_batch, 1),
                        bytes_per_value={c.column: round(c.per_value, 2) for c in layout.columns},
                    )
                )  # fmt: skip
            for bench_query in QUERIES:
                progress(f"{table} {storage}: {bench_query.name}")
                timing = time_statement(db, bench_query.raw(table), repeat)
                report.queries.append(QueryResult(bench_query.name, table, storage, timing))
    progress("refreshing the continuous aggregates")
    refresh_aggregates(db)
    primary = settings.chunk_variants[0].table
    for bench_query in QUERIES:
        statement = bench_query.aggregate()
        if statement is None:
            continue
        progress(f"aggregate: {bench_query.name}")
        timing = time_statement(db, statement, repeat)
        report.queries.append(QueryResult(bench_query.name, primary, "aggregate", timing))

    progress("column types: one day as integers and as float8, per chunk interval")
    report.column_types = compare_column_types(db, settings)

    fleet = build_fleet(report.meters, settings.seed)
    window = default_window(1, settings.interval)
    frame = generate_readings(fleet, *window, settings.interval, settings.seed, settings.timezone)
    if ingest_rows:
        frame = frame.head(ingest_rows)
    report.ingest = ingest_ladder(db, frame, native=native, progress=progress)

    live_rate = report.meters / settings.interval.total_seconds()
    report.advice = advise(
        AdvisorInputs(
            ingest_rows_per_s=live_rate,
            bytes_per_row=bytes_per_row or 150.0,
            memory_bytes=report.memory_bytes,
            meters=report.meters,
            reading_interval=settings.interval,
        ),
        extra=tuple(v.interval for v in settings.chunk_variants),
    )
    report.run_id = store_report(db, report)
    return report


def advise_current(db: Database, settings: Settings) -> Advice:
    """The chunk-interval advice for the data as it is now (no queries timed)."""
    report = _facts(db, settings, 0)
    primary = settings.chunk_variants[0].table
    with connect(db) as conn:
        bytes_per_row = detailed_total_bytes(conn, primary) / report.rows
        if compression_enabled(conn, primary):
            # Compressed sizes understate what an active (uncompressed) chunk needs:
            # use the size measured just before the last compression instead.
            before = conn.execute(
                "SELECT detailed_bytes_before::float8 / nullif(rows_before, 0) "
                "FROM compression_runs WHERE hypertable = %s "
                "ORDER BY compressed_at DESC LIMIT 1",
                (primary,),
            ).fetchone()
            bytes_per_row = before[0] if before and before[0] else bytes_per_row
    return advise(
        AdvisorInputs(
            ingest_rows_per_s=report.meters / settings.interval.total_seconds(),
            bytes_per_row=bytes_per_row,
            memory_bytes=report.memory_bytes,
            meters=report.meters,
            reading_interval=settings.interval,
        ),
        extra=tuple(v.interval for v in settings.chunk_variants),
    )


def store_report(db: Database, report: BenchReport) -> int:
    """Persist the run and one row per measurement; returns the run id."""
    with connect(db) as conn:
        row = conn.execute(
            "INSERT INTO benchmark_runs (started_at, finished_at, engine, timescaledb_version,"
            " rows, meters, days, cores, memory_bytes, repetitions, advice, ingest) "
            "VALUES (%s, now(), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING run_id",
            (report.started_at, report.engine, report.timescaledb_version, report.rows,
             report.meters, report.days, report.cores, report.memory_bytes, report.repetitions,
             Jsonb(report.advice.to_json() if report.advice else None),
             Jsonb(report.to_json()["ingest"])),
        ).fetchone()  # fmt: skip
        assert row is not None
        run_id = int(row[0])
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO benchmark_results (run_id, query_name, variant, storage, median_ms, "
                "p95_ms, repetitions, result_rows, plan) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(run_id, r.query, r.variant, r.storage, r.timing.median_ms, r.timing.p95_ms,
                  r.timing.repetitions, r.timing.result_rows, r.timing.plan)
                 for r in report.queries],
            )  # fmt: skip
    return run_id
