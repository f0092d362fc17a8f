"""Live: the fleet's last hour, every meter's newest reading, and whether ingestion keeps
up with the meters' reporting interval.

Meters report once per interval (GRID_INTERVAL, 5 min by default), so readings arrive in
bursts: rates and lag are measured per interval, against the newest interval every meter
should have reported by now (sql/queries/dashboard_live_ingest.sql), and the page states
normal / late / stalled with the thresholds it used.

The body is a fragment that re-runs itself every REFRESH_S seconds, so the
numbers move without reloading the page (the sidebar and navigation stay put).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
import streamlit as st

from dashboard import charts, components, data, state

REFRESH_S = 15
STATUS_ORDER = list(charts.STATUS_COLORS)
#: An interval is due this share of an interval after it ended (readings take a moment).
GRACE_SHARE = 0.2
#: Up to this many due intervals without any reading is late; more is stalled.
LATE_INTERVALS = 3
#: "(Nearly) every meter": the share of the fleet the due interval needs for normal.
NEARLY_ALL = 0.95
span = charts.format_duration

st.title("Live readings")
st.caption(
    f"The newest hour of readings; refreshes every {REFRESH_S} s. Times in the sidebar's zone."
)


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else span(timedelta(seconds=round(seconds)))


def _rules(interval: timedelta, grace: timedelta) -> str:
    """How the state is judged, in words, with this configuration's numbers."""
    return (
        f"Meters report every {span(interval)}; a reading covers the {span(interval)} after "
        f"its timestamp, and an interval is due {span(grace)} after it ends. **Normal**: at "
        f"least {NEARLY_ALL:.0%} of the meters reported the newest due interval, i.e. the "
        f"newest reading's interval ended at most {span(interval + grace)} ago (one interval "
        f"plus the grace). **Late**: some meters, or up to {LATE_INTERVALS} due intervals, "
        f"are missing (lag up to {span((LATE_INTERVALS + 1) * interval + grace)}). "
        f"**Stalled**: no reading for more than {LATE_INTERVALS} due intervals."
    )


def _state_notice(ingest: dict[str, Any], interval: timedelta, grace: timedelta) -> None:
    """One line that says whether ingestion keeps up, with the interval it judged."""
    due = f"{ingest['due_start']:%H:%M}-{ingest['due_end']:%H:%M}"
    reported = f"{ingest['due_meters']:,} of {ingest['meters']:,} meters"
    if ingest["state"] == "normal":
        st.success(
            f"Normal: {reported} reported the newest due interval ({due}); the next one is due "
            f"{span(grace)} after it ends.",
            icon=":material/check_circle:",
        )
    elif ingest["state"] == "late":
        behind = ingest["behind"]
        what = (
            f"{behind} due interval{'s' if behind > 1 else ''} without any reading"
            if behind
            else f"only {reported} reported the newest due interval ({due})"
        )
        st.warning(
            f"Late: {what}. Stalled after more than {LATE_INTERVALS} due intervals.",
            icon=":material/schedule:",
        )
    else:
        newest = ingest["newest_reading"]
        seen = f"newest reading {newest:%H:%M}" if newest is not None else "none in the last hour"
        st.error(
            f"Stalled: no reading for more than {LATE_INTERVALS} due intervals of "
            f"{span(interval)} ({seen}). Is `grid-pipeline ingest` (and a meter source such as "
            "`grid-pipeline simulate`) running?",
            icon=":material/error:",
        )


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
    grace = interval * GRACE_SHARE
    extent = data.extent()
    if extent.last_reading is None:
        components.empty_state("No readings yet, so there is nothing live to show.")
        return
    if components.no_meter_matches(filters.meters):
        return

    ingest = data.live_ingest(
        filters.timezone, interval, grace, LATE_INTERVALS, NEARLY_ALL, filters.meters
    )
    load = data.live_fleet_load(filters.timezone, filters.meters)
    latest = data.live_latest_per_meter(filters.timezone, filters.meters, LATE_INTERVALS * interval)
    counts = charts.status_counts(latest)

    quiet_s = (extent.checked_at - extent.last_reading).total_seconds()
    if quiet_s > 3600:
        st.info(
            f"No readings arrived in the last hour (ingestion stalled or not running): showing "
            f"the newest hour on record, which ended {_age(quiet_s)} ago. Start live data with "
            "`grid-pipeline simulate` and `grid-pipeline ingest`.",
            icon=":material/history:",
        )
    else:
        _state_notice(ingest, interval, grace)

    due = f"{ingest['due_start']:%H:%M}-{ingest['due_end']:%H:%M}"
    lag_s = ingest["lag_s"]
    cols = st.columns(5)
    cols[0].metric(
        "Fleet load",
        f"{ingest['due_power_kw'] or 0:,.0f} kW",
        help=f"Sum of the meters' power in the newest due interval ({due})",
    )
    cols[1].metric(
        "Meters reporting",
        f"{ingest['due_meters']:,} / {ingest['meters']:,}",
        help=f"Meters with a reading for the newest due interval ({due}); normal needs "
        f"{NEARLY_ALL:.0%}",
    )
    cols[2].metric(
        "Readings/s (per interval)",
        f"{ingest['readings_per_s'] or 0:,.2f}",
        help=f"Readings of the newest due interval ({due}) over its {span(interval)}; "
        f"expected {ingest['expected_per_s'] or 0:,.2f}/s (one reading per meter and interval)",
    )
    cols[3].metric(
        "Ingestion lag",
        _age(max(0.0, lag_s)) if lag_s is not None else f"> {span(timedelta(hours=1))}",
        help=f"How long ago the newest reading's interval ended. Normal up to "
        f"{span(interval + grace)} (one interval plus the grace), late up to "
        f"{span((LATE_INTERVALS + 1) * interval + grace)}, stalled beyond.",
    )
    cols[4].metric("Meters needing attention", f"{counts['stale'] + counts['no data']:,}")
    with st.expander("How the state is judged"):
        st.markdown(_rules(interval, grace))

    left, right = st.columns([3, 2])
    with left:
        components.chart(charts.fleet_load_curve(load), key="live_load")
    with right:
        components.chart(charts.feeder_breakdown(latest), key="live_feeders")

    st.subheader("Newest reading per meter")
    st.caption(
        " · ".join(f"{status}: {n:,}" for status, n in counts.items())
        + f" (stale = more than {LATE_INTERVALS} intervals, {span(LATE_INTERVALS * interval)},"
        " behind the newest reading)"
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
