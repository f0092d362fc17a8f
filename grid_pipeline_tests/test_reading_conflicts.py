"""Conflicting duplicates end to end: a reading re-sent with other values keeps the first
version stored, records both in `reading_conflicts` with the run that received it, an
exact re-send records nothing, and `vee run` flags the reading (duplicate_conflict)."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pytest

from grid_pipeline.cli.main import main
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.mqtt.consumer import ConsumerConfig
from grid_pipeline.mqtt.payload import Reading, encode_reading
from grid_pipeline.mqtt.simulator import Simulator
from grid_pipeline.mqtt.topics import meter_topic
from grid_pipeline_tests.mqtt_support import (
    clean_slate,
    count,
    publish,
    recent_start,
    running_consumer,
    unique_root,
    wait_for,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def empty(database: Database) -> Iterator[pl.DataFrame]:
    """The fleet, with no readings, conflicts, rejects or VEE results."""
    tables = "reading_conflicts, reading_flags, reading_estimates"
    with connect(database) as conn:
        conn.execute(f"TRUNCATE {tables}")
    yield clean_slate(database)
    with connect(database) as conn:
        conn.execute(f"TRUNCATE energy_readings, ingest_rejects, {tables}")


def test_a_conflicting_resend_is_recorded_and_flagged(
    database: Database, amqtt_url: str, empty: pl.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    root = unique_root()
    first = Simulator(empty, topic_root=root, seed=5).readings(recent_start(2))[0]
    feeder = str(empty.filter(pl.col("meter_id") == first.meter_id)["feeder"][0])
    topic = meter_topic(root, feeder, first.meter_id)
    other = first._replace(power=first.power + 0.25, energy=first.energy + 0.021)

    def send(reading: Reading) -> None:
        publish(amqtt_url, [(topic, encode_reading(reading))], protocol="3.1.1")

    config = ConsumerConfig(broker_url=amqtt_url, client_id=f"ingest-{root}",
                            protocol="3.1.1", topic_root=root)  # fmt: skip
    with running_consumer(database, config) as consumer:
        send(first)
        wait_for(lambda: count(database) == 1, what="the first reading")
        send(other)
        wait_for(lambda: count(database, "reading_conflicts") == 1, what="the conflict")
        send(first)  # an exact re-send: a plain duplicate
        wait_for(lambda: consumer.counters.received == 3, what="the third message")
        assert consumer.wait_idle(quiet_s=0.5)
        run_id = consumer.counters.run_id
    assert count(database) == 1 and count(database, "reading_conflicts") == 1
    with connect(database) as conn:
        stored = conn.execute(
            "SELECT power, energy, voltage, current FROM energy_readings"
        ).fetchone()
        conflict = conn.execute(
            'SELECT meter_id, "timestamp", power, energy, stored_power, stored_energy, '
            "stored_voltage, stored_current, run_id, readings_table FROM reading_conflicts"
        ).fetchone()
    assert stored is not None and conflict is not None
    assert stored[:2] == (round(first.power * 1000), round(first.energy * 1000))  # first wins
    assert conflict == (
        first.meter_id, first.timestamp, round(other.power * 1000), round(other.energy * 1000),
        *stored, run_id, "energy_readings",
    )  # fmt: skip

    assert main(["vee", "run", "--day", f"{first.timestamp:%Y-%m-%d}"]) == 0
    assert "duplicate_conflict 1" in capsys.readouterr().out
    with connect(database) as conn:
        flags = conn.execute(
            'SELECT meter_id, "timestamp", detail FROM reading_flags '
            "WHERE rule = 'duplicate_conflict'"
        ).fetchall()
    assert [(m, t) for m, t, _ in flags] == [(first.meter_id, first.timestamp)]
    assert flags[0][2].startswith(f"1 other version(s); last {round(other.power * 1000)} W")
