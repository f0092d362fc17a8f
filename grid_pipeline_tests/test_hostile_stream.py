"""A hostile stream with crashes in the middle: nothing lost, nothing twice, every reject explained.

The adversarial probe of issue 16, kept short enough for every `make test`: the live
simulator's stream with duplicates, reordering and late readings, interleaved with
hostile messages (the malformed corpus, random bytes, a meter writing another meter's
reading, a batch on a meter's topic, a single reading on a gateway topic, a timestamp
off the interval grid, an oversized payload), through the project's own embedded
Mosquitto and `grid-pipeline ingest`, while the consumer is SIGKILLed and restarted and
then the broker is SIGKILLed and restarted by the project's own start path.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from grid_pipeline.app.services import start_broker
from grid_pipeline.config import load_settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.embedded import broker
from grid_pipeline.mqtt.payload import encode_batch, encode_reading
from grid_pipeline.mqtt.simulator import (
    FaultRates,
    Message,
    Publisher,
    SimCounters,
    Simulator,
    malformed_corpus,
    run_simulation,
)
from grid_pipeline.mqtt.topics import gateway_topic, meter_topic
from grid_pipeline_tests.conftest import env_for
from grid_pipeline_tests.mqtt_support import (
    clean_slate,
    consumer_process,
    count,
    distinct_keys,
    recent_start,
    unique_root,
    wait_for,
)

pytestmark = pytest.mark.integration

INTERVALS = 30
OVERSIZED = 300 * 1024  # above the brokers' 256 KiB payload limit


def _hostile(sim: Simulator, root: str, intervals: int, rng: random.Random) -> list[Message]:
    """Messages validation must each quarantine exactly once, built from real readings."""
    start = recent_start(intervals)
    out: list[Message] = []
    feeders = {int(m): str(f) for m, f in sim.fleet.select("meter_id", "feeder").iter_rows()}
    for i in range(0, intervals, 3):
        a, b = sim.readings(start + i * sim.interval)[:2]
        feeder_a = feeders[a.meter_id]
        out += malformed_corpus(root, feeder_a, a)
        out += [
            (meter_topic(root, feeder_a, a.meter_id), rng.randbytes(rng.randint(1, 400))),
            # meter a publishes meter b's reading on its own topic
            (meter_topic(root, feeder_a, a.meter_id), encode_reading(b)),
            # a batch on a meter's topic (only gateways send batches)
            (meter_topic(root, feeder_a, a.meter_id), encode_batch("gw1", [a, b])),
            # a single reading on a gateway topic
            (gateway_topic(root, feeder_a, 1), encode_reading(a)),
            # off the 5-minute grid
            (meter_topic(root, feeder_a, a.meter_id),
             encode_reading(a._replace(timestamp=a.timestamp + timedelta(seconds=7)))),
        ]  # fmt: skip
    # Distinct messages only: the test matches quarantined rows to them one to one.
    return list(dict.fromkeys(out))


def _publish(url: str, messages: list[Message], done: list[int]) -> None:
    publisher = Publisher(url, protocol="5")
    publisher.connect()
    try:
        for topic, payload in messages:
            publisher.publish(topic, payload)
        publisher.flush()
    finally:
        publisher.close()
    done.append(len(messages))


def _simulate(
    url: str, sim: Simulator, start: datetime, intervals: int, done: list[SimCounters]
) -> None:
    publisher = Publisher(url, protocol="5")
    publisher.connect()
    try:
        speedup = sim.interval.total_seconds() / 0.15
        done.append(run_simulation(sim, publisher, start=start, intervals=intervals,
                                   speedup=speedup))  # fmt: skip
    finally:
        publisher.close()


def _send_oversized(url: str, message: Message) -> None:
    """A hostile client's oversized publish on its own connection (the broker may cut it)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from grid_pipeline.mqtt.broker_url import BrokerAddress

    address = BrokerAddress.parse(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"hostile-{os.getpid()}")
    client.connect(address.host, address.port)
    client.loop_start()
    client.publish(*message, qos=0).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def _crash(consumer: subprocess.Popen[bytes]) -> None:
    consumer.send_signal(signal.SIGKILL)
    consumer.wait(10)


