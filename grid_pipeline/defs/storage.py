"""Dagster definitions of the storage study and its upkeep.

* `<variant>_compression`, one per hypertable variant: compression applied and
  sizes recorded. Materialised from the UI it compresses every chunk (the
  seed's study); the hourly `compression_job` materialises the same assets
  with `older_than` = GRID_COMPRESS_AFTER, so the UI shows what upkeep did.
* `continuous_aggregates`: refreshed over all time from the UI, over
  GRID_REFRESH_LOOKBACK by `refresh_aggregates_job` every 5 minutes; its
  checks (each aggregate equals raw SQL, blocking) run with every refresh.
* `ingest_rejects_retention`: quarantined payloads older than
  GRID_REJECTS_RETENTION deleted by `rejects_retention_job` every hour, the
  number deleted recorded. `ingest_rejects` is a plain table, so this job is the
  retention rule on a native server too (no TimescaleDB policy applies).

The embedded engine runs no TimescaleDB background workers, so these schedules
are the mechanism; against a native server the assets also add TimescaleDB
policies. Freshness policies make a stalled schedule visible. The work itself
is `grid_pipeline.app.upkeep`.
"""

# No `from __future__ import annotations`: Dagster reads config classes from signatures.
from datetime import timedelta
from typing import TYPE_CHECKING

import dagster as dg

from grid_pipeline.app.upkeep import (
    aggregate_consistency,
    compress_variant,
    expire_rejects,
    meter_day_gaps,
    refresh_continuous_aggregates,
)
from grid_pipeline.config import ChunkVariant, Settings, load_settings, parse_duration
from grid_pipeline.defs.resources import ENGINE_POOL, TimescaleResource
from grid_pipeline.storage.aggregates import AGGREGATES

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

STORAGE_GROUP = "storage"


class CompressionConfig(dg.Config):
    """`older_than` empty: compress every chunk (the study); else only chunks older than it."""

    older_than: str = ""


def compression_asset_name(variant: ChunkVariant) -> str:
    return f"{variant.table}_compression"


def build_compression_asset(variant: ChunkVariant) -> dg.AssetsDefinition:
    """`<table>_compression`: the variant's chunks compressed, sizes recorded."""
    name = compression_asset_name(variant)

    @dg.asset(
        name=name,
        group_name=STORAGE_GROUP,
        kinds={"timescaledb"},
        deps=[variant.table],
        pool=ENGINE_POOL,
        freshness_policy=dg.FreshnessPolicy.time_window(
            fail_window=timedelta(hours=3), warn_window=timedelta(hours=2)
        ),
        check_specs=[
            dg.AssetCheckSpec(
                "row_count_unchanged",
                asset=name,
                blocking=True,
                description="The compressed hypertable holds exactly the rows it held before.",
            )
        ],
        description=(
            f"`{variant.table}` ({variant.interval} chunks) compressed with segmentby meter_id, "
            "orderby timestamp DESC: every chunk when materialised from the UI (the seed's "
            "study), chunks older than GRID_COMPRESS_AFTER when the hourly compression_job "
            "runs. Each chunk is compressed in its own transaction. Records sizes before/after."
        ),
    )
    def compression_asset(
        context: dg.AssetExecutionContext, timescale: TimescaleResource, config: CompressionConfig
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        older_than = parse_duration(config.older_than, "older_than") if config.older_than else None
        study = compress_variant(
            timescale.database(), timescale.settings(), variant.table, older_than,
            progress=context.log.info,
        )  # fmt: skip
        sizes = study.sizes
        return dg.MaterializeResult(
            metadata={
                "scope": f"chunks older than {older_than}" if older_than else "every chunk",
                "chunks_compressed_now": study.chunks_compressed,
                "chunks_compressed": sizes.compressed_chunks,
                "chunks_total": sizes.total_chunks,
                "rows": study.rows_after,
                "before_bytes (compression_stats)": sizes.before_bytes,
                "after_bytes (compression_stats)": sizes.after_bytes,
                "detailed_bytes_before": study.detailed_bytes_before,
                "detailed_bytes_after": sizes.detailed_total_bytes,
                "compression_ratio": round(sizes.ratio, 2),
                "percent_smaller": round(sizes.saved_percent, 1),
                "seconds": round(study.seconds, 2),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="row_count_unchanged",
                    passed=study.rows_before == study.rows_after,
                    metadata={"rows_before": study.rows_before, "rows_after": study.rows_after},
                )
            ],
        )

    return compression_asset


class RefreshConfig(dg.Config):
    """`lookback` empty: refresh all time; else only buckets newer than now - lookback."""

    lookback: str = ""


