"""`grid-pipeline soak`: the live path under load and faults, with reconciled counts.

Runs on its own embedded engine and broker (a private data dir on free ports),
so it never mixes with your data. A simulator process publishes an accelerated
stream (duplicates, out-of-order and malformed payloads injected and counted);
a standalone ingestion process consumes it; the compression and aggregate
refresh work runs concurrently in a thread; and on a timetable the soak
SIGKILLs the consumer, restarts the broker and restarts the database. At the end
independent counters are reconciled:

    lost = sent - stored - rejected        (must be 0)
    dup_rows                               (must be 0)
    cagg_mismatch                          (aggregates vs raw, must be 0)
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from grid_pipeline.app.services import start_broker, start_database
from grid_pipeline.config import Settings, load_settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.embedded import broker, engine
from grid_pipeline.embedded.process import free_port
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.aggregates import AGGREGATES, aggregate_mismatches, refresh_aggregates
from grid_pipeline.storage.compression import compress_chunks, enable_compression
from grid_pipeline.storage.historic import floor_time, replace_fleet

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]
FAULTS = ("kill_consumer", "restart_broker", "restart_database")


@dataclass
class SoakReport:
    """The reconciliation table."""

    minutes: float
    meters: int
    sent: int = 0
    stored: int = 0
    rejected: int = 0
    dup_rows: int = 0
    dup_deliveries_absorbed: int = 0
    cagg_mismatch: int = 0
    simulator: dict[str, int] = field(default_factory=dict)
    recovery_s: dict[str, float] = field(default_factory=dict)
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    upkeep_runs: int = 0

    @property
    def lost(self) -> int:
        return self.sent - self.stored - self.rejected

    def table(self) -> str:
        rows = [
            ("minutes run", f"{self.minutes:g}"),
            ("meters", str(self.meters)),
            ("faults injected", ", ".join(self.recovery_s) or "none"),
            ("sent (valid distinct readings + malformed)", f"{self.sent:,}"),
            ("stored", f"{self.stored:,}"),
            ("rejected (quarantined)", f"{self.rejected:,}"),
            ("lost = sent - stored - rejected", f"{self.lost:,}"),
            ("dup_rows", f"{self.dup_rows:,}"),
            ("dup_deliveries_absorbed", f"{self.dup_deliveries_absorbed:,}"),
            ("cagg_mismatch", f"{self.cagg_mismatch:,}"),
            *((f"recovery_s {k}", f"{v:.1f}") for k, v in self.recovery_s.items()),
            ("end-to-end latency p50 / p95 (s, probe publish -> queryable)",
             f"{self.latency_p50_s or 0:.2f} / {self.latency_p95_s or 0:.2f}"),
            ("upkeep runs (compress + refresh)", str(self.upkeep_runs)),
        ]  # fmt: skip
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def soak_settings(base: Settings, data_dir: Path) -> Settings:
    """Private data dir and free ports, everything else as configured."""
    env = {k: v for k, v in os.environ.items() if k not in ("GRID_DATABASE_URL", "GRID_MQTT_URL")}
    env.update(
        GRID_DATA_DIR=str(data_dir),
        GRID_DB_PORT=str(free_port()),
        GRID_MQTT_PORT=str(free_port()),
        GRID_TIMEZONE=base.timezone,
    )
    return load_settings(env)


class _Process:
    """A CLI subprocess of the soak (simulator or consumer), output kept in a log."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.args, self.env = name, args, env
        self.log = log_dir / f"soak-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "grid_pipeline.cli", *self.args],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def signal(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def json_line(self, key: str) -> dict[str, Any]:
        for line in reversed(self.log.read_text(errors="replace").splitlines()):
            if line.startswith("{") and f'"{key}"' in line:
                return dict(json.loads(line)[key])
        raise RuntimeError(f"{self.name} printed no {key!r} summary; see {self.log}")


