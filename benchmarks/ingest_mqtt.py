"""End-to-end MQTT ingestion benchmark: sustained readings/s at QoS 1 with zero loss.

Everything runs on private instances (a temp GRID_DATA_DIR with its own embedded
TimescaleDB, a private Mosquitto with persistence and an unlimited per-client
queue), so a benchmark never touches the user's data or the system broker.
The publisher runs in a separate process: it pre-encodes its messages, then
publishes them as fast as the broker acknowledges (QoS 1).

Scenarios, in one run:

1. ours, one reading per message (MQTT 5, Receive Maximum 10,000);
2. ours, gateway batches (many readings per message), validated column by
   column (`payload.decode_many`);
3. the same gateway batches validated message by message and reading by
   reading (`payload.decode`, the consumer's fallback and its former path):
   the before/after of columnar validation, side by side;
4. ours, one reading per message with Receive Maximum 20 (Mosquitto's default
   inflight window): what ack-after-commit costs when the window is small;
5. null subscriber: counts deliveries and auto-acks, no validation, no
   database: the broker and publisher's own ceiling for one reading per message
   on this machine, which no subscriber can beat;
6. database alone: the gateway scenario's readings written straight to the
   engine in the consumer's transaction size (no MQTT, no validation): the
   engine's own ceiling for gateway ingestion;
7. naive: INSERT + commit per message inside on_message, auto-ack.

Each scenario reports readings/s = readings / (first publish -> last commit),
verifies `count(*)` equals what was sent (0 loss), and the writer-thread time
split (the validator thread's Python vs the writer thread's database time, which
overlap) that names the bottleneck. With ``--repeat N``
every scenario runs N times and the table shows the median run (and the range).

    .venv/bin/python benchmarks/ingest_mqtt.py [--meters 500] [--intervals 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import getpass
import multiprocessing as mp
import os
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import polars as pl
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from grid_pipeline.app.services import start_database
from grid_pipeline.config import load_settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.units import stored_value
from grid_pipeline.db.writer import writer_for
from grid_pipeline.embedded import engine
from grid_pipeline.embedded.process import free_port, port_accepts
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.fleet.readings import generate_readings
from grid_pipeline.mqtt.consumer import ConsumerConfig, Delivery, IngestConsumer
from grid_pipeline.mqtt.payload import READING_FIELDS, Limits, Reject, decode
from grid_pipeline.mqtt.simulator import Publisher, Simulator
from grid_pipeline.storage.historic import floor_time, replace_fleet

INTERVAL = timedelta(minutes=5)


@dataclass
class Result:
    name: str
    messages: int
    readings: int
    seconds: float
    stored: int
    publish_s: float
    detail: str

    @property
    def rate(self) -> float:
        return self.readings / self.seconds if self.seconds else 0.0


# ----------------------------------------------------------------------------- publisher process


def _publisher_main(
    url: str, meters: int, intervals: int, gateway: int, root: str, conn: Any
) -> None:
    """Separate process: build all messages first, then publish them flat out."""
    sim = Simulator(build_fleet(meters, 42), topic_root=root, gateway_size=gateway)
    start = floor_time(datetime.now(UTC), INTERVAL) - INTERVAL * intervals
    messages = [m for i in range(intervals) for m in sim.tick(start + i * INTERVAL)]
    publisher = Publisher(url, protocol="5", max_inflight=1000)
    publisher.connect()
    conn.send(("ready", len(messages), sim.counters.readings))
    conn.recv()  # go
    began = time.time()
    for topic, payload in messages:
        publisher.publish(topic, payload)
    publisher.flush(600)
    conn.send(("done", began, time.time() - began, publisher.max_inflight))
    publisher.close()


class PublisherProcess:
    def __init__(self, url: str, meters: int, intervals: int, gateway: int, root: str) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_publisher_main, args=(url, meters, intervals, gateway, root, child)
        )
        self.proc.start()
        _, self.messages, self.readings = self.conn.recv()

    def go(self) -> None:
        self.conn.send("go")

    def wait(self) -> tuple[float, float, int]:
        _, began, publish_s, inflight = self.conn.recv()
        self.proc.join(30)
        return began, publish_s, inflight


# ----------------------------------------------------------------------------- brokers and db


class Mosquitto:
    def __init__(self, directory: Path, max_inflight: int = 20) -> None:
        self.port = free_port()
        conf = directory / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
            f"persistence true\npersistence_location {directory}/\n"
            f"max_inflight_messages {max_inflight}\nmax_queued_messages 0\n"
        )
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not port_accepts("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not start")
            time.sleep(0.05)
        self.url = f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _reset(db: Database, meters: int) -> None:
    replace_fleet(db, build_fleet(meters, 42))
    with connect(db) as conn:
        conn.execute("TRUNCATE energy_readings")
        conn.execute("TRUNCATE ingest_rejects")


def _count(db: Database) -> int:
    with connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM energy_readings").fetchone()
    return int(row[0]) if row else 0


# ----------------------------------------------------------------------------- scenarios


class PerReadingConsumer(IngestConsumer):
    """The consumer with `decode` message by message (its fallback): the 'before'."""

    def _validate(self, batch: list[Delivery]) -> tuple[pl.DataFrame, list[Reject], list[str]]:
        live = [d for d in batch if not d.retained]
        frame, rejects = self._validate_each(live, datetime.now(UTC))
        return frame, rejects, [d.topic for d in live]


def run_ours(
    db: Database, url: str, name: str, meters: int, intervals: int, gateway: int,
    receive_maximum: int = 10_000, consumer_class: type[IngestConsumer] = IngestConsumer,
) -> Result:  # fmt: skip
    _reset(db, meters)
    root = f"b{os.getpid()}{name[:3]}{receive_maximum}{uuid.uuid4().hex[:6]}"
    config = ConsumerConfig(broker_url=url, client_id=f"bench-{root}", topic_root=root,
                            receive_maximum=receive_maximum)  # fmt: skip
    consumer = consumer_class(db, config)
    consumer.start()
    pub = PublisherProcess(url, meters, intervals, gateway, root)
    pub.go()
    while consumer.counters.inserted < pub.readings:
        time.sleep(0.005)
    done = time.time()
    began, publish_s, inflight = pub.wait()
    counters = consumer.stop()
    stored = _count(db)
    elapsed = done - began
    r = counters.report()
    detail = (
        f"batches {r['batches']}, avg {r['readings'] / max(1, r['batches']):.0f} readings/batch, "
        f"max {r['max_batch']} messages/batch, "
        f"commit p50/p95 {r['commit_ms_p50']}/{r['commit_ms_p95']} ms; busy: validator thread "
        f"{counters.validate_s / elapsed:.0%} ({counters.validate_s:.2f} s), writer thread "
        f"{counters.write_s / elapsed:.0%} ({counters.write_s:.2f} s, the database); "
        f"publisher alone {pub.messages / publish_s:,.0f} msg/s (inflight {inflight})"
    )
    return Result(name, pub.messages, pub.readings, elapsed, stored, publish_s, detail)


def _subscribe_and_publish(
    url: str,
    root: str,
    client_id: str,
    on_message: Callable[..., None],
    meters: int,
    intervals: int,
    finished: Callable[[PublisherProcess], bool],
) -> tuple[PublisherProcess, float]:
    """A plain paho subscriber (QoS 1, auto-ack) on `root`, then the publisher process;
    returns the publisher and the wall time at which `finished(publisher)` held."""
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)  # fmt: skip
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_connect = lambda c, *a: c.subscribe(f"{root}/+/+/reading", qos=1)
    host, port = url.removeprefix("mqtt://").split(":")
    client.connect(host, int(port))
    client.loop_start()
    subscribed.wait(10)
    pub = PublisherProcess(url, meters, intervals, 0, root)
    pub.go()
    while not finished(pub):
        time.sleep(0.005)
    done = time.time()
    client.disconnect()
    client.loop_stop()
    return pub, done


def run_null(url: str, meters: int, intervals: int) -> Result:
    """Counts deliveries and auto-acks (QoS 1): the broker + publisher ceiling."""
    root = f"z{os.getpid()}{uuid.uuid4().hex[:6]}"
    received = 0

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        nonlocal received
        received += 1

    pub, done = _subscribe_and_publish(url, root, f"null-{root}", on_message, meters, intervals,
                                       lambda p: received >= p.messages)  # fmt: skip
    began, publish_s, _ = pub.wait()
    detail = (
        "no validation, no database: what the broker delivers to one subscriber while "
        f"one publisher sends at QoS 1; publisher alone {pub.messages / publish_s:,.0f} msg/s"
    )
    return Result("null subscriber (count + auto-ack; ceiling)", pub.messages, pub.readings,
                  done - began, pub.readings, publish_s, detail)  # fmt: skip


def run_database_alone(db: Database, meters: int, intervals: int, per_commit: int) -> Result:
    """The readings written by the consumer's writer, one transaction per ``per_commit``."""
    _reset(db, meters)
    fleet = build_fleet(meters, 42)
    start = floor_time(datetime.now(UTC), INTERVAL) - INTERVAL * intervals
    frame = generate_readings(fleet, start, start + INTERVAL * intervals, INTERVAL, 42, "UTC")
    writer = writer_for(db)
    began = time.perf_counter()
    for batch in frame.iter_slices(per_commit):
        with connect(db) as conn:
            writer.write(conn, batch)
    seconds = time.perf_counter() - began
    detail = f"{per_commit:,} readings per transaction, the consumer's writer; no MQTT"
    return Result("database alone (the engine's ceiling)", -(-frame.height // per_commit),
                  frame.height, seconds, _count(db), seconds, detail)  # fmt: skip


def run_naive(db: Database, url: str, meters: int, intervals: int) -> Result:
    """INSERT + commit per message in on_message, auto-ack (the textbook subscriber)."""
    _reset(db, meters)
    root = f"n{os.getpid()}{uuid.uuid4().hex[:6]}"
    known = frozenset(range(1, meters + 1))
    inserted = 0
    db_conn = psycopg.connect(db.url, autocommit=True, prepare_threshold=None)

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        nonlocal inserted
        result = decode(msg.topic, bytes(msg.payload), limits=Limits(), now=datetime.now(UTC),
                        known_meters=known)  # fmt: skip
        for r in result.readings:
            values = [stored_value(name, getattr(r, name)) for name in READING_FIELDS]
            db_conn.execute(  # the table stores W, Wh, 0.1 V and mA
                'INSERT INTO energy_readings ("timestamp", meter_id, power, energy, voltage, '
                "current) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (r.timestamp, r.meter_id, *values),
            )
            inserted += 1

    pub, done = _subscribe_and_publish(url, root, f"naive-{root}", on_message, meters,
                                       intervals, lambda p: inserted >= p.readings)  # fmt: skip
    began, publish_s, _ = pub.wait()
    db_conn.close()
    stored = _count(db)
    elapsed = done - began
    detail = "one transaction and one round trip per reading; network thread blocked on the DB"
    return Result("naive (INSERT+commit per message, auto-ack)", pub.messages, pub.readings,
                  elapsed, stored, publish_s, detail)  # fmt: skip


def _median(runs: list[Result]) -> tuple[Result, str]:
    """The median run by readings/s (the lower one of an even count), and the range."""
    ordered = sorted(runs, key=lambda r: r.rate)
    middle = ordered[(len(ordered) - 1) // 2]
    if len(runs) == 1:
        return middle, ""
    rates = [r.rate for r in runs]
    return middle, f"{min(rates):,.0f}-{max(rates):,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=500)
    parser.add_argument("--intervals", type=int, default=60, help="single-message scenario")
    # One gateway per feeder (~50 meters each by default), hence few readings per message
    # unless the fleet is built with fewer feeders; 2000 meters -> 40 feeders.
    parser.add_argument("--gateway-meters", type=int, default=2000)
    parser.add_argument("--gateway-intervals", type=int, default=150)
    parser.add_argument("--gateway-size", type=int, default=500)
    parser.add_argument("--naive-intervals", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario (median shown)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="grid-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRID_")}
        env.update(GRID_DATA_DIR=f"{tmp}/grid", GRID_DB_PORT=str(free_port()),
                   GRID_MQTT_PORT=str(free_port()))  # fmt: skip
        settings = load_settings(env)
        os.environ.update(env)
        db = start_database(settings)
        (Path(tmp) / "mosquitto").mkdir()
        # 1000: the publisher's inbound window (Mosquitto announces max_inflight_messages as
        # its Receive Maximum); the consumer's window is its own Receive Maximum (MQTT 5).
        broker = Mosquitto(Path(tmp) / "mosquitto", max_inflight=1000)
        url = broker.url
        gw = f"(<= {args.gateway_size}/feeder)"
        # what one consumer transaction holds in the gateway scenario (batch_bytes bounds it)
        gateway_batch_rows = 18_750
        scenarios: list[Callable[[], Result]] = [
            lambda: run_ours(db, url, "ours, 1 reading/message", args.meters, args.intervals, 0),
            lambda: run_ours(db, url, f"ours, gateway batches {gw}, columnar",
                             args.gateway_meters, args.gateway_intervals, args.gateway_size),
            lambda: run_ours(db, url, f"ours, gateway batches {gw}, per reading",
                             args.gateway_meters, args.gateway_intervals, args.gateway_size,
                             consumer_class=PerReadingConsumer),
            lambda: run_ours(db, url, "ours, 1 reading/message, Receive Maximum 20",
                             args.meters, max(1, args.intervals // 3), 0, receive_maximum=20),
            lambda: run_null(url, args.meters, args.intervals),
            lambda: run_database_alone(db, args.gateway_meters, args.gateway_intervals,
                                       per_commit=gateway_batch_rows),
            lambda: run_naive(db, url, args.meters, args.naive_intervals),
        ]  # fmt: skip
        runs: list[list[Result]] = [[] for _ in scenarios]
        try:
            for _ in range(args.repeat):  # interleaved: a slow spell hits every scenario
                for index, scenario in enumerate(scenarios):
                    runs[index].append(scenario())
        finally:
            broker.stop()
            engine.stop(settings)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nMQTT ingestion benchmark: QoS 1, Mosquitto 2 (MQTT 5), embedded TimescaleDB, "
          f"{os.cpu_count()} cores, load average at the end {load} (other work on the machine "
          f"lowers every number); median of {args.repeat} run(s) per scenario\n")  # fmt: skip
    print(f"{'scenario':<56} {'messages':>9} {'readings':>9} {'per msg':>7} {'seconds':>8} "
          f"{'readings/s':>11} {'range':>15} {'stored':>8} loss")  # fmt: skip
    results: list[Result] = []
    for scenario_runs in runs:
        r, spread = _median(scenario_runs)
        results.append(r)
        loss = max(x.readings - x.stored for x in scenario_runs)  # the worst run's loss
        print(f"{r.name:<56} {r.messages:>9,} {r.readings:>9,} {r.readings / r.messages:>7.0f} "
              f"{r.seconds:>8.2f} {r.rate:>11,.0f} {spread:>15} {r.stored:>8,} {loss}")  # fmt: skip
    print()
    for r in results:
        print(f"- {r.name}: {r.detail}")
    ours, gateway, per_reading, small_window, ceiling, engine_alone, naive = results
    print(f"\nratios: single/naive {ours.rate / naive.rate:.1f}x, gateway/naive "
          f"{gateway.rate / naive.rate:.1f}x, gateway/single {gateway.rate / ours.rate:.1f}x, "
          f"gateway columnar/per reading {gateway.rate / per_reading.rate:.2f}x, "
          f"Receive Maximum 10000 vs 20: {ours.rate / small_window.rate:.1f}x, "
          f"single/ceiling {ours.rate / ceiling.rate:.0%}, ceiling/naive "
          f"{ceiling.rate / naive.rate:.1f}x, gateway/database alone "
          f"{gateway.rate / engine_alone.rate:.0%}")  # fmt: skip


if __name__ == "__main__":
    main()
