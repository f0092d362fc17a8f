"""The `query_benchmark` asset: the storage study's numbers, reproducible from the UI."""

import dagster as dg

from grid_pipeline.bench.report import (
    column_types_table,
    headline_table,
    ingest_table,
    key_ratios,
    write_report,
)
from grid_pipeline.bench.run import run_benchmark
from grid_pipeline.config import Settings, load_settings
from grid_pipeline.defs.resources import ENGINE_POOL, TimescaleResource


class BenchmarkConfig(dg.Config):
    """Run configuration of one benchmark materialisation."""

    repeat: int = 0  # timed runs per query after one warm-up; 0: GRID_BENCH_REPEAT (3)
    ingest_rows: int = 50_000  # rows for the fast ingest paths (slow ones use a sample)


def build_benchmark_asset(settings: Settings) -> dg.AssetsDefinition:
    deps = ["continuous_aggregates", *(f"{v.table}_compression" for v in settings.chunk_variants)]

    @dg.asset(group_name="benchmark", kinds={"timescaledb", "plotly"}, deps=deps, pool=ENGINE_POOL)
    def query_benchmark(
        context: dg.AssetExecutionContext, timescale: TimescaleResource, config: BenchmarkConfig
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        """The seed's and the dashboard's queries timed on every variant, uncompressed,
        compressed and from the aggregates; the ingest ladder; the chunk-interval advice.

        Results go to `benchmark_runs` / `benchmark_results` (the dashboard's Storage
        page) and to a report directory (Markdown, JSON, self-contained HTML).
        """
        cfg = timescale.settings()
        report = run_benchmark(
            timescale.database(), cfg, repeat=config.repeat or cfg.bench_repeat,
            ingest_rows=config.ingest_rows,
            progress=context.log.info,
        )  # fmt: skip
        paths = write_report(report, cfg.data_dir / "bench" / f"run-{report.run_id}")
        return dg.MaterializeResult(
            metadata={
                "run_id": report.run_id,
                "headline": dg.MetadataValue.md(headline_table(report)),
                "ingest_ladder": dg.MetadataValue.md(ingest_table(report)),
                "column_types": dg.MetadataValue.md(column_types_table(report)),
                **dict(key_ratios(report).items()),
                "recommended_chunk_interval": str(report.advice.recommended)
                if report.advice
                else "none",
                "report_html": dg.MetadataValue.path(str(paths["html"])),
                "report_md": dg.MetadataValue.path(str(paths["markdown"])),
            }
        )

    return query_benchmark


def bench_defs(settings: Settings | None = None) -> dg.Definitions:
    return dg.Definitions(assets=[build_benchmark_asset(settings or load_settings())])
