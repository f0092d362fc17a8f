"""The sidebar's meter filters as one value, shared by the pages and the data layer.

Its own module so both `state` (which builds it from the sidebar) and `data` (which binds
it into every filtered statement) import it without importing each other.
"""

from __future__ import annotations

from typing import NamedTuple


class MeterSelection(NamedTuple):
    """Which meters a view covers: customer classes, feeders and distribution transformers,
    each empty for "all".

    A NamedTuple of string tuples because `st.cache_data` hashes it by value like any tuple:
    equal selections share a cached result and different ones never do. One argument instead
    of three on every query function, so a new meter filter is added here once instead of to
    each function and each of its callers.
    """

    classes: tuple[str, ...] = ()
    feeders: tuple[str, ...] = ()
    transformers: tuple[str, ...] = ()

    @property
    def narrowed(self) -> bool:
        """Some filter is set (an empty selection covers every meter)."""
        return bool(self.classes or self.feeders or self.transformers)


#: Every meter: no filter set.
ALL_METERS = MeterSelection()
