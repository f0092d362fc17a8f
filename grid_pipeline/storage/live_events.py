"""What the live path writes about grid events: the simulation's truth and feeder heads,
and the watcher's upserts.

A live simulation (`simulate --physical-faults`) records, per tick, the feeder heads'
readings of the interval and the ground truth published so far; the truth of its span
is replaced as a whole (a handful of rows), so a fault's row grows with the stream and
re-simulating a span leaves the same rows. The watcher (`events.live`) upserts by the
events' stable key and deletes by it; every statement takes arrays (one round trip).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from grid_pipeline.db.sqlfiles import query
from grid_pipeline.events.detectors.base import event_columns
from grid_pipeline.events.live import LIVE_KINDS, Key, LiveWindow, Reconciled
from grid_pipeline.mqtt.simulator import PhysicalTick


def record_physical_tick(
    conn: psycopg.Connection[Any], start: datetime, tick: PhysicalTick
) -> None:
    """Store one tick's feeder heads and the truth of the faults it touches (one
    transaction). The run's first tick clears the truth from `start` on (a span simulated
    again is the new run's); later ticks replace their faults' rows by key."""
    with conn.transaction():
        if tick.head.height:
            conn.execute(
                query("events_live_heads_upsert"),
                {c: tick.head.get_column(c).to_list() for c in ("timestamp", "feeder", "power",
                                                               "energy")},
            )  # fmt: skip
        if tick.first:
            conn.execute(query("events_live_truth_clear"), {"start": start})
        t = tick.truth
        if t.is_empty():
            return
        columns = {
            "day": t["day"].to_list(),
            "kind": t["kind"].to_list(),
            "asset_type": t["asset_type"].to_list(),
            "asset": t["asset"].to_list(),
            "start_ts": t["start"].to_list(),
            "end_ts": t["end"].to_list(),
            "magnitude": t["magnitude"].to_list(),
        }
        keys = ("kind", "asset_type", "asset", "start_ts")
        conn.execute(query("events_live_truth_delete"), {k: columns[k] for k in keys})
        conn.execute(query("events_live_truth_insert"), columns)


def known_events(conn: psycopg.Connection[Any], window: LiveWindow) -> dict[Key, datetime | None]:
    """The stored live events starting in the window or still open, with their end."""
    rows = conn.execute(
        query("events_live_known"),
        {"kinds": list(LIVE_KINDS), "lo": window.lo, "hi": window.frontier},
    ).fetchall()
    return {(kind, asset_type, asset, start): end for kind, asset_type, asset, start, end in rows}


def apply_reconciled(conn: psycopg.Connection[Any], changes: Reconciled) -> None:
    """Upsert the events found and delete those no longer found (one transaction)."""
    with conn.transaction():
        if changes.upserts:
            conn.execute(query("events_live_upsert"), event_columns(changes.upserts))
        if changes.deletes:
            conn.execute(
                query("events_live_delete"),
                {name: [k[i] for k in changes.deletes]
                 for i, name in enumerate(("kind", "asset_type", "asset", "start_ts"))},
            )  # fmt: skip
