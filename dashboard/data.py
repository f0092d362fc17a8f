"""Cached query functions: the only place the dashboard talks to the database.

Every function runs one statement from `sql/queries/dashboard_*.sql` with bound
parameters, on a connection held for that statement only: the embedded
TimescaleDB is one session shared by every client in turn (ingestion, Dagster,
the dashboard), so a connection kept across reruns would lock the others out.
Results are cached with `st.cache_data` and an explicit TTL per kind of data
(live numbers expire in seconds, storage facts in minutes), so a rerun of the
page, a widget click or another browser tab costs no query.

A connection failure becomes `DatabaseUnavailable`, which the app turns into a
friendly message with a retry button instead of a traceback. Exceptions are
never cached by Streamlit, so the retry really retries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import psycopg
import streamlit as st

from dashboard.selection import MeterSelection
from grid_pipeline.config import ConfigError, Settings, load_settings
from grid_pipeline.db.connection import Database, connect, resolve_database
from grid_pipeline.db.sqlfiles import query
from grid_pipeline.db.units import SCALE
from grid_pipeline.embedded.process import ServiceError
from grid_pipeline.storage.seed_queries import seed_query

# Time-to-live per kind of data, in seconds: how stale each view may be.
LIVE_TTL = 10
EXTENT_TTL = 15
AGGREGATE_TTL = 120
FLEET_TTL = 300
SLOW_TTL = 600


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached (or the embedded engine cannot start)."""


def settings() -> Settings:
    """The project's settings (default time zone, reading interval, hypertable variants)."""
    return load_settings()


def database() -> Database:
    """The database the dashboard reads: the one place where the read-only role applies.

    Production sets `GRID_READER_DATABASE_URL` to a URL of a read-only role (the
    dashboard never writes), which is used as it is: nothing is started or
    migrated. Unset, the dashboard uses the project's database like every other
    client: the configured `GRID_DATABASE_URL`, or the running embedded engine.
    The dashboard starts nothing and migrates nothing (`grid-pipeline up` does);
    with the engine down every page says so in one line. PGlite is one
    superuser session, so the embedded engine has no roles to switch to.
    """
    try:
        config = load_settings()
        if config.reader_database_url:
            return Database(config.reader_database_url, embedded=False)
        return resolve_database(config)
    except (ServiceError, ConfigError, psycopg.OperationalError) as exc:
        raise DatabaseUnavailable(str(exc)) from exc


def _frame(name: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """Run `sql/queries/<name>.sql` with bound parameters; the rows as a polars frame."""
    return _run(query(name), params)


#: Memory per sort or hash of one dashboard statement (PostgreSQL's default is 4 MB). At 5,000
#: meters the Data quality statements group 840,000 meter-hours: with 4 MB they sort them on
#: disk, with this they hash them in memory. Set per transaction, so nothing else sees it.
WORK_MEM = "64MB"


def _run(text: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
    db = database()
    try:
        with connect(db) as conn:
            conn.execute("SELECT set_config('work_mem', %s, true)", (WORK_MEM,))
            cur = conn.execute(text, params)
            columns = [c.name for c in cur.description or []]
            rows = cur.fetchall()
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(str(exc).strip()) from exc
    if not rows:
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.Null))
    return pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)


def _filters(meters: MeterSelection) -> dict[str, list[str]]:
    """The sidebar's meter selection as bound array parameters (an empty list means "all")."""
    return {
        "classes": list(meters.classes),
        "feeders": list(meters.feeders),
        "transformers": list(meters.transformers),
    }


DAY = timedelta(days=1)


