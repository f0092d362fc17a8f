"""What the webhook receives: one change of a grid event as JSON, with its idempotency key.

An event is delivered once per change: when it is first alerted (`opened`), when an
event alerted while open ends (`closed`), and when its severity changes (`severity`,
with `previous_severity`). The key is the event's stable identity (kind, asset type,
asset, start) plus the change (`opened`, `closed`, `severity:<new>`): event_id changes
when a window is detected again, the stable key does not. The receiver drops a second
POST with a key it has already seen, which is what makes the rare duplicate (a crash
between the POST and the commit, see `queue`) harmless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

OPENED = "opened"
CLOSED = "closed"
SEVERITY_PREFIX = "severity:"


@dataclass(frozen=True)
class Alert:
    """One change of an event to deliver, identified by the event's stable key and the change.

    `severity` and `end` are what this change announces (the event as it was when the
    change was queued); `evidence` and the acknowledgement are the event's current ones.
    """

    kind: str
    asset_type: str
    asset: str
    start: datetime
    end: datetime | None
    severity: str
    evidence: dict[str, Any] = field(default_factory=dict)
    change: str = OPENED
    previous_severity: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None

    @property
    def key(self) -> tuple[str, str, str, datetime, str]:
        """The delivery's key, as `alert_deliveries` stores it: stable key and change."""
        return self.kind, self.asset_type, self.asset, self.start, self.change

    @property
    def idempotency_key(self) -> str:
        """The key as one header-safe string: kind/asset_type/asset/start (UTC)/change."""
        parts = (self.kind, self.asset_type, self.asset, _iso(self.start), self.change)
        return "/".join(quote(part, safe=":+-_.") for part in parts)

    @property
    def what_changed(self) -> str:
        """`opened`, `closed` or `severity` (the key's change without the new value)."""
        return self.change.split(":", 1)[0]

    def body(self) -> bytes:
        """The JSON document POSTed to the webhook."""
        document = {
            "idempotency_key": self.idempotency_key,
            "change": self.what_changed,
            "previous_severity": self.previous_severity,
            "kind": self.kind,
            "asset_type": self.asset_type,
            "asset": self.asset,
            "start": _iso(self.start),
            "end": None if self.end is None else _iso(self.end),
            "severity": self.severity,
            "evidence": self.evidence,
            "acknowledged_at": None if self.acknowledged_at is None else _iso(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
        }
        return json.dumps(document, sort_keys=True).encode()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
