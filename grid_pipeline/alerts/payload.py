"""What the webhook receives: one grid event as JSON, with its idempotency key.

The key is the event's stable identity (kind, asset type, asset, start): event_id
changes when a window is detected again, the stable key does not. The receiver drops
a second POST with a key it has already seen, which is what makes the rare duplicate
(a crash between the POST and the commit, see `queue`) harmless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True)
class Alert:
    """One event to deliver, identified by its stable key."""

    kind: str
    asset_type: str
    asset: str
    start: datetime
    end: datetime | None
    severity: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, datetime]:
        """The stable key, as `alert_deliveries` stores it."""
        return self.kind, self.asset_type, self.asset, self.start

    @property
    def idempotency_key(self) -> str:
        """The stable key as one header-safe string: kind/asset_type/asset/start (UTC)."""
        parts = (self.kind, self.asset_type, self.asset, _iso(self.start))
        return "/".join(quote(part, safe=":+-_.") for part in parts)

    def body(self) -> bytes:
        """The JSON document POSTed to the webhook."""
        document = {
            "idempotency_key": self.idempotency_key,
            "kind": self.kind,
            "asset_type": self.asset_type,
            "asset": self.asset,
            "start": _iso(self.start),
            "end": None if self.end is None else _iso(self.end),
            "severity": self.severity,
            "evidence": self.evidence,
        }
        return json.dumps(document, sort_keys=True).encode()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
