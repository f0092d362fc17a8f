"""Counters of one ingestion run, and where they are stored (`ingest_runs`).

The writer thread owns almost every counter; the network thread only counts
deliveries and overflows (plain int increments, atomic under the GIL). Latency
samples are kept in bounded reservoirs so a run of any length has p50/p95 in
constant memory.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import psycopg

RESERVOIR = 20_000


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
        data = {k: v for k, v in asdict(self).items() if k not in ("commit_ms", "lag_s")}
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


def record_start(
    conn: psycopg.Connection[Any],
    counters: RunCounters,
    *,
    broker: str,
    subscription: str,
    protocol: str,
) -> None:
    conn.execute(
        "INSERT INTO ingest_runs (run_id, client_id, broker, subscription, protocol) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (run_id) DO NOTHING",
        (counters.run_id, counters.client_id, broker, subscription, protocol),
    )


def record_end(
    conn: psycopg.Connection[Any],
    counters: RunCounters,
    *,
    ended_at: datetime,
    error: str | None = None,
) -> None:
    r = counters.report()
    conn.execute(
        "UPDATE ingest_runs SET status = %s, ended_at = %s, received = %s, readings = %s, "
        "inserted = %s, duplicates = %s, rejected = %s, batches = %s, acked = %s, "
        "overflows = %s, connects = %s, commit_ms_p50 = %s, commit_ms_p95 = %s, "
        "lag_s_p50 = %s, lag_s_p95 = %s, error = %s WHERE run_id = %s",
        (
            "failed" if error else "finished", ended_at, r["received"], r["readings"],
            r["inserted"], r["duplicates"], r["rejected"], r["batches"], r["acked"],
            r["overflows"], r["connects"], r["commit_ms_p50"], r["commit_ms_p95"],
            r["lag_s_p50"], r["lag_s_p95"], error, counters.run_id,
        ),
    )  # fmt: skip
