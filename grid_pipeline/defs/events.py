"""Dagster assets of grid events: detection over the history, one UTC day per partition.

`grid_events` runs every detector over its day (the same code as `grid-pipeline events
detect`) after that day's readings are loaded, and replaces the day's events. Its check
scores the day against the injected ground truth when there is one (`generate
--physical-faults`), so the Checks tab shows per day whether detection met its goals.

These definitions are thin: the work is `grid_pipeline.app.events`.
"""

import dagster as dg

from grid_pipeline.app.dataset import partition_window
from grid_pipeline.app.events import detect_day, score_history
from grid_pipeline.app.history import day_of
from grid_pipeline.config import Settings
from grid_pipeline.defs.historic import history_partitions
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
        try:
            window = partition_window(day_of(context.partition_key), cfg)
        except ValueError as exc:
            raise dg.Failure(str(exc)) from None
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


def events_defs(settings: Settings) -> dg.Definitions:
    """The detection asset of the history."""
    return dg.Definitions(assets=[build_events_asset(settings)])