def _count(db: Database) -> tuple[int, int]:
    """(stored readings, quarantined payloads), waiting through a database restart."""
    deadline = time.monotonic() + 120
    while True:
        try:
            with connect(db) as conn:
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM energy_readings), "
                    "(SELECT count(*) FROM ingest_rejects)"
                ).fetchone()
            assert row is not None
            return int(row[0]), int(row[1])
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _recovery(db: Database, since: float, before: int, timeout: float = 180) -> float:
    """Seconds from the fault until new rows are committed again."""
    while time.monotonic() - since < timeout:
        if _count(db)[0] > before:
            return time.monotonic() - since
        time.sleep(0.25)
    return float("nan")


def _upkeep(settings: Settings, db: Database, stop: threading.Event, report: SoakReport) -> None:
    """What compression_job and refresh_aggregates_job do, on a short period, concurrently."""
    while not stop.wait(10):
        try:
            with connect(db) as conn:
                enable_compression(conn, "energy_readings")
                compress_chunks(conn, "energy_readings", timedelta(hours=6))
            refresh_aggregates(db, datetime.now(UTC) - timedelta(days=3))
            report.upkeep_runs += 1
        except Exception as exc:  # the database restart fault; the next round retries
            logger.info("soak upkeep skipped a round: %s", exc)


