"""Alerts as the product runs them: queue the changes of grid events to alert (first alert,
severity change, close), deliver the due ones.

`grid-pipeline alerts deliver` and the Dagster `alert_deliveries` asset (every minute)
call `deliver_alerts`; the delivery table makes a run after a restart, or a second
deliverer, send nothing that was already delivered (see `grid_pipeline.alerts.queue`
for the exact guarantee).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from grid_pipeline.alerts.queue import Clock, Sender, deliver_due, enqueue
from grid_pipeline.alerts.webhook import post_alert
from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect


@dataclass(frozen=True)
class AlertReport:
    """What one alert run did: rows queued, POSTs accepted, retries scheduled, given up."""

    enqueued: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0

    def line(self) -> str:
        return (
            f"enqueued {self.enqueued}, delivered {self.delivered}, retried {self.retried}, "
            f"failed {self.failed}"
        )


def _utc_now() -> datetime:
    return datetime.now(UTC)


def deliver_alerts(
    db: Database, settings: Settings, now: Clock = _utc_now, send: Sender = post_alert
) -> AlertReport:
    """Queue the events at or above GRID_ALERT_MIN_SEVERITY not alerted yet and the changes
    of those alerted (closed, severity), then POST every due delivery to GRID_ALERT_WEBHOOK.
    Does nothing (an empty report) when the webhook is unset.
    `now` is injectable so tests step through the backoff without sleeping."""
    if not settings.alert_webhook:
        return AlertReport()
    with connect(db) as conn:
        enqueued = enqueue(conn, settings.alert_min_severity, now())
    counts = deliver_due(db, settings.alert_webhook, now, send)
    return AlertReport(enqueued, counts.delivered, counts.retried, counts.failed)
