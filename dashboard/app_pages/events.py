"""Grid events: what the detectors found on meters, transformers and feeders, which are still
open, where they cluster.

The page reads `grid_events` (written by `grid-pipeline events detect`, the Dagster detection
assets and the live checks) through the read-only role like every page; its one write is the
Acknowledge button, which goes through the grid_operator role (`data.acknowledge_events`).
The window is the sidebar's period up to the newest reading, like every other page; an event
counts when it overlaps the window, and an open event (no end yet) counts as open whenever it
began. The sidebar's feeder, transformer and class filters select events through their asset:
a meter's feeder, transformer and class, a transformer's feeder, a feeder itself (on no
transformer); a transformer or feeder matches a class when it serves a meter of that class (the
SQL in sql/queries/dashboard_events_*.sql says the same). Times are in the sidebar's zone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st

from dashboard import charts, components, data, state
from grid_pipeline.events.kinds import EVENT_KINDS

#: How to get events when the detectors have stored none.
EVENTS_HINT = (
    "Events come from the detectors: load a history with injected faults "
    "(`grid-pipeline generate --physical-faults`), then run "
    "`grid-pipeline events detect` (or materialise the detection assets in the Dagster UI)."
)
SEVERITIES = tuple(charts.EVENT_SEVERITY_COLORS)
_SHOWN = "%Y-%m-%d %H:%M"


def local(moment: datetime, tz: str) -> datetime:
    """A UTC instant as the naive local time the queries return (`AT TIME ZONE tz`)."""
    return moment.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def severity_counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    """`column` per severity, every severity present (zero when absent)."""
    counts = dict.fromkeys(SEVERITIES, 0)
    if not frame.is_empty():
        for severity, n in frame.select("severity", column).iter_rows():
            counts[str(severity)] = int(n or 0)
    return counts


def timeline_start(
    events: pl.DataFrame, window_start: datetime, first_reading: datetime | None, tz: str
) -> datetime:
    """Where the timeline's axis begins (local): the window's start, or later where the data
    and every listed event begin later (a 7-day window over 3 days of data would otherwise
    squeeze every bar into the right half)."""
    earliest = events.get_column("start_local").min()
    begins = [local(first_reading, tz)] if first_reading is not None else [window_start]
    if isinstance(earliest, datetime):
        begins.append(earliest)
    return max(window_start, min(begins))


def acknowledge_form(events: pl.DataFrame) -> None:
    """Pick the listed events nobody acknowledged yet (open ones first) and acknowledge them
    under a name. The outcome is kept for the next run, which redraws the list from the
    database (the data layer dropped the cached event views)."""
    said = st.session_state.pop("events_ack_outcome", None)
    if said is not None:
        (st.success if said[0] else st.error)(said[1], icon=":material/task_alt:")
    pending = events.filter(pl.col("acknowledged_local").is_null()).sort(
        pl.col("end_local").is_not_null(), pl.col("start_local"), descending=[False, True]
    )
    if pending.is_empty():
        st.caption("Every listed event is acknowledged.")
        return
    labels = {
        int(e["event_id"]): f"{'OPEN · ' if e['end_local'] is None else ''}{e['kind']} · "
        f"{charts.asset_label(e['asset_type'], e['asset'])} · {e['severity']} · since "
        f"{e['start_local']:{_SHOWN}}"
        for e in pending.iter_rows(named=True)
    }
    options = list(labels)
    state.restore("events_ack", options, [], [])
    why_not = data.acknowledge_unavailable()
    left, middle, right = st.columns([4, 2, 1], vertical_alignment="bottom")
    chosen = left.multiselect(
        "Acknowledge events", options, key="events_ack", format_func=lambda i: labels[i],
        placeholder="Events nobody acknowledged yet (open first)", disabled=why_not is not None,
    )  # fmt: skip
    by = middle.text_input("As", key="events_ack_by", placeholder="your name",
                           disabled=why_not is not None)  # fmt: skip
    clicked = right.button(
        "Acknowledge", key="events_ack_button", type="primary",
        disabled=why_not is not None or not chosen or not by.strip(),
        help=why_not or "Marks the chosen events as seen and being handled, with your name.",
    )  # fmt: skip
    if why_not is not None:
        st.caption(why_not)
        return
    if clicked:
        try:
            changed = data.acknowledge_events(list(chosen), by)
            outcome = (True, f"Acknowledged {changed:,} event{'' if changed == 1 else 's'} as "
                             f"{by.strip()}.")  # fmt: skip
        except data.AcknowledgeFailed as exc:
            outcome = (False, f"Nothing acknowledged: {exc}")
        st.session_state["events_ack_outcome"] = outcome
        st.rerun()


def headline(opened: dict[str, int], windowed: dict[str, int], days: int) -> None:
    """Open events and events in the window, each in total and per severity."""
    for label, counts, help_text in (
        ("Open", opened, "Events without an end yet, whenever they began."),
        (
            "In window",
            windowed,
            f"Events overlapping the last {days} days up to the newest reading, open or ended.",
        ),
    ):
        cols = st.columns(1 + len(SEVERITIES))
        name = "Open events" if label == "Open" else "Events in window"
        cols[0].metric(name, f"{sum(counts.values()):,}", help=help_text)
        for col, severity in zip(cols[1:], SEVERITIES, strict=True):
            col.metric(f"{label}: {severity}", f"{counts[severity]:,}")


st.title("Grid events")
filters = state.current()
extent = data.extent()
interval = data.settings().interval
stored = data.events_extent(filters.timezone)

if not stored["events"]:
    components.empty_state("No grid events detected yet.", EVENTS_HINT)
elif components.no_meter_matches(filters.meters):
    pass  # the notice says why there is nothing
else:
    tz = filters.timezone
    start, end = filters.window(extent.last_reading, interval)
    # A transformer filter keeps the events on those transformers and on their meters.
    selected = (tz, start, end, filters.meters)
    by_severity = data.events_by_severity(*selected)
    opened = severity_counts(by_severity, "open")
    windowed = severity_counts(by_severity, "in_window")
    headline(opened, windowed, filters.days)
    st.caption(
        f"Window {local(start, tz):{_SHOWN}} to {local(end, tz):{_SHOWN}} ({tz}): the last "
        f"{filters.days} days up to the newest reading. An event on a transformer belongs to "
        "its feeder, a feeder's event to that feeder (and to no transformer); the sidebar's "
        "filters apply to all below."
    )

    if not sum(windowed.values()):
        newest = stored["newest_start"]
        st.success(
            f"No events in this window on the selected assets. {stored['events']:,} events are "
            f"stored in all; the newest starts {newest:{_SHOWN}} ({tz}). Widen the period or "
            "the sidebar's filters to see older ones.",
            icon=":material/check_circle:",
        )
    else:
        left, right = st.columns(2)
        kinds = left.multiselect("Kind", list(EVENT_KINDS), key="events_kinds",
                                 placeholder="All kinds")  # fmt: skip
        severities = right.multiselect("Severity", list(SEVERITIES), key="events_severities",
                                       placeholder="All severities")  # fmt: skip
        chosen = (tuple(kinds), tuple(severities))
        events = data.events_list(tz, start, end, end, filters.meters, *chosen)
        if events.is_empty():
            picked = "; ".join(
                f"{label}: {', '.join(values)}"
                for label, values in (("kind", kinds), ("severity", severities))
                if values
            )
            st.info(
                f"No event matches the Kind and Severity filters ({picked}) in this window. "
                f"{sum(windowed.values()):,} events of other kinds or severities are there: "
                "widen or clear these filters.",
                icon=":material/filter_alt_off:",
            )
        else:
            st.subheader("Events (newest first)")
            matching = int(events.get_column("matching")[0])
            if matching > events.height:
                st.caption(f"The newest {events.height:,} of {matching:,} matching events.")
            table = charts.events_table(events)
            if not table.get_column("Acknowledged").str.len_chars().sum():
                table = table.drop("Acknowledged")  # nobody acknowledged any: no empty column
            small = st.column_config.TextColumn(width="small")
            st.dataframe(
                table,
                hide_index=True,
                width="stretch",
                height=min(38 + 35 * table.height, 600),
                column_config={
                    "Feeder": small,
                    "Severity": small,
                    "Evidence": st.column_config.TextColumn(width="large"),
                },
            )

            acknowledge_form(events)

            st.subheader("Timeline")
            # From where the data (or the earliest listed event) begins, not from a window
            # start days before the first reading, which would squeeze every bar to the right.
            shown_from = timeline_start(events, local(start, tz), extent.first_reading, tz)
            components.chart(
                charts.events_timeline(events, shown_from, local(end, tz)),
                key="events_timeline",
            )

            st.subheader("Where they happen")
            counts = data.events_by_asset(*selected, *chosen)
            per_feeder = counts.filter(pl.col("per_feeder") & pl.col("feeder").is_not_null())
            per_transformer = counts.filter(
                ~pl.col("per_feeder") & pl.col("transformer").is_not_null()
            )
            left, right = st.columns(2)
            with left:
                components.chart(charts.events_per_asset(per_feeder, "feeder"), key="per_feeder")
            with right:
                components.chart(
                    charts.events_per_asset(per_transformer, "transformer"),
                    key="per_transformer",
                )
            st.caption(
                "A meter's event counts for its transformer and feeder, a transformer's for its "
                "feeder; a feeder's event counts for the feeder only."
            )
