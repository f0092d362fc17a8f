"""Counters of one ingestion run, and where they are stored (`ingest_runs`).

The writer thread owns almost every counter; the network thread only counts
deliveries and overflows (plain int increments, atomic under the GIL). Latency
samples are kept in bounded reservoirs so a run of any length has p50/p95 in
constant memory.

A run's row (sql/schema/003_ingestion.sql, 007_ingest_runs_progress.sql) is
inserted at the start ('running'), rewritten by the writer thread's heartbeat
every few seconds (`record_progress`), closed at the end ('finished' or
'failed', `record_end`), and, when its consumer died without closing it, marked
'abandoned' by the next consumer that starts (`reconcile_runs`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import numpy as np
import psycopg

RESERVOIR = 20_000
HEARTBEAT_S = 5.0
"""Default interval of a running consumer's heartbeat (its counters written to `ingest_runs`)."""


@dataclass
class Reservoir:
    """A uniform sample of at most `size` values (Algorithm R)."""

    size: int = RESERVOIR
    seen: int = 0
    values: list[float] = field(default_factory=list)
    _rng: random.Random = field(default_factory=lambda: random.Random(0))  # noqa: S311

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.values) < self.size:
            self.values.append(value)
            return
        slot = self._rng.randrange(self.seen)
        if slot < self.size:
            self.values[slot] = value

    def percentile(self, q: float) -> float | None:
        if not self.values:
            return None
        return round(float(np.percentile(np.asarray(self.values), q)), 4)


@dataclass
class RunCounters:
    """Everything one run counts; `report()` is what the CLI prints and Dagster shows."""

    run_id: str
    client_id: str
    received: int = 0
    readings: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    max_batch: int = 0  # most deliveries in one batch: the unacknowledged window actually seen
    acked: int = 0
    overflows: int = 0
    connects: int = 0
    seconds: float = 0.0
    validate_s: float = 0.0  # writer thread time spent decoding/validating
    write_s: float = 0.0  # writer thread time spent in the database (connect..commit)
    commit_ms: Reservoir = field(default_factory=Reservoir)
    lag_s: Reservoir = field(default_factory=Reservoir)

    def report(self) -> dict[str, Any]:
        """Plain numbers (JSON-serialisable), percentiles included."""
        # Not asdict(): it would deep-copy both reservoirs (every heartbeat takes a report).
        data = {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("commit_ms", "lag_s")}  # fmt: skip
        data["validate_s"] = round(self.validate_s, 3)
        data["write_s"] = round(self.write_s, 3)
        data.update(
            commit_ms_p50=self.commit_ms.percentile(50),
            commit_ms_p95=self.commit_ms.percentile(95),
            lag_s_p50=self.lag_s.percentile(50),
            lag_s_p95=self.lag_s.percentile(95),
            readings_per_s=round(self.inserted / self.seconds, 1) if self.seconds else 0.0,
        )
        return data


STALE_AFTER_HEARTBEATS = 6
"""A 'running' row with no heartbeat for this many of its intervals belongs to a dead run."""

# Written on every heartbeat: the counters the run has committed so far.
_PROGRESS = (
    "received = %(received)s, readings = %(readings)s, inserted = %(inserted)s, "
    "duplicates = %(duplicates)s, rejected = %(rejected)s, batches = %(batches)s, "
    "acked = %(acked)s, overflows = %(overflows)s, connects = %(connects)s, "
    "commit_ms_p50 = %(commit_ms_p50)s, commit_ms_p95 = %(commit_ms_p95)s, "
    "lag_s_p50 = %(lag_s_p50)s, lag_s_p95 = %(lag_s_p95)s"
)


@dataclass(frozen=True)
class PendingBatch:
    """A batch whose rows are in the transaction that also carries the heartbeat."""

    readings: int = 0
    inserted: int = 0
    rejected: int = 0


