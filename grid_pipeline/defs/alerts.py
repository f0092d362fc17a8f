"""Dagster definitions of alert delivery: `alert_deliveries`, materialised every minute.

`alerts_job` materialises the `alert_deliveries` asset: the grid events at or above
GRID_ALERT_MIN_SEVERITY queued, the due ones POSTed to GRID_ALERT_WEBHOOK, the counts
recorded as metadata. With the webhook unset alerts are off: `alerts_schedule` is
stopped by default and skips if started anyway, and the asset (which the bootstrap
backfill materialises with every other asset) succeeds doing nothing.

These definitions are thin: the work is `grid_pipeline.app.alerts`.
"""

import dagster as dg

from grid_pipeline.app.alerts import deliver_alerts
from grid_pipeline.config import Settings, load_settings
from grid_pipeline.defs.events import EVENTS_GROUP
from grid_pipeline.defs.resources import ENGINE_POOL, TimescaleResource

ALERTS_JOB = "alerts_job"
OFF = "GRID_ALERT_WEBHOOK is not set: alerts are off, nothing delivered"


@dg.asset(group_name=EVENTS_GROUP, kinds={"timescaledb"}, deps=["grid_events"], pool=ENGINE_POOL)
def alert_deliveries(
    context: dg.AssetExecutionContext, timescale: TimescaleResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Grid events delivered to GRID_ALERT_WEBHOOK, once per change across restarts, with retries
    (30 s doubling to 1 h, failed after 8 attempts); stored in `alert_deliveries`."""
    settings = timescale.settings()
    if not settings.alert_webhook:
        context.log.info(OFF)
        return dg.MaterializeResult(metadata={"alerts": "off (GRID_ALERT_WEBHOOK unset)"})
    report = deliver_alerts(timescale.database(), settings)
    context.log.info(report.line())
    return dg.MaterializeResult(
        metadata={
            "alerts": "on",
            "min_severity": settings.alert_min_severity,
            "enqueued": report.enqueued,
            "delivered": report.delivered,
            "retried": report.retried,
            "failed": report.failed,
        }
    )


alerts_job = dg.define_asset_job(
    ALERTS_JOB,
    selection=dg.AssetSelection.assets(alert_deliveries),
    description="Queue qualifying grid events and POST the due ones to GRID_ALERT_WEBHOOK.",
)


def alerts_defs(settings: Settings) -> dg.Definitions:
    """The delivery asset, its job and its every-minute schedule (on when a webhook is set)."""

    @dg.schedule(
        name="alerts_schedule",
        job=alerts_job,
        cron_schedule="* * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING
        if settings.alert_webhook
        else dg.DefaultScheduleStatus.STOPPED,
        description="Every minute: deliver alerts (stopped by default when "
        "GRID_ALERT_WEBHOOK is unset).",
    )
    def alerts_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        # Started by hand without a webhook: say why nothing runs instead of running.
        if not load_settings().alert_webhook:
            return dg.SkipReason(OFF)
        return dg.RunRequest()

    return dg.Definitions(assets=[alert_deliveries], jobs=[alerts_job], schedules=[alerts_schedule])
