"""Insights: the seed's peak 15-minute intervals (Q2) and monthly consumption (Q3), the
weekly load pattern, top consumers, solar export, voltage quality and peak demand.

The seed queries cover the whole fleet (they take no filters) and are answered from the
continuous aggregates unless the toggle asks for the seed's statements verbatim; every
other view follows the sidebar's period, classes and feeders.
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, components, data, state

st.title("Insights")
filters = state.current()
extent = data.extent()
if not extent.has_readings:
    components.empty_state("No readings yet, so there is nothing to analyse.")
    st.stop()

start, end = filters.window(extent.last_reading, data.settings().interval)
window = (filters.timezone, start, end, filters.meters)

st.subheader("From the seed: peaks and monthly consumption")
verbatim = st.toggle(
    "Run the seed's SQL verbatim on the raw readings",
    key="insights_verbatim",
    help="Off: the same answers from the continuous aggregates (fast). On: seed queries 2 and 3 "
    "exactly as the seed wrote them (query 3 scans every reading).",
)
st.caption(
    "Seed queries 2 and 3 over the whole fleet (they take no filters), "
    + ("verbatim on the raw readings." if verbatim else "answered from the continuous aggregates.")
)
left, right = st.columns(2)
with left:
    components.chart(charts.peak_intervals(data.peak_15min_this_week(verbatim)), key="seed_q2")
with right:
    monthly = data.monthly_consumption_by_meter(verbatim)
    components.chart(charts.monthly_by_meter(monthly), key="seed_q3")

if components.no_meter_matches(filters.meters):
    st.stop()  # the seed's views above cover the whole fleet; everything below is filtered

st.subheader(f"Patterns over the last {filters.days} day{'' if filters.days == 1 else 's'}")
left, right = st.columns(2)
with left:
    components.chart(charts.load_heatmap(data.load_heatmap(*window)), key="heatmap")
with right:
    components.chart(charts.top_consumers(data.top_consumers(*window)), key="top_consumers")

left, right = st.columns(2)
with left:
    components.chart(charts.solar_export(data.solar_export(*window)), key="solar")
with right:
    # No reading outside the band: the chart says so in words instead of drawing empty axes.
    quality = data.voltage_quality(*window)
    components.chart(charts.voltage_quality(quality), key="voltage_quality")

peaks = data.peak_demand(*window)
components.chart(charts.peak_demand(peaks), key="peak_demand")
with st.expander("Peak demand of every meter"):
    st.dataframe(
        peaks.sort("peak_kw", descending=True) if peaks.height else peaks,
        hide_index=True,
        width="stretch",
        column_config={
            "peak_kw": st.column_config.NumberColumn("peak kW", format="%.2f"),
            "peak_of_rated": st.column_config.ProgressColumn(
                "of rated", min_value=0.0, max_value=1.0, format="percent"
            ),
        },
    )
