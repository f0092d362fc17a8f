"""The embedded broker: Mosquitto when installed (persistent sessions survive), amqtt fallback."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest

from grid_pipeline.config import load_settings
from grid_pipeline.embedded import broker
from grid_pipeline.embedded.broker_main import find_mosquitto

pytestmark = pytest.mark.integration


def round_trip(port: int, protocol: int) -> bytes:
    """Subscribe, publish one QoS 1 message, return what arrived."""
    received: list[bytes] = []
    done = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rt-sub", protocol=protocol)
    sub.on_message = lambda c, u, msg: (received.append(msg.payload), done.set())
    sub.connect("127.0.0.1", port)
    sub.subscribe("grid/t/1/reading", qos=1)
    sub.loop_start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rt-pub", protocol=protocol)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    try:
        time.sleep(0.3)  # let the subscription settle
        pub.publish("grid/t/1/reading", b"hello", qos=1).wait_for_publish(5)
        assert done.wait(10)
    finally:
        for client in (pub, sub):
            client.loop_stop()
            client.disconnect()
    return received[0]


@pytest.mark.parametrize("engine", ["mosquitto", "amqtt"])
def test_embedded_broker_engines_deliver(fresh_env: dict[str, str], engine: str) -> None:
    if engine == "mosquitto" and find_mosquitto() is None:
        pytest.skip("mosquitto is not installed on this machine")
    settings = load_settings({**fresh_env, "GRID_BROKER_ENGINE": engine})
    state, started = broker.start(settings)
    try:
        assert started and state.extra["engine"] == engine
        assert broker.embedded_engine(settings) == engine
        protocol = mqtt.MQTTv5 if engine == "mosquitto" else mqtt.MQTTv311
        assert round_trip(settings.mqtt_port, protocol) == b"hello"
        again, started_again = broker.start(settings)
        assert not started_again and again.pid == state.pid
    finally:
        assert broker.stop(settings)
    assert broker.status(settings) is None


def test_mosquitto_keeps_a_persistent_session_across_a_restart(fresh_env: dict[str, str]) -> None:
    """Regression (found by the soak): run as root, Mosquitto dropped to user `mosquitto`,
    could not write its persistence file, and lost every session on restart."""
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed on this machine")
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    settings = load_settings({**fresh_env, "GRID_BROKER_ENGINE": "mosquitto"})
    broker.start(settings)
    present: list[bool] = []
    reconnected = threading.Event()

    def on_connect(client: mqtt.Client, userdata: object, flags, rc, props) -> None:  # type: ignore[no-untyped-def]
        present.append(bool(flags.session_present))
        client.subscribe("grid/+/+/reading", qos=1)
        if len(present) == 2:
            reconnected.set()

    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id="persist", protocol=mqtt.MQTTv5
    )
    client.on_connect = on_connect
    client.reconnect_delay_set(1, 2)
    client.connect("127.0.0.1", settings.mqtt_port, clean_start=False, properties=props)
    client.loop_start()
    try:
        time.sleep(1)
        broker.stop(settings)
        broker.start(settings)
        assert reconnected.wait(20)
        assert present == [False, True]
    finally:
        client.loop_stop()
        broker.stop(settings)
