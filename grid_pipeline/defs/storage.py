"""Dagster definitions of the storage study and its upkeep.

* one `<variant>_compression` asset per hypertable variant: the seed's study,
  every chunk compressed, sizes before and after recorded;
* `continuous_aggregates`: the aggregates refreshed over all time, checked
  against raw SQL;
* `compression_job` (hourly) and `refresh_aggregates_job` (every 5 minutes),
  on schedules that are on by default: the embedded engine runs no TimescaleDB
  background workers, so these schedules are the mechanism. Against a native
  server the assets also add TimescaleDB policies (see README).
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from grid_pipeline.config import ChunkVariant, Settings, load_settings
from grid_pipeline.db.connection import connect
from grid_pipeline.defs.resources import TimescaleResource
from grid_pipeline.storage.aggregates import (
    AGGREGATES,
    add_refresh_policies,
    aggregate_mismatches,
    aggregate_rows,
    incomplete_meter_days,
    readings_span,
    refresh_aggregates,
)
from grid_pipeline.storage.compression import (
    add_compression_policy,
    compress_chunks,
    compress_hypertable,
    compression_enabled,
)

STORAGE_GROUP = "storage"


def build_compression_asset(variant: ChunkVariant) -> dg.AssetsDefinition:
    """`<table>_compression`: the variant with every chunk compressed, sizes recorded."""
    name = f"{variant.table}_compression"

    @dg.asset(
        name=name,
        group_name=STORAGE_GROUP,
        kinds={"timescaledb"},
        deps=[variant.table],
        check_specs=[
            dg.AssetCheckSpec(
                "row_count_unchanged",
                asset=name,
                description="The compressed hypertable holds exactly the rows it held before.",
            )
        ],
        description=(
            f"`{variant.table}` ({variant.interval} chunks) compressed with segmentby meter_id, "
            "orderby timestamp DESC: every chunk, as the seed's study did. Records sizes "
            "before/after from hypertable_compression_stats and hypertable_detailed_size."
        ),
    )
    def compression_asset(timescale: TimescaleResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
        settings = timescale.settings()
        db = timescale.database()
        with connect(db) as conn:
            study = compress_hypertable(conn, variant.table)
            if db.supports_background_jobs:
                add_compression_policy(conn, variant.table, settings.compress_after)
        sizes = study.sizes
        return dg.MaterializeResult(
            metadata={
                "chunks_compressed": study.chunks_compressed,
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


@dg.asset(
    group_name=STORAGE_GROUP,
    kinds={"timescaledb"},
    deps=["energy_readings"],
)
def continuous_aggregates(timescale: TimescaleResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The continuous aggregates, refreshed over all time (only invalidated buckets recompute).

    `energy_readings_15min` (the seed's), `energy_readings_hourly` and
    `energy_readings_daily` built on it, and `meter_hourly_stats` for the
    dashboard. Real-time aggregation is on, so the newest bucket is never missing.
    """
    settings = timescale.settings()
    db = timescale.database()
    seconds = refresh_aggregates(db)
    with connect(db) as conn:
        rows = aggregate_rows(conn)
        if db.supports_background_jobs:
            add_refresh_policies(conn, settings.refresh_lookback)
    return dg.MaterializeResult(
        metadata={
            **{f"rows {name}": count for name, count in rows.items()},
            **{f"seconds {name}": round(s, 2) for name, s in seconds.items()},
        }
    )


def _sample_window(timescale: TimescaleResource) -> tuple[datetime, datetime] | None:
    """The last complete UTC day with data: refreshed, and a whole daily bucket."""
    with connect(timescale.database()) as conn:
        span = readings_span(conn)
    if span is None:
        return None
    end = span[1].astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=1)
    return (start, end) if start >= span[0] else (span[0], span[1] + timedelta(seconds=1))


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            f"{name}_matches_raw",
            asset="continuous_aggregates",
            description=f"{name} equals a raw GROUP BY over a sampled day.",
        )
        for name in AGGREGATES
    ],
)
def aggregates_match_raw(timescale: TimescaleResource):  # type: ignore[no-untyped-def]
    """Each aggregate equals the raw SQL it stands for, over the last complete day."""
    window = _sample_window(timescale)
    with connect(timescale.database()) as conn:
        for name in AGGREGATES:
            mismatches = aggregate_mismatches(conn, name, *window) if window else 0
            yield dg.AssetCheckResult(
                check_name=f"{name}_matches_raw",
                asset_key="continuous_aggregates",
                passed=mismatches == 0,
                metadata={
                    "mismatched_buckets": mismatches,
                    "window": f"{window[0]:%Y-%m-%d %H:%M} .. {window[1]:%Y-%m-%d %H:%M}"
                    if window
                    else "no data",
                },
            )


