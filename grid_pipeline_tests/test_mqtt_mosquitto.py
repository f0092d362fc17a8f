"""Ingestion on Mosquitto (MQTT 5): persistent sessions, crashes, restarts, shared subscriptions.

The system Mosquitto on 127.0.0.1:1883 serves the tests that leave it running
(each uses its own topic root and drops its sessions afterwards); tests that
restart a broker start their own Mosquitto with persistence in a temp directory.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from grid_pipeline.db.connection import Database
from grid_pipeline.mqtt.consumer import ConsumerConfig, IngestConsumer
from grid_pipeline.mqtt.simulator import Publisher, SimCounters, Simulator, run_simulation
from grid_pipeline_tests.mqtt_support import (
    MosquittoProcess,
    clean_slate,
    consumer_process,
    count,
    distinct_keys,
    drop_session,
    recent_start,
    running_consumer,
    system_mosquitto,
    unique_root,
    wait_for,
)

pytestmark = pytest.mark.integration


def _publish_in_background(
    url: str, sim: Simulator, intervals: int, tick_s: float
) -> tuple[threading.Thread, list[SimCounters]]:
    """Publish `intervals` ticks, one every `tick_s` seconds, from a thread."""
    done: list[SimCounters] = []

    def work() -> None:
        publisher = Publisher(url, protocol="5")
        publisher.connect()
        try:
            speedup = sim.interval.total_seconds() / tick_s if tick_s else 0.0
            start = recent_start(intervals)
            done.append(run_simulation(sim, publisher, start=start, intervals=intervals,
                                       speedup=speedup))  # fmt: skip
        finally:
            publisher.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, done


def test_system_mosquitto_n_readings_exactly_n_rows(database: Database) -> None:
    url = system_mosquitto()
    fleet = clean_slate(database)
    root = unique_root()
    config = ConsumerConfig(broker_url=url, client_id=f"ingest-{root}", topic_root=root)
    sim = Simulator(fleet, topic_root=root, gateway_size=7)
    try:
        with running_consumer(database, config) as consumer:
            thread, done = _publish_in_background(url, sim, intervals=5, tick_s=0.0)
            thread.join(60)
            wait_for(lambda: count(database) >= done[0].expected_rows, what="all rows")
            assert consumer.wait_idle(quiet_s=0.5)
    finally:
        drop_session(url, config.client_id)
    assert count(database) == distinct_keys(database) == 5 * len(fleet)
    assert consumer.counters.duplicates == 0


def test_two_shared_subscription_workers_split_the_stream(database: Database) -> None:
    url = system_mosquitto()
    fleet = clean_slate(database)
    root = unique_root()
    configs = [
        ConsumerConfig(
            broker_url=url,
            client_id=f"ingest-{root}-{i}",
            topic_root=root,
            share_group=f"g{root}",
            batch_ms=20,
        )
        for i in (1, 2)
    ]
    sim = Simulator(fleet, topic_root=root)
    try:
        with (
            running_consumer(database, configs[0]) as one,
            running_consumer(database, configs[1]) as two,
        ):
            thread, done = _publish_in_background(url, sim, intervals=10, tick_s=0.02)
            thread.join(60)
            expected = done[0].expected_rows
            wait_for(lambda: count(database) >= expected, what=f"{expected} rows")
            assert one.wait_idle(quiet_s=0.5) and two.wait_idle(quiet_s=0.5)
    finally:
        for config in configs:
            drop_session(url, config.client_id)
    assert count(database) == distinct_keys(database) == expected == 10 * len(fleet)
    assert one.counters.inserted > 0 and two.counters.inserted > 0
    assert one.counters.inserted + two.counters.inserted == expected
    assert one.counters.received + two.counters.received == expected  # each message once


def test_sigkill_consumer_mid_stream_then_restart_exactly_n_rows(
    database: Database, tmp_path: Path
) -> None:
    fleet = clean_slate(database)
    root = unique_root()
    client_id = f"ingest-{root}"
    log = tmp_path / "consumer.log"
    with MosquittoProcess(tmp_path / "mosquitto") as broker:
        first = consumer_process(broker.url, root, client_id, log)
        try:
            wait_for(lambda: "subscribed to" in log.read_text(), 30, "the consumer's subscription")
            sim = Simulator(fleet, topic_root=root)
            thread, done = _publish_in_background(broker.url, sim, intervals=40, tick_s=0.05)
            wait_for(lambda: count(database) >= 5 * len(fleet), 30, "first rows")
            first.send_signal(signal.SIGKILL)  # no commit/ack bookkeeping: a real crash
            first.wait(10)
            stored_at_crash = count(database)
            second = consumer_process(broker.url, root, client_id, log)
            try:
                thread.join(60)
                expected = done[0].expected_rows
                wait_for(lambda: count(database) >= expected, 60, f"{expected} rows")
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(30)
        finally:
            if first.poll() is None:
                first.kill()
    assert stored_at_crash < expected, "the crash should happen mid-stream"
    assert count(database) == distinct_keys(database) == expected == 40 * len(fleet)
    assert second.returncode == 0, log.read_text()[-2000:]


def test_broker_restart_mid_stream_exactly_n_rows(database: Database, tmp_path: Path) -> None:
    fleet = clean_slate(database)
    root = unique_root()
    broker = MosquittoProcess(tmp_path / "mosquitto")
    broker.start()
    try:
        config = ConsumerConfig(broker_url=broker.url, client_id=f"ingest-{root}",
                                topic_root=root)  # fmt: skip
        consumer = IngestConsumer(database, config)
        consumer.start()
        try:
            sim = Simulator(fleet, topic_root=root)
            thread, done = _publish_in_background(broker.url, sim, intervals=40, tick_s=0.05)
            wait_for(lambda: count(database) >= 5 * len(fleet), 30, "first rows")
            broker.stop()
            stored_while_down = count(database)
            broker.start()
            thread.join(90)
            expected = done[0].expected_rows
            wait_for(lambda: count(database) >= expected, 60, f"{expected} rows")
            assert consumer.wait_idle(quiet_s=0.5)
        finally:
            counters = consumer.stop()
    finally:
        broker.stop()
    assert stored_while_down < expected, "the restart should happen mid-stream"
    assert count(database) == distinct_keys(database) == expected == 40 * len(fleet)
    assert counters.connects >= 2


def test_queue_overflow_loses_nothing(database: Database, tmp_path: Path) -> None:
    """A queue smaller than the inflight window: overflowed deliveries come back."""
    fleet = clean_slate(database)
    root = unique_root()
    with MosquittoProcess(tmp_path / "mosquitto", max_inflight=100) as broker:
        config = ConsumerConfig(broker_url=broker.url, client_id=f"ingest-{root}",
                                topic_root=root, queue_size=10, batch_size=10,
                                receive_maximum=100)  # fmt: skip
        with running_consumer(database, config) as consumer:
            sim = Simulator(fleet, topic_root=root)
            thread, done = _publish_in_background(broker.url, sim, intervals=5, tick_s=0.0)
            thread.join(60)
            expected = done[0].expected_rows
            wait_for(lambda: count(database) >= expected, 60, f"{expected} rows")
            assert consumer.wait_idle(quiet_s=0.5)
    assert count(database) == expected == 5 * len(fleet)
    assert consumer.counters.overflows > 0
