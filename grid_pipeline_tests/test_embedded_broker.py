"""The embedded broker: Mosquitto when installed (persistent sessions survive), amqtt fallback.

Also what its config promises (issue 16): payloads over 256 KiB dropped without
harm, a password required when GRID_LOCAL_PASSWORD is set, and no control
character ever written into mosquitto.conf.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from grid_pipeline.config import LOCAL_BROKER_USER, load_settings
from grid_pipeline.embedded import broker
from grid_pipeline.embedded.broker_main import (
    PAYLOAD_LIMIT_BYTES,
    BrokerConfigError,
    find_mosquitto,
    mosquitto_config,
)
from grid_pipeline.embedded.process import ServiceError
from grid_pipeline_tests.mqtt_support import publish

needs_mosquitto = pytest.mark.skipif(
    find_mosquitto() is None, reason="mosquitto is not installed on this machine"
)


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


@pytest.mark.integration
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


@pytest.mark.integration
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


def test_mosquitto_config_refuses_control_characters() -> None:
    """Regression (issue 16, item 12): a newline in GRID_DATA_DIR ended the
    `persistence_location` line and the rest became a directive of its own, which
    opened a listener on 0.0.0.0."""
    hostile = Path("/tmp/grid\nlistener 1884 0.0.0.0")
    for bad in (
        lambda: mosquitto_config(11883, hostile),
        lambda: mosquitto_config(11883, Path("/tmp/grid"), Path("/tmp/run\r/pw")),
        lambda: mosquitto_config(11883, Path("/tmp/gr\x00id")),
    ):
        with pytest.raises(BrokerConfigError) as refused:
            bad()
        assert "\n" not in str(refused.value) and "control character" in str(refused.value)
    config = mosquitto_config(11883, Path("/tmp/grid"))
    assert "0.0.0.0" not in config and "listener 11883 127.0.0.1" in config


def test_mosquitto_config_limits_payloads_and_saves_on_every_change() -> None:
    config = mosquitto_config(11883, Path("/tmp/grid")).splitlines()
    assert f"message_size_limit {256 * 1024}" in config
    assert f"max_packet_size {16 * 1024 * 1024}" in config
    assert "autosave_on_changes true" in config and "autosave_interval 1" in config
    assert "allow_anonymous true" in config
    locked = mosquitto_config(11883, Path("/tmp/grid"), Path("/tmp/run/mosquitto.passwd"))
    assert "allow_anonymous false" in locked.splitlines()
    assert "password_file /tmp/run/mosquitto.passwd" in locked.splitlines()


@pytest.mark.integration
def test_a_data_dir_with_a_newline_is_refused_in_one_line(fresh_env: dict[str, str]) -> None:
    settings = load_settings(fresh_env)
    hostile = dataclasses.replace(
        settings, data_dir=settings.data_dir / "x\nlistener 1884 0.0.0.0", broker_engine="mosquitto"
    )
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed on this machine")
    with pytest.raises(ServiceError) as refused:
        broker.start(hostile)
    message = str(refused.value)
    assert "\n" not in message and "control character" in message, message
    assert broker.status(hostile) is None


class Subscriber:
    """An MQTT 5 client subscribed to one topic, keeping every payload it receives."""

    def __init__(self, port: int, topic: str) -> None:
        self.payloads: list[bytes] = []
        self.arrived = threading.Condition()
        subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="limit-sub", protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        assert subscribed.wait(10)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self.arrived:
            self.payloads.append(message.payload)
            self.arrived.notify_all()

    def wait_for(self, payload: bytes, timeout: float = 10.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: payload in self.payloads, timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.integration
@needs_mosquitto
def test_a_payload_over_256_kib_is_dropped_and_the_next_message_delivered(
    fresh_env: dict[str, str],
) -> None:
    """Regression (issue 16, item 5): the embedded broker had no payload limit, so a
    64 MB message went through to the consumer and the database."""
    settings = load_settings({**fresh_env, "GRID_BROKER_ENGINE": "mosquitto"})
    state, _ = broker.start(settings)
    subscriber = Subscriber(settings.mqtt_port, "grid/F01/7/reading")
    try:
        oversized = b"x" * (300 * 1024)
        at_limit = b"y" * PAYLOAD_LIMIT_BYTES
        topic = "grid/F01/7/reading"
        # One MQTT 3.1.1 connection: the oversized publish is acknowledged and dropped,
        # the publisher stays connected, and what follows it is delivered. (MQTT 5 paho
        # rejects Mosquitto 2.0.11's PUBACK reason 0x95; see docs/mqtt.md.)
        messages = [(topic, oversized), (topic, at_limit), (topic, b"next")]
        assert publish(settings.broker_url, messages, protocol="3.1.1") == 3
        assert subscriber.wait_for(b"next"), "the message after the oversized one did not arrive"
        time.sleep(0.3)
        assert oversized not in subscriber.payloads
        assert subscriber.payloads == [at_limit, b"next"]
        still = broker.status(settings)
        assert still is not None and still.pid == state.pid
    finally:
        subscriber.close()
        broker.stop(settings)


def connect_result(port: int, username: str | None, password: str | None) -> bool:
    """True if the broker accepts an MQTT 5 CONNECT with these credentials."""
    answered = threading.Event()
    outcome: list[bool] = []

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        outcome.append(not reason.is_failure)
        answered.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if username is not None:
        client.username_pw_set(username, password)
    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert answered.wait(10), "no CONNACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return outcome[0]


@pytest.mark.integration
@needs_mosquitto
def test_grid_local_password_is_required_by_the_embedded_mosquitto(
    fresh_env: dict[str, str],
) -> None:
    """Issue 16, item 13: with GRID_LOCAL_PASSWORD set, anonymous clients are refused,
    the settings' broker URL (user grid) works, and the password is on no command line
    and on disk only as a hash."""
    password = "s3cret:p@ss%word"  # URL-special characters and a ':' on purpose
    settings = load_settings(
        {**fresh_env, "GRID_BROKER_ENGINE": "mosquitto", "GRID_LOCAL_PASSWORD": password}
    )
    state, _ = broker.start(settings)
    try:
        port = settings.mqtt_port
        assert not connect_result(port, None, None), "anonymous client accepted"
        assert not connect_result(port, LOCAL_BROKER_USER, "wrong-password")
        assert connect_result(port, LOCAL_BROKER_USER, password)
        assert publish(settings.broker_url, [("grid/F01/7/reading", b"{}")]) == 1
        for pid in (state.pid, int(state.extra["mosquitto_pid"])):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            assert password not in cmdline
        password_file = settings.run_dir / "mosquitto.passwd"
        assert password_file.stat().st_mode & 0o777 == 0o600
        assert password not in password_file.read_text()
        assert not (settings.run_dir / "broker.secret").exists()
    finally:
        broker.stop(settings)
    anonymous = load_settings({**fresh_env, "GRID_BROKER_ENGINE": "mosquitto"})
    broker.start(anonymous)
    try:
        assert connect_result(anonymous.mqtt_port, None, None), "unset: anonymous as before"
        # A broker started without the password is not silently kept once it is set.
        with pytest.raises(ServiceError, match="runs without a password"):
            broker.start(settings)
    finally:
        broker.stop(anonymous)


@pytest.mark.integration
def test_amqtt_refuses_to_start_when_a_password_is_required(fresh_env: dict[str, str]) -> None:
    settings = load_settings(
        {**fresh_env, "GRID_BROKER_ENGINE": "amqtt", "GRID_LOCAL_PASSWORD": "s3cret-pass"}
    )
    with pytest.raises(ServiceError) as refused:
        broker.start(settings)
    assert "\n" not in str(refused.value) and "GRID_LOCAL_PASSWORD" in str(refused.value)
    assert broker.status(settings) is None
    assert not (settings.run_dir / "broker.secret").exists()
    assert os.listdir(settings.run_dir) == ["broker.lock"]
