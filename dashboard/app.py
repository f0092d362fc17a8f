"""Grid Pipeline dashboard entry point (the full pages arrive with the dashboard issue)."""

import streamlit as st

from grid_pipeline.db.connection import connect
from grid_pipeline.db.migrate import ready_database

st.set_page_config(page_title="Grid Pipeline", page_icon="⚡", layout="wide")
st.title("Grid Pipeline")
try:
    with connect(ready_database()) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM meters), (SELECT count(*) FROM energy_readings)"
        ).fetchone()
    meters, readings = row if row else (0, 0)
    st.metric("Meters", f"{meters:,}")
    st.metric("Readings", f"{readings:,}")
    if not readings:
        st.info(
            "No readings yet: run `grid-pipeline generate`, "
            "or materialise the assets in the Dagster UI."
        )
except Exception as exc:  # the dashboard must never show a traceback for a down database
    st.warning(f"The database is not reachable right now: {exc}")
