"""Data quality: which meters reported how much per day, which hours have gaps, what the
ingestion quarantined and why, and the ingestion runs' counters.
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from dashboard import charts, components, data, state

st.title("Data quality")
filters = state.current()
extent = data.extent()
interval = data.settings().interval
per_hour = int(timedelta(hours=1) / interval)
per_day = int(timedelta(days=1) / interval)

st.subheader("Completeness")
if not extent.has_readings:
    components.empty_state("No readings yet, so completeness cannot be measured.")
else:
    start_day, end_day = filters.local_days(extent.last_reading)
    complete = data.completeness(
        filters.timezone, start_day, end_day, per_day, filters.classes, filters.feeders
    )
    start, end = filters.window(extent.last_reading, interval)
    gaps = data.gaps(filters.timezone, start, end, per_hour, filters.classes, filters.feeders)
    expected = complete.height * per_day
    received = int(complete.get_column("readings").sum() or 0) if complete.height else 0
    cols = st.columns(3)
    cols[0].metric(
        "Readings received", f"{received:,}", help=f"{per_day:,} expected per meter and day"
    )
    cols[1].metric("Completeness", f"{received / expected:.1%}" if expected else "-")
    cols[2].metric("Meter-hours with gaps", f"{gaps.height:,}{'+' if gaps.height >= 200 else ''}")
    st.caption(
        f"Local days {start_day} to {end_day - timedelta(days=1)} in {filters.timezone}; the first "
        "and newest day are partial when the data starts or ends during them."
    )
    components.chart(charts.completeness_heatmap(complete), key="completeness")
    st.markdown("**Hours with missing readings** (worst first)")
    if gaps.is_empty():
        st.success("Every meter-hour with readings is complete.", icon=":material/check_circle:")
    else:
        st.dataframe(gaps, hide_index=True, width="stretch", height=260)

st.subheader("Quarantined payloads")
rejects = data.rejects_by_reason(filters.timezone)
if rejects.is_empty():
    st.success(
        "Nothing quarantined: every payload ingestion received was valid (or ingestion has not "
        "run yet: `grid-pipeline ingest`).",
        icon=":material/check_circle:",
    )
else:
    left, right = st.columns([2, 3])
    with left:
        components.chart(charts.rejects_by_reason(rejects), key="rejects")
    with right:
        st.dataframe(data.recent_rejects(filters.timezone), hide_index=True, width="stretch")

st.subheader("Ingestion runs")
runs = data.ingest_runs(filters.timezone)
if runs.is_empty():
    components.empty_state(
        "No ingestion run recorded yet.",
        "Live readings arrive with `grid-pipeline simulate` and `grid-pipeline ingest` (or the "
        "ingestion job in the Dagster UI).",
    )
else:
    totals = runs.select("received", "inserted", "duplicates", "rejected").sum().row(0, named=True)
    for col, (name, value) in zip(st.columns(4), totals.items(), strict=True):
        col.metric(f"{name.capitalize()} (last {runs.height} runs)", f"{int(value or 0):,}")
    st.dataframe(runs, hide_index=True, width="stretch")
