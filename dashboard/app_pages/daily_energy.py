"""Daily energy totals: kWh per local day, split by customer class and feeder, vs the
previous period of the same length over the same elapsed time.

Days are cut at midnight of the sidebar's time zone by summing the hourly
aggregate (the daily aggregate's days are UTC days). The newest day is usually
still running, so this period ends where the data ends (the newest ended
interval) and the previous period is cut at the same local time of day: a partial
day is compared with the same part of a day, never with a whole one. Means and
day counts use complete days only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st

from dashboard import charts, components, data, state

st.title("Daily energy totals")
filters = state.current()
extent = data.extent()
interval = data.settings().interval
cut = extent.cut(interval)
if cut is None or extent.first_reading is None:
    components.empty_state("No readings yet, so there are no daily totals.")
    st.stop()
if components.no_meter_matches(filters.meters):
    st.stop()

zone = ZoneInfo(filters.timezone)
period = timedelta(days=filters.days)
# The local days up to the day of the newest ended interval (cut is that interval's end).
start_day, end_day = filters.local_days(cut - interval)
last_day = end_day - timedelta(days=1)
cut_local = cut.astimezone(zone)
previous_cut_local = cut_local - period  # wall-clock arithmetic: same time of day
previous_start = datetime.combine(start_day - period, datetime.min.time(), tzinfo=zone)
first_local = extent.first_reading.astimezone(zone)
partial = cut_local.date() == last_day  # cut at the last day's end lands on the next date

current = data.daily_energy(filters.timezone, start_day, end_day, cut, filters.meters)
previous = data.daily_energy(
    filters.timezone,
    start_day - period,
    start_day,
    previous_cut_local.astimezone(UTC),
    filters.meters,
)
this_kwh, before_kwh = charts.total_kwh(current), charts.total_kwh(previous)
# The previous period is comparable only when it lies wholly inside the data set.
comparable = bool(before_kwh) and extent.first_reading <= previous_start
complete = (
    current.filter(pl.col("complete")).group_by("day").agg(pl.col("energy_kwh").sum())
    if current.height
    else pl.DataFrame(schema={"day": pl.Date, "energy_kwh": pl.Float64})
)
ended_days = filters.days - (1 if partial else 0)

plural, verb = ("s", "are") if filters.days != 1 else ("", "is")
net = "Net energy: export by PV meters counts negative."
if partial:
    st.caption(
        f"{start_day} to {last_day} ({filters.days} local day{plural} in {filters.timezone}); "
        f"the newest day, {last_day}, is partial: data up to {cut_local:%H:%M}. Compared over "
        f"the same elapsed time: the previous {filters.days} day{plural} {verb} cut at the same "
        f"time of day ({previous_cut_local:%H:%M} on {previous_cut_local.date()}). Mean per "
        f"day and days counted use complete days only. {net}"
    )
else:
    st.caption(
        f"{start_day} to {last_day} ({filters.days} complete local day{plural} in "
        f"{filters.timezone}), compared with the {filters.days} day{plural} before. {net}"
    )

cols = st.columns(4)
cols[0].metric(
    "Energy this period",
    f"{this_kwh:,.0f} kWh",
    delta=f"{(this_kwh - before_kwh) / abs(before_kwh):+.1%}" if comparable else None,
    help=f"Up to {cut_local:%Y-%m-%d %H:%M}, against the previous {filters.days} days up to the "
    "same time of day, so a partial day is compared with the same part of a day.",
)
if not previous.height:
    previous_value = "no data"
elif not comparable:
    previous_value = "partial data"
else:
    previous_value = f"{before_kwh:,.0f} kWh"
cols[1].metric(
    "Previous period",
    previous_value,
    help=f"{start_day - period} to {previous_cut_local:%Y-%m-%d %H:%M}. Not compared when the "
    f"data set began after its start (first reading {first_local:%Y-%m-%d %H:%M}).",
)
cols[2].metric(
    "Mean per complete day",
    f"{charts.total_kwh(complete) / complete.height:,.0f} kWh" if complete.height else "-",
    help="Days that have ended and lie wholly inside the data set; the running day is left out.",
)
cols[3].metric(
    "Complete days with data",
    f"{complete.height} / {ended_days}",
    help="Days of the period that have ended, with readings from their start to their end"
    + (f"; {last_day} is still running and is not counted." if partial else "."),
)

if current.is_empty():
    components.empty_state(
        "The selected meters have no readings in this period.",
        "Pick a longer period, or other classes or feeders, in the sidebar.",
    )
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
    .join(current.group_by("day").agg(pl.col("complete").all().alias("complete day")), on="day")
    .sort("day")
)
st.dataframe(table, hide_index=True, width="stretch")
