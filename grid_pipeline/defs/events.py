"""Dagster assets of grid events: detection over the history, one UTC day per partition.

`grid_events` runs every detector over its day (the same code as `grid-pipeline events
detect`) after that day's readings are loaded, and replaces the day's events. Its check
scores the day against the injected ground truth when there is one (`generate
--physical-faults`), so the Checks tab shows per day whether detection met its goals.

`live_grid_events` is the live path's: one near-real-time pass over the trailing
window of the live data (the same pass as `grid-pipeline events watch`), upserting
open events and closing them. `live_grid_events_job` materialises it and
`live_grid_events_schedule` launches it every minute (on with GRID_INGEST_SENSOR); its
freshness policy fails when no pass succeeded for 5 minutes (warns after 2), so a
stopped watcher shows in the UI.

These definitions are thin: the work is `grid_pipeline.app.events`.
"""

from datetime import timedelta

import dagster as dg

from grid_pipeline.app.events import detect_day, score_history, watch_once
from grid_pipeline.config import Settings
from grid_pipeline.defs.historic import history_partitions, partition_day_window
from grid_pipeline.defs.resources import ENGINE_POOL, TimescaleResource
from grid_pipeline.events.score import KindScore

EVENTS_GROUP = "events"
#: Detection goals per kind (issue: precision >= 0.95, recall >= 0.99; theft F1 >= 0.9).
GOALS = {"precision": 0.95, "recall": 0.99, "theft_f1": 0.9}


def meets_goals(score: KindScore) -> bool:
    """Whether one kind's score reaches the detection goals."""
    if score.kind == "theft":
        return score.f1 >= GOALS["theft_f1"]
    return score.precision >= GOALS["precision"] and score.recall >= GOALS["recall"]


def build_events_asset(settings: Settings) -> dg.AssetsDefinition:
    """`grid_events`: detected grid events, one UTC day per partition."""
    partitions = history_partitions(settings)
    primary = settings.chunk_variants[0].table

    @dg.asset(
        name="grid_events",
        group_name=EVENTS_GROUP,
        kinds={"timescaledb", "polars"},
        deps=[primary],
        partitions_def=partitions,
        pool=ENGINE_POOL,
        check_specs=[
            dg.AssetCheckSpec(
                "detection_meets_goals", asset="grid_events", partitions_def=partitions,
                description="Against the injected faults of the day (if any): precision >= "
                "0.95 and recall >= 0.99 per kind, theft F1 >= 0.9.",
            )
        ],
    )  # fmt: skip
    def grid_events(
        context: dg.AssetExecutionContext, timescale: TimescaleResource
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        """Outages (meter, transformer, feeder), voltage sags and swells, overloads, reverse
        power flow, theft, stuck and zero reads and spikes found in the day's readings and
        feeder heads; stored in the `grid_events` hypertable, replacing the day's events."""
        cfg = timescale.settings()
        window = partition_day_window(context, cfg)
        db = timescale.database()
        report = detect_day(db, window)
        scores = score_history(db, cfg, window)
        missed = sorted(kind for kind, s in scores.items() if not meets_goals(s))
        check = dg.AssetCheckResult(
            check_name="detection_meets_goals",
            passed=not missed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "below_goal": ", ".join(missed) or "none",
                "scores": dg.MetadataValue.json({k: s.as_json() for k, s in scores.items()}),
            },
        )
        context.log.info(f"{report.total} events in {sum(report.seconds.values()):.1f} s")
        return dg.MaterializeResult(
            metadata={
                "events": report.total,
                "per_kind": dg.MetadataValue.json(report.events),
                "seconds": round(sum(report.seconds.values()), 3),
                "seconds_per_detector": dg.MetadataValue.json(
                    {k: round(v, 3) for k, v in report.seconds.items()}
                ),
            },
            check_results=[check],
        )

    return grid_events


LIVE_JOB = "live_grid_events_job"


@dg.asset(
    group_name=EVENTS_GROUP,
    kinds={"timescaledb", "polars"},
    deps=["mqtt_ingestion"],
    pool=ENGINE_POOL,
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(minutes=5), warn_window=timedelta(minutes=2)
    ),
)
def live_grid_events(
    context: dg.AssetExecutionContext, timescale: TimescaleResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Grid events of the live data, near real time: the detectors over the last 6 hours
    (and any event still open), an outage being a meter whose readings stopped; open
    events have no end yet and get one when the condition ends (theft stays daily)."""
    report = watch_once(timescale.database(), timescale.settings())
    context.log.info(report.line())
    frontier = report.frontier.isoformat() if report.frontier else "no readings yet"
    return dg.MaterializeResult(
        metadata={
            "data_until": frontier,
            "open": report.still_open,
            "opened": report.opened,
            "closed": report.closed,
            "withdrawn": report.deleted,
            "seconds": round(sum(report.seconds.values()), 3),
        }
    )


live_grid_events_job = dg.define_asset_job(
    LIVE_JOB,
    selection=dg.AssetSelection.assets(live_grid_events),
    description="One near-real-time detection pass over the live data.",
)


def live_schedule(settings: Settings) -> dg.ScheduleDefinition:
    """Every minute a live pass; on by default where Dagster keeps the live ingestion
    running (GRID_INGEST_SENSOR=on, as in `grid-pipeline up`), stopped otherwise."""
    return dg.ScheduleDefinition(
        name="live_grid_events_schedule",
        job=live_grid_events_job,
        cron_schedule="* * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING
        if settings.ingest_sensor
        else dg.DefaultScheduleStatus.STOPPED,
        description="Every minute: a live detection pass (keeps live_grid_events fresh).",
    )


def events_defs(settings: Settings) -> dg.Definitions:
    """The detection asset of the history, and the live detection asset with its job and
    schedule."""
    return dg.Definitions(
        assets=[build_events_asset(settings), live_grid_events],
        jobs=[live_grid_events_job],
        schedules=[live_schedule(settings)],
    )
