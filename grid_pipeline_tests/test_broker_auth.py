"""Broker authentication and authorisation, on a real Mosquitto.

The production broker is EMQX (deploy/emqx: built-in database users, file ACL,
deny by default), which cannot run here. Mosquitto can: each test module starts
its own on a free port from deploy/mosquitto/mosquitto.conf.template, with a
password file made by deploy/mosquitto/hash_passwords.py (PBKDF2-SHA512,
210,000 iterations) and deploy/mosquitto/acl, which mirrors the EMQX rules. The
tests speak MQTT 5 through paho-mqtt 2, as the project's consumer does, and
check what the issues ask: anonymous clients are refused, a meter cannot
publish as another meter, the ingestion user receives (through a shared
subscription too), nobody else gets anything, a meter's credentials cannot take
the consumer's session over (client ids are bound to usernames), and a payload
above 256 KiB is dropped without harm to anyone.
"""

from __future__ import annotations

import getpass
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from grid_pipeline.embedded.process import free_port, port_accepts
from grid_pipeline.mqtt.broker_url import BrokerAddress
from grid_pipeline.mqtt.topics import meter_topic, reading_filter

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
HASH_PASSWORDS = DEPLOY / "mosquitto" / "hash_passwords.py"
TIMEOUT = 10.0
CONSUMER = "grid-ingest-replica-1"  # the user, and client id, of an ingest replica
PUBLISHER = "grid-dagster"  # publish-only service user
MESSAGE_LIMIT = 256 * 1024

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Broker:
    """A private authenticated Mosquitto and the passwords of its users."""

    port: int
    passwords: dict[str, str]

    def url(self, user: str) -> str:
        return f"mqtt://{user}:{self.passwords[user]}@127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    if not Path(MOSQUITTO).exists():
        pytest.skip(f"{MOSQUITTO} is not installed")
    directory = tmp_path_factory.mktemp("mosquitto-auth")
    users = [CONSUMER, "grid-ingest-replica-2", "grid-simulator", PUBLISHER,
             "17", "18", "gw3", "intruder"]  # fmt: skip
    passwords = {user: secrets.token_hex(12) for user in users}
    password_file = directory / "passwords"
    hashed = subprocess.run(
        [sys.executable, str(HASH_PASSWORDS)],
        input="".join(f"{user}:{passwords[user]}\n" for user in users),
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    password_file.write_text(hashed.stdout)
    port = free_port()
    config = directory / "mosquitto.conf"
    config.write_text(
        (DEPLOY / "mosquitto" / "mosquitto.conf.template")
        .read_text()
        .format(
            port=port,
            password_file=password_file,
            acl_file=DEPLOY / "mosquitto" / "acl",
            persistence_dir=directory,
            user=getpass.getuser(),  # as root Mosquitto would drop to 'mosquitto'
        )
    )
    log = (directory / "mosquitto.log").open("wb")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=log, stderr=log)
    try:
        for _ in range(100):
            if port_accepts("127.0.0.1", port) or proc.poll() is not None:
                break
            threading.Event().wait(0.1)
        if proc.poll() is not None:
            pytest.fail(f"mosquitto exited: {(directory / 'mosquitto.log').read_text()}")
        yield Broker(port, passwords)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        log.close()


