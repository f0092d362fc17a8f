"""Sidebar filters that persist across pages, the URL that carries them, and the time
window they imply.

The filter widgets are drawn by the entry script (`app.py`), which runs on every
page, so their values survive page switches without copying session state
around; pages read the current values with `current()`. Windows are anchored at
the newest reading rather than at "now", so a data set generated yesterday
still shows its last days instead of empty charts.

The filters live in the URL too
(`?tz=Europe/Berlin&days=3&class=residential&feeder=F01&transformer=F01-T002`),
so a view can be bookmarked and shared: a session's first run reads them from
the query parameters (values the sidebar does not offer are ignored), and every
run writes the current ones back (a value at its default is left out). Pages
keep their own controls there the same way (`PAGE_PARAMS`, `url_values`,
`write_url`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st

from dashboard.selection import MeterSelection

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

#: Query parameters a page keeps for its own controls (url_path -> names): dropped from the URL
#: on the other pages, so a link to another page does not carry them along.
PAGE_PARAMS = {"meter_trends": ("meters", "scale")}


@dataclass(frozen=True)
class Filters:
    """What the sidebar selects: applied by every page that shows fleet data."""

    timezone: str
    days: int
    classes: tuple[str, ...]
    feeders: tuple[str, ...]
    #: Distribution transformers (`meters.transformer`); offered only on the selected feeders.
    transformers: tuple[str, ...] = ()

    @property
    def meters(self) -> MeterSelection:
        """The class, feeder and transformer filters as the one value the data layer takes."""
        return MeterSelection(self.classes, self.feeders, self.transformers)

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


def url_values(name: str) -> list[str]:
    """Every value of a query parameter, repeated (`?class=a&class=b`) or comma-separated."""
    return [part.strip() for raw in st.query_params.get_all(name) for part in raw.split(",")]


def url_choice(name: str, options: Sequence[object], default: object) -> object:
    """The option the URL names (matched by its text), else `default`: never an unknown value."""
    by_text = {str(o): o for o in options}
    found = [by_text[v] for v in url_values(name) if v in by_text]
    return found[-1] if found else default


def url_choices(name: str, options: Sequence[object]) -> list[object]:
    """The options the URL names, in the options' order; unknown values are ignored."""
    wanted = set(url_values(name))
    return [o for o in options if str(o) in wanted]


UrlValue = str | int | Iterable[str | int] | None


def write_url(params: Mapping[str, UrlValue]) -> None:
    """Put these query parameters in the URL (None or empty: remove). Only changes are sent,
    and parameters not named here stay as they are."""
    for name, value in params.items():
        if value is None:
            values: list[str] = []
        elif isinstance(value, str | int):
            values = [str(value)]
        else:
            values = [str(v) for v in value]
        if st.query_params.get_all(name) == values:
            continue
        if values:
            st.query_params[name] = values if len(values) > 1 else values[0]
        elif name in st.query_params:
            del st.query_params[name]


def keep_page_params(url_path: str) -> None:
    """Drop the parameters other pages keep for their controls (`PAGE_PARAMS`) from the URL."""
    write_url(
        {name: None for path, names in PAGE_PARAMS.items() if path != url_path for name in names}
    )


def restore(key: str, options: Sequence[object], from_url: object, default: object) -> None:
    """Give a widget its starting value before it is drawn, valid for today's `options`.

    On the widget's first draw in this session (its key not in the session state) the value
    comes from the URL (`from_url`, already validated) or `default`; later the widget keeps
    what the user chose, minus options that have disappeared since. The widget is then drawn
    with `key=key` and no default of its own.
    """
    if key not in st.session_state:
        st.session_state[key] = from_url
        return
    held = st.session_state[key]
    if isinstance(held, list):
        kept = [v for v in held if v in options]
        if kept != held:
            st.session_state[key] = kept or default
    elif held not in options:
        st.session_state[key] = default


def transformer_options(fleet: pl.DataFrame, feeders: Sequence[str]) -> list[str]:
    """The transformers serving the fleet's meters, on `feeders` only (empty: every feeder).

    Narrowed to the chosen feeders so a transformer and a feeder filter never contradict each
    other; a transformer the feeder change leaves out drops from the selection.
    """
    if fleet.is_empty() or "transformer" not in fleet.columns:
        return []
    served = fleet.filter(pl.col("transformer").is_not_null())
    if feeders:
        served = served.filter(pl.col("feeder").is_in(list(feeders)))
    return sorted(served.get_column("transformer").unique().to_list())


def sidebar(fleet: pl.DataFrame, default_timezone: str) -> Filters:
    """Draw the filters in the sidebar, remember them for the pages and put them in the URL."""
    classes_available = (
        sorted(fleet.get_column("customer_class").unique().to_list()) if fleet.height else []
    )
    feeders_available = (
        sorted(fleet.get_column("feeder").unique().to_list()) if fleet.height else []
    )
    zones = timezone_options(default_timezone)
    restore("filter_timezone", zones, url_choice("tz", zones, zones[0]), zones[0])
    restore("filter_days", PERIODS, url_choice("days", PERIODS, DEFAULT_PERIOD), DEFAULT_PERIOD)
    restore("filter_classes", classes_available, url_choices("class", classes_available), [])
    restore("filter_feeders", feeders_available, url_choices("feeder", feeders_available), [])
    transformers_available = transformer_options(fleet, st.session_state["filter_feeders"])
    restore(
        "filter_transformers",
        transformers_available,
        url_choices("transformer", transformers_available),
        [],
    )
    with st.sidebar:
        st.header("Filters")
        timezone = st.selectbox(
            "Time zone", zones, key="filter_timezone",
            help="Days and hours are shown in this zone.",
        )  # fmt: skip
        days = st.select_slider(
            "Period (days up to the newest reading)", PERIODS, key="filter_days"
        )
        classes = st.multiselect(
            "Customer class", classes_available, key="filter_classes", placeholder="All classes"
        )
        feeders = st.multiselect(
            "Feeder", feeders_available, key="filter_feeders", placeholder="All feeders"
        )
        transformers = st.multiselect(
            "Transformer", transformers_available, key="filter_transformers",
            placeholder="All transformers",
            help="Distribution transformers on the selected feeders (all feeders if none).",
        )  # fmt: skip
    filters = Filters(str(timezone), int(days), tuple(classes), tuple(feeders), tuple(transformers))
    st.session_state[_KEY] = filters
    write_url(
        {
            "tz": None if filters.timezone == zones[0] else filters.timezone,
            "days": None if filters.days == DEFAULT_PERIOD else filters.days,
            "class": filters.classes,
            "feeder": filters.feeders,
            "transformer": filters.transformers,
        }
    )
    return filters


def current() -> Filters:
    """The filters the sidebar holds for this run (defaults if it has not been drawn)."""
    found = st.session_state.get(_KEY)
    return found if isinstance(found, Filters) else Filters("UTC", DEFAULT_PERIOD, (), ())
