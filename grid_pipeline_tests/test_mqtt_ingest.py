"""End-to-end ingestion on the embedded broker (amqtt, MQTT 3.1.1) and the embedded engine."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.mqtt.consumer import ConsumerConfig
from grid_pipeline.mqtt.payload import Reading, encode_batch, encode_reading
from grid_pipeline.mqtt.simulator import (
    FaultRates,
    Publisher,
    Simulator,
    malformed_corpus,
    run_simulation,
)
from grid_pipeline.mqtt.topics import gateway_topic, meter_topic
from grid_pipeline_tests.mqtt_support import (
    clean_slate,
    count,
    distinct_keys,
    publish,
    recent_start,
    reject_reasons,
    running_consumer,
    unique_root,
    wait_for,
)

pytestmark = pytest.mark.integration


def _config(url: str, root: str, **extra: Any) -> ConsumerConfig:
    return ConsumerConfig(
        broker_url=url, client_id=f"ingest-{root}", protocol="3.1.1", topic_root=root, **extra
    )


def _simulate(url: str, sim: Simulator, intervals: int) -> None:
    publisher = Publisher(url, protocol="3.1.1")
    publisher.connect()
    try:
        run_simulation(
            sim, publisher, start=recent_start(intervals), intervals=intervals, speedup=0
        )
    finally:
        publisher.close()


def test_n_readings_give_exactly_n_rows(database: Database, amqtt_url: str) -> None:
    fleet = clean_slate(database)
    root = unique_root()
    sim = Simulator(fleet, topic_root=root)
    with running_consumer(database, _config(amqtt_url, root)) as consumer:
        _simulate(amqtt_url, sim, intervals=6)
        expected = sim.counters.expected_rows
        wait_for(lambda: count(database) >= expected, what=f"{expected} rows")
        assert consumer.wait_idle(quiet_s=0.5)
    assert expected == 6 * len(fleet)
    assert count(database) == expected
    assert distinct_keys(database) == expected
    c = consumer.counters
    assert (c.inserted, c.duplicates, c.rejected) == (expected, 0, 0)
    assert c.acked == c.received == expected
    with connect(database) as conn:
        row = conn.execute(
            "SELECT status, inserted, received, batches, heartbeat_at >= started_at "
            "FROM ingest_runs WHERE run_id = %s",
            (c.run_id,),
        ).fetchone()
    assert row == ("finished", expected, expected, c.batches, True)


def test_duplicates_and_out_of_order_still_exactly_n_rows(
    database: Database, amqtt_url: str
) -> None:
    fleet = clean_slate(database)
    root = unique_root()
    faults = FaultRates(duplicate=0.1, out_of_order=0.1, late=0.02)
    sim = Simulator(fleet, topic_root=root, faults=faults, seed=7)
    with running_consumer(database, _config(amqtt_url, root)) as consumer:
        _simulate(amqtt_url, sim, intervals=8)
        truth = sim.counters
        wait_for(lambda: count(database) >= truth.expected_rows, what="all rows")
        assert consumer.wait_idle(quiet_s=0.5)
    assert truth.duplicates > 0 and truth.out_of_order > 0 and truth.late > 0
    assert count(database) == truth.expected_rows
    assert consumer.counters.duplicates == truth.duplicates
    assert consumer.counters.received == truth.messages


def test_malformed_corpus_is_quarantined_and_valid_neighbours_stored(
    database: Database, amqtt_url: str
) -> None:
    fleet = clean_slate(database)
    root = unique_root()
    feeder = str(fleet["feeder"][0])
    start = recent_start(3)
    sim = Simulator(fleet.head(1), topic_root=root)
    good = [sim.readings(start + i * sim.interval)[0] for i in range(3)]

    def valid(r: Reading) -> tuple[str, bytes]:
        return meter_topic(root, feeder, r.meter_id), encode_reading(r)

    corpus = malformed_corpus(root, feeder, good[0])
    extra = [
        # under the broker's 256 KiB limit (above it the broker drops it: no reject
        # row; the consumer's own size check is unit-tested in test_mqtt_payload)
        (meter_topic(root, feeder, 1), b"\x00" * (200 * 1024)),
        (meter_topic(root, feeder, 1), b'{"v":1,"meter_id":1e999}'),  # huge number
        (meter_topic(root, feeder, 1), b"[1,2,3]"),
        (meter_topic(root, feeder, 2), encode_reading(good[1])),  # topic/payload mismatch
    ]
    messages = [valid(good[0]), *corpus, valid(good[1]), *extra, valid(good[2])]
    with running_consumer(database, _config(amqtt_url, root)) as consumer:
        publish(amqtt_url, messages, protocol="3.1.1")
        bad = len(corpus) + len(extra)
        wait_for(lambda: count(database, "ingest_rejects") >= bad, what="rejects")
        assert consumer.wait_idle(quiet_s=0.5)
        # still alive: a valid message after the poison ones is stored
        publish(amqtt_url, [valid(good[2])], protocol="3.1.1")
        assert consumer.wait_idle(quiet_s=0.5)
    assert count(database) == 3
    reasons = reject_reasons(database)
    assert len(reasons) == bad, reasons
    for fragment in (
        "invalid JSON", "non-finite number literal NaN", "expected a number, got str",
        "not valid UTF-8", "unsupported schema version 99", "in the future",
        "not a finite number", "unknown meter_id", "expected a JSON object",
        "topic meter",
    ):  # fmt: skip
        assert any(fragment in r for r in reasons), (fragment, reasons)
    with connect(database) as conn:
        sizes = [r[0] for r in conn.execute("SELECT length(payload) FROM ingest_rejects")]
    assert 200 * 1024 in sizes  # the raw payload is kept byte for byte


def test_gateway_batches_keep_every_guarantee_through_columnar_validation(
    database: Database, amqtt_url: str
) -> None:
    """Gateway batches (validated column by column) with re-sends and reordering: exactly
    the expected rows; then one batch holding a bad element, an exact and a conflicting
    copy of a stored reading, and two different readings with one new key: the bad
    element and both conflicts are quarantined with their reasons, the first copy wins."""
    fleet = clean_slate(database)
    root = unique_root()
    faults = FaultRates(duplicate=0.1, out_of_order=0.1)
    sim = Simulator(fleet, topic_root=root, gateway_size=10, faults=faults, seed=5)
    start = recent_start(4)
    first = sim.readings(start)[0]
    new = sim.readings(start + 4 * sim.interval)[0]
    feeder = str(fleet.filter(pl.col("meter_id") == first.meter_id)["feeder"][0])
    items = [
        first._replace(power=first.power + 1.0),  # conflicts with the stored reading
        first,  # an exact re-send: a plain duplicate
        new._replace(voltage=-1.0),  # out of range: quarantined alone
        new,  # a new key: stored
        new._replace(power=new.power + 1.0),  # same key later in the batch: a conflict
    ]
    batch = (gateway_topic(root, feeder, 1), encode_batch(f"{feeder}-gw1", items))
    with running_consumer(database, _config(amqtt_url, root)) as consumer:
        publisher = Publisher(amqtt_url, protocol="3.1.1")
        publisher.connect()
        try:
            run_simulation(sim, publisher, start=start, intervals=4, speedup=0)
        finally:
            publisher.close()
        truth = sim.counters
        wait_for(lambda: count(database) >= truth.expected_rows, what="all rows")
        assert consumer.wait_idle(quiet_s=0.5)
        publish(amqtt_url, [batch], protocol="3.1.1")
        wait_for(lambda: count(database, "ingest_rejects") >= 3, what="three rejects")
        assert consumer.wait_idle(quiet_s=0.5)
    assert truth.duplicates > 0 and truth.out_of_order > 0
    assert count(database) == distinct_keys(database) == truth.expected_rows + 1
    reasons = reject_reasons(database)
    assert len(reasons) == 3, reasons
    assert reasons[0].startswith("readings[2]: field 'voltage': -1 outside the physical range")
    for reason, meter in zip(reasons[1:], (first.meter_id, new.meter_id), strict=True):
        assert reason.startswith(f"conflicting duplicate: meter {meter} at "), reasons
    with connect(database) as conn:
        row = conn.execute(
            'SELECT power, voltage FROM energy_readings WHERE meter_id = %s AND "timestamp" = %s',
            (new.meter_id, new.timestamp),
        ).fetchone()
    assert row == (round(new.power * 1000), round(new.voltage * 10))  # W, 0.1 V; first wins
    c = consumer.counters
    assert consumer.conflicts == 2
    # every re-sent reading (a duplicated batch re-sends all of its readings), and the three
    assert c.duplicates == truth.readings - truth.expected_rows + 3
    assert c.rejected == 3
    assert c.acked == c.received == truth.messages + 1