@dataclass
class Client:
    """A paho MQTT 5 client that records its CONNACK, SUBACK, PUBACK and messages."""

    client_id: str = field(default_factory=lambda: f"auth-test-{uuid.uuid4().hex[:8]}")
    connack: ReasonCode | None = None
    disconnects: list[ReasonCode] = field(default_factory=list)
    suback: list[ReasonCode] = field(default_factory=list)
    pubacks: dict[int, ReasonCode] = field(default_factory=dict)
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    connected: threading.Event = field(default_factory=threading.Event)
    subscribed: threading.Event = field(default_factory=threading.Event)
    published: threading.Condition = field(default_factory=threading.Condition)
    received: threading.Condition = field(default_factory=threading.Condition)
    paho: mqtt.Client = field(init=False)

    def __post_init__(self) -> None:
        self.paho = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5
        )
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = self._on_disconnect
        self.paho.on_subscribe = self._on_subscribe
        self.paho.on_publish = self._on_publish
        self.paho.on_message = self._on_message

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason: ReasonCode, props: Properties | None) -> None:  # fmt: skip
        self.connack = reason
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object,
                       reason: ReasonCode, props: Properties | None) -> None:  # fmt: skip
        with self.published:
            self.disconnects.append(reason)
            self.published.notify_all()

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int,
                      reasons: list[ReasonCode], props: Properties | None) -> None:  # fmt: skip
        self.suback = list(reasons)
        self.subscribed.set()

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int,
                    reason: ReasonCode, props: Properties | None) -> None:  # fmt: skip
        with self.published:
            self.pubacks[mid] = reason
            self.published.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: object,
                    message: mqtt.MQTTMessage) -> None:  # fmt: skip
        with self.received:
            self.messages.append((message.topic, bytes(message.payload)))
            self.received.notify_all()

    def connect(self, port: int, url: str | None = None) -> ReasonCode:
        if url:
            address = BrokerAddress.parse(url)
            self.paho.username_pw_set(address.username, address.password)
        self.paho.connect("127.0.0.1", port, keepalive=30)
        self.paho.loop_start()
        assert self.connected.wait(TIMEOUT), "no CONNACK"
        assert self.connack is not None
        return self.connack

    def subscribe(self, topic: str) -> list[ReasonCode]:
        self.paho.subscribe(topic, qos=1)
        assert self.subscribed.wait(TIMEOUT), "no SUBACK"
        return self.suback

    def publish(self, topic: str, payload: bytes) -> ReasonCode:
        """QoS 1 publish; returns the PUBACK reason (MQTT 5: 'Not authorized' if denied)."""
        info = self.paho.publish(topic, payload, qos=1)
        with self.published:
            assert self.published.wait_for(lambda: info.mid in self.pubacks, TIMEOUT)
            return self.pubacks[info.mid]

    def wait_for(self, payload: bytes) -> list[tuple[str, bytes]]:
        with self.received:
            assert self.received.wait_for(
                lambda: any(p == payload for _, p in self.messages), TIMEOUT
            ), f"{payload!r} not delivered"
            return list(self.messages)

    def close(self) -> None:
        self.paho.on_disconnect = None  # a deliberate disconnect is not news
        self.paho.disconnect()
        self.paho.loop_stop()


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


def _client(
    clients: list[Client], broker: Broker, user: str | None, client_id: str | None = None
) -> Client:
    client = Client(client_id) if client_id else Client()
    clients.append(client)
    reason = client.connect(broker.port, broker.url(user) if user else None)
    assert not reason.is_failure, f"{user} refused: {reason}"
    return client


def test_anonymous_connect_is_refused(broker: Broker, clients: list[Client]) -> None:
    client = Client()
    clients.append(client)
    reason = client.connect(broker.port)
    assert reason.is_failure, reason


def test_wrong_password_is_refused(broker: Broker, clients: list[Client]) -> None:
    client = Client()
    clients.append(client)
    reason = client.connect(broker.port, f"mqtt://17:not-the-password@127.0.0.1:{broker.port}")
    assert reason.is_failure, reason


def test_meter_publishes_only_to_its_own_topic(broker: Broker, clients: list[Client]) -> None:
    ingest = _client(clients, broker, CONSUMER)
    assert not ingest.subscribe(reading_filter("grid"))[0].is_failure
    meter = _client(clients, broker, "17")
    forged, own = b'{"forged": 18}', b'{"own": 17}'
    # Meter 17 as meter 18 first, then as itself: QoS 1 from one client keeps the
    # order, so once its own reading arrived the forged one would have too.
    assert meter.publish(meter_topic("grid", "feeder-1", 18), forged).is_failure
    assert not meter.publish(meter_topic("grid", "feeder-1", 17), own).is_failure
    messages = ingest.wait_for(own)
    assert messages == [(meter_topic("grid", "feeder-1", 17), own)]


def test_gateway_publishes_to_its_own_topic(broker: Broker, clients: list[Client]) -> None:
    ingest = _client(clients, broker, CONSUMER)
    ingest.subscribe(reading_filter("grid"))
    gateway = _client(clients, broker, "gw3")
    assert gateway.publish("grid/feeder-2/gw4/reading", b"other").is_failure
    assert not gateway.publish("grid/feeder-2/gw3/reading", b"batch").is_failure
    assert [p for _, p in ingest.wait_for(b"batch")] == [b"batch"]


