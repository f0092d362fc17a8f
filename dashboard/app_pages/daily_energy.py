"""Daily energy totals: kWh per local day, split by customer class and feeder, vs the
previous period of the same length.

Days are cut at midnight of the sidebar's time zone by summing the hourly
aggregate (the daily aggregate's days are UTC days).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import streamlit as st

from dashboard import charts, components, data, state

st.title("Daily energy totals")
filters = state.current()
extent = data.extent()
if not extent.has_readings:
    components.empty_state("No readings yet, so there are no daily totals.")
    st.stop()

start_day, end_day = filters.local_days(extent.last_reading)
period = timedelta(days=filters.days)
st.caption(
    f"{start_day} to {end_day - timedelta(days=1)} ({filters.days} local days in "
    f"{filters.timezone}), compared with the {filters.days} days before. Net energy: "
    "export by PV meters counts negative."
)

current = data.daily_energy(filters.timezone, start_day, end_day, filters.classes, filters.feeders)
previous = data.daily_energy(
    filters.timezone, start_day - period, start_day, filters.classes, filters.feeders
)
this_kwh, before_kwh = charts.total_kwh(current), charts.total_kwh(previous)
days_with_data = current.get_column("day").n_unique() if current.height else 0

cols = st.columns(4)
cols[0].metric(
    "Energy this period",
    f"{this_kwh:,.0f} kWh",
    delta=f"{(this_kwh - before_kwh) / abs(before_kwh):+.1%}" if before_kwh else None,
    help="Change against the previous period of the same length",
)
cols[1].metric("Previous period", f"{before_kwh:,.0f} kWh" if previous.height else "no data")
cols[2].metric("Mean per day", f"{this_kwh / max(days_with_data, 1):,.0f} kWh")
cols[3].metric("Days with data", f"{days_with_data} / {filters.days}")

if current.is_empty():
    components.empty_state("No readings in this period for the selected meters.")
    st.stop()

by_class, by_feeder = st.tabs(["By customer class", "By feeder"])
with by_class:
    components.chart(charts.daily_energy_split(current, "customer_class"), key="daily_class")
with by_feeder:
    components.chart(charts.daily_energy_split(current, "feeder"), key="daily_feeder")

components.chart(charts.period_comparison(current, previous), key="daily_compare")

st.subheader("Totals per day and class")
table = (
    current.group_by("day", "customer_class")
    .agg(pl.col("energy_kwh").sum())
    .pivot(on="customer_class", index="day", values="energy_kwh")
    .sort("day")
)
st.dataframe(table, hide_index=True, width="stretch")
