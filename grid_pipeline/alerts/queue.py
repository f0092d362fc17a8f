"""The delivery table: queue each change to alert, deliver the due ones, remember the outcome.

A delivery row is one change of one event (`opened`, `closed`, `severity:<new>`, see
`payload`), keyed by the event's stable key and the change, so every change is queued
once however often the events are re-detected or the deliverer restarted. One event's
changes are delivered in the order they were queued (a later one waits while an earlier
one is pending, its backoff included).

Guarantee. Each delivery row is locked (`FOR UPDATE SKIP LOCKED`) for the POST and
marked delivered in the same transaction right after the webhook answers 2xx, so two
deliverers never post one row at the same time and a delivered row is never posted
again, across restarts too (the row, not the process, remembers). The one gap is a
crash (or a lost connection) after the webhook accepted the POST and before the
commit: the row is still pending and is posted again by the next run. Delivery is
therefore at-least-once, exactly-once in every run that does not die in that window;
the `Idempotency-Key` header (the event's stable key) lets the receiver drop that
duplicate. No alert is lost: a row stays pending until a 2xx or its last attempt.

Rows are claimed one per transaction, so the embedded engine (one session shared in
turn) is handed on between POSTs, and one slow webhook holds at most one row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from grid_pipeline.alerts.backoff import gives_up, retry_delay
from grid_pipeline.alerts.payload import Alert
from grid_pipeline.alerts.severity import at_or_above
from grid_pipeline.alerts.webhook import PostResult, post_alert
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.sqlfiles import query

Clock = Callable[[], datetime]
Sender = Callable[[str, Alert], PostResult]
#: Rows one run delivers at most; the next run (a minute later) takes the rest.
BATCH = 200
GONE = "the event is no longer in grid_events (re-detection dropped it)"


@dataclass(frozen=True)
class DeliveryCounts:
    """What one delivery pass did."""

    delivered: int = 0
    retried: int = 0  # failed POSTs that will be tried again
    failed: int = 0  # deliveries given up in this pass


#: The enqueue statements, in the order they must run: first alerts, then closes (an
#: event first seen closed is announced closed by its first alert), then severity
#: changes (compared with the latest delivery, a close included).
ENQUEUE = ("alerts_enqueue", "alerts_enqueue_closed", "alerts_enqueue_severity")


def enqueue(conn: psycopg.Connection[Any], min_severity: str, now: datetime) -> int:
    """Queue, in one transaction, every change to alert: events at or above `min_severity`
    with no delivery (`opened`), alerted open events that ended (`closed`), alerted events
    whose severity changed (`severity:<new>`); how many rows were queued.

    Acknowledged events: an event acknowledged before its first alert is not alerted,
    and an acknowledged event's severity changes are not sent (an operator is on it);
    its close is, so the receiver can resolve the incident."""
    params = {"severities": at_or_above(min_severity), "now": now}
    queued = 0
    with conn.transaction():
        for name in ENQUEUE:
            queued += max(conn.execute(query(name), params).rowcount, 0)
    return queued


def _key_params(alert: Alert) -> dict[str, Any]:
    kind, asset_type, asset, start, change = alert.key
    return {
        "kind": kind, "asset_type": asset_type, "asset": asset, "start_ts": start,
        "change": change,
    }  # fmt: skip


def _record_failure(
    conn: psycopg.Connection[Any], alert: Alert, attempts: int, error: str, now: datetime,
    final: bool = False,
) -> bool:  # fmt: skip
    """Count the failed attempt; True when the delivery is now failed for good."""
    done = final or gives_up(attempts)
    conn.execute(
        query("alerts_mark_attempt_failed"),
        {**_key_params(alert), "status": "failed" if done else "pending", "error": error,
         "next_attempt_at": now if done else now + retry_delay(attempts)},
    )  # fmt: skip
    return done


def _deliver_one(db: Database, url: str, now: Clock, send: Sender) -> str | None:
    """Claim one due row, POST it, record the outcome; 'delivered'|'retried'|'failed', or
    None when nothing is due. The row lock is held from the claim to the commit."""
    with connect(db) as conn:
        row = conn.execute(query("alerts_claim_due"), {"now": now()}).fetchone()
        if row is None:
            return None
        (kind, asset_type, asset, start, change, attempts, end, severity, previous, evidence,
         acknowledged_at, acknowledged_by, present) = row  # fmt: skip
        alert = Alert(
            kind, asset_type, asset, start, end, severity or "", evidence or {}, change,
            previous, acknowledged_at, acknowledged_by,
        )  # fmt: skip
        if not present:
            _record_failure(conn, alert, attempts + 1, GONE, now(), final=True)
            return "failed"
        result = send(url, alert)
        if result.ok:
            conn.execute(query("alerts_mark_delivered"), {**_key_params(alert), "now": now()})
            return "delivered"
        done = _record_failure(conn, alert, attempts + 1, result.error or "failed", now())
        return "failed" if done else "retried"


def deliver_due(
    db: Database, url: str, now: Clock, send: Sender = post_alert, batch: int = BATCH
) -> DeliveryCounts:
    """Deliver the pending rows due at `now()`, each in its own locked transaction."""
    outcomes = {"delivered": 0, "retried": 0, "failed": 0}
    for _ in range(batch):
        outcome = _deliver_one(db, url, now, send)
        if outcome is None:
            break
        outcomes[outcome] += 1
    return DeliveryCounts(**outcomes)
