"""Broker durability: QoS 1 readings acknowledged, then a Mosquitto SIGKILL - what survives?

The ingestion consumer is offline (a persistent MQTT 5 session that subscribed,
then disconnected), so every reading waits in the broker. Publishers send N
QoS 1 readings as fast as the broker acknowledges them, Mosquitto is killed with
SIGKILL, restarted on the same persistence file, and the consumer's session
reconnects and counts what arrives. Mosquitto acknowledges in order on one
connection, so the acknowledged readings are the first `acked` ones; a reading
among them that never arrives is lost.

Three persistence settings side by side, everything else the embedded broker's
own config (`broker_main.mosquitto_config`):

* before: `autosave_interval 10` (save every 10 s);
* middle: `autosave_on_changes true` + `autosave_interval 100` (save once 100
  changes accumulated), to show the trade-off;
* after:  `autosave_on_changes true` + `autosave_interval 1` (save after every
  event-loop pass that changed something), what the embedded broker uses.

Each trial uses `--publishers` connections at once (Mosquitto handles one
packet per connection per event-loop pass and saves once per pass, so
connections publishing together share a save). Two kill moments: right after
the last PUBACK (the acknowledged tail of a burst) and mid-stream (when half the
readings are acknowledged, while the publishers still send). Reported as
medians over `--repeat` trials: publish throughput (msgs/s, first publish to
last PUBACK, from the first kind of trial) and lost acknowledged readings.

    .venv/bin/python benchmarks/broker_durability.py [--messages 1000,4000]
        [--publishers 1,8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from grid_pipeline.embedded.broker_main import DURABLE_AUTOSAVE, find_mosquitto, mosquitto_config
from grid_pipeline.embedded.process import free_port, port_accepts
from grid_pipeline.mqtt.simulator import Publisher

SETTINGS = {
    "before: autosave_interval 10": ("autosave_interval 10",),
    "middle: autosave_on_changes, 100": ("autosave_on_changes true", "autosave_interval 100"),
    "after: autosave_on_changes, 1": DURABLE_AUTOSAVE,
}
TOPIC = "bench/F01/{meter}/reading"
SUBSCRIBER_ID = "durability-consumer"


@dataclass(frozen=True)
class Trial:
    acked: int
    lost: int
    seconds: float  # first publish -> last PUBACK (or -> the kill, mid-stream)


class Broker:
    """A Mosquitto on a free port with the embedded config, its autosave lines replaced."""

    def __init__(self, directory: Path, autosave: tuple[str, ...]) -> None:
        self.port = free_port()
        self.directory = directory
        config = mosquitto_config(self.port, directory)
        config = config.replace("\n".join(DURABLE_AUTOSAVE), "\n".join(autosave))
        self.config = directory / "mosquitto.conf"
        self.config.write_text(config)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [find_mosquitto() or "mosquitto", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_accepts("127.0.0.1", self.port, timeout=0.2):
            if time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not start")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: no chance to save anything on the way out."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def consumer_session(port: int, on_message: Any = None) -> mqtt.Client:
    """The offline consumer's persistent session (MQTT 5, 1 h expiry), connected."""
    connected = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=SUBSCRIBER_ID, protocol=mqtt.MQTTv5)
    client.on_connect = lambda *args: connected.set()
    if on_message is not None:
        client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    if not connected.wait(10):
        raise RuntimeError("consumer session did not connect")
    return client


def subscribe_then_go_offline(port: int) -> None:
    client = consumer_session(port)
    client.subscribe(TOPIC.format(meter="+"), qos=1)
    time.sleep(0.3)  # the SUBACK
    client.disconnect()
    client.loop_stop()


def collect(port: int, expected: int, quiet_s: float = 2.0) -> set[int]:
    """Reconnect the consumer's session; the sequence numbers it receives until quiet."""
    received: set[int] = set()
    last = [time.monotonic()]

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        received.add(int(json.loads(message.payload)["seq"]))
        last[0] = time.monotonic()

    client = consumer_session(port, on_message)
    while time.monotonic() - last[0] < quiet_s and len(received) < expected:
        time.sleep(0.05)
    client.disconnect()
    client.loop_stop()
    return received


def payload(seq: int) -> bytes:
    """A reading-sized message (~150 bytes) that carries its sequence number."""
    return json.dumps(
        {"v": 1, "meter_id": 1 + seq % 500, "ts": "2026-11-24T10:05:00Z", "power": 1.234,
         "energy": 0.1028, "voltage": 231.4, "current": 5.34, "seq": seq}
    ).encode()  # fmt: skip


def trial(autosave: tuple[str, ...], messages: int, kill_at: float, publishers: int = 1) -> Trial:
    """Publish `messages` over `publishers` connections; SIGKILL once `kill_at` of them are
    acknowledged; count the acknowledged readings that survive."""
    share = messages // publishers
    with tempfile.TemporaryDirectory(prefix="grid-durability-") as tmp:
        broker = Broker(Path(tmp), autosave)
        broker.start()
        try:
            subscribe_then_go_offline(broker.port)
            clients = [Publisher(broker.url) for _ in range(publishers)]
            for client in clients:
                client.connect()
            started = time.monotonic()
            for seq in range(share):  # interleaved: every connection busy at once
                for index, client in enumerate(clients):
                    number = index * share + seq
                    client.publish(TOPIC.format(meter=1 + number % 500), payload(number))
            target = max(1, int(share * publishers * kill_at))
            while sum(client.acknowledged for client in clients) < target:
                time.sleep(0.0005)
            elapsed = time.monotonic() - started
            broker.kill()
            for client in clients:
                client.close()  # before the restart: it must not resend what was lost
            acked = [client.acknowledged for client in clients]
            broker.start()
            received = collect(broker.port, sum(acked))
        finally:
            broker.stop()
    # Each connection is acknowledged in order: its first `acked[i]` readings.
    lost = sum(
        1
        for index, count in enumerate(acked)
        for seq in range(index * share, index * share + count)
        if seq not in received
    )
    return Trial(sum(acked), lost, elapsed)


def lost_of_acked(trials: list[Trial]) -> str:
    """'lost of acknowledged', medians over the trials."""
    return f"{median(t.lost for t in trials):,.0f} of {median(t.acked for t in trials):,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", default="1000,4000", help="comma-separated sizes")
    parser.add_argument("--publishers", default="1,8", help="comma-separated connection counts")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if find_mosquitto() is None:
        raise SystemExit("mosquitto is not installed (apt-get install mosquitto)")
    sizes = [int(part) for part in args.messages.split(",")]
    connections = [int(part) for part in args.publishers.split(",")]
    print(f"Mosquitto SIGKILL with an offline persistent consumer; medians of {args.repeat}")
    header = (
        f"{'setting':<34} {'N':>6} {'pubs':>4} {'msgs/s':>8} "
        f"{'lost (kill after last ack)':>27} {'lost (kill mid-stream)':>23}"
    )
    print(header)
    print("-" * len(header))
    for publishers in connections:
        for size in sizes:
            for name, autosave in SETTINGS.items():
                tail = [trial(autosave, size, 1.0, publishers) for _ in range(args.repeat)]
                middle = [trial(autosave, size, 0.5, publishers) for _ in range(args.repeat)]
                rate = median(t.acked / t.seconds for t in tail)
                worst = max(t.lost for t in tail + middle)
                print(
                    f"{name:<34} {size:>6,} {publishers:>4} {rate:>8,.0f} "
                    f"{lost_of_acked(tail):>27} {lost_of_acked(middle):>23}  (worst: {worst:,})",
                    flush=True,
                )


if __name__ == "__main__":
    main()
