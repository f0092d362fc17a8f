"""Near-real-time detection: the detectors over a trailing window of the live data.

The historic detection (`events.detect`) replaces a closed window's events. The live
stream has no closed window: its newest interval is still arriving, faults are still
running. A pass here (`detect_live`) therefore works on the window ``[lo, frontier)``:

* the **frontier** is the newest stored reading's interval end (the data's clock, so
  a simulation at any speedup is watched the same way as real time);
* ``lo`` is `lookback` before it, or earlier when an event found before is still open,
  so that event is seen whole and keeps its key (kind, asset_type, asset, start);
* each detector's rule runs on the rows its own SQL returns for ``[lo, frontier)``
  (the same SQL files and the same pure rules as the history: `outage.detect_frame`,
  `voltage.detect_frame`, `loading.detect_frame`, `metering.stuck_runs`, ...),
  except the outage's rows: a live meter without supply stops reporting, so a
  meter-interval is out when its reading is missing (or reads voltage 0, the
  historic generator's outage). The newest interval may still be arriving (the
  consumer commits a tick's readings in several batches), so it is judged only when
  the caller says it has settled (`judge_newest`: the watcher loop has seen the same
  frontier for a grace period of wall time); otherwise outages are judged up to the
  interval before it, which the next tick's readings prove complete.

An event whose run reaches the frontier (outages: the judged end) is **open**
(``end`` None); a later pass that sees the run end closes it. A run that touches
``lo`` may have begun before it: it is kept only when the same key is already stored.

Theft is not watched live: its rule compares whole days with two weeks of baselines
and needs two low days, so it stays a daily detector of the history
(`grid-pipeline events detect`), which also reads the live days' feeder heads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import polars as pl
import psycopg

from grid_pipeline.db.sqlfiles import query
from grid_pipeline.events.detectors import loading, metering, outage, voltage
from grid_pipeline.events.detectors.base import DetectedEvent, frame
from grid_pipeline.events.kinds import Thresholds
from grid_pipeline.fleet.meters import CUSTOMER_CLASSES, POWER_FACTOR

#: The kinds a live pass finds and so manages in `grid_events` (theft is daily: see the
#: module docstring; a kind a live pass does not detect is never withdrawn by it).
LIVE_KINDS: Final[tuple[str, ...]] = (
    "outage", "voltage_sag", "voltage_swell", "overload", "reverse_flow", "stuck", "zero", "spike",
)  # fmt: skip
#: How much data a pass reads behind the frontier (more when an open event is older).
DEFAULT_LOOKBACK = timedelta(hours=6)
#: An open event older than this is followed no further (the window stops growing).
MAX_WINDOW = timedelta(days=2)

Key = tuple[str, str, str, datetime]


@dataclass(frozen=True)
class LiveWindow:
    """What one live pass looks at: ``[lo, frontier)``, outages judged up to `judged`."""

    lo: datetime
    frontier: datetime
    judged: datetime
    interval: timedelta


@dataclass(frozen=True)
class Reconciled:
    """The changes one pass makes to `grid_events`."""

    upserts: list[DetectedEvent] = field(default_factory=list)
    deletes: list[Key] = field(default_factory=list)
    opened: int = 0  # new events
    closed: int = 0  # events stored open that ended
    still_open: int = 0


def key(event: DetectedEvent) -> Key:
    return (event.kind, event.asset_type, event.asset, event.start)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def live_window(
    conn: psycopg.Connection[Any],
    interval: timedelta,
    thresholds: Thresholds,
    lookback: timedelta = DEFAULT_LOOKBACK,
    judge_newest: bool = False,
) -> LiveWindow | None:
    """The window of the next pass, or None when no reading is stored yet."""
    row = conn.execute(query("events_live_frontier")).fetchone()
    if row is None or row[0] is None:
        return None
    frontier = _utc(row[0]) + interval
    lo = frontier - lookback
    opened = conn.execute(query("events_live_open_start"), {"kinds": list(LIVE_KINDS)}).fetchone()
    if opened is not None and opened[0] is not None:
        lo = min(lo, max(_utc(opened[0]), frontier - MAX_WINDOW))
    # Aligned to the voltage window (a multiple of the interval) so its first bucket is whole.
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    step = max(thresholds.voltage_window, interval)
    lo -= (lo - epoch) % step
    judged = frontier if judge_newest else frontier - interval
    return LiveWindow(lo, frontier, max(lo, judged), interval)


def outage_rows(conn: psycopg.Connection[Any], window: LiveWindow) -> pl.DataFrame:
    """Meter-intervals without supply in ``[lo, judged)`` (`events_outage.sql`)."""
    params = {
        "seen": window.lo - (window.frontier - window.lo),
        "lo": window.lo,
        "hi": window.frontier,
        "judged": window.judged,
        "step": window.interval,
    }
    schema = {"timestamp": pl.Datetime("us", "UTC"), "meter_id": pl.Int32,
              "transformer": pl.Utf8, "feeder": pl.Utf8, "transformer_meters": pl.Int32,
              "feeder_meters": pl.Int32}  # fmt: skip
    return frame(conn, "events_outage", params, schema)


def detect_window(
    conn: psycopg.Connection[Any], window: LiveWindow, thresholds: Thresholds
) -> tuple[list[DetectedEvent], dict[str, float]]:
    """Every live kind's events over the window (ends as the rules give them), with the
    seconds each detector took."""
    bounds = {"lo": window.lo, "hi": window.frontier}
    interval = window.interval
    seconds: dict[str, float] = {}
    found: list[DetectedEvent] = []

    started = time.perf_counter()
    found += outage.detect_frame(outage_rows(conn, window), interval)
    seconds[outage.NAME] = time.perf_counter() - started

    started = time.perf_counter()
    means = frame(
        conn,
        "events_voltage",
        {**bounds, "bucket": thresholds.voltage_window, "band": thresholds.voltage_band},
        {"bucket": pl.Datetime("us", "UTC"), "meter_id": pl.Int32, "transformer": pl.Utf8,
         "transformer_meters": pl.Int32, "pu": pl.Float64},
    )  # fmt: skip
    found += voltage.detect_frame(means, thresholds)
    seconds[voltage.NAME] = time.perf_counter() - started

    started = time.perf_counter()
    loads = frame(
        conn,
        "events_transformer_load",
        {**bounds, "classes": list(CUSTOMER_CLASSES), "pf": list(POWER_FACTOR),
         "over": thresholds.overload_ratio, "reverse": thresholds.reverse_flow_ratio},
        loading.LOAD_SCHEMA,
    )  # fmt: skip
    found += loading.detect_frame(loads, thresholds, interval)
    seconds[loading.NAME] = time.perf_counter() - started

    started = time.perf_counter()
    found += _metering(conn, bounds, thresholds, interval)
    seconds[metering.NAME] = time.perf_counter() - started
    return found, seconds


def _metering(
    conn: psycopg.Connection[Any],
    bounds: dict[str, datetime],
    thresholds: Thresholds,
    interval: timedelta,
) -> list[DetectedEvent]:
    ts = pl.Datetime("us", "UTC")
    probe = max(interval, (thresholds.stuck_min // 2) // interval * interval)
    stuck = frame(conn, "events_stuck", {**bounds, "probe": probe},
                  {"timestamp": ts, "meter_id": pl.Int32, "power": pl.Int64, "energy": pl.Int64,
                   "voltage": pl.Int64, "current": pl.Int64})  # fmt: skip
    zero = frame(conn, "events_zero", bounds,
                 {"timestamp": ts, "meter_id": pl.Int32, "voltage": pl.Int64})  # fmt: skip
    spikes = frame(conn, "events_spike", {**bounds, "multiple": thresholds.spike_rating_multiple},
                   {"timestamp": ts, "meter_id": pl.Int32, "power": pl.Int64,
                    "rated_kw": pl.Float64})  # fmt: skip
    runs = metering.stuck_runs(stuck, thresholds.stuck_min, interval)
    zeros = metering.zero_runs(zero, thresholds.zero_min, interval)
    return [
        *metering.run_events(runs, "stuck", ["power"]),
        *metering.run_events(zeros, "zero", []),
        *metering.spike_events(spikes, interval),
    ]


def with_open_ends(events: list[DetectedEvent], window: LiveWindow) -> list[DetectedEvent]:
    """Events whose run reaches the data's end get ``end`` None (still open); a spike is
    one reading and never open."""
    result = []
    for e in events:
        edge = window.judged if e.kind == "outage" else window.frontier
        open_now = e.kind != "spike" and e.end is not None and e.end >= edge
        result.append(_replace_end(e, None) if open_now else e)
    return result


def _replace_end(event: DetectedEvent, end: datetime | None) -> DetectedEvent:
    return DetectedEvent(event.kind, event.asset_type, event.asset, event.start, end,
                         event.severity, event.evidence, event.detector)  # fmt: skip


def reconcile(
    found: list[DetectedEvent], known: dict[Key, datetime | None], window: LiveWindow
) -> Reconciled:
    """What to write so that `grid_events` holds what this pass found (pure).

    `known` maps the stored live events starting in the window (or open) to their end.
    A found event starting at ``lo`` may be the cut-off tail of an older one: kept only
    when its key is stored. A stored event starting after ``lo`` and before the
    frontier that is not found again is deleted; one starting at or before ``lo`` is left
    as it is (the pass cannot see it whole).
    """
    upserts: dict[Key, DetectedEvent] = {}
    for event in with_open_ends(found, window):
        k = key(event)
        if event.kind not in LIVE_KINDS or (event.start <= window.lo and k not in known):
            continue
        upserts[k] = event
    deletes = [k for k in known if k not in upserts and window.lo < k[3] < window.frontier]
    opened = sum(1 for k in upserts if k not in known)
    closed = sum(
        1 for k, e in upserts.items() if k in known and known[k] is None and e.end is not None
    )
    still_open = sum(1 for e in upserts.values() if e.end is None)
    return Reconciled(list(upserts.values()), deletes, opened, closed, still_open)