def test_ingestion_receives_through_a_shared_subscription(
    broker: Broker, clients: list[Client]
) -> None:
    ingest = _client(clients, broker, CONSUMER)
    assert not ingest.subscribe(reading_filter("grid", "grid-ingest"))[0].is_failure
    simulator = _client(clients, broker, "grid-simulator")
    payload = uuid.uuid4().hex.encode()
    assert not simulator.publish(meter_topic("grid", "feeder-9", 4711), payload).is_failure
    ingest.wait_for(payload)


@pytest.mark.parametrize("user", ["17", "grid-simulator", "intruder"])
def test_nobody_but_ingestion_receives_readings(
    broker: Broker, clients: list[Client], user: str
) -> None:
    """EMQX refuses the SUBSCRIBE; Mosquitto 2.0 grants it but checks `read` on every
    delivery. Either way the client must not get a single reading."""
    spy = _client(clients, broker, user)
    for topic in (reading_filter("grid"), "grid/feeder-1/17/reading", "#"):
        spy.subscribed.clear()
        spy.subscribe(topic)
    ingest = _client(clients, broker, CONSUMER)
    ingest.subscribe(reading_filter("grid"))
    # Not the spy's user: a user is one connection (the username is the client id).
    simulator = _client(clients, broker, PUBLISHER)
    payload = uuid.uuid4().hex.encode()
    simulator.publish("grid/feeder-1/17/reading", payload)
    ingest.wait_for(payload)
    # The broker fans a message out to every subscriber while handling the PUBLISH;
    # a PUBACK the spy gets afterwards travels behind any copy queued for it.
    spy.publish("grid/feeder-1/17/reading", b"probe")
    assert spy.messages == []


def test_unknown_user_cannot_publish_and_ingestion_cannot_publish_readings(
    broker: Broker, clients: list[Client]
) -> None:
    intruder = _client(clients, broker, "intruder")
    assert intruder.publish("grid/feeder-1/17/reading", b"x").is_failure
    assert intruder.publish("anything", b"x").is_failure
    ingest = _client(clients, broker, CONSUMER)
    assert ingest.publish("grid/feeder-1/17/reading", b"x").is_failure


def test_a_meter_cannot_take_over_the_consumers_session(
    broker: Broker, clients: list[Client]
) -> None:
    """Issue 16, item 3: meter credentials with the consumer's client id, five times.

    The broker uses the username as the client id (use_username_as_clientid), so the
    meter becomes client "17" and the consumer is never kicked off: it stays
    connected throughout and receives every reading published meanwhile.
    """
    consumer = _client(clients, broker, CONSUMER, client_id=CONSUMER)
    assert not consumer.subscribe(reading_filter("grid", "grid-ingest"))[0].is_failure
    publisher = _client(clients, broker, PUBLISHER)
    sent: list[bytes] = []
    for attempt in range(5):
        intruder = Client(CONSUMER)
        clients.append(intruder)
        intruder.connect(broker.port, broker.url("17"))  # accepted, or refused: both fine
        for _ in range(5):
            payload = f"reading {attempt}-{uuid.uuid4().hex[:6]}".encode()
            assert not publisher.publish(meter_topic("grid", "feeder-1", 4711), payload).is_failure
            sent.append(payload)
    for payload in sent:
        consumer.wait_for(payload)
    assert consumer.disconnects == [], f"the consumer was disconnected: {consumer.disconnects}"
    assert sorted(p for _, p in consumer.messages) == sorted(sent)