@dg.asset_check(asset="continuous_aggregates", description="288 readings per meter per day.")
def meter_day_completeness(timescale: TimescaleResource) -> dg.AssetCheckResult:
    """Every meter has a reading for every interval of every complete UTC day (WARN)."""
    settings = timescale.settings()
    per_day = int(timedelta(days=1) / settings.interval)
    with connect(timescale.database()) as conn:
        span = readings_span(conn)
        if span is None:
            return dg.AssetCheckResult(passed=True, metadata={"note": "no readings yet"})
        first_full = (span[0] + timedelta(days=1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        today = span[1].replace(hour=0, minute=0, second=0, microsecond=0)
        gaps = incomplete_meter_days(conn, first_full, today, per_day) if first_full < today else []
    return dg.AssetCheckResult(
        passed=not gaps,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "incomplete_meter_days": len(gaps),
            "days_checked": max((today - first_full).days, 0),
            "examples": dg.MetadataValue.json(
                [{"meter_id": g.meter_id, "day": g.day, "readings": g.readings} for g in gaps[:50]]
            ),
        },
    )


class CompressionJobConfig(dg.Config):
    """Overrides for one run of the compression job."""

    older_than: str = ""  # e.g. "6 hours"; empty = GRID_COMPRESS_AFTER


@dg.op
def compress_old_chunks(
    context: dg.OpExecutionContext, timescale: TimescaleResource, config: CompressionJobConfig
) -> dict[str, int]:
    """Compress every variant's chunks older than the configured age (idempotent)."""
    from grid_pipeline.config import parse_duration

    settings = timescale.settings()
    age = parse_duration(config.older_than) if config.older_than else settings.compress_after
    compressed: dict[str, int] = {}
    db = timescale.database()
    for variant in settings.chunk_variants:
        with connect(db) as conn:
            exists = conn.execute(
                "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = %s",
                (variant.table,),
            ).fetchone()
            if not exists or not compression_enabled(conn, variant.table):
                context.log.info(f"{variant.table}: compression not enabled yet, skipped")
                continue
            compressed[variant.table] = compress_chunks(conn, variant.table, age)
    context.log.info(f"chunks compressed (older than {age}): {compressed}")
    context.add_output_metadata({"older_than": str(age), **compressed})
    return compressed


@dg.op
def refresh_recent_aggregates(
    context: dg.OpExecutionContext, timescale: TimescaleResource
) -> dict[str, float]:
    """Refresh the aggregates over the look-back window (late data included)."""
    settings = timescale.settings()
    since = datetime.now(UTC) - settings.refresh_lookback
    seconds = refresh_aggregates(timescale.database(), since)
    context.add_output_metadata(
        {"since": since.isoformat(), **{k: round(v, 3) for k, v in seconds.items()}}
    )
    return seconds


@dg.job(description="Compress chunks older than GRID_COMPRESS_AFTER in every variant.")
def compression_job() -> None:
    compress_old_chunks()


@dg.job(description="Refresh the continuous aggregates over GRID_REFRESH_LOOKBACK.")
def refresh_aggregates_job() -> None:
    refresh_recent_aggregates()


compression_schedule = dg.ScheduleDefinition(
    name="compression_schedule",
    job=compression_job,
    cron_schedule="7 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly: compress chunks older than GRID_COMPRESS_AFTER.",
)
refresh_aggregates_schedule = dg.ScheduleDefinition(
    name="refresh_aggregates_schedule",
    job=refresh_aggregates_job,
    cron_schedule="*/5 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 5 minutes: refresh the aggregates over GRID_REFRESH_LOOKBACK.",
)


def storage_defs(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or load_settings()
    return dg.Definitions(
        assets=[
            continuous_aggregates,
            *(build_compression_asset(v) for v in settings.chunk_variants),
        ],
        asset_checks=[aggregates_match_raw, meter_day_completeness],
        jobs=[compression_job, refresh_aggregates_job],
        schedules=[compression_schedule, refresh_aggregates_schedule],
    )
