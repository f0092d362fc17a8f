"""Live: the fleet's last hour, every meter's newest reading, ingestion rate and lag.

The body is a fragment that re-runs itself every REFRESH_S seconds, so the
numbers move without reloading the page (the sidebar and navigation stay put).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import streamlit as st

from dashboard import charts, components, data, state

REFRESH_S = 15
STATUS_ORDER = list(charts.STATUS_COLORS)

st.title("Live readings")
st.caption(
    f"The newest hour of readings; refreshes every {REFRESH_S} s. Times in the sidebar's zone."
)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


@st.fragment(run_every=timedelta(seconds=REFRESH_S))
def live_view() -> None:
    """Everything on the page that changes with new readings."""
    try:
        _live_view()
    except data.DatabaseUnavailable as exc:  # a fragment rerun is outside app.py's guard
        components.database_down(str(exc))


def _live_view() -> None:
    filters = state.current()
    interval = data.settings().interval
    if not data.extent().has_readings:
        components.empty_state("No readings yet, so there is nothing live to show.")
        return

    ingest = data.live_ingest()
    load = data.live_fleet_load(filters.timezone, filters.classes, filters.feeders)
    latest = data.live_latest_per_meter(
        filters.timezone, filters.classes, filters.feeders, 3 * interval
    )
    counts = charts.status_counts(latest)

    lag_s = ingest["lag_s"]
    if lag_s is not None and lag_s > 3600:
        st.info(
            f"No readings arrived in the last hour: showing the newest hour on record, which "
            f"ended {_age(lag_s)} ago. Start live data with `grid-pipeline simulate` and "
            "`grid-pipeline ingest`.",
            icon=":material/history:",
        )

    fleet_kw = float(load.get_column("power_kw").tail(1)[0]) if load.height else 0.0
    reporting = int(load.get_column("meters_reporting").tail(1)[0]) if load.height else 0
    cols = st.columns(5)
    cols[0].metric("Fleet load now", f"{fleet_kw:,.0f} kW")
    cols[1].metric("Meters reporting", f"{reporting:,} / {latest.height:,}")
    cols[2].metric("Readings/s (last 5 min)", f"{ingest['readings_per_s'] or 0:,.1f}")
    cols[3].metric("Ingestion lag", _age(lag_s), help="now minus the newest reading's timestamp")
    cols[4].metric("Meters needing attention", f"{counts['stale'] + counts['no data']:,}")

    left, right = st.columns([3, 2])
    with left:
        components.chart(charts.fleet_load_curve(load), key="live_load")
    with right:
        components.chart(charts.feeder_breakdown(latest), key="live_feeders")

    st.subheader("Newest reading per meter")
    st.caption(
        " · ".join(f"{status}: {n:,}" for status, n in counts.items())
        + f" (stale = more than {3 * interval} behind the newest reading)"
    )
    shown = st.multiselect("Show statuses", STATUS_ORDER, default=STATUS_ORDER, key="live_status")
    table = latest.filter(pl.col("status").is_in(shown)) if latest.height else latest
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=320,
        column_config={
            "meter_id": st.column_config.NumberColumn("meter", format="%d"),
            "last_reading": st.column_config.DatetimeColumn("newest reading"),
            "power_kw": st.column_config.NumberColumn("kW", format="%.2f"),
            "voltage_v": st.column_config.NumberColumn("V", format="%.1f"),
            "current_a": st.column_config.NumberColumn("A", format="%.1f"),
            "rated_kw": st.column_config.NumberColumn("rated kW", format="%.1f"),
        },
    )

    if ingest["run_id"] is not None:
        st.caption(
            f"Newest ingestion run `{ingest['run_id']}`: {ingest['status']}, "
            f"{ingest['inserted'] or 0:,} inserted, {ingest['rejected'] or 0:,} rejected, "
            f"commit lag p95 {ingest['lag_s_p95'] or 0:.1f} s."
        )
    else:
        st.caption("No ingestion run recorded yet (`grid-pipeline ingest` starts one).")


live_view()
