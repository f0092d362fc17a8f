"""One POST of an alert to the webhook, with the standard library only.

Any 2xx answer counts as delivered; anything else (another status, a redirect, a refused
connection, a timeout after `TIMEOUT_S`) is a failed attempt described in one line,
which the delivery row keeps as `last_error`.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from grid_pipeline.alerts.payload import Alert

TIMEOUT_S = 10.0
_ERROR_CHARS = 500  # last_error is for a human: the first line, bounded


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: urllib would re-send a POST as a GET."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class PostResult:
    """Whether the webhook took the alert, and why not."""

    ok: bool
    error: str | None = None


def post_alert(url: str, alert: Alert, timeout_s: float = TIMEOUT_S) -> PostResult:
    """POST `alert` as JSON with an `Idempotency-Key` header; 2xx is success."""
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked in config)
        url,
        data=alert.body(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": alert.idempotency_key,
            "User-Agent": "grid-pipeline-alerts",
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:  # a non-2xx status urllib raises for
        return PostResult(False, f"HTTP {exc.code} {exc.reason}"[:_ERROR_CHARS])
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        text = str(reason).strip().splitlines()[0] if str(reason).strip() else type(exc).__name__
        return PostResult(False, text[:_ERROR_CHARS])
    if 200 <= status < 300:
        return PostResult(True)
    return PostResult(False, f"HTTP {status}")
