"""Which events alert: those at or above a minimum severity (GRID_ALERT_MIN_SEVERITY)."""

from __future__ import annotations

#: The severities of `grid_events`, least urgent first.
SEVERITIES = ("info", "warning", "critical")


def at_or_above(minimum: str) -> list[str]:
    """The severities that alert when `minimum` is the least one that does."""
    if minimum not in SEVERITIES:
        raise ValueError(f"unknown severity {minimum!r}: one of {', '.join(SEVERITIES)}")
    return list(SEVERITIES[SEVERITIES.index(minimum) :])