def _quarantined(db: Database) -> list[tuple[str, bytes, str]]:
    with connect(db) as conn:
        rows = conn.execute("SELECT topic, payload, reason FROM ingest_rejects").fetchall()
    return [(str(t), bytes(p), str(r)) for t, p, r in rows]


def test_hostile_stream_with_consumer_and_broker_crashes_loses_nothing(
    database: Database, tmp_path: Path
) -> None:
    fleet = clean_slate(database)
    root = unique_root()
    settings = load_settings(env_for(tmp_path / "grid"))
    url = start_broker(settings)
    sim = Simulator(fleet, topic_root=root, seed=7,
                    faults=FaultRates(duplicate=0.05, out_of_order=0.05, late=0.02))  # fmt: skip
    hostile = _hostile(Simulator(fleet, topic_root=root), root, INTERVALS, random.Random(7))
    oversized = (meter_topic(root, str(fleet["feeder"][0]), 1), b"{" + b" " * OVERSIZED + b"}")
    log = tmp_path / "consumer.log"
    start, half = recent_start(INTERVALS), INTERVALS // 2
    consumers = [consumer_process(url, root, f"ingest-{root}", log)]
    try:
        wait_for(lambda: "subscribed to" in log.read_text(), 30, "the consumer's subscription")
        # 1. The first half of the stream and every hostile message at once; the
        #    consumer is SIGKILLed mid-stream (no final commit, no acks) and restarted.
        sim_done: list[SimCounters] = []
        hostile_done: list[int] = []
        threads = [
            threading.Thread(target=_simulate, args=(url, sim, start, half, sim_done),
                             daemon=True),
            threading.Thread(target=_publish, args=(url, hostile, hostile_done), daemon=True),
        ]  # fmt: skip
        for thread in threads:
            thread.start()
        _send_oversized(url, oversized)
        wait_for(lambda: count(database) >= 3 * len(fleet), 60, "first rows")
        _crash(consumers[-1])
        consumers.append(consumer_process(url, root, f"ingest-{root}", log))
        for thread in threads:
            thread.join(120)
        assert sim_done and hostile_done, "a publisher did not finish"

        # 2. The consumer crashes again; the second half is published and acknowledged
        #    by the broker while nobody consumes; then the broker crashes (SIGKILL of
        #    Mosquitto itself) and comes back through the project's start path.
        _crash(consumers[-1])
        _simulate(url, sim, start + half * sim.interval, INTERVALS - half, sim_done)
        time.sleep(0.5)  # acknowledged before the crash (see docs/mqtt.md guarantees)
        wrapper = broker.status(settings)
        assert wrapper is not None
        os.kill(int(wrapper.extra["mosquitto_pid"]), signal.SIGKILL)  # the broker itself
        wait_for(lambda: broker.status(settings) is None, 20, "the broker to be seen dead")
        assert start_broker(settings) == url  # same port, same persistence file
        consumers.append(consumer_process(url, root, f"ingest-{root}", log))

        expected = sim.counters.expected_rows
        try:
            wait_for(lambda: count(database) >= expected and len(_quarantined(database))
                     >= len(hostile), 60, "every reading and reject")  # fmt: skip
        except AssertionError:
            raise AssertionError(
                f"stored {count(database)} of {expected} readings, quarantined "
                f"{len(_quarantined(database))} of {len(hostile)} messages; "
                f"{sim.counters}\n{log.read_text()[-1500:]}"
            ) from None
    finally:
        for proc in consumers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        broker.stop(settings)

    assert count(database) == distinct_keys(database) == expected, "lost or duplicated readings"
    assert sim.counters.intervals == INTERVALS and sim.counters.duplicates > 0
    rejects = _quarantined(database)
    assert all(reason.strip() for _, _, reason in rejects), "a reject without a reason"
    # Every hostile message quarantined; a redelivery after the consumer's crash may
    # quarantine one a second time, but nothing else is, and no valid reading is.
    assert {(t, p) for t, p, _ in rejects} == set(hostile)
    assert all(len(p) < OVERSIZED for _, p, _ in rejects), "the broker let 300 KiB through"
    assert consumers[-1].returncode == 0, log.read_text()[-2000:]
