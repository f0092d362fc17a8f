"""Small UI pieces every page shares: empty states and the database-down notice.

Kept in one place so the wording that tells a user how to load data, or what to
do when the database is down, is the same on every page.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

LOAD_DATA_HINT = (
    "Load data with `grid-pipeline generate` (e.g. `grid-pipeline generate --meters 50 "
    "--days 3`), or materialise the historic assets in the Dagster UI (`grid-pipeline up`)."
)


def empty_state(what: str, hint: str = LOAD_DATA_HINT) -> None:
    """Say that there is nothing to show yet and how to get something."""
    st.info(f"{what}\n\n{hint}", icon=":material/inbox:")


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
