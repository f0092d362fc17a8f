"""Grid Pipeline dashboard: page config, the shared sidebar filters, navigation.

Run with `streamlit run dashboard/app.py`. This entry script runs on every
page: it registers the pages, checks that the database answers (a friendly
notice with a retry button if not), draws the filters that every page shares
(and keeps them in the URL, so a view can be bookmarked and shared), and runs
the selected page.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the repository root; the
# pages import `dashboard.*`, so make the root importable (a no-op under pytest and AppTest).
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from dashboard import charts, components, data, state  # noqa: E402

st.set_page_config(page_title="Grid Pipeline", page_icon="⚡", layout="wide")
# Status chips in their severity's colour (ok green, warnings amber, failures red) on every
# page; Streamlit draws every multiselect chip in the theme's red otherwise.
st.html(f"<style>{charts.status_chip_css()}</style>")

PAGES = [
    st.Page("app_pages/live.py", title="Live", icon=":material/bolt:", default=True),
    st.Page("app_pages/daily_energy.py", title="Daily energy", icon=":material/calendar_month:"),
    st.Page("app_pages/meter_trends.py", title="Meter trends", icon=":material/show_chart:"),
    st.Page("app_pages/insights.py", title="Insights", icon=":material/insights:"),
    st.Page("app_pages/data_quality.py", title="Data quality", icon=":material/fact_check:"),
    st.Page("app_pages/events.py", title="Events", icon=":material/warning:"),
    st.Page("app_pages/power_quality.py", title="Power quality", icon=":material/electric_meter:"),
    st.Page("app_pages/storage.py", title="Storage and benchmarks", icon=":material/storage:"),
]
page = st.navigation(PAGES)

try:
    fleet = data.fleet()
    default_timezone = data.settings().timezone
except data.DatabaseUnavailable as exc:
    st.title(page.title)
    components.database_down(str(exc))
    st.stop()

state.sidebar(fleet, default_timezone)  # also reads and writes the filters in the URL
state.keep_page_params(page.url_path)
st.sidebar.caption("Data from the TimescaleDB continuous aggregates; cached briefly per view.")

try:
    page.run()
except data.DatabaseUnavailable as exc:
    components.database_down(str(exc))