def test_a_payload_above_256_kib_is_dropped_and_the_next_reading_arrives(
    broker: Broker, clients: list[Client]
) -> None:
    """Issue 16, item 5: message_size_limit 262144 in the production template.

    Mosquitto 2.0.11 drops the oversized message and answers an MQTT 5 publisher
    with PUBACK reason 0x95, which paho takes for a protocol error and ends its own
    connection: only the offender is affected. The consumer never sees the message,
    stays connected, and gets the readings that follow (one exactly at the limit).
    """
    consumer = _client(clients, broker, CONSUMER)
    consumer.subscribe(reading_filter("grid"))
    topic = meter_topic("grid", "feeder-1", 4711)
    offender = _client(clients, broker, "grid-simulator")
    offender.paho.publish(topic, b"x" * (300 * 1024), qos=1)
    with offender.published:
        answered = offender.published.wait_for(
            lambda: bool(offender.pubacks or offender.disconnects), TIMEOUT
        )
    assert answered, "no answer to the oversized publish"
    offender.close()  # paho would resend it on every reconnect
    publisher = _client(clients, broker, PUBLISHER)
    at_limit, normal = b"y" * MESSAGE_LIMIT, b'{"meter_id": 4711}'
    assert not publisher.publish(topic, at_limit).is_failure
    assert not publisher.publish(topic, normal).is_failure
    messages = consumer.wait_for(normal)
    assert [len(p) for _, p in messages] == [MESSAGE_LIMIT, len(normal)]
    assert consumer.disconnects == []


def test_the_password_file_uses_pbkdf2_sha512_at_210000_iterations(tmp_path: Path) -> None:
    """Issue 16, item 15 (Mosquitto's side): every line is `$7$210000$...`; bad input is
    refused with one line, no traceback."""
    made = subprocess.run(
        [sys.executable, str(HASH_PASSWORDS)], input="17:pw\ngw3:other\n",
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    lines = made.stdout.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["17", "gw3"]
    assert all(
        re.fullmatch(r"[^:]+:\$7\$210000\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+", x) for x in lines
    )
    bad = subprocess.run(
        [sys.executable, str(HASH_PASSWORDS)], input="no-colon\n",
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode != 0
    assert bad.stderr.strip() == "hash_passwords: line 1: expected user:password"


def test_mosquitto_acl_mirrors_the_emqx_rules() -> None:
    """Same users, same topics: the two files must not drift apart."""
    emqx = (DEPLOY / "emqx" / "acl.conf").read_text()
    mosquitto = (DEPLOY / "mosquitto" / "acl").read_text()
    rules = [line for line in emqx.splitlines() if line.startswith("{")]
    assert rules[-1] == "{deny, all}."
    named = re.findall(r'\{allow, \{username, "([\w-]+)"\}, (\w+), \["([^"]+)"\]\}', emqx)
    assert sorted(named) == [
        ("grid-dagster", "publish", "grid/+/+/reading"),
        ("grid-simulator", "publish", "grid/+/+/reading"),
    ]
    patterns = re.findall(r'\{allow, \{username, \{re, "([^"]+)"\}\}, (\w+), \["([^"]+)"\]\}', emqx)
    assert sorted(patterns) == [
        ("^(gw)?[0-9]+$", "publish", "grid/+/${username}/reading"),
        ("^grid-ingest-replica-[0-9]+$", "subscribe", "grid/+/+/reading"),
    ]
    assert "pattern write grid/+/%u/reading" in mosquitto
    for user in ("grid-simulator", "grid-dagster"):
        assert f"user {user}\ntopic write grid/+/+/reading" in mosquitto
    readers = re.findall(r"^user (\S+)\ntopic read grid/\+/\+/reading$", mosquitto, re.M)
    assert readers and all(re.fullmatch(patterns[1][0], user) for user in readers), readers
    assert reading_filter("grid") == "grid/+/+/reading"


def test_both_brokers_bind_client_ids_and_limit_messages_alike() -> None:
    """The Mosquitto template and EMQX: username as client id, on every (TLS too) listener;
    one 256 KiB message limit."""
    template = (DEPLOY / "mosquitto" / "mosquitto.conf.template").read_text()
    emqx = (DEPLOY / "emqx" / "emqx.conf").read_text()
    lines = [line.strip() for line in template.splitlines()]
    listeners = [n for n, line in enumerate(lines) if line.lstrip("#").startswith("listener ")]
    assert len(listeners) == 2, "a plain and a (commented) TLS listener"
    for n in listeners:
        commented = lines[n].startswith("#")
        assert lines[n + 1] == ("#" if commented else "") + "use_username_as_clientid true"
    assert f"message_size_limit {MESSAGE_LIMIT}" in lines
    assert re.search(r"^\s*use_username_as_clientid = true$", emqx, re.M)
    assert re.search(r"^\s*max_packet_size = 256KB$", emqx, re.M)
