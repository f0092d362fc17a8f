"""Where the MQTT broker is and how to speak to it, from one `mqtt://` URL.

The project configures brokers by URL (`GRID_MQTT_URL`, credentials inline);
this module turns it into what paho needs and picks the protocol version: the
embedded broker (amqtt) speaks MQTT 3.1.1 only, real brokers (Mosquitto, EMQX)
get MQTT 5, which the consumer needs for shared subscriptions, session expiry
and Receive Maximum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTProtocolVersion

from grid_pipeline.config import Settings

Protocol = Literal["3.1.1", "5"]
PROTOCOLS: tuple[Protocol, ...] = ("3.1.1", "5")


@dataclass(frozen=True)
class BrokerAddress:
    """Host, port, credentials and TLS flag of a broker URL."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp") or not parts.hostname:
            raise ValueError(f"not an MQTT URL (mqtt://host:port): {url!r}")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )

    def __str__(self) -> str:
        return f"mqtt{'s' if self.tls else ''}://{self.host}:{self.port}"


def default_protocol(settings: Settings) -> Protocol:
    """MQTT 3.1.1 for the embedded amqtt fallback, MQTT 5 for Mosquitto and other brokers."""
    from grid_pipeline.embedded.broker import embedded_engine

    return "3.1.1" if settings.embedded_broker and embedded_engine(settings) == "amqtt" else "5"


def paho_protocol(protocol: Protocol) -> MQTTProtocolVersion:
    return mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311


def apply_address(client: mqtt.Client, address: BrokerAddress) -> None:
    """Credentials and TLS on a paho client, before connecting."""
    if address.username is not None:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set()
