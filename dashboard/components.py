"""Small UI pieces every page shares: empty states, the filter-matches-nothing notice and
the database-down notice.

Kept in one place so the wording that tells a user how to load data, that the sidebar
filters select no meter, or what to do when the database is down, is the same on every page.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard import data
from dashboard.selection import MeterSelection

LOAD_DATA_HINT = (
    "Load data with `grid-pipeline generate` (e.g. `grid-pipeline generate --meters 50 "
    "--days 3`), or materialise the historic assets in the Dagster UI (`grid-pipeline up`)."
)


def empty_state(what: str, hint: str = LOAD_DATA_HINT) -> None:
    """Say that there is nothing to show yet and how to get something."""
    st.info(f"{what}\n\n{hint}", icon=":material/inbox:")


NO_METER_MATCHES = "No meter matches the sidebar filters"


def matching_meters(fleet: pl.DataFrame, meters: MeterSelection) -> int:
    """How many meters of `fleet` the class, feeder and transformer filters select (empty =
    all)."""
    if fleet.is_empty():
        return 0
    selected = fleet
    if meters.classes:
        selected = selected.filter(pl.col("customer_class").is_in(list(meters.classes)))
    if meters.feeders:
        selected = selected.filter(pl.col("feeder").is_in(list(meters.feeders)))
    if meters.transformers:
        selected = selected.filter(pl.col("transformer").is_in(list(meters.transformers)))
    return selected.height


def no_meter_matches(meters: MeterSelection) -> bool:
    """If the sidebar's class, feeder and transformer filters select no meter, say so and
    return True.

    The data exists but this combination (say an industrial class on a feeder with only
    households) selects nothing, so "load data" or "everything is complete" would be
    wrong advice. False, and nothing drawn, when no filter is set or some meter matches;
    also when there are no meters at all (the page's own empty state says how to load them).
    """
    if not meters.narrowed:
        return False
    fleet = data.fleet()
    if fleet.is_empty() or matching_meters(fleet, meters):
        return False
    chosen = "; ".join(
        f"{label}: {', '.join(values)}"
        for label, values in (
            ("class", meters.classes),
            ("feeder", meters.feeders),
            ("transformer", meters.transformers),
        )
        if values
    )
    st.info(
        f"{NO_METER_MATCHES} ({chosen}), so there is nothing to show for this selection. "
        "The data is there: widen or clear the Customer class, Feeder or Transformer filter in "
        "the sidebar.",
        icon=":material/filter_alt_off:",
    )
    return True


def database_down(reason: str) -> None:
    """A friendly notice with a retry button instead of a traceback."""
    st.warning(
        "The database is not reachable right now, so there is nothing to show. "
        "Check that it runs (`grid-pipeline db status`; `grid-pipeline db start` starts the "
        "embedded one) and retry.",
        icon=":material/cloud_off:",
    )
    with st.expander("Details"):
        st.code(reason or "no details", language=None)
    st.button("Retry", key="retry_database", type="primary")  # a click reruns the script


def chart(figure: go.Figure, key: str) -> None:
    """Show a Plotly figure at full width (one place to change how charts are embedded)."""
    st.plotly_chart(figure, key=key, width="stretch", config={"displaylogo": False})
