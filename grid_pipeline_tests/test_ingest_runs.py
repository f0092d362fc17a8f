"""The `ingest_runs` row of a run tells the truth while it runs and after it ended.

* while running: the writer thread publishes the counters with a heartbeat,
  never ahead of what is committed, and keeps beating while idle;
* a clean stop (SIGTERM, SIGINT, duration, an interrupt even while draining)
  closes the row 'finished';
* a consumer killed with SIGKILL cannot close its row: the next consumer to
  start marks it 'abandoned' (same client id, or a heartbeat older than six of
  its intervals), with ended_at = its last heartbeat.

Real embedded engine, real Mosquitto (a private one with persistence), the CLI
consumer as a subprocess where signals are the point.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.mqtt.consumer import ConsumerConfig, IngestConsumer
from grid_pipeline.mqtt.simulator import Publisher, SimCounters, Simulator, run_simulation
from grid_pipeline_tests.mqtt_support import (
    MosquittoProcess,
    clean_slate,
    count,
    distinct_keys,
    recent_start,
    running_consumer,
    unique_root,
    wait_for,
)

pytestmark = pytest.mark.integration

ROW = (
    "SELECT status, inserted, readings, duplicates, batches, heartbeat_at, ended_at, error, "
    "(SELECT count(*) FROM energy_readings) AS stored "
    "FROM ingest_runs WHERE run_id = %s"
)
"""A run's row and the committed row count, read in ONE snapshot."""


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoProcess]:
    with MosquittoProcess(tmp_path_factory.mktemp("mosquitto")) as broker:
        yield broker


def _row(db: Database, run_id: str) -> dict[str, Any]:
    with connect(db) as conn:
        cur = conn.execute(ROW, (run_id,))
        row = cur.fetchone()
        assert row is not None, f"no ingest_runs row for {run_id}"
        names = [d.name for d in cur.description or []]
    return dict(zip(names, row, strict=True))


def _runs_of(db: Database, client_id: str) -> list[tuple[Any, ...]]:
    with connect(db) as conn:
        return conn.execute(
            "SELECT run_id, status, ended_at, heartbeat_at, inserted, error FROM ingest_runs "
            "WHERE client_id = %s ORDER BY started_at",
            (client_id,),
        ).fetchall()


def _config(url: str, root: str, **extra: Any) -> ConsumerConfig:
    return ConsumerConfig(broker_url=url, client_id=f"ingest-{root}", topic_root=root, **extra)


def _publish_in_background(
    url: str, sim: Simulator, intervals: int, tick_s: float
) -> tuple[threading.Thread, list[SimCounters]]:
    """Publish `intervals` ticks (MQTT 5, QoS 1), one every `tick_s` seconds, from a thread."""
    done: list[SimCounters] = []

    def work() -> None:
        publisher = Publisher(url, protocol="5")
        publisher.connect()
        try:
            speedup = sim.interval.total_seconds() / tick_s if tick_s else 0.0
            done.append(run_simulation(sim, publisher, start=recent_start(intervals),
                                       intervals=intervals, speedup=speedup))  # fmt: skip
        finally:
            publisher.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, done


