"""Acknowledging grid events: an operator says "seen, being handled", with their name.

An acknowledgement is when (`acknowledged_at`, the database's clock) and who
(`acknowledged_by`). The first one stands: acknowledging an acknowledged event again
changes nothing, so two operators clicking at once do not overwrite each other.
Re-detection keeps both columns for the same event (`events.detect.store_events`), the
live path updates events in place and keeps them too.

Ids are checked first: re-detection gives the events of a window new ids, so an id
read before it (a page left open, a command typed from an old listing) may name no
event. Then nothing is acknowledged and `UnknownEvents` names the ids: acknowledging
the rest of a selection silently would hide that the list was stale.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import psycopg

from grid_pipeline.db.sqlfiles import query

#: The longest name `acknowledged_by` takes (a person or a service, not a paragraph).
MAX_BY_CHARS = 100


class UnknownEvents(LookupError):
    """Some event ids name no event; the message is one line naming them."""

    def __init__(self, ids: Sequence[int]) -> None:
        self.ids = sorted(ids)
        shown = ", ".join(str(i) for i in self.ids[:10])
        more = f" and {len(self.ids) - 10} more" if len(self.ids) > 10 else ""
        super().__init__(
            f"no grid event with id {shown}{more} (re-detection renumbers events: list them "
            "again); nothing acknowledged"
        )


def check_by(by: str) -> str:
    """Who acknowledges, trimmed; ValueError (one line) when empty, too long or not text."""
    name = by.strip()
    if not name:
        raise ValueError("who acknowledges must be named (an empty name was given)")
    if len(name) > MAX_BY_CHARS:
        raise ValueError(f"the acknowledging name is longer than {MAX_BY_CHARS} characters")
    if any(not ch.isprintable() for ch in name):
        raise ValueError("the acknowledging name contains control characters")
    return name


def check_ids(event_ids: Sequence[int]) -> list[int]:
    """The ids as distinct ints, in the order given; ValueError for one that is not an id."""
    ids: list[int] = []
    for raw in event_ids:
        try:
            value = operator.index(raw)  # ints, numpy integers; not floats or text
        except TypeError:
            raise ValueError(f"event id {raw!r} is not an integer") from None
        if isinstance(raw, bool):
            raise ValueError(f"event id {raw!r} is not an integer")
        if value not in ids:
            ids.append(value)
    return ids


def acknowledge(conn: psycopg.Connection[Any], event_ids: Sequence[int], by: str) -> int:
    """Acknowledge the events with `event_ids` as `by`, in one transaction; how many rows
    changed (events acknowledged before are left as they are). Raises `UnknownEvents`
    (and changes nothing) when an id names no event."""
    name = check_by(by)
    ids = check_ids(event_ids)
    if not ids:
        return 0
    # Ids a bigint cannot hold name no event; PostgreSQL would refuse the whole array.
    storable = [i for i in ids if -(2**63) <= i < 2**63]
    with conn.transaction():
        row = conn.execute(query("events_known_ids"), {"ids": storable}).fetchone()
        known = set(row[0]) if row else set()
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise UnknownEvents(unknown)
        cursor = conn.execute(query("events_acknowledge"), {"ids": ids, "by": name})
        return max(cursor.rowcount, 0)
