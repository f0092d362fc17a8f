"""Dagster asset of VEE: the validated readings, one UTC day per partition.

`validated_readings` validates and estimates its day (the same code as `grid-pipeline vee
run --day`) after that day's readings are loaded: it replaces the day's flags and
estimates under a new audited run (`vee_runs`, actor ``dagster:<run id>``). Its checks
say whether the day's validated series has every interval of every meter exactly once
and whether every flag and estimate has a finished run behind it. `vee_job` runs it, so
its runs carry a job name of their own in the run list.

These definitions are thin: the work is `grid_pipeline.app.vee`.
"""

import dagster as dg

from grid_pipeline.app.vee import vee_window, vee_window_check
from grid_pipeline.config import Settings
from grid_pipeline.defs.historic import history_partitions, partition_day_window
from grid_pipeline.defs.resources import ENGINE_POOL, TimescaleResource

VEE_GROUP = "vee"
VEE_ASSET = "validated_readings"
VEE_JOB = "vee_job"


def build_vee_asset(settings: Settings) -> dg.AssetsDefinition:
    """`validated_readings`: flags, estimates and the audit of each UTC day."""
    partitions = history_partitions(settings)
    primary = settings.chunk_variants[0].table

    @dg.asset(
        name=VEE_ASSET,
        group_name=VEE_GROUP,
        kinds={"timescaledb", "polars"},
        deps=[primary],
        partitions_def=partitions,
        pool=ENGINE_POOL,
        check_specs=[
            dg.AssetCheckSpec(
                "every_interval_validated", asset=VEE_ASSET, partitions_def=partitions,
                description="The validated series holds every ended interval of every meter "
                "inside the data set exactly once (actual or estimated).",
            ),
            dg.AssetCheckSpec(
                "flags_and_estimates_audited", asset=VEE_ASSET, partitions_def=partitions,
                description="Every flag and estimate of the day belongs to a finished run "
                "in vee_runs (who, when, which rules).",
            ),
        ],
    )  # fmt: skip
    def validated_readings(
        context: dg.AssetExecutionContext, timescale: TimescaleResource
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        """The billing-grade series: each reading flagged by every VEE rule
        (`grid_pipeline.vee.rules`), an estimate (linear, like day, hold) for each interval
        missing or invalid with the original kept, and the run audited; read through the
        `validated_readings` view."""
        cfg = timescale.settings()
        window = partition_day_window(context, cfg)
        db = timescale.database()
        report = vee_window(db, cfg, window, actor=f"dagster:{context.run.run_id}")
        check = vee_window_check(db, cfg, window)
        context.log.info(
            f"run {report.run}: {sum(report.flags.values())} flags, "
            f"{sum(report.estimates.values())} estimates in {report.seconds:.1f} s"
        )
        return dg.MaterializeResult(
            metadata={
                "vee_run": report.run,
                "flags": sum(report.flags.values()),
                "flags_per_rule": dg.MetadataValue.json(report.flags),
                "estimates": sum(report.estimates.values()),
                "estimates_per_method": dg.MetadataValue.json(report.estimates),
                "intervals": check.expected,
                "seconds": round(report.seconds, 3),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="every_interval_validated",
                    passed=check.complete,
                    metadata={
                        "expected": check.expected,
                        "present": check.present,
                        "duplicates": check.duplicates,
                    },
                ),
                dg.AssetCheckResult(
                    check_name="flags_and_estimates_audited",
                    passed=check.audited,
                    metadata={
                        "unaudited_flags": check.unaudited_flags,
                        "unaudited_estimates": check.unaudited_estimates,
                    },
                ),
            ],
        )

    return validated_readings


def vee_defs(settings: Settings) -> dg.Definitions:
    """The VEE asset and the job that materialises its days."""
    asset = build_vee_asset(settings)
    job = dg.define_asset_job(
        VEE_JOB,
        selection=dg.AssetSelection.assets(asset),
        description="Validate and estimate one day of readings (flags, estimates, audit).",
    )
    return dg.Definitions(assets=[asset], jobs=[job])