def whole_days(start: datetime, end: datetime, tz: str = "UTC") -> dict[str, datetime]:
    """The longest run of whole local days of `tz` inside [start, end) that are also whole UTC
    days, as the bound parameters `days_from` and `days_to` (UTC midnights).

    The per-day aggregates (meter_daily_stats, meter_daily_peak) have UTC-day buckets: the
    queries read those days there and only the rest of the window, [start, days_from) and
    [days_to, end), from the hourly or 15-minute aggregate, which gives the same sums and
    extremes from far fewer rows. A UTC day is also one local day only where local midnight
    is a UTC midnight and the day has 24 hours (UTC, Europe/London in winter); in any other
    zone there is no such day and `days_from = days_to = start`, so everything comes from the
    finer aggregate as before.
    """
    zone = ZoneInfo(tz)
    best = (start, start)
    run_from: datetime | None = None
    day, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    while day <= last:
        lo = datetime.combine(day, time(), zone).astimezone(UTC)
        hi = datetime.combine(day + DAY, time(), zone).astimezone(UTC)
        if start <= lo and hi <= end and hi - lo == DAY and lo.time() == time():
            run_from = lo if run_from is None else run_from
            if hi - run_from > best[1] - best[0]:
                best = (run_from, hi)
        else:
            run_from = None
        day += DAY
    return {"days_from": best[0], "days_to": best[1]}


def _local_midnight(day: date, tz: str) -> datetime:
    """The start of a local day of `tz`, in UTC (the SQL's `day::timestamp AT TIME ZONE tz`)."""
    return datetime.combine(day, time(), ZoneInfo(tz)).astimezone(UTC)


def _floor_hour(moment: datetime) -> datetime:
    """`time_bucket('1 hour', moment)`: the whole UTC hour the instant falls in."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


# --- fleet and extent ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Extent:
    """How much data there is: the anchor of every "last N days" window."""

    meters: int
    first_reading: datetime | None
    last_reading: datetime | None
    checked_at: datetime

    @property
    def has_readings(self) -> bool:
        return self.last_reading is not None

    def data_end(self, interval: timedelta) -> datetime:
        """The end of the last ended interval, floor(now, interval), on the database's clock.

        Data quality expects a reading for every interval before it (and after the first
        reading); the running interval expects nothing yet.
        """
        epoch = datetime(1970, 1, 1, tzinfo=UTC)  # the reading grid: multiples since the epoch
        return self.checked_at - (self.checked_at - epoch) % interval

    def cut(self, interval: timedelta) -> datetime | None:
        """Where the data ends: the end of the newest reading's interval, but never after
        the last ended interval (a reading sent for the running interval does not count).

        Daily energy compares periods up to this instant and its previous period up to the
        same local time of day. None without readings.
        """
        if self.last_reading is None:
            return None
        return min(self.last_reading + interval, self.data_end(interval))


@st.cache_data(ttl=EXTENT_TTL, show_spinner=False)
def extent() -> Extent:
    """Meters, first and newest reading: also the dashboard's health check."""
    row = _frame("dashboard_data_extent").row(0, named=True)
    return Extent(int(row["meters"]), row["first_reading"], row["last_reading"], row["checked_at"])


@st.cache_data(ttl=FLEET_TTL, show_spinner=False)
def fleet() -> pl.DataFrame:
    """The meters table (filters and meter picker)."""
    return _frame("dashboard_fleet")


# --- live ---------------------------------------------------------------------------------------


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def live_fleet_load(tz: str, meters: MeterSelection) -> pl.DataFrame:
    """Fleet total power per reading timestamp over the newest hour."""
    return _frame("dashboard_live_fleet_load", {"tz": tz, **_filters(meters)})


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def live_latest_per_meter(tz: str, meters: MeterSelection, stale_after: timedelta) -> pl.DataFrame:
    """Each meter's newest reading of the last hour and its status."""
    return _frame(
        "dashboard_live_latest_per_meter",
        {"tz": tz, "stale_after": stale_after, **_filters(meters)},
    )


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def live_ingest(
    tz: str,
    interval: timedelta,
    grace: timedelta,
    late_intervals: int,
    nearly: float,
    meters: MeterSelection,
) -> dict[str, Any]:
    """The ingestion state judged per reporting interval, and the newest ingestion run.

    The newest due interval (ended at least `grace` ago), how many meters reported it,
    readings/s over it, the lag of the newest reading's interval end, and the state:
    normal, late (up to `late_intervals` intervals or some meters missing) or stalled.
    """
    params = {
        "tz": tz,
        "interval": interval,
        "grace": grace,
        "late_intervals": late_intervals,
        "nearly": nearly,
    }
    filters = _filters(meters)
    return _frame("dashboard_live_ingest", params | filters).row(0, named=True)


