"""The benchmark end to end on a tiny data set: three files, stored results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from grid_pipeline.bench.queries import QUERIES
from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.storage.aggregates import refresh_aggregates
from grid_pipeline_tests.conftest import load_dataset

pytestmark = pytest.mark.integration


def test_bench_cli_writes_report_and_stores_results(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    load_dataset(database, settings, meters=3, days=2)
    out = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "grid_pipeline.cli", "bench", "--out", str(out), "--repeat", "2",
         "--ingest-rows", "3000"],
        env=dict(os.environ), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "energy_readings_3h" in result.stdout and "aggregate vs raw" in result.stdout
    assert {p.name for p in out.iterdir()} == {"report.md", "results.json", "report.html"}

    report = (out / "report.md").read_text()
    for heading in ("## Headline", "## Ingest paths", "## Chunk-interval advice", "## Every"):
        assert heading in report
    results = json.loads((out / "results.json").read_text())
    variants = {v.table for v in settings.chunk_variants}
    assert {c["table"] for c in results["compression"]} == variants
    storages = {(q["variant"], q["storage"]) for q in results["queries"]}
    assert {(v, s) for v in variants for s in ("uncompressed", "compressed")} <= storages
    assert ("energy_readings", "aggregate") in storages
    assert results["advice"]["recommended"]
    assert results["ingest"][0]["name"].startswith("row-by-row")
    assert any("ceiling" in p["name"] for p in results["ingest"])
    # One day as the stored integers and as float8, per chunk interval, side by side.
    assert "## Column types" in report
    kinds = {(r["chunk_interval"], r["column_type"]): r for r in results["column_types"]}
    assert len(kinds) == 2 * len(variants)
    for interval in {str(v.interval) for v in settings.chunk_variants}:
        integer, float8 = kinds[(interval, "integer")], kinds[(interval, "float8")]
        assert integer["rows"] == float8["rows"] == 3 * 288
        assert integer["bytes_per_value"]["power"] < float8["bytes_per_value"]["power"]
    page = (out / "report.html").read_text()
    assert page.count("plotly-graph-div") >= 3 and "Plotly.newPlot" in page

    with connect(database) as conn:
        run = conn.execute(
            "SELECT run_id, rows, meters FROM benchmark_runs ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
        assert run is not None and run[1] == 3 * 2 * 288 and run[2] == 3
        stored = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE plan LIKE '%%Execution Time%%') "
            "FROM benchmark_results WHERE run_id = %s",
            (run[0],),
        ).fetchone()
    assert stored is not None and stored[0] == len(results["queries"]) == stored[1]
    with connect(database) as conn:  # the scratch tables of the comparison are gone
        left = conn.execute(
            "SELECT (SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bench_types%%'), "
            "(SELECT count(*) FROM compression_runs WHERE hypertable LIKE 'bench_types%%')"
        ).fetchone()
    assert left == (0, 0)


def _same(raw: object, agg: object) -> bool:
    """One value of a raw answer and of its aggregate answer: the same type (the seed's
    numeric stays numeric, integers stay integers) and the same number."""
    if type(raw) is not type(agg):
        return False
    if isinstance(raw, Decimal | float) and isinstance(agg, Decimal | float):
        return abs(float(raw) - float(agg)) <= 1e-9 * max(1.0, abs(float(raw)))
    return raw == agg


def test_each_aggregate_answers_its_raw_question(database: Database, settings: Settings) -> None:
    """The benchmark sets each aggregate statement's time against its raw statement's
    ("aggregate vs raw"): that compares like with like only while both give the same
    answer in the same units (seed queries in the stored W and Wh, the dashboard's in kW
    and kWh). One meter's week is raw rows against hourly statistics: compared per hour."""
    load_dataset(database, settings, meters=3, days=2)
    refresh_aggregates(database)
    compared = []
    with connect(database) as conn:
        for q in QUERIES:
            statement = q.aggregate()
            if statement is None:
                continue
            raw_cur = conn.execute(q.raw("energy_readings"))
            raw_names = [c.name for c in raw_cur.description or []]
            raw_rows = raw_cur.fetchall()
            agg_cur = conn.execute(statement)
            agg_names = [c.name for c in agg_cur.description or []]
            agg_rows = agg_cur.fetchall()
            assert raw_rows or q.name == "q1_hourly_power_today", q.name  # empty at 00:0x
            compared.append(q.name)
            if q.name == "meter_week":
                raw = pl.DataFrame(raw_rows, schema=raw_names, orient="row")
                per_hour = (
                    raw.group_by(pl.col("timestamp").dt.truncate("1h").alias("bucket"))
                    .agg(
                        pl.col("power").mean().alias("avg_power"),
                        pl.col("power").min().alias("min_power"),
                        pl.col("power").max().alias("max_power"),
                        pl.col("energy").sum().alias("net_energy"),
                        pl.col("voltage").min().alias("min_voltage"),
                        pl.col("voltage").max().alias("max_voltage"),
                    )
                    .sort("bucket")
                )
                agg = pl.DataFrame(agg_rows, schema=agg_names, orient="row")
                assert agg.columns == per_hour.columns
                assert all(agg.schema[c] == pl.Float64 for c in agg.columns[1:]), agg.schema
                joined = agg.join(per_hour, on="bucket", suffix="_raw")
                assert joined.height == agg.height >= per_hour.height - 1  # NOW() - 7 days
                for c in agg.columns[1:]:
                    diff = (joined.get_column(c) - joined.get_column(f"{c}_raw")).abs().max()
                    assert isinstance(diff, float) and diff < 1e-9, (c, diff)
                continue
            assert agg_names == raw_names, q.name
            assert len(agg_rows) == len(raw_rows), q.name
            if q.name == "q3_monthly_consumption_by_meter":  # ties would order freely
                raw_rows, agg_rows = sorted(raw_rows), sorted(agg_rows)
            for raw_row, agg_row in zip(raw_rows, agg_rows, strict=True):
                assert all(map(_same, raw_row, agg_row)), (q.name, raw_row, agg_row)
    assert len(compared) == sum(q.aggregate_file is not None for q in QUERIES)


def test_bench_advise_flag_prints_the_advice(database: Database, settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "grid_pipeline.cli", "bench", "--advise"],
        env=dict(os.environ), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "recommended:" in result.stdout and "compression bound" in result.stdout


def test_benchmark_asset_attaches_tables_and_ratios(database: Database, settings: Settings) -> None:
    import dagster as dg

    from grid_pipeline.defs.bench import build_benchmark_asset
    from grid_pipeline.defs.resources import TimescaleResource

    load_dataset(database, settings, meters=2, days=2)
    result = dg.materialize(
        [build_benchmark_asset(settings)],
        resources={"timescale": TimescaleResource(data_dir=str(settings.data_dir))},
        run_config={"ops": {"query_benchmark": {"config": {"repeat": 1, "ingest_rows": 2000}}}},
    )
    assert result.success
    meta = result.asset_materializations_for_node("query_benchmark")[0].metadata
    headline, report = meta["headline"].value, meta["report_html"].value
    assert isinstance(headline, str) and "| energy_readings |" in headline
    assert "q2_peak_15min_this_week: aggregate vs raw" in meta
    types = meta["column_types"].value
    assert isinstance(types, str) and "| 1 day, 0:00:00 | float8 (before 009) |" in types
    assert isinstance(report, str) and Path(report).exists()
