"""Data quality: which meters reported how much per day, which hours have gaps, what the
ingestion quarantined and why, and the ingestion runs' counters.

Only time that has passed inside the data set is judged: a reading is expected for every
interval that has ended (up to the last interval boundary) since the data set's first
reading, so the running interval, the rest of today and the days before the data began
are not painted as missing (the SQL in sql/queries/dashboard_quality_*.sql counts this).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st

from dashboard import charts, components, data, state

SHOWN = "%Y-%m-%d %H:%M"


def vee_flags(newest_run: dict[str, Any]) -> None:
    """Flags per rule over the sidebar's window and meters, then one meter's flagged readings
    with the estimate and the audit (who, when, why). Counts come aggregated per rule from the
    database and the table is limited, so this costs a few small statements at any fleet size.
    """
    filters = state.current()
    start, end = filters.window(data.extent().last_reading, data.settings().interval)
    tz = filters.timezone
    selection = (start, end, filters.meters)
    by_rule = data.vee_flags_by_rule(*selection)
    run = newest_run
    st.caption(
        f"{run['runs']:,} VEE runs stored; the newest by {run['actor']} at "
        f"{run['started_local']:{SHOWN}} ({tz}) over {run['window_start_local']:{SHOWN}} to "
        f"{run['window_end_local']:{SHOWN}}. Flags of the last {filters.days} days "
        "on the meters the sidebar selects. Missing and invalid readings are replaced for "
        "billing by an estimate (validated_readings); the others stay as the meter sent them."
    )
    if by_rule.is_empty():
        st.success(
            "No reading flagged in this window on the selected meters: every reading VEE "
            "checked passed its rules (run `grid-pipeline vee run` again for newer readings).",
            icon=":material/check_circle:",
        )
        return
    flags, estimated = int(by_rule["flags"].sum()), int(by_rule["estimated"].sum())
    cols = st.columns(3)
    cols[0].metric(
        "Flagged readings", f"{flags:,}", help="A reading flagged by two rules counts twice."
    )
    cols[1].metric(
        "Replaced by an estimate", f"{estimated:,}",
        help="Flags on readings that an estimate replaces for billing (counted per flag).",
    )  # fmt: skip
    cols[2].metric("Rules that flagged", f"{by_rule.height}")
    left, right = st.columns([2, 3])
    with left:
        components.chart(charts.vee_flags_by_rule(by_rule), key="vee_rules")
    meters = data.vee_flagged_meters(*selection)
    labels = {
        int(m): f"meter {m} · {n:,} flag{'' if n == 1 else 's'} · {rules}"
        for m, n, rules in meters.select("meter_id", "flags", "rules").iter_rows()
    }
    options = list(labels)
    first = options[0] if options else None
    state.restore("vee_meter", options, first, first)
    with right:
        meter = st.selectbox(
            "Flagged readings of meter (most flagged first)", options, key="vee_meter",
            format_func=lambda m: labels.get(m, str(m)),
        )  # fmt: skip
        st.caption(
            "Per reading: what the meter sent (missing: nothing arrived), the rules that "
            "flagged it and why, the estimate that replaces it for billing and its method "
            "(kept: the reading stands), and the VEE run that decided it: by whom and when."
        )
    if meter is None:
        return
    readings = data.vee_meter_readings(tz, int(meter), start, end)
    if readings.is_empty():
        st.caption(f"No flagged reading of meter {meter} in this window any more.")
        return
    matching = int(readings["matching"][0])
    if matching > readings.height:
        st.caption(f"The newest {readings.height:,} of {matching:,} flagged readings.")
    st.dataframe(
        charts.vee_readings_table(readings),
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * readings.height, 420),
    )


st.title("Data quality")
filters = state.current()
extent = data.extent()
interval = data.settings().interval

st.subheader("Completeness")
if not extent.has_readings or extent.first_reading is None:
    components.empty_state("No readings yet, so completeness cannot be measured.")
elif components.no_meter_matches(filters.meters):
    pass  # the notice says why there is nothing; quarantine and runs below are fleet-wide
else:
    zone = ZoneInfo(filters.timezone)
    start_day, end_day = filters.local_days(extent.last_reading)
    selection = (filters.timezone, start_day, end_day, interval, filters.meters)
    complete = data.completeness(*selection)
    gaps = data.gaps(*selection)
    expected = int(complete.get_column("expected").sum() or 0) if complete.height else 0
    received = int(complete.get_column("readings").sum() or 0) if complete.height else 0
    gap_hours = int(gaps.get_column("gap_hours")[0]) if gaps.height else 0
    missing = int(gaps.get_column("missing_total")[0]) if gaps.height else 0
    began = extent.first_reading.astimezone(zone)
    until = extent.data_end(interval).astimezone(zone)
    every = charts.format_duration(interval)

    cols = st.columns(3)
    cols[0].metric(
        "Readings received",
        f"{received:,}",
        help=f"of {expected:,} expected: one per meter and ended {every} interval inside "
        "the data set",
    )
    cols[1].metric(
        "Completeness",
        f"{received / expected:.1%}" if expected else "-",
        help="Readings received over readings expected. Only intervals that have ended and "
        "lie inside the data set are expected, so complete data reads 100 %.",
    )
    cols[2].metric(
        "Meter-hours with gaps",
        f"{gap_hours:,}",
        help=f"{missing:,} readings missing in them (whole hours without a reading included)",
    )
    st.caption(
        f"Local days {start_day} to {end_day - timedelta(days=1)} in {filters.timezone}. "
        f"Expected: one reading per meter every {every}, for intervals that have ended "
        f"(up to {until:%Y-%m-%d %H:%M}) since the data set's first reading "
        f"({began:%Y-%m-%d %H:%M}); the running interval and days before the data began "
        "expect nothing (blank, not red)."
    )
    components.chart(charts.completeness_heatmap(complete), key="completeness")
    st.markdown("**Hours with missing readings** (worst first)")
    if gaps.is_empty():
        st.success(
            "Every meter-hour is complete: each meter sent a reading for every ended interval.",
            icon=":material/check_circle:",
        )
    else:
        if gap_hours > gaps.height:
            st.caption(f"The worst {gaps.height:,} of {gap_hours:,} meter-hours with gaps.")
        st.dataframe(
            gaps.select(pl.exclude("gap_hours", "missing_total")),
            hide_index=True,
            width="stretch",
            height=260,
        )

st.subheader("Validation flags (VEE)")
vee = data.vee_runs(filters.timezone)
if not vee["runs"]:
    components.empty_state(
        "VEE has not run yet, so no reading is validated or estimated.",
        "Run `grid-pipeline vee run` (or materialise the validated_readings asset in the "
        "Dagster UI): it flags readings per rule and estimates the missing and invalid ones.",
    )
elif extent.has_readings and components.matching_meters(data.fleet(), filters.meters):
    vee_flags(vee)

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
