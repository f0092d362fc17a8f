"""Topic names: one topic per meter, one filter for the consumer.

``<root>/<feeder>/<meter_id>/reading`` lets a broker ACL restrict a meter to its
own topic and lets operators subscribe to one feeder; gateway batches use
``<root>/<feeder>/gw<k>/reading`` so the same filter ``<root>/+/+/reading``
receives both. The root is configurable so that tests on a shared broker never
see each other's messages.

The topic binds the payload (enforced in `payload.decode`, see docs/mqtt.md): a
single reading only on its own meter's topic, a batch only on a gateway topic,
and every reading's meter on the topic's feeder.
"""

from __future__ import annotations

DEFAULT_ROOT = "grid"


def meter_topic(root: str, feeder: str, meter_id: int) -> str:
    return f"{root}/{feeder}/{meter_id}/reading"


def gateway_topic(root: str, feeder: str, gateway: int) -> str:
    return f"{root}/{feeder}/gw{gateway}/reading"


def reading_filter(root: str, share_group: str | None = None) -> str:
    """The consumer's subscription; with a group, an MQTT 5 shared subscription."""
    base = f"{root}/+/+/reading"
    return f"$share/{share_group}/{base}" if share_group else base