# --- daily energy -------------------------------------------------------------------------------


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def daily_energy(
    tz: str, start_day: date, end_day: date, cut: datetime, meters: MeterSelection
) -> pl.DataFrame:
    """kWh per local day x class x feeder for local days [start_day, end_day), readings
    before `cut` only; `complete` marks the days wholly inside the data set."""
    params = {"tz": tz, "start_day": start_day, "end_day": end_day, "cut": cut}
    start, end = _local_midnight(start_day, tz), _local_midnight(end_day, tz)
    days = whole_days(start, _floor_hour(min(end, cut)), tz)  # inside the hourly part
    filters = _filters(meters)
    return _frame("dashboard_daily_energy", params | days | filters)


# --- meter trends -------------------------------------------------------------------------------


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def meter_trends(
    tz: str, meters: tuple[int, ...], start: datetime, end: datetime, raw: bool
) -> pl.DataFrame:
    """Raw readings (short ranges) or hourly statistics with min/max bands of some meters."""
    name = "dashboard_meter_trends_raw" if raw else "dashboard_meter_trends_hourly"
    return _frame(name, {"tz": tz, "meters": list(meters), "start": start, "end": end})


# --- insights -----------------------------------------------------------------------------------


def _window(tz: str, start: datetime, end: datetime, meters: MeterSelection) -> dict[str, Any]:
    return {"tz": tz, "start": start, "end": end, **_filters(meters)}


