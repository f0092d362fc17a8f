"""Dagster asset of power quality: the EN 50160 weekly verdict and ANSI C84.1 band shares.

`power_quality_weekly` recomputes every week the readings touch after they are loaded (the
same code as `grid-pipeline power-quality`). It is not partitioned: a week spans seven daily
partitions, and one INSERT ... SELECT per week over the data set takes seconds. Partial
weeks (the default data set is 14 days ending at any instant) are stored as 'incomplete'.

These definitions are thin: the work is `grid_pipeline.app.power_quality`.
"""

import dagster as dg

from grid_pipeline.app.power_quality import compute_power_quality
from grid_pipeline.config import Settings
from grid_pipeline.defs.events import EVENTS_GROUP
from grid_pipeline.defs.resources import ENGINE_POOL, TimescaleResource


def build_power_quality_asset(settings: Settings) -> dg.AssetsDefinition:
    """`power_quality_weekly`: one row per meter and week, replaced week by week."""
    primary = settings.chunk_variants[0].table

    @dg.asset(
        name="power_quality_weekly",
        group_name=EVENTS_GROUP,
        kinds={"timescaledb"},
        deps=[primary],
        pool=ENGINE_POOL,
    )
    def power_quality_weekly(
        context: dg.AssetExecutionContext, timescale: TimescaleResource
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        """Per meter and week (Monday 00:00 UTC): the share of 10-minute mean voltages within
        +-10 % of nominal, whether any lies above +10 % or below -15 %, the EN 50160 verdict
        (pass, fail, incomplete) and the shares in ANSI C84.1 Range A, B only and outside B;
        stored in `power_quality_weekly` for the Insights page."""
        report = compute_power_quality(timescale.database(), timescale.settings())
        totals = {"pass": 0, "fail": 0, "incomplete": 0}
        for week in report.weeks:
            for verdict, n in week.verdicts.items():
                totals[verdict] = totals.get(verdict, 0) + n
        context.log.info(f"{report.meter_weeks} meter-weeks in {report.seconds:.1f} s")
        return dg.MaterializeResult(
            metadata={
                "weeks": len(report.weeks),
                "meter_weeks": report.meter_weeks,
                "verdicts": dg.MetadataValue.json(totals),
                "per_week": dg.MetadataValue.json(
                    {f"{w.week:%Y-%m-%d}": w.verdicts for w in report.weeks}
                ),
                "seconds": round(report.seconds, 3),
            }
        )

    return power_quality_weekly


def power_quality_defs(settings: Settings) -> dg.Definitions:
    """The power quality asset."""
    return dg.Definitions(assets=[build_power_quality_asset(settings)])