def _consumer_process(
    url: str, root: str, client_id: str, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    """`grid-pipeline ingest` in its own process (MQTT 5, persistent session)."""
    env = dict(os.environ, GRID_MQTT_URL=url)
    return subprocess.Popen(
        [sys.executable, "-m", "grid_pipeline.cli", "ingest", "--mqtt-version", "5",
         "--topic-root", root, "--client-id", client_id, "--batch-size", "200", *extra],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def _wait_subscribed(log: Path) -> None:
    """The broker acknowledged the consumer's subscription: the session exists."""
    wait_for(lambda: "subscribed to" in log.read_text(), 60, "the consumer's subscription")


# ------------------------------------------------------------------------------ while running


def test_counters_are_published_while_the_run_is_in_progress(
    database: Database, mosquitto: MosquittoProcess
) -> None:
    fleet = clean_slate(database)
    root = unique_root()
    sim = Simulator(fleet, topic_root=root)
    config = _config(mosquitto.url, root, heartbeat_s=0.3, batch_ms=20)
    samples: list[dict[str, Any]] = []
    with running_consumer(database, config) as consumer:
        run_id = consumer.counters.run_id
        first = _row(database, run_id)
        assert first["status"] == "running" and first["heartbeat_at"] is not None
        thread, done = _publish_in_background(mosquitto.url, sim, intervals=30, tick_s=0.15)
        while thread.is_alive():  # poll the row mid-run
            samples.append(_row(database, run_id))
            time.sleep(0.1)
        thread.join()
        expected = done[0].expected_rows
        wait_for(lambda: count(database) >= expected, what=f"{expected} rows")
        assert consumer.wait_idle(quiet_s=0.5)
        # Idle, the run keeps beating, and its row catches up with everything committed.
        wait_for(lambda: _row(database, run_id)["inserted"] == expected, 10, "idle heartbeat")
        idle = _row(database, run_id)
        time.sleep(1.0)
        later = _row(database, run_id)
        assert later["heartbeat_at"] > idle["heartbeat_at"]
        assert later["status"] == "running" and later["ended_at"] is None
    assert expected == 30 * len(fleet)
    assert len(samples) >= 10
    assert all(s["status"] == "running" and s["ended_at"] is None for s in samples)
    # Never ahead of the data: the row and the count come from one snapshot.
    assert all(s["inserted"] <= s["stored"] for s in samples), samples
    assert all(s["readings"] == s["inserted"] + s["duplicates"] for s in samples)
    progress = sorted({s["inserted"] for s in samples if 0 < s["inserted"] < expected})
    assert len(progress) >= 2, f"no counters published mid-run: {samples}"
    beats = [s["heartbeat_at"] for s in samples]
    assert beats == sorted(beats) and len(set(beats)) >= 3
    end = _row(database, run_id)
    assert (end["status"], end["inserted"], end["batches"]) == (
        "finished", expected, consumer.counters.batches,
    )  # fmt: skip
    assert end["ended_at"] is not None and end["error"] is None


def test_a_live_run_marked_abandoned_takes_its_row_back(
    database: Database, mosquitto: MosquittoProcess
) -> None:
    """A false positive (a stall longer than the stale threshold) heals at the next beat."""
    clean_slate(database)
    root = unique_root()
    with running_consumer(database, _config(mosquitto.url, root, heartbeat_s=0.2)) as consumer:
        run_id = consumer.counters.run_id
        with connect(database) as conn:
            conn.execute(
                "UPDATE ingest_runs SET status = 'abandoned', ended_at = now(), "
                "error = 'abandoned: test' WHERE run_id = %s",
                (run_id,),
            )
        wait_for(lambda: _row(database, run_id)["status"] == "running", 10, "the row back")
        row = _row(database, run_id)
        assert row["ended_at"] is None and row["error"] is None
    assert _row(database, run_id)["status"] == "finished"


# ------------------------------------------------------------------------------ clean ends


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_run_stopped_by_a_signal_is_finished(
    database: Database, mosquitto: MosquittoProcess, tmp_path: Path, signum: signal.Signals
) -> None:
    fleet = clean_slate(database)
    root = unique_root()
    client_id = f"ingest-{root}"
    log = tmp_path / "consumer.log"
    proc = _consumer_process(mosquitto.url, root, client_id, log)
    try:
        _wait_subscribed(log)
        thread, done = _publish_in_background(mosquitto.url, Simulator(fleet, topic_root=root),
                                              intervals=5, tick_s=0.0)  # fmt: skip
        thread.join(60)
        expected = done[0].expected_rows
        wait_for(lambda: count(database) >= expected, 60, f"{expected} rows")
        proc.send_signal(signum)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, log.read_text()[-2000:]
    runs = _runs_of(database, client_id)
    assert len(runs) == 1, runs
    _, status, ended_at, heartbeat_at, inserted, error = runs[0]
    assert (status, inserted, error) == ("finished", expected, None)
    assert ended_at is not None and heartbeat_at is not None


def test_runs_ended_by_duration_are_finished_and_leave_no_ghosts(
    database: Database, mosquitto: MosquittoProcess
) -> None:
    """The Dagster path (`run(duration)`), twice with one client id: two 'finished' rows."""
    clean_slate(database)
    root = unique_root()
    config = _config(mosquitto.url, root, heartbeat_s=0.5)
    for _ in range(2):
        IngestConsumer(database, config).run(duration_s=1.0)
    runs = _runs_of(database, config.client_id)
    assert [r[1] for r in runs] == ["finished", "finished"], runs


class _InterruptAfter(threading.Event):
    """A stop event whose wait raises KeyboardInterrupt (as a signal would) after `n` waits."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def wait(self, timeout: float | None = None) -> bool:
        self.left -= 1
        if self.left <= 0:
            raise KeyboardInterrupt
        return super().wait(timeout)


def test_a_run_interrupted_again_while_stopping_is_still_finished(
    database: Database, mosquitto: MosquittoProcess
) -> None:
    """Dagster raises on every SIGTERM/SIGINT; a second one lands in the drain."""
    clean_slate(database)
    root = unique_root()
    consumer = IngestConsumer(database, _config(mosquitto.url, root, heartbeat_s=0.5))
    real_join = consumer._thread.join
    joins: list[float | None] = []

    def interrupted_join(timeout: float | None = None) -> None:
        joins.append(timeout)
        if len(joins) == 1:
            raise KeyboardInterrupt  # the second interrupt, in the middle of the stop
        real_join(timeout)

    consumer._thread.join = interrupted_join  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        consumer.run(stop=_InterruptAfter(5))
    assert len(joins) == 2
    assert not consumer._thread.is_alive()
    row = _row(database, consumer.counters.run_id)
    assert (row["status"], row["error"]) == ("finished", None)
    assert row["ended_at"] is not None


# ------------------------------------------------------------------------------ dead runs


def test_a_killed_run_is_abandoned_by_the_next_start(
    database: Database, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    fleet = clean_slate(database)
    root = unique_root()
    client_id = f"ingest-{root}"
    log = tmp_path / "consumer.log"
    proc = _consumer_process(mosquitto.url, root, client_id, log)
    try:
        _wait_subscribed(log)
        sim = Simulator(fleet, topic_root=root)
        thread, done = _publish_in_background(mosquitto.url, sim, intervals=60, tick_s=0.15)
        # The CLI heartbeats every 5 s: wait until one carried counters, then kill.
        wait_for(lambda: any(r[4] > 0 for r in _runs_of(database, client_id)), 30,
                 "counters of the running run")  # fmt: skip
        proc.send_signal(signal.SIGKILL)  # no chance to close its row
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    [(killed_id, status, ended_at, last_beat, inserted_at_kill, _)] = _runs_of(database, client_id)
    assert (status, ended_at) == ("running", None)  # what a crash leaves behind
    assert 0 < inserted_at_kill <= count(database)
    config = _config(mosquitto.url, root, heartbeat_s=0.5)
    with running_consumer(database, config) as consumer:
        runs = {r[0]: r for r in _runs_of(database, client_id)}
        killed = runs[killed_id]
        assert killed[1] == "abandoned"
        assert killed[2] == last_beat  # ended_at: the last sign of life
        assert killed[4] == inserted_at_kill  # its counters as of that heartbeat
        assert "same client id" in killed[5]
        assert [r[1] for r in runs.values() if r[0] != killed_id] == ["running"]
        thread.join(60)
        expected = done[0].expected_rows
        wait_for(lambda: count(database) >= expected, 60, f"{expected} rows")
        assert consumer.wait_idle(quiet_s=0.5)
    assert count(database) == distinct_keys(database) == expected == 60 * len(fleet)
    statuses = {r[0]: r[1] for r in _runs_of(database, client_id)}
    assert statuses == {killed_id: "abandoned", consumer.counters.run_id: "finished"}


def test_stale_runs_are_abandoned_and_live_ones_kept(
    database: Database, mosquitto: MosquittoProcess
) -> None:
    clean_slate(database)
    root = unique_root()
    config = _config(mosquitto.url, root, heartbeat_s=0.5)
    rows = {
        # name: (client id, status, started ago, heartbeat ago or None, heartbeat_s or None)
        "stale": ("other-a", "running", "1 hour", "10 minutes", 5.0),
        "legacy": ("other-b", "running", "1 hour", None, None),  # from before heartbeats
        "live": ("other-c", "running", "1 hour", "1 second", 5.0),
        "slow": ("other-d", "running", "1 hour", "60 seconds", 30.0),  # 60 s < 6 x 30 s
        "same_client": (config.client_id, "running", "1 minute", "1 second", 5.0),
        "done": ("other-e", "finished", "1 hour", "50 minutes", 5.0),
    }
    ids = {name: f"{root}-{name}" for name in rows}
    try:
        with connect(database) as conn:
            for name, (client, status, started, beat, beat_s) in rows.items():
                conn.execute(
                    "INSERT INTO ingest_runs (run_id, client_id, broker, subscription, protocol, "
                    "status, started_at, heartbeat_at, heartbeat_s) VALUES (%s, %s, 'mqtt://t', "
                    "'t/#', '5', %s, now() - %s::interval, now() - %s::interval, %s)",
                    (ids[name], client, status, started, beat, beat_s),
                )
            before = {
                r[0]: r[1:]
                for r in conn.execute(
                    "SELECT run_id, started_at, heartbeat_at FROM ingest_runs "
                    "WHERE run_id = ANY(%s)",
                    (list(ids.values()),),
                ).fetchall()
            }
        with running_consumer(database, config) as consumer:
            with connect(database) as conn:
                after = {
                    r[0]: r[1:]
                    for r in conn.execute(
                        "SELECT run_id, status, ended_at, error FROM ingest_runs "
                        "WHERE run_id = ANY(%s)",
                        (list(ids.values()),),
                    ).fetchall()
                }
            assert _row(database, consumer.counters.run_id)["status"] == "running"
    finally:
        with connect(database) as conn:
            conn.execute("DELETE FROM ingest_runs WHERE run_id = ANY(%s)", (list(ids.values()),))
    status = {name: after[ids[name]][0] for name in rows}
    assert status == {
        "stale": "abandoned", "legacy": "abandoned", "live": "running", "slow": "running",
        "same_client": "abandoned", "done": "finished",
    }  # fmt: skip
    started_at, heartbeat_at = before[ids["stale"]]
    assert after[ids["stale"]][1] == heartbeat_at
    assert "no heartbeat since" in after[ids["stale"]][2]
    assert after[ids["legacy"]][1] == before[ids["legacy"]][0]  # started_at stands in
    assert "same client id" in after[ids["same_client"]][2]
    assert after[ids["done"]][2] is None
    assert isinstance(started_at, datetime)
