"""Power quality: each meter's weekly EN 50160 verdict and its ANSI C84.1 band shares.

Read from `power_quality_weekly` (`grid-pipeline power-quality` or the Dagster asset
`power_quality_weekly`), a few rows per meter and week, so the page stays fast at any
fleet size. The sidebar's classes and feeders apply; its period does not (a verdict is
about a whole week).
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, components, data, state

st.title("Power quality: EN 50160 and ANSI C84.1")
filters = state.current()
if components.no_meter_matches(filters.meters):
    st.stop()
pq = data.power_quality(filters.meters)
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
