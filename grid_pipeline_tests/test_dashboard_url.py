"""The dashboard's view lives in the URL: the sidebar filters (time zone, period, class,
feeder) on every page, and the Meter trends controls (meters, scaling) on that page.

Each test opens the app with query parameters, as a bookmarked or shared link
does, through Streamlit's AppTest against the session's embedded engine with the
small data set of `test_dashboard_pages` loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.selection import MeterSelection
from dashboard.state import DEFAULT_PERIOD, Filters, timezone_options
from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline_tests.test_dashboard_pages import (
    APP,
    load_dashboard_data,
    remove_dashboard_rows,
)

pytestmark = pytest.mark.integration

TITLES = {
    "app_pages/insights.py": "Insights",
    "app_pages/storage.py": "Storage and benchmarks",
    "app_pages/meter_trends.py": "Meter trends",
}


@pytest.fixture(scope="module")
def fleet(database: Database) -> Iterator[dict[str, list[str]]]:
    """The small data set loaded; the classes and feeders its meters have."""
    ids = load_dashboard_data(database)
    with connect(database) as conn:
        found = {
            column: [
                str(row[0])
                for row in conn.execute(f"SELECT DISTINCT {column} FROM meters ORDER BY 1")
            ]
            for column in ("customer_class", "feeder")
        }
    yield found
    remove_dashboard_rows(database, ids)


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def open_url(page: str, params: dict[str, Any]) -> AppTest:
    """A new session opened on `page` with these query parameters, like a pasted link
    (`/insights?tz=...`): the first run is that page's."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(params)
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == [TITLES[page]]
    return at


def sidebar(at: AppTest) -> Filters:
    """What the sidebar widgets show."""
    return Filters(
        at.sidebar.selectbox(key="filter_timezone").value,
        at.sidebar.select_slider(key="filter_days").value,
        tuple(at.sidebar.multiselect(key="filter_classes").value),
        tuple(at.sidebar.multiselect(key="filter_feeders").value),
        tuple(at.sidebar.multiselect(key="filter_transformers").value),
    )


def test_a_url_opens_the_page_with_its_filters(fleet: dict[str, list[str]]) -> None:
    klass, feeder = fleet["customer_class"][0], fleet["feeder"][0]
    params = {"tz": "Europe/Berlin", "days": "3", "class": klass, "feeder": feeder}
    at = open_url("app_pages/insights.py", params)
    expected = Filters("Europe/Berlin", 3, (klass,), (feeder,))
    assert sidebar(at) == expected
    assert at.session_state["grid_filters"] == expected  # what the pages read
    assert "Patterns over the last 3 days" in [s.value for s in at.subheader]
    assert at.query_params == params  # the URL still names the view


def test_a_url_names_a_transformer_of_the_selected_feeders(
    fleet: dict[str, list[str]], database: Database
) -> None:
    with connect(database) as conn:
        feeder, transformer = conn.execute(
            "SELECT feeder, max(transformer) FROM meters GROUP BY feeder ORDER BY 1 LIMIT 1"
        ).fetchone() or ("", "")
    params = {"feeder": feeder, "transformer": transformer}
    at = open_url("app_pages/insights.py", params)
    assert sidebar(at) == Filters("UTC", DEFAULT_PERIOD, (), (feeder,), (transformer,))
    assert sidebar(at).meters == MeterSelection((), (feeder,), (transformer,))  # what pages pass
    assert at.query_params == params
    # A transformer the fleet does not have is ignored, as any value the sidebar does not offer.
    other = open_url("app_pages/insights.py", {"feeder": feeder, "transformer": "F77-T999"})
    assert sidebar(other) == Filters("UTC", DEFAULT_PERIOD, (), (feeder,), ())
    # Clearing the feeder keeps the transformer (offered on every feeder then).
    at.sidebar.multiselect(key="filter_feeders").set_value([]).run()
    assert at.query_params == {"transformer": transformer}


def test_changing_a_filter_writes_it_to_the_url(
    fleet: dict[str, list[str]], settings: Settings
) -> None:
    at = open_url("app_pages/storage.py", {})
    assert at.query_params == {}  # defaults are left out
    two = fleet["customer_class"][:2]
    at.sidebar.selectbox(key="filter_timezone").set_value("Asia/Tokyo").run()
    at.sidebar.select_slider(key="filter_days").set_value(14).run()
    at.sidebar.multiselect(key="filter_classes").set_value(two).run()
    assert not at.exception
    shared = dict(at.query_params)
    assert shared == {"tz": "Asia/Tokyo", "days": "14", "class": two if len(two) > 1 else two[0]}

    # The copied URL reopens the same view, on any page.
    again = open_url("app_pages/insights.py", shared)
    assert sidebar(again) == Filters("Asia/Tokyo", 14, tuple(two), ())

    # Back at a default: the parameter leaves the URL.
    at.sidebar.select_slider(key="filter_days").set_value(DEFAULT_PERIOD).run()
    at.sidebar.selectbox(key="filter_timezone").set_value(timezone_options(settings.timezone)[0])
    at.run()
    assert "days" not in at.query_params and "tz" not in at.query_params


def test_unknown_url_values_are_ignored(fleet: dict[str, list[str]], settings: Settings) -> None:
    klass = fleet["customer_class"][0]
    params = {
        "tz": "Mars/Olympus_Mons",
        "days": "abc",
        "class": ["nobody", klass],
        "feeder": "<script>alert(1)</script>",
    }
    at = open_url("app_pages/insights.py", params)
    assert not at.error, [e.value for e in at.error]
    default_zone = timezone_options(settings.timezone)[0]
    assert sidebar(at) == Filters(default_zone, DEFAULT_PERIOD, (klass,), ())
    assert at.query_params == {"class": klass}  # the bad values are gone from the URL
    odd = open_url("app_pages/storage.py", {"days": "5", "class": ""})  # 5 is not offered
    assert sidebar(odd).days == DEFAULT_PERIOD and odd.query_params == {}


def test_meter_trends_keeps_its_meters_and_scaling_in_the_url(
    fleet: dict[str, list[str]],
) -> None:
    at = open_url("app_pages/meter_trends.py", {"days": "1", "meters": ["4", "2"],
                                                "scale": "per_meter"})  # fmt: skip
    assert at.multiselect(key="trend_meters").value == [2, 4]
    assert at.radio(key="trend_scale").value == "per_meter"
    power = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "yaxis2" in power["layout"], "per meter: a y axis each"
    assert at.query_params == {"days": "1", "meters": ["2", "4"], "scale": "per_meter"}

    at.radio(key="trend_scale").set_value("normalised").run()
    assert not at.exception and at.query_params["scale"] == "normalised"
    at.radio(key="trend_scale").set_value("common").run()
    assert "scale" not in at.query_params

    # Another page keeps the filters but not the trends' own parameters.
    at.switch_page("app_pages/insights.py").run()
    assert at.query_params == {"days": "1"}

    bad = open_url("app_pages/meter_trends.py", {"meters": ["999", "x"], "scale": "log"})
    assert bad.multiselect(key="trend_meters").value == [1, 2, 3]
    assert bad.radio(key="trend_scale").value == "common"
    assert bad.query_params == {"meters": ["1", "2", "3"]}
