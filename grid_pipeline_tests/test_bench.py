"""The benchmark end to end on a tiny data set: three files, stored results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
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
    assert "| energy_readings |" in meta["headline"].value
    assert "q2_peak_15min_this_week: aggregate vs raw" in meta
    assert Path(meta["report_html"].value).exists()