@dg.asset(
    group_name=STORAGE_GROUP,
    kinds={"timescaledb"},
    deps=["energy_readings"],
    pool=ENGINE_POOL,
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(minutes=30), warn_window=timedelta(minutes=15)
    ),
)
def continuous_aggregates(
    context: dg.AssetExecutionContext, timescale: TimescaleResource, config: RefreshConfig
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The continuous aggregates, refreshed (only invalidated buckets recompute).

    `energy_readings_15min` (the seed's), `energy_readings_hourly` and
    `energy_readings_daily` built on it, `meter_hourly_stats` and `fleet_15min`
    for the dashboard. Refreshed in day-sized windows so other clients get the
    engine between them. Real-time aggregation is on, so the newest bucket is
    never missing.
    """
    lookback = parse_duration(config.lookback, "lookback") if config.lookback else None
    report = refresh_continuous_aggregates(
        timescale.database(), timescale.settings(), lookback, progress=context.log.info
    )
    return dg.MaterializeResult(
        metadata={
            "window": f"since {report.since:%Y-%m-%d %H:%M} UTC" if report.since else "all time",
            "seconds": round(sum(report.seconds.values()), 2),
            **{f"rows {name}": count for name, count in report.rows.items()},
            **{f"seconds {name}": round(s, 2) for name, s in report.seconds.items()},
        }
    )


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            f"{name}_matches_raw",
            asset="continuous_aggregates",
            blocking=True,
            description=f"{name} equals a raw GROUP BY over the last complete day.",
        )
        for name in AGGREGATES
    ],
    pool=ENGINE_POOL,
)
def aggregates_match_raw(timescale: TimescaleResource):  # type: ignore[no-untyped-def]
    """Each aggregate equals the raw SQL it stands for, over the last complete day."""
    for result in aggregate_consistency(timescale.database()):
        yield dg.AssetCheckResult(
            check_name=f"{result.aggregate}_matches_raw",
            asset_key="continuous_aggregates",
            passed=result.mismatched_buckets == 0,
            metadata={"mismatched_buckets": result.mismatched_buckets, "window": result.window},
        )


@dg.asset_check(
    asset="continuous_aggregates",
    description="A reading for every meter and interval of every complete UTC day.",
    pool=ENGINE_POOL,
)
def meter_day_completeness(timescale: TimescaleResource) -> dg.AssetCheckResult:
    """Every meter has a reading for every interval of every complete UTC day (WARN)."""
    report = meter_day_gaps(timescale.database(), timescale.settings())
    return dg.AssetCheckResult(
        passed=not report.gaps,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "incomplete_meter_days": len(report.gaps),
            "days_checked": report.days_checked,
            "examples": dg.MetadataValue.json(
                [
                    {"meter_id": g.meter_id, "day": g.day, "readings": g.readings}
                    for g in report.gaps[:50]
                ]
            ),
        },
    )


class RetentionConfig(dg.Config):
    """`retention` empty: GRID_REJECTS_RETENTION; else rejects older than it go."""

    retention: str = ""


@dg.asset(
    group_name=STORAGE_GROUP,
    kinds={"timescaledb"},
    deps=["mqtt_ingestion"],
    pool=ENGINE_POOL,
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=3), warn_window=timedelta(hours=2)
    ),
)
def ingest_rejects_retention(
    context: dg.AssetExecutionContext, timescale: TimescaleResource, config: RetentionConfig
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Quarantined payloads (`ingest_rejects`) older than the retention, deleted.

    Raw rejects serve diagnosis for a while, not forever; deleted in batches so the
    engine's one session is handed on between them. The work is
    `grid_pipeline.app.upkeep.expire_rejects`.
    """
    settings = timescale.settings()
    retention = (
        parse_duration(config.retention, "retention")
        if config.retention
        else settings.rejects_retention
    )
    report = expire_rejects(timescale.database(), retention, progress=context.log.info)
    return dg.MaterializeResult(
        metadata={
            "retention": str(retention),
            "cutoff": f"{report.cutoff:%Y-%m-%d %H:%M:%S} UTC",
            "rows_deleted": report.rows_deleted,
            "batches": report.batches,
            "seconds": round(report.seconds, 2),
        }
    )


def upkeep_jobs(settings: Settings) -> list["UnresolvedAssetJobDefinition"]:
    """The scheduled upkeep as asset jobs: the UI shows which assets each run updated."""
    compression = [compression_asset_name(v) for v in settings.chunk_variants]
    return [
        dg.define_asset_job(
            "compression_job",
            selection=dg.AssetSelection.assets(*compression),
            config={
                "ops": {
                    name: {
                        "config": {"older_than": f"{settings.compress_after.total_seconds():.0f}s"}
                    }
                    for name in compression
                }
            },
            description="Compress chunks older than GRID_COMPRESS_AFTER in every variant.",
        ),
        dg.define_asset_job(
            "refresh_aggregates_job",
            selection=dg.AssetSelection.assets(continuous_aggregates),
            config={
                "ops": {
                    "continuous_aggregates": {
                        "config": {"lookback": f"{settings.refresh_lookback.total_seconds():.0f}s"}
                    }
                }
            },
            description="Refresh the continuous aggregates over GRID_REFRESH_LOOKBACK, "
            "then check them against raw SQL.",
        ),
        dg.define_asset_job(
            "rejects_retention_job",
            selection=dg.AssetSelection.assets(ingest_rejects_retention),
            description="Delete quarantined payloads older than GRID_REJECTS_RETENTION.",
        ),
    ]


def storage_defs(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or load_settings()
    compression_job, refresh_job, retention_job = upkeep_jobs(settings)
    return dg.Definitions(
        assets=[
            continuous_aggregates,
            ingest_rejects_retention,
            *(build_compression_asset(v) for v in settings.chunk_variants),
        ],
        asset_checks=[aggregates_match_raw, meter_day_completeness],
        jobs=[compression_job, refresh_job, retention_job],
        schedules=[
            dg.ScheduleDefinition(
                name="compression_schedule",
                job=compression_job,
                cron_schedule="7 * * * *",
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description="Hourly: compress chunks older than GRID_COMPRESS_AFTER.",
            ),
            dg.ScheduleDefinition(
                name="refresh_aggregates_schedule",
                job=refresh_job,
                cron_schedule="*/5 * * * *",
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description="Every 5 minutes: refresh the aggregates over GRID_REFRESH_LOOKBACK.",
            ),
            dg.ScheduleDefinition(
                name="rejects_retention_schedule",
                job=retention_job,
                cron_schedule="37 * * * *",
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description="Hourly: delete rejects older than GRID_REJECTS_RETENTION.",
            ),
        ],
    )
