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
window = (filters.timezone, start, end, filters.classes, filters.feeders)

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

if components.no_meter_matches(filters.classes, filters.feeders):
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

# --- power quality ---
st.subheader("Power quality: EN 50160 and ANSI C84.1")
pq = data.power_quality(filters.classes, filters.feeders)
if pq.is_empty():
    components.empty_state(
        "No power quality computed yet.",
        "Compute the weekly EN 50160 verdicts and ANSI C84.1 band shares with "
        "`grid-pipeline power-quality` (or materialise `power_quality_weekly` in Dagster).",
    )
    st.stop()
st.caption(
    "Per meter and week (Monday 00:00 UTC), from the 10-minute mean voltages. EN 50160 passes a "
    "week when at least 95 % of them lie within ±10 % of nominal and none above +10 % or below "
    "-15 %; a week not whole inside the data is incomplete. Windows with an interruption "
    "(voltage 0) are left out. The sidebar's classes and feeders apply; its period does not."
)
weeks = charts.verdict_counts(pq)
options = weeks.get_column("week").to_list()[::-1]  # newest first
week = st.selectbox(
    "Week", options, index=charts.judged_week_index(weeks), format_func=charts.week_label,
    key="power_quality_week",
    help="The week the numbers, the failing meters and the ANSI bands below are of.",
)  # fmt: skip
chosen = pq.filter(pq.get_column("week") == week)
counts = weeks.row(options[::-1].index(week), named=True)
cols = st.columns(4)
cols[0].metric("Meters", f"{chosen.height:,}")
cols[1].metric("Pass", f"{counts['pass']:,}")
cols[2].metric("Fail", f"{counts['fail']:,}")
cols[3].metric("Incomplete", f"{counts['incomplete']:,}")
left, right = st.columns(2)
with left:
    components.chart(charts.power_quality_verdicts(pq), key="power_quality_verdicts")
with right:
    components.chart(charts.power_quality_ansi(chosen), key="power_quality_ansi")
failing = charts.failing_meters(chosen)
st.markdown(f"**Meters failing EN 50160 in the {charts.week_label(week)}: {failing.height:,}**")
if failing.height:
    st.dataframe(
        failing,
        hide_index=True,
        width="stretch",
        key="power_quality_failing",
        column_config={
            "meter_id": st.column_config.NumberColumn("meter", format="%d"),
            "customer_class": st.column_config.TextColumn("class"),
            "share_within_10pct": st.column_config.NumberColumn(
                "within ±10 %", format="percent", help="EN 50160 asks at least 95 %"
            ),
            "any_outside_limits": st.column_config.CheckboxColumn(
                "beyond +10 % / -15 %", help="some 10-minute mean beyond the absolute limits"
            ),
            "windows": st.column_config.NumberColumn("10-min windows", format="%d"),
            "windows_excluded": st.column_config.NumberColumn("interrupted", format="%d"),
            "ansi_a": st.column_config.NumberColumn("ANSI A", format="percent"),
            "ansi_b_only": st.column_config.NumberColumn("ANSI B only", format="percent"),
            "ansi_outside": st.column_config.NumberColumn("outside B", format="percent"),
        },
    )
