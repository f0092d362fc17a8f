"""When a failed delivery is tried again, and when it is given up.

Exponential backoff from 30 s (30 s, 1, 2, 4 ... min, capped at an hour): a receiver
that is down for a moment gets the alert soon after, one that is down for long is not
hammered. After `MAX_ATTEMPTS` failed POSTs (about an hour of trying) the delivery is
marked failed, kept with its last error for the operator.
"""

from __future__ import annotations

from datetime import timedelta

FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
MAX_ATTEMPTS = 8


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed POST (1-based): 30 s, then doubling, at most 1 h."""
    if attempts < 1:
        raise ValueError("attempts counts failed POSTs, from 1")
    delay: timedelta = FIRST_DELAY * (2 ** min(attempts - 1, 20))
    return min(delay, MAX_DELAY)


def gives_up(attempts: int) -> bool:
    """Whether the delivery is failed for good after `attempts` failed POSTs."""
    return attempts >= MAX_ATTEMPTS
