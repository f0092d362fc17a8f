"""Meter trends: pick meters (by id, class, feeder), see power, energy and voltage over the
period with min/max bands, and download exactly what is shown as CSV.

Short periods (up to RAW_MAX_DAYS) show the raw readings; longer ones the hourly
statistics aggregate, whose min and max give the bands.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import charts, components, data, state

RAW_MAX_DAYS = 2
MAX_METERS = 8

st.title("Meter trends")
filters = state.current()
extent = data.extent()
fleet = data.fleet()
if fleet.is_empty() or not extent.has_readings:
    components.empty_state("No meters or readings yet, so there are no trends.")
    st.stop()

candidates = fleet
if filters.classes:
    candidates = candidates.filter(pl.col("customer_class").is_in(filters.classes))
if filters.feeders:
    candidates = candidates.filter(pl.col("feeder").is_in(filters.feeders))
labels = {
    int(m): f"{m} · {c} · {f}{' · PV' if s else ''}"
    for m, c, f, s in candidates.select(
        "meter_id", "customer_class", "feeder", "has_solar"
    ).iter_rows()
}
if not labels:
    components.empty_state(
        "No meter matches the sidebar filters.", "Widen the class or feeder filter."
    )
    st.stop()

chosen = st.multiselect(
    f"Meters (type an id, class or feeder to search; up to {MAX_METERS})",
    list(labels),
    default=list(labels)[:3],
    format_func=labels.__getitem__,
    max_selections=MAX_METERS,
    key="trend_meters",
)
if not chosen:
    st.info("Pick one or more meters above.", icon=":material/touch_app:")
    st.stop()

raw = filters.days <= RAW_MAX_DAYS
start, end = filters.window(extent.last_reading, data.settings().interval)
trends = data.meter_trends(filters.timezone, tuple(sorted(chosen)), start, end, raw)
st.caption(
    f"{'Raw readings' if raw else 'Hourly aggregate (line = mean, band = min to max)'} "
    f"for the last {filters.days} day(s) up to the newest reading, in {filters.timezone}. "
    f"{trends.height:,} rows."
)
if trends.is_empty():
    components.empty_state("The chosen meters have no readings in this period.")
    st.stop()

power_band = None if raw else ("min_power_kw", "max_power_kw")
voltage_band = None if raw else ("min_voltage_v", "max_voltage_v")
components.chart(
    charts.trend_with_band(trends, "power_kw", "Power (kW, negative = export)", "kW", power_band),
    key="trend_power",
)
components.chart(
    charts.energy_bars(trends, "Energy per " + ("reading interval" if raw else "hour") + " (kWh)"),
    key="trend_energy",
)
components.chart(
    charts.trend_with_band(trends, "voltage_v", "Voltage (V)", "V", voltage_band),
    key="trend_voltage",
)

st.download_button(
    "Download CSV of what is shown",
    trends.write_csv(),
    file_name=f"meter_trends_{'raw' if raw else 'hourly'}_{start:%Y%m%d}_{end:%Y%m%d}.csv",
    mime="text/csv",
    icon=":material/download:",
)
with st.expander("Table"):
    st.dataframe(trends, hide_index=True, width="stretch")
