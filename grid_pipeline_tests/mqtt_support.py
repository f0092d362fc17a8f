"""Shared helpers of the MQTT tests: real brokers, a clean slate, row counts.

* `MosquittoProcess`: a private Mosquitto on a free port with a temp config
  (persistence in the test's directory), which tests may stop and restart; the
  system Mosquitto on 1883 is never touched.
* `system_mosquitto()`: the URL of the machine's Mosquitto, or a skip.
* `clean_slate()`: empty readings and rejects, a known fleet in `meters`.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from psycopg import sql

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.embedded.process import free_port, port_accepts
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.mqtt.broker_url import Protocol
from grid_pipeline.mqtt.consumer import ConsumerConfig, IngestConsumer
from grid_pipeline.mqtt.simulator import Publisher
from grid_pipeline.storage.historic import floor_time, replace_fleet

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
FLEET_SIZE = 40


def unique_root() -> str:
    """A topic root no other test (or person) on a shared broker uses."""
    return f"t{uuid.uuid4().hex[:10]}"


def recent_start(intervals: int, interval: timedelta = timedelta(minutes=5)) -> datetime:
    """An aligned start such that `intervals` ticks end at most now (valid for validation)."""
    return floor_time(datetime.now(UTC), interval) - interval * intervals


def clean_slate(db: Database, meters: int = FLEET_SIZE, seed: int = 42) -> pl.DataFrame:
    """Empty readings, rejects and runs; the fleet 1..meters in `meters`; returns the fleet."""
    fleet = build_fleet(meters, seed)
    replace_fleet(db, fleet)
    with connect(db) as conn:
        conn.execute("TRUNCATE energy_readings")
        conn.execute("TRUNCATE ingest_rejects")
    return fleet


def count(db: Database, table: str = "energy_readings") -> int:
    with connect(db) as conn:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def distinct_keys(db: Database) -> int:
    with connect(db) as conn:
        row = conn.execute(
            'SELECT count(*) FROM (SELECT DISTINCT meter_id, "timestamp" FROM energy_readings) k'
        ).fetchone()
    return int(row[0]) if row else 0


def reject_reasons(db: Database) -> list[str]:
    with connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT reason FROM ingest_rejects ORDER BY reject_id")]


def wait_for(predicate: Any, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def publish(url: str, messages: Iterable[tuple[str, bytes]], protocol: Protocol = "5") -> int:
    """Publish with QoS 1 and wait for every PUBACK; returns the number sent."""
    publisher = Publisher(url, protocol=protocol)
    publisher.connect()
    sent = 0
    try:
        for topic, payload in messages:
            publisher.publish(topic, payload)
            sent += 1
        publisher.flush()
    finally:
        publisher.close()
    return sent


def consumer_process(url: str, root: str, client_id: str, log: Path) -> subprocess.Popen[bytes]:
    """`grid-pipeline ingest` as its own process (so a test can SIGKILL it), on `root`."""
    env = dict(os.environ, GRID_MQTT_URL=url)
    return subprocess.Popen(
        [sys.executable, "-m", "grid_pipeline.cli", "ingest", "--mqtt-version", "5",
         "--topic-root", root, "--client-id", client_id, "--batch-size", "200"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


@contextlib.contextmanager
def running_consumer(db: Database, config: ConsumerConfig) -> Iterator[IngestConsumer]:
    """A consumer started in this process and stopped (counters recorded) afterwards."""
    consumer = IngestConsumer(db, config)
    consumer.start()
    try:
        yield consumer
    finally:
        consumer.stop()


def system_mosquitto() -> str:
    """The machine's Mosquitto (MQTT 5) URL, or skip the test."""
    if not port_accepts("127.0.0.1", 1883):
        pytest.skip("no MQTT broker on 127.0.0.1:1883 (the system Mosquitto is not running)")
    return "mqtt://127.0.0.1:1883"


def drop_session(url: str, client_id: str, protocol: Protocol = "5") -> None:
    """End a persistent session on a shared broker (connect clean, disconnect)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from grid_pipeline.mqtt.broker_url import BrokerAddress, paho_protocol

    address = BrokerAddress.parse(url)
    done = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho_protocol(protocol),
        clean_session=None if protocol == "5" else True,
    )
    client.on_connect = lambda *a: done.set()
    client.connect(address.host, address.port)
    client.loop_start()
    done.wait(5)
    client.disconnect()
    client.loop_stop()


class MosquittoProcess:
    """A private Mosquitto with persistence under `directory`, restartable on the same port."""

    def __init__(self, directory: Path, *, max_inflight: int = 20, max_queued: int = 0) -> None:
        if not Path(MOSQUITTO).exists():
            pytest.skip("mosquitto binary not installed")
        self.port = free_port()
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            # As root Mosquitto drops to user 'mosquitto', which cannot write in our tmp dir.
            f"user {getpass.getuser()}\n"
            "persistence true\n"
            f"persistence_location {directory}/\n"
            f"max_inflight_messages {max_inflight}\n"
            f"max_queued_messages {max_queued}\n"
            "log_dest stderr\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "mosquitto.log").open("ab"),
        )
        wait_for(lambda: port_accepts("127.0.0.1", self.port), 10, "mosquitto to listen")

    def stop(self) -> None:
        """SIGTERM: Mosquitto writes its persistence file on a clean exit."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> MosquittoProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
