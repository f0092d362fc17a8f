"""A broker crash loses no reading the embedded Mosquitto acknowledged (issue 16, item 6).

The consumer is offline (persistent session), a publisher gets a PUBACK for every
reading, Mosquitto is SIGKILLed and brought back through the project's own start
path; the consumer's session must then receive every acknowledged reading. With
the former `autosave_interval 10`, everything acknowledged in the last seconds
before the kill was gone (262 readings in the probe). The benchmark
(benchmarks/broker_durability.py) measures the cost and the remaining window.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from grid_pipeline.config import Settings, load_settings
from grid_pipeline.embedded import broker
from grid_pipeline.embedded.broker_main import find_mosquitto
from grid_pipeline.embedded.process import pid_alive
from grid_pipeline_tests.mqtt_support import publish, wait_for

pytestmark = pytest.mark.integration

READINGS = 200
CONSUMER_ID = "durability-consumer"


def consumer_session(settings: Settings, received: set[int] | None = None) -> mqtt.Client:
    """The consumer's persistent MQTT 5 session (1 h expiry), connected; collects `seq`s."""
    connected = threading.Event()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=CONSUMER_ID, protocol=mqtt.MQTTv5
    )
    client.on_connect = lambda *args: connected.set()

    def on_message(c: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if received is not None:
            received.add(int(json.loads(message.payload)["seq"]))

    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", settings.mqtt_port, clean_start=False, properties=props)
    client.loop_start()
    assert connected.wait(10), "consumer session did not connect"
    return client


def close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def sigkill_mosquitto(settings: Settings) -> None:
    """Kill the broker's Mosquitto process outright (no save on the way out)."""
    state = broker.status(settings)
    assert state is not None and state.extra["engine"] == "mosquitto"
    pid = int(state.extra["mosquitto_pid"])
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), 10, "mosquitto to die")


def test_acknowledged_readings_survive_a_mosquitto_sigkill(fresh_env: dict[str, str]) -> None:
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed on this machine")
    settings = load_settings({**fresh_env, "GRID_BROKER_ENGINE": "mosquitto"})
    broker.start(settings)
    try:
        consumer = consumer_session(settings)
        consumer.subscribe("grid/+/+/reading", qos=1)
        time.sleep(0.5)  # the SUBACK
        close(consumer)  # offline: every reading now waits in the broker
        messages = (
            (f"grid/F01/{seq + 1}/reading", json.dumps({"seq": seq}).encode())
            for seq in range(READINGS)
        )
        assert publish(settings.broker_url, messages) == READINGS  # every PUBACK received
        # Well inside the old 10 s autosave window; the new settings save within one
        # event-loop pass (the benchmark measures that remaining window).
        time.sleep(0.5)
        sigkill_mosquitto(settings)
        wait_for(lambda: broker.status(settings) is None, 10, "the broker wrapper to exit")
        broker.start(settings)  # the project's start path, as `up` and every client use it
        received: set[int] = set()
        consumer = consumer_session(settings, received)
        deadline = time.monotonic() + 15
        while len(received) < READINGS and time.monotonic() < deadline:
            time.sleep(0.1)
        close(consumer)
        assert len(received) == READINGS, f"lost {READINGS - len(received)} acknowledged readings"
    finally:
        broker.stop(settings)