def reconcile_runs(conn: psycopg.Connection[Any], *, run_id: str, client_id: str) -> list[str]:
    """Mark the runs that ended without saying so 'abandoned'; returns their ids.

    Called when a consumer starts. A 'running' row is over when its heartbeat
    (``started_at`` for rows from before heartbeats) is older than
    `STALE_AFTER_HEARTBEATS` of its intervals, or when it has this consumer's
    client id: a persistent session has one live consumer, and it is this one.
    Its ``ended_at`` becomes its last heartbeat: the last moment it was seen alive.
    """
    rows = conn.execute(
        "UPDATE ingest_runs SET status = 'abandoned', "
        "ended_at = coalesce(heartbeat_at, started_at), "
        "error = coalesce(error, 'abandoned: no end recorded (killed, crashed or the '"
        "  || 'database was away); closed by run ' || %(run_id)s::text || ', ' "
        "  || CASE WHEN client_id = %(client_id)s::text THEN 'same client id' "
        "          ELSE 'no heartbeat since ' || coalesce(heartbeat_at, started_at) END) "
        "WHERE status = 'running' AND run_id <> %(run_id)s AND ("
        "  client_id = %(client_id)s OR coalesce(heartbeat_at, started_at) < now() "
        "  - make_interval(secs => %(stale)s * coalesce(heartbeat_s, %(default_s)s))) "
        "RETURNING run_id",
        {
            "run_id": run_id,
            "client_id": client_id,
            "stale": STALE_AFTER_HEARTBEATS,
            "default_s": HEARTBEAT_S,
        },
    ).fetchall()
    return [str(r[0]) for r in rows]


def record_start(
    conn: psycopg.Connection[Any],
    counters: RunCounters,
    *,
    broker: str,
    subscription: str,
    protocol: str,
    heartbeat_s: float = HEARTBEAT_S,
) -> None:
    conn.execute(
        "INSERT INTO ingest_runs (run_id, client_id, broker, subscription, protocol, "
        "heartbeat_at, heartbeat_s) VALUES (%s, %s, %s, %s, %s, now(), %s) "
        "ON CONFLICT (run_id) DO NOTHING",
        (counters.run_id, counters.client_id, broker, subscription, protocol, heartbeat_s),
    )


def record_progress(
    conn: psycopg.Connection[Any],
    report: dict[str, Any],
    *,
    run_id: str,
    heartbeat_s: float,
    batch: PendingBatch | None = None,
) -> None:
    """The heartbeat: one UPDATE of the run's row with its counters so far.

    ``report`` is `RunCounters.report()` taken before the transaction began (the
    percentiles are not computed while holding the database); ``batch`` is the
    batch committed by the same transaction, so the row never counts rows that
    are not committed. A row another consumer marked 'abandoned' while this run
    was alive (a stall longer than the stale threshold) is set back to 'running';
    a row already closed ('finished', 'failed') is left alone.
    """
    b = batch or PendingBatch()
    values = dict(report)
    values.update(
        readings=report["readings"] + b.readings,
        inserted=report["inserted"] + b.inserted,
        duplicates=report["duplicates"] + b.readings - b.inserted,
        rejected=report["rejected"] + b.rejected,
        batches=report["batches"] + (1 if batch else 0),
        run_id=run_id,
        heartbeat_s=heartbeat_s,
    )
    conn.execute(
        "UPDATE ingest_runs SET status = 'running', ended_at = NULL, "
        "error = CASE WHEN status = 'abandoned' THEN NULL ELSE error END, "
        "heartbeat_at = now(), heartbeat_s = %(heartbeat_s)s, " + _PROGRESS + " "
        "WHERE run_id = %(run_id)s AND status IN ('running', 'abandoned')",
        values,
    )


def record_end(
    conn: psycopg.Connection[Any],
    counters: RunCounters,
    *,
    ended_at: datetime,
    error: str | None = None,
) -> None:
    """Close the run's row: 'finished', or 'failed' with ``error``; final counters."""
    values = counters.report()
    values.update(
        status="failed" if error else "finished",
        ended_at=ended_at,
        error=error,
        run_id=counters.run_id,
    )
    conn.execute(
        "UPDATE ingest_runs SET status = %(status)s, ended_at = %(ended_at)s, "
        "error = %(error)s, heartbeat_at = now(), " + _PROGRESS + " "
        "WHERE run_id = %(run_id)s",
        values,
    )
