"""Run every detector over a window and store what they find in `grid_events`.

Each detector (`grid_pipeline.events.detectors`) reads what it needs around the
window and returns the events that start inside it. `store_events` replaces the
window's detected events in one transaction (delete those starting in the window,
insert the new), so detecting a window twice leaves the same rows, and a detector
that no longer finds an event removes it. `run_detection` is the one entry point
the CLI and the Dagster assets call.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

import psycopg

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.sqlfiles import query
from grid_pipeline.events.detectors import clock, loading, metering, outage, theft, voltage
from grid_pipeline.events.detectors.base import DetectedEvent, event_columns
from grid_pipeline.events.kinds import Thresholds

__all__ = [
    "DETECTORS",
    "DetectedEvent",
    "DetectionReport",
    "detect_all",
    "run_detection",
    "store_events",
]

Window = tuple[datetime, datetime]


class Detector(Protocol):
    def __call__(
        self, conn: psycopg.Connection[Any], window: Window, thresholds: Thresholds
    ) -> list[DetectedEvent]: ...


#: Every detector by name, in the order they run.
DETECTORS: Final[dict[str, Detector]] = {
    outage.NAME: outage.detect,
    voltage.NAME: voltage.detect,
    loading.NAME: loading.detect,
    metering.NAME: metering.detect,
    clock.NAME: clock.detect,
    theft.NAME: theft.detect,
}

#: progress(detector name, events found, seconds) after each detector.
ProgressFn = Callable[[str, int, float], None]


@dataclass(frozen=True)
class DetectionReport:
    """What a detection run found and how long each detector took."""

    window: Window
    events: dict[str, int] = field(default_factory=dict)  # per kind
    seconds: dict[str, float] = field(default_factory=dict)  # per detector
    stored: int = 0

    @property
    def total(self) -> int:
        return sum(self.events.values())


def _run(
    conn: psycopg.Connection[Any],
    window: Window,
    thresholds: Thresholds,
    progress: ProgressFn | None,
) -> tuple[list[DetectedEvent], dict[str, float]]:
    events: list[DetectedEvent] = []
    seconds: dict[str, float] = {}
    for name, detector in DETECTORS.items():
        started = time.perf_counter()
        found = detector(conn, window, thresholds)
        seconds[name] = time.perf_counter() - started
        events += found
        if progress:
            progress(name, len(found), seconds[name])
    return events, seconds


def detect_all(
    conn: psycopg.Connection[Any], window: Window, thresholds: Thresholds
) -> list[DetectedEvent]:
    """Every detector's events that start in `window`."""
    return _run(conn, window, thresholds, None)[0]


def store_events(conn: psycopg.Connection[Any], window: Window, events: list[DetectedEvent]) -> int:
    """Make `grid_events` hold exactly `events` among the events starting in `window`.

    One transaction: delete the window's detected events, insert the new ones (an
    acknowledgement of an event found again is kept, when and who). Returns the rows
    inserted.
    """
    with conn.transaction():
        acknowledged = {
            (kind, asset_type, asset, start): (at, by)
            for kind, asset_type, asset, start, at, by in conn.execute(
                query("events_window_acknowledged"), {"start": window[0], "end": window[1]}
            ).fetchall()
        }
        conn.execute(query("events_window_delete"), {"start": window[0], "end": window[1]})
        unique = {(e.kind, e.asset_type, e.asset, e.start): e for e in events}
        if not unique:
            return 0
        rows = list(unique.values())
        conn.execute(
            query("events_insert"),
            event_columns(rows)
            | {
                "acknowledged_at": [acknowledged.get(key, (None, None))[0] for key in unique],
                "acknowledged_by": [acknowledged.get(key, (None, None))[1] for key in unique],
            },
        )
    return len(rows)


def run_detection(
    db: Database,
    window: Window,
    thresholds: Thresholds | None = None,
    progress: ProgressFn | None = None,
) -> DetectionReport:
    """Detect every event kind over `window` and store the result; one connection."""
    thresholds = thresholds or Thresholds()
    with connect(db) as conn:
        events, seconds = _run(conn, window, thresholds, progress)
        started = time.perf_counter()
        stored = store_events(conn, window, events)
        seconds["store"] = time.perf_counter() - started
    per_kind = Counter(e.kind for e in events)
    return DetectionReport(window, dict(sorted(per_kind.items())), seconds, stored)
