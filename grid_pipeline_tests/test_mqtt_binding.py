"""Who may write what, the reading grid and retained messages, through a real Mosquitto.

The pure rules are unit-tested in test_mqtt_payload.py; here the consumer applies
them with the fleet it loads from `meters` (id and feeder) and its interval, and
keeps the quarantine idempotent across restarts of a persistent session.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import polars as pl
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.mqtt.consumer import ConsumerConfig
from grid_pipeline.mqtt.payload import Reading, encode_batch, encode_reading
from grid_pipeline.mqtt.topics import gateway_topic, meter_topic
from grid_pipeline_tests.mqtt_support import (
    MosquittoProcess,
    clean_slate,
    count,
    publish,
    recent_start,
    reject_reasons,
    running_consumer,
    unique_root,
    wait_for,
)

pytestmark = pytest.mark.integration

FIVE_MIN = timedelta(minutes=5)


def _config(url: str, root: str) -> ConsumerConfig:
    return ConsumerConfig(broker_url=url, client_id=f"ingest-{root}", topic_root=root,
                          interval=FIVE_MIN, batch_ms=20)  # fmt: skip


def _two_feeders(fleet: pl.DataFrame) -> tuple[int, int, str, str]:
    """Meter a on feeder fa, meter b on another feeder fb."""
    rows = list(zip(fleet["meter_id"].to_list(), fleet["feeder"].to_list(), strict=True))
    a, fa = rows[0]
    b, fb = next((m, f) for m, f in rows if f != fa)
    return a, b, fa, fb


def _stored(db: Database) -> list[tuple[int, int]]:
    """(meter, power in stored W) of every stored reading."""
    with connect(db) as conn:
        rows = conn.execute("SELECT meter_id, power FROM energy_readings ORDER BY 1").fetchall()
    return [(int(r[0]), int(r[1])) for r in rows]


def test_foreign_writes_off_grid_resends_and_conflicts_are_quarantined(
    database: Database, tmp_path: Path
) -> None:
    fleet = clean_slate(database, meters=120)  # three feeders
    a, b, fa, fb = _two_feeders(fleet)
    root = unique_root()
    ts = recent_start(2)
    reading_a = Reading(ts, a, 1.0, 0.0833, 230.0, 4.35)
    reading_b = Reading(ts, b, 2.0, 0.1667, 231.0, 8.7)
    attacks = [
        (meter_topic(root, fa, a), encode_batch("x", [reading_b])),  # batch on a meter topic
        (meter_topic(root, fa, a), encode_reading(reading_b)),  # meter b on meter a's topic
        (meter_topic(root, fb, a), encode_reading(reading_a)),  # meter a on a foreign feeder
        (gateway_topic(root, fa, 1), encode_batch(f"{fa}-gw1", [reading_a, reading_b])),
        (meter_topic(root, fa, a),  # the re-send 30 s late: would be a second row
         encode_reading(reading_a._replace(timestamp=ts + timedelta(seconds=30)))),
    ]  # fmt: skip
    conflicting = reading_a._replace(power=9.9)
    resends = [(meter_topic(root, fa, a), encode_reading(conflicting)),
               (meter_topic(root, fa, a), encode_reading(reading_a))]  # fmt: skip
    with (
        MosquittoProcess(tmp_path / "mosquitto") as broker,
        running_consumer(database, _config(broker.url, root)) as consumer,
    ):
        publish(broker.url, attacks)
        wait_for(lambda: count(database, "ingest_rejects") >= 5, 30, "5 rejects")
        assert consumer.wait_idle(quiet_s=0.5)
        publish(broker.url, resends)  # after the first copy is stored: the conflict is later
        wait_for(lambda: count(database, "ingest_rejects") >= 6, 30, "the conflict")
        assert consumer.wait_idle(quiet_s=0.5)
    assert _stored(database) == [(a, 1000)]  # only meter a's own reading; first write wins
    reasons = reject_reasons(database)
    assert len(reasons) == 6, reasons
    expected = [
        "batch on a meter topic",
        f"meter {b} on meter {a}'s topic",
        f"meter {a} is not on feeder {fb}",
        f"readings[1]: meter {b} is not on feeder {fa}",
        "timestamp not on the 5 min grid",
        "conflicting duplicate",
    ]
    for fragment, reason in zip(expected, reasons, strict=True):
        assert reason.startswith(fragment), (fragment, reasons)
    # the kept row as people read it (stored 1000 W, 83 Wh, 2300 x 0.1 V, 4350 mA)
    assert "stored with power 1 kW, energy 0.083 kWh, voltage 230 V, current 4.35 A;" in reasons[5]
    with connect(database) as conn:
        row = conn.execute(
            "SELECT payload FROM ingest_rejects WHERE reason LIKE 'conflicting duplicate%'"
        ).fetchone()
    assert row is not None and bytes(row[0]) == encode_reading(conflicting)
    assert consumer.conflicts == 1
    assert consumer.counters.duplicates == 2  # the conflicting copy and the exact re-send
    assert consumer.counters.rejected == 6


def _publish_retained(url: str, messages: list[tuple[str, bytes]]) -> None:
    port = int(url.rsplit(":", 1)[1])
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert connected.wait(10)
        for topic, payload in messages:
            client.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def test_retained_messages_are_not_quarantined_again_on_every_restart(
    database: Database, tmp_path: Path
) -> None:
    fleet = clean_slate(database, meters=120)  # three feeders
    a, b, fa, fb = _two_feeders(fleet)
    root = unique_root()
    valid = Reading(recent_start(2), b, 2.0, 0.1667, 231.0, 8.7)
    retained = [
        (meter_topic(root, fa, a), b"not json"),
        (meter_topic(root, fb, b), encode_reading(valid)),
    ]
    with MosquittoProcess(tmp_path / "mosquitto") as broker:
        config = _config(broker.url, root)
        with running_consumer(database, config) as consumer:
            _publish_retained(broker.url, retained)
            wait_for(lambda: consumer.counters.received >= 2, 30, "the live copies")
            assert consumer.wait_idle(quiet_s=0.5)
        assert (count(database), count(database, "ingest_rejects")) == (1, 1)
        for _ in range(2):  # each restart resubscribes: the broker replays retained messages
            with running_consumer(database, config) as consumer:
                wait_for(lambda c=consumer: c.counters.received >= 2, 30, "the replays")
                assert consumer.wait_idle(quiet_s=0.5)
            assert consumer.retained_ignored == 2
            assert consumer.counters.acked == 2  # acknowledged: not redelivered either
    assert (count(database), count(database, "ingest_rejects")) == (1, 1)
    assert reject_reasons(database)[0].startswith("invalid JSON")


def test_a_meter_added_after_start_is_accepted_in_a_gateway_batch(
    database: Database, tmp_path: Path
) -> None:
    # A gateway batch's reject reason reads "readings[0]: unknown meter_id ...", and the
    # refresh-on-a-miss looked only at reasons that start with "unknown meter_id": meters
    # loaded after the consumer started were quarantined for up to a minute (25,000 of
    # a simulated day's 144,000 readings, when the fleet was loaded right after start).
    fleet = clean_slate(database, meters=20)
    root = unique_root()
    ts = recent_start(2)
    with (
        MosquittoProcess(tmp_path / "mosquitto") as broker,
        running_consumer(database, _config(broker.url, root)) as consumer,
    ):
        bigger = clean_slate(database, meters=40)  # 20 new meters, same feeders
        newcomer = bigger.filter(~bigger["meter_id"].is_in(fleet["meter_id"].to_list())).row(
            0, named=True
        )
        reading = Reading(ts, newcomer["meter_id"], 1.0, 0.083, 230.0, 4.35)
        time.sleep(5.5)  # past the consumer's minimum time between two fleet reloads
        publish(broker.url, [(gateway_topic(root, newcomer["feeder"], 1),
                              encode_batch(f"{newcomer['feeder']}-gw1", [reading]))])  # fmt: skip
        wait_for(lambda: count(database) + count(database, "ingest_rejects") >= 1, 30, "a row")
        assert consumer.wait_idle(quiet_s=0.5)
    assert reject_reasons(database) == []
    assert _stored(database) == [(newcomer["meter_id"], 1000)]
