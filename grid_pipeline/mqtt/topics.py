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

import unicodedata

DEFAULT_ROOT = "grid"
MAX_ROOT_BYTES = 65_000  # MQTT topics end at 65,535 bytes; the rest is for feeder/meter/reading
MAX_CLIENT_ID_BYTES = 65_535


class TopicNameError(ValueError):
    """A topic root, client id or share name a broker would refuse or misread."""


def _utf8_bytes(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:  # undecodable bytes from a command line
        raise TopicNameError(f"{text!r} is not valid UTF-8") from None


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def check_topic_root(text: str) -> str:
    """One or more plain topic levels: the consumer subscribes to <root>/+/+/reading.

    A wildcard or an empty level in the root would subscribe to other people's
    topics (or make the broker refuse the subscription after the consumer
    started); a leading `$` names the broker's own topics ($SYS, $share).
    """
    if not text:
        raise TopicNameError("the topic root must not be empty")
    if _utf8_bytes(text) > MAX_ROOT_BYTES:
        raise TopicNameError(f"the topic root is longer than {MAX_ROOT_BYTES} bytes")
    if "+" in text or "#" in text:
        raise TopicNameError(f"{text!r} contains an MQTT wildcard (+ or #)")
    if _has_control(text):
        raise TopicNameError(f"{text!r} contains a control character")
    if "" in text.split("/"):
        raise TopicNameError(
            f"{text!r} has an empty topic level (a leading, trailing or double '/')"
        )
    if text.startswith("$"):
        raise TopicNameError(f"{text!r} starts with '$' (reserved for the broker)")
    return text


def check_client_id(text: str) -> str:
    """A client id a broker accepts and a log shows: 1-65,535 bytes, no spaces or controls."""
    if not text.strip():
        raise TopicNameError("the client id must not be empty or blank")
    if _utf8_bytes(text) > MAX_CLIENT_ID_BYTES:
        raise TopicNameError(f"the client id is longer than {MAX_CLIENT_ID_BYTES} bytes")
    if _has_control(text) or any(ch.isspace() for ch in text):
        raise TopicNameError(f"{text!r} contains whitespace or a control character")
    return text


def check_share_group(text: str) -> str:
    """An MQTT 5 share name: one topic level without wildcards (spec 4.8.2)."""
    _utf8_bytes(text)
    if not text or any(ch in text for ch in "/+#") or _has_control(text):
        raise TopicNameError(
            f"{text!r} is not a share name (non-empty, without '/', '+', '#' or control characters)"
        )
    return text


def meter_topic(root: str, feeder: str, meter_id: int) -> str:
    return f"{root}/{feeder}/{meter_id}/reading"


def gateway_topic(root: str, feeder: str, gateway: int) -> str:
    return f"{root}/{feeder}/gw{gateway}/reading"


def reading_filter(root: str, share_group: str | None = None) -> str:
    """The consumer's subscription; with a group, an MQTT 5 shared subscription."""
    base = f"{root}/+/+/reading"
    return f"$share/{share_group}/{base}" if share_group else base
