"""Sidebar filters that persist across pages, and the time window they imply.

The filter widgets are drawn by the entry script (`app.py`), which runs on every
page, so their values survive page switches without copying session state
around; pages read the current values with `current()`. Windows are anchored at
the newest reading rather than at "now", so a data set generated yesterday
still shows its last days instead of empty charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st

#: Zones offered in the sidebar. Whole-hour UTC offsets only: local days are summed from the
#: hourly aggregate, which is exact only when local midnight falls on a UTC hour.
TIMEZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Helsinki",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Brisbane",
)
PERIODS = (1, 3, 7, 14, 30)
DEFAULT_PERIOD = 7
_KEY = "grid_filters"


@dataclass(frozen=True)
class Filters:
    """What the sidebar selects: applied by every page that shows fleet data."""

    timezone: str
    days: int
    classes: tuple[str, ...]
    feeders: tuple[str, ...]

    def window(
        self, last_reading: datetime | None, interval: timedelta
    ) -> tuple[datetime, datetime]:
        """`days` days (UTC instants) ending just after the newest reading."""
        end = (last_reading or datetime.now(ZoneInfo("UTC"))) + interval
        return end - timedelta(days=self.days), end

    def local_days(self, last_reading: datetime | None) -> tuple[date, date]:
        """`days` local calendar days [start, end) ending with the newest reading's day."""
        newest = last_reading or datetime.now(ZoneInfo("UTC"))
        end = newest.astimezone(ZoneInfo(self.timezone)).date() + timedelta(days=1)
        return end - timedelta(days=self.days), end


def timezone_options(default: str) -> list[str]:
    """The configured zone first, then the offered ones."""
    return [default, *(z for z in TIMEZONES if z != default)]


def sidebar(fleet: pl.DataFrame, default_timezone: str) -> Filters:
    """Draw the filters in the sidebar and remember the selection for the pages."""
    classes_available = (
        sorted(fleet.get_column("customer_class").unique().to_list()) if fleet.height else []
    )
    feeders_available = (
        sorted(fleet.get_column("feeder").unique().to_list()) if fleet.height else []
    )
    with st.sidebar:
        st.header("Filters")
        timezone = st.selectbox(
            "Time zone", timezone_options(default_timezone), key="filter_timezone",
            help="Days and hours are shown in this zone.",
        )  # fmt: skip
        days = st.select_slider(
            "Period (days up to the newest reading)", PERIODS, value=DEFAULT_PERIOD,
            key="filter_days",
        )  # fmt: skip
        classes = st.multiselect(
            "Customer class", classes_available, key="filter_classes", placeholder="All classes"
        )
        feeders = st.multiselect(
            "Feeder", feeders_available, key="filter_feeders", placeholder="All feeders"
        )
    filters = Filters(str(timezone), int(days), tuple(classes), tuple(feeders))
    st.session_state[_KEY] = filters
    return filters


def current() -> Filters:
    """The filters the sidebar holds for this run (defaults if it has not been drawn)."""
    found = st.session_state.get(_KEY)
    return found if isinstance(found, Filters) else Filters("UTC", DEFAULT_PERIOD, (), ())
