"""Meter trends: pick meters (by id, class, feeder), see power, energy and voltage over the
period with min/max bands, and download exactly what is shown as CSV.

Short periods (up to RAW_MAX_DAYS) show the raw readings; longer ones the hourly
statistics aggregate, whose min and max give the bands. Each meter keeps one colour in
every chart (and on its chip in the picker). The y axes are shared, one per meter, or in
percent of each meter's peak, so a household is readable beside an industrial site. The
chosen meters and the scaling are in the URL (`?meters=3&meters=17&scale=per_meter`).
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
if filters.transformers:
    candidates = candidates.filter(pl.col("transformer").is_in(filters.transformers))
labels = {
    int(m): f"{m} · {c} · {f}{' · PV' if s else ''}"
    for m, c, f, s in candidates.select(
        "meter_id", "customer_class", "feeder", "has_solar"
    ).iter_rows()
}
if not labels:
    if not components.no_meter_matches(filters.meters):
        components.empty_state(
            "No meter matches the sidebar filters.",
            "Widen the class, feeder or transformer filter.",
        )
    st.stop()

options = list(labels)
state.restore(
    "trend_meters",
    options,
    state.url_choices("meters", options)[:MAX_METERS] or options[:3],
    options[:3],
)
state.restore(
    "trend_scale",
    list(charts.SCALES),
    state.url_choice("scale", list(charts.SCALES), "common"),
    "common",
)
left, right = st.columns([3, 2], vertical_alignment="bottom")
chosen = left.multiselect(
    f"Meters (type an id, class or feeder to search; up to {MAX_METERS})",
    options,
    format_func=labels.__getitem__,
    max_selections=MAX_METERS,
    key="trend_meters",
)
scale = right.radio(
    "Scale",
    list(charts.SCALES),
    format_func=charts.SCALES.__getitem__,
    horizontal=True,
    key="trend_scale",
    help="Shared: one y axis for every meter. Per meter: a row per meter with its own y axis, "
    "so small meters are not flat lines beside large ones. %: each meter in percent of its "
    "own peak in this period (hover shows the real value).",
)
state.write_url({"meters": sorted(chosen), "scale": None if scale == "common" else scale})
# The chips in the picker take each meter's chart colour.
st.html(
    "<style>"
    + charts.chip_css(
        {labels[m]: charts.meter_color(m) for m in chosen}, scope=".st-key-trend_meters"
    )
    + "</style>"
)
if not chosen:
    st.info("Pick one or more meters above.", icon=":material/touch_app:")
    st.stop()

raw = filters.days <= RAW_MAX_DAYS
start, end = filters.window(extent.last_reading, data.settings().interval)
trends = data.meter_trends(filters.timezone, tuple(sorted(chosen)), start, end, raw)
st.caption(
    f"{'Raw readings' if raw else 'Hourly aggregate (line = mean, band = min to max)'} "
    f"for the last {filters.days} day{'' if filters.days == 1 else 's'} up to the newest "
    f"reading, in {filters.timezone}. {trends.height:,} rows."
)
if trends.is_empty():
    components.empty_state("The chosen meters have no readings in this period.")
    st.stop()

power_band = None if raw else ("min_power_kw", "max_power_kw")
voltage_band = None if raw else ("min_voltage_v", "max_voltage_v")
components.chart(
    charts.trend_with_band(
        trends, "power_kw", "Power (kW, negative = export)", "kW", power_band, scale
    ),
    key="trend_power",
)
components.chart(
    charts.energy_bars(
        trends, "Energy per " + ("reading interval" if raw else "hour") + " (kWh)", scale
    ),
    key="trend_energy",
)
components.chart(
    charts.trend_with_band(trends, "voltage_v", "Voltage (V)", "V", voltage_band, scale),
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