def _probe(
    settings: Settings,
    db: Database,
    meter: tuple[int, str],
    stop: threading.Event,
    latencies: list[float],
    sent: list[int],
) -> None:
    """End-to-end latency: publish a reading stamped now, time until it is queryable."""
    from grid_pipeline.mqtt.payload import Reading, encode_reading
    from grid_pipeline.mqtt.simulator import Publisher
    from grid_pipeline.mqtt.topics import DEFAULT_ROOT, meter_topic

    meter_id, feeder = meter
    publisher = Publisher(settings.broker_url, client_id="grid-soak-probe")
    publisher.connect()
    # On the reading grid (off-grid readings are refused), one slot per probe, counted
    # back from a base fixed once: a base taken per probe would give the same slot twice
    # whenever a reading boundary passes (a duplicate, not a new row).
    base = floor_time(datetime.now(UTC), settings.interval)
    try:
        while not stop.wait(2.0):
            ts = base - settings.interval * (sent[0] + 1)
            reading = Reading(ts, meter_id, 1.0, round(1.0 * settings.interval.total_seconds()
                                                       / 3600, 4), 230.0, 4.35)  # fmt: skip
            published = time.monotonic()
            publisher.publish(meter_topic(DEFAULT_ROOT, feeder, meter_id), encode_reading(reading))
            sent[0] += 1
            while not stop.is_set() and time.monotonic() - published < 120:
                try:
                    with connect(db) as conn:
                        seen = conn.execute(
                            "SELECT 1 FROM energy_readings WHERE meter_id = %s AND "
                            '"timestamp" = %s', (meter_id, ts),
                        ).fetchone()  # fmt: skip
                except Exception:  # the database restart fault
                    seen = None
                if seen:
                    latencies.append(time.monotonic() - published)
                    break
                time.sleep(0.05)
        publisher.flush()
    finally:
        publisher.close()


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_soak(
    base: Settings,
    *,
    minutes: float,
    meters: int = 50,
    data_dir: Path,
    progress: Progress = print,
) -> SoakReport:
    """Run the soak and reconcile; services started here are stopped at the end."""
    settings = soak_settings(base, data_dir)
    report = SoakReport(minutes=minutes, meters=meters)
    db = start_database(settings)
    start_broker(settings)
    fleet = build_fleet(meters + 1, settings.seed)  # the last meter is the latency probe
    replace_fleet(db, fleet)
    probe_meter = (meters + 1, str(fleet.get_column("feeder")[-1]))
    latencies: list[float] = []
    probes_sent = [0]
    env = {
        **os.environ,
        "GRID_DATA_DIR": str(settings.data_dir),
        "GRID_DB_PORT": str(settings.db_port),
        "GRID_MQTT_PORT": str(settings.mqtt_port),
    }
    env.pop("GRID_DATABASE_URL", None)
    env.pop("GRID_MQTT_URL", None)
    duration_s = minutes * 60
    # Replay the recent past at 1 interval per second (speedup = interval seconds),
    # ending near now, so every timestamp passes the consumer's plausibility window.
    speedup = settings.interval.total_seconds()
    intervals = int(duration_s)
    start = floor_time(datetime.now(UTC), settings.interval) - settings.interval * intervals
    simulator = _Process("simulator", [
        "simulate", "--meters", str(meters), "--start", start.isoformat(),
        "--speedup", f"{speedup:g}", "--intervals", str(intervals),
        "--duplicates", "0.02", "--out-of-order", "0.02", "--malformed", "0.005",
        "--quiet"], env, settings.log_dir)  # fmt: skip
    consumer = _Process("consumer", ["ingest", "--client-id", "grid-soak-ingest"], env,
                        settings.log_dir)  # fmt: skip
    stop_upkeep = threading.Event()
    upkeep = threading.Thread(target=_upkeep, args=(settings, db, stop_upkeep, report), daemon=True)
    prober = threading.Thread(
        target=_probe,
        args=(settings, db, probe_meter, stop_upkeep, latencies, probes_sent),
        daemon=True,
    )
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    consumer.start()
    time.sleep(3)  # the persistent session exists before the first publish
    simulator.start()
    upkeep.start()
    prober.start()
    began = time.monotonic()
    timetable = {name: began + duration_s * (i + 1) / (len(FAULTS) + 1)
                 for i, name in enumerate(FAULTS)}  # fmt: skip
    try:
        for name, at in timetable.items():
            time.sleep(max(0.0, at - time.monotonic()))
            before = _count(db)[0]
            fault_at = time.monotonic()
            progress(f"soak: fault {name} at {fault_at - began:.0f} s ({before:,} rows)")
            if name == "kill_consumer":
                consumer.signal(signal.SIGKILL)
                consumer.wait(10)
                time.sleep(1)
                consumer.start()
            elif name == "restart_broker":
                broker.stop(settings)
                time.sleep(1)
                broker.start(settings)
            else:
                engine.stop(settings)
                time.sleep(1)
                engine.start(settings)
            report.recovery_s[name] = _recovery(db, fault_at, before)
            progress(f"soak: {name} recovered in {report.recovery_s[name]:.1f} s")
        code = simulator.wait(timeout=duration_s + 600)
        if code != 0:
            raise RuntimeError(f"simulator exited with {code}; see {simulator.log}")
        report.simulator = {k: int(v) for k, v in simulator.json_line("simulator").items()}
        stop_upkeep.set()  # probes and upkeep end with the stream
        prober.join(timeout=150)
        report.sent = (
            report.simulator["expected_rows"] + report.simulator["malformed"] + probes_sent[0]
        )
        progress("soak: simulator done; waiting for the consumer to drain")
        deadline, last, quiet_since = time.monotonic() + 300, (-1, -1), time.monotonic()
        while time.monotonic() < deadline:
            stored, rejected = _count(db)
            if stored + rejected >= report.sent:
                break
            if (stored, rejected) != last:
                last, quiet_since = (stored, rejected), time.monotonic()
            elif time.monotonic() - quiet_since > 60:
                break
            time.sleep(0.5)
    finally:
        stop_upkeep.set()
        upkeep.join(timeout=120)
        consumer.signal(signal.SIGTERM)
        consumer.wait(60)
        simulator.signal(signal.SIGTERM)
        simulator.wait(30)
    report.stored, report.rejected = _count(db)
    refresh_aggregates(db)
    with connect(db) as conn:
        dup = conn.execute(
            'SELECT count(*) - count(DISTINCT (meter_id, "timestamp")) FROM energy_readings'
        ).fetchone()
        span = conn.execute(
            'SELECT min("timestamp"), max("timestamp") FROM energy_readings'
        ).fetchone()
        runs = conn.execute("SELECT coalesce(sum(duplicates), 0) FROM ingest_runs").fetchone()
        if span and span[0]:
            lo = span[0].replace(hour=0, minute=0, second=0, microsecond=0)
            hi = span[1] + timedelta(days=1)
            report.cagg_mismatch = sum(aggregate_mismatches(conn, n, lo, hi) for n in AGGREGATES)
    report.dup_rows = int(dup[0]) if dup else 0
    report.dup_deliveries_absorbed = int(runs[0]) if runs else 0
    report.latency_p50_s = _percentile(latencies, 0.5)
    report.latency_p95_s = _percentile(latencies, 0.95)
    broker.stop(settings)
    engine.stop(settings)
    return report