def _unnest(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """A statement's rows that carry their items as arrays (one row per month, or per class
    and feeder, instead of one per meter: the embedded engine's wire costs about as much per
    row as the query) unnested into one row per item, the columns in the order `columns`."""
    lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    if frame.is_empty() or not lists:
        return frame.select(columns)
    return frame.explode(lists).select(columns)


def _in_display_unit(frame: pl.DataFrame, column: str, scale: int) -> pl.DataFrame:
    """`column` of a seed query's verbatim result (stored units, numeric) as a float in the
    unit the charts label: the seed's SQL stays verbatim, so the division happens here."""
    if column not in frame.columns:
        return frame
    return frame.with_columns((pl.col(column).cast(pl.Float64) / scale).alias(column))


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def peak_15min_this_week(verbatim: bool = False) -> pl.DataFrame:
    """Seed query 2: the ten highest 15-minute mean powers of the last 7 days.

    From the 15-minute aggregate by default; `verbatim` runs the seed's own
    statement on the raw readings (slower; same columns). The seed's SQL answers in
    the stored W (numeric), so its avg_power is shown in kW like the aggregate's.
    """
    if verbatim:
        return _in_display_unit(
            _run(seed_query("q2_peak_15min_this_week")), "avg_power", SCALE["power"]
        )
    return _frame("dashboard_insights_peak_15min_this_week")


@st.cache_data(ttl=SLOW_TTL, show_spinner=False)
def monthly_consumption_by_meter(verbatim: bool = False) -> pl.DataFrame:
    """Seed query 3: energy per meter and UTC month over the whole history.

    From the daily aggregate by default; `verbatim` runs the seed's own full
    scan of the raw readings (seconds on the default data set; same columns). The
    seed's SQL answers in the stored Wh, so its total_energy is shown in kWh.
    """
    if verbatim:
        return _in_display_unit(
            _run(seed_query("q3_monthly_consumption_by_meter")), "total_energy", SCALE["energy"]
        )
    return _unnest(
        _frame("dashboard_insights_monthly_by_meter"), ("meter_id", "month", "total_energy")
    )


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def load_heatmap(tz: str, start: datetime, end: datetime, meters: MeterSelection) -> pl.DataFrame:
    """Mean fleet load per local weekday and hour."""
    return _frame("dashboard_insights_load_heatmap", _window(tz, start, end, meters))


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def top_consumers(
    tz: str, start: datetime, end: datetime, meters: MeterSelection, limit: int = 15
) -> pl.DataFrame:
    """The meters with the largest imported energy in the window."""
    params = _window(tz, start, end, meters) | whole_days(start, end) | {"limit": limit}
    return _frame("dashboard_insights_top_consumers", params)


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def solar_export(tz: str, start: datetime, end: datetime, meters: MeterSelection) -> pl.DataFrame:
    """Export and import of the PV meters per local day and class."""
    params = _window(tz, start, end, meters) | whole_days(start, end, tz)
    return _frame("dashboard_insights_solar_export", params)


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def voltage_quality(
    tz: str, start: datetime, end: datetime, meters: MeterSelection
) -> pl.DataFrame:
    """Share of readings outside +-10 % of nominal voltage, per feeder."""
    params = _window(tz, start, end, meters) | whole_days(start, end)
    return _frame("dashboard_insights_voltage_quality", params)


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def peak_demand(tz: str, start: datetime, end: datetime, meters: MeterSelection) -> pl.DataFrame:
    """Highest 15-minute mean power per meter and its share of rated power."""
    params = _window(tz, start, end, meters) | whole_days(start, end)
    per_segment = _frame("dashboard_insights_peak_demand", params)
    columns = ("meter_id", "customer_class", "feeder", "peak_kw", "peak_of_rated")
    return _unnest(per_segment, columns).sort("meter_id")


# --- data quality -------------------------------------------------------------------------------


COMPLETENESS_SCHEMA = pl.Schema(
    {"meter_id": pl.Int64(), "day": pl.Date(), "readings": pl.Int64(), "expected": pl.Int64(),
     "completeness": pl.Float64()}
)  # fmt: skip


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def completeness(
    tz: str, start_day: date, end_day: date, interval: timedelta, meters: MeterSelection
) -> pl.DataFrame:
    """Readings per meter and local day against the readings expected (one per ended
    interval inside the data set); days that expect none are left out."""
    params = {"tz": tz, "start_day": start_day, "end_day": end_day, "interval": interval}
    days = whole_days(_local_midnight(start_day, tz), _local_midnight(end_day, tz), tz)
    filters = _filters(meters)
    per_meter = _frame("dashboard_quality_completeness", params | days | filters)
    if per_meter.is_empty():
        return pl.DataFrame(schema=COMPLETENESS_SCHEMA)
    return (
        per_meter.explode("day", "readings", "expected")
        .with_columns(
            pl.min_horizontal(
                pl.lit(1.0), pl.col("readings").cast(pl.Float64) / pl.col("expected")
            ).alias("completeness")
        )
        .cast(COMPLETENESS_SCHEMA)
    )


GAPS_SCHEMA = pl.Schema(
    {"meter_id": pl.Int64(), "feeder": pl.Utf8(), "hour": pl.Datetime("us"),
     "readings": pl.Int64(), "expected": pl.Int64(), "missing": pl.Int64(),
     "gap_hours": pl.Int64(), "missing_total": pl.Int64()}
)  # fmt: skip


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def gaps(
    tz: str,
    start_day: date,
    end_day: date,
    interval: timedelta,
    meters: MeterSelection,
    limit: int = 200,
) -> pl.DataFrame:
    """Meter-hours with fewer readings than expected (none included), worst first; the
    columns gap_hours and missing_total count every gap of the local days, not just these.

    A gap needs a meter-day short of readings: when completeness (same arguments, cached,
    the page reads it first) has none, there is nothing to search and no query runs.
    """
    complete = completeness(tz, start_day, end_day, interval, meters)
    if (complete.get_column("readings") >= complete.get_column("expected")).all():
        return pl.DataFrame(schema=GAPS_SCHEMA)
    params = {"tz": tz, "start_day": start_day, "end_day": end_day, "interval": interval}
    days = whole_days(_local_midnight(start_day, tz), _local_midnight(end_day, tz), tz)
    filters = _filters(meters)
    return _frame("dashboard_quality_gaps", params | days | filters | {"limit": limit})


@st.cache_data(ttl=LIVE_TTL * 3, show_spinner=False)
def rejects_by_reason(tz: str) -> pl.DataFrame:
    """Quarantined payloads counted per reason."""
    return _frame("dashboard_quality_rejects_by_reason", {"tz": tz})


@st.cache_data(ttl=LIVE_TTL * 3, show_spinner=False)
def recent_rejects(tz: str, limit: int = 20) -> pl.DataFrame:
    """The newest quarantined payloads, with a preview of their bytes."""
    return _frame("dashboard_quality_recent_rejects", {"tz": tz, "limit": limit})


@st.cache_data(ttl=LIVE_TTL * 3, show_spinner=False)
def ingest_runs(tz: str, limit: int = 20) -> pl.DataFrame:
    """The newest ingestion runs and their counters."""
    return _frame("dashboard_quality_ingest_runs", {"tz": tz, "limit": limit})


# --- VEE (validation, estimation, editing) -----------------------------------------------------


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def vee_runs(tz: str) -> dict[str, Any]:
    """How many VEE runs there are (0: VEE never ran) and the newest one (who, when, window)."""
    return _frame("dashboard_vee_runs", {"tz": tz}).row(0, named=True)


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def vee_flags_by_rule(start: datetime, end: datetime, meters: MeterSelection) -> pl.DataFrame:
    """Flags per rule in [start, end) on the selected meters: readings, meters, estimated."""
    params = {"start": start, "end": end, **_filters(meters)}
    return _frame("dashboard_vee_flags_by_rule", params)


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def vee_flagged_meters(
    start: datetime, end: datetime, meters: MeterSelection, limit: int = 200
) -> pl.DataFrame:
    """The selected meters with flags in [start, end), most flagged first, with their rules."""
    params = {"start": start, "end": end, "limit": limit}
    return _frame("dashboard_vee_flagged_meters", params | _filters(meters))


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def vee_meter_readings(
    tz: str, meter: int, start: datetime, end: datetime, limit: int = 500
) -> pl.DataFrame:
    """One meter's flagged or estimated readings in [start, end), newest first, with the
    original value, the rules and why, the estimate and the audited run that decided it."""
    params = {"tz": tz, "meter": meter, "start": start, "end": end, "limit": limit}
    return _frame("dashboard_vee_meter_readings", params)


# --- storage and benchmarks ---------------------------------------------------------------------


@st.cache_data(ttl=FLEET_TTL, show_spinner=False)
def hypertables(variants: tuple[str, ...]) -> pl.DataFrame:
    """The configured variants that exist, with chunks and compression statistics."""
    return _frame("dashboard_storage_hypertables", {"variants": list(variants)})


@st.cache_data(ttl=FLEET_TTL, show_spinner=False)
def compression_runs(tz: str) -> pl.DataFrame:
    """The newest compression study per hypertable."""
    return _frame("dashboard_storage_compression_runs", {"tz": tz})


@st.cache_data(ttl=FLEET_TTL, show_spinner=False)
def benchmark_run(tz: str) -> dict[str, Any] | None:
    """The newest benchmark run with results (advice included), or None."""
    frame = _frame("dashboard_storage_benchmark_run", {"tz": tz})
    if not frame.height:
        return None
    run = frame.row(0, named=True)
    # jsonb arrives as text: polars would turn free-form JSON into a rigid struct column.
    run["advice"] = json.loads(run["advice"]) if run["advice"] else None
    return run


@st.cache_data(ttl=FLEET_TTL, show_spinner=False)
def benchmark_results(run_id: int) -> pl.DataFrame:
    """Medians and p95 per query, variant and storage of one run."""
    return _frame("dashboard_storage_benchmark_results", {"run_id": run_id})


# --- events -------------------------------------------------------------------------------------


@st.cache_data(ttl=LIVE_TTL * 3, show_spinner=False)
def events_extent(tz: str) -> dict[str, Any]:
    """How many grid events are stored at all and when the newest starts (no filter)."""
    return _frame("dashboard_events_extent", {"tz": tz}).row(0, named=True)


@st.cache_data(ttl=LIVE_TTL * 3, show_spinner=False)
def events_by_severity(
    tz: str, start: datetime, end: datetime, meters: MeterSelection
) -> pl.DataFrame:
    """Per severity: open events (any start) and events overlapping [start, end)."""
    return _frame("dashboard_events_severity", _window(tz, start, end, meters))


def _event_filters(kinds: tuple[str, ...], severities: tuple[str, ...]) -> dict[str, list[str]]:
    """The Events page's own filters as bound array parameters (empty = all)."""
    return {"kinds": list(kinds), "severities": list(severities)}


@st.cache_data(ttl=LIVE_TTL * 3, show_spinner=False)
def events_list(
    tz: str,
    start: datetime,
    end: datetime,
    until: datetime,
    meters: MeterSelection,
    kinds: tuple[str, ...],
    severities: tuple[str, ...],
    limit: int = 1000,
) -> pl.DataFrame:
    """Events overlapping [start, end), newest first, with their transformer and feeder; an
    open event's duration runs up to `until`; `matching` counts them all, past the limit too."""
    params = _window(tz, start, end, meters) | _event_filters(kinds, severities)
    return _frame("dashboard_events_list", params | {"until": until, "limit": limit})


@st.cache_data(ttl=LIVE_TTL * 3, show_spinner=False)
def events_by_asset(
    tz: str,
    start: datetime,
    end: datetime,
    meters: MeterSelection,
    kinds: tuple[str, ...],
    severities: tuple[str, ...],
) -> pl.DataFrame:
    """Events overlapping [start, end) counted per feeder and per transformer."""
    params = _window(tz, start, end, meters) | _event_filters(kinds, severities)
    return _frame("dashboard_events_by_asset", params)


def acknowledge_unavailable() -> str | None:
    """Why the dashboard cannot acknowledge events here (one line), or None when it can.

    Acknowledging is the dashboard's one write. It goes through the grid_operator role
    (GRID_OPERATOR_DATABASE_URL), never through the read-only role every page reads with.
    The embedded engine has no roles (one superuser session), so there it writes to the
    engine; against a configured database without an operator URL the button stays off.
    """
    config = load_settings()
    if config.operator_database_url or config.embedded_db:
        return None
    return (
        "Acknowledging needs GRID_OPERATOR_DATABASE_URL (the grid_operator role); "
        "this dashboard reads through a read-only role."
    )


class AcknowledgeFailed(RuntimeError):
    """Acknowledging did not happen; the message is one line for the page."""


def acknowledge_events(event_ids: Sequence[int], by: str) -> int:
    """Acknowledge these events as `by` on the operator's connection (how many changed), then
    drop the cached event views so every viewer's next run shows the acknowledgement."""
    from grid_pipeline.app.events import UnknownEvents, operator_database
    from grid_pipeline.app.events import acknowledge_events as acknowledge

    try:
        changed = acknowledge(operator_database(load_settings()), event_ids, by)
    except (UnknownEvents, ValueError, ConfigError, ServiceError) as exc:
        raise AcknowledgeFailed(str(exc)) from exc
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise AcknowledgeFailed(f"the database refused the acknowledgement: {first}") from exc
    for cached in (events_list, events_by_severity, events_by_asset, events_extent):
        cached.clear()
    return changed


# --- power quality ------------------------------------------------------------------------------


POWER_QUALITY_SCHEMA = pl.Schema(
    {"week": pl.Datetime("us", "UTC"), "meter_id": pl.Int64(), "customer_class": pl.String(),
     "feeder": pl.String(), "nominal_voltage": pl.Float64(), "windows": pl.Int64(),
     "windows_excluded": pl.Int64(), "share_within_10pct": pl.Float64(),
     "any_outside_limits": pl.Boolean(), "verdict": pl.String(), "ansi_a": pl.Float64(),
     "ansi_b_only": pl.Float64(), "ansi_outside": pl.Float64(),
     "computed_at": pl.Datetime("us", "UTC")}
)  # fmt: skip


@st.cache_data(ttl=AGGREGATE_TTL, show_spinner=False)
def power_quality(meters: MeterSelection) -> pl.DataFrame:
    """The stored EN 50160 verdict and ANSI C84.1 band shares per meter and week (computed by
    `grid-pipeline power-quality`, so the page reads one row per meter-week, no readings)."""
    frame = _frame("dashboard_power_quality", _filters(meters))
    if frame.is_empty():
        return pl.DataFrame(schema=POWER_QUALITY_SCHEMA)
    return frame.cast(dict(POWER_QUALITY_SCHEMA))  # type: ignore[arg-type]
