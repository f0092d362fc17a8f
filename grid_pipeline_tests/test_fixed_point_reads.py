"""Readings stored as integers (W, Wh, 0.1 V, mA) read back in kW, kWh, V and A.

A small generated fleet goes through the real writer (which stores integers) into
the session's embedded engine; every number the dashboard's data layer and the
asset checks read must then equal the generated frame's, in the generated frame's
units, as floats (not Decimals, not ints, not a thousand times too large). The
generator reports whole W, Wh, 0.1 V and 10 mA, so single values come back exactly
and sums to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pytest
import streamlit as st
from polars.testing import assert_frame_equal

from dashboard import data
from dashboard.selection import ALL_METERS, MeterSelection
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.writer import writer_for
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.fleet.readings import generate_readings
from grid_pipeline.storage.aggregates import refresh_aggregates
from grid_pipeline.storage.historic import default_window, read_fleet, replace_fleet
from grid_pipeline.storage.quality import window_preview, window_quality

pytestmark = pytest.mark.integration

METERS, DAYS, SEED = 6, 2, 7
INTERVAL = timedelta(minutes=5)
T = TypeVar("T")


@dataclass(frozen=True)
class Loaded:
    """The database, its fleet, the generated readings (kW, kWh, V, A) and their window."""

    db: Database
    fleet: pl.DataFrame
    readings: pl.DataFrame
    window: tuple[datetime, datetime]


@pytest.fixture(scope="module")
def loaded(database: Database) -> Iterator[Loaded]:
    """Generate 6 meters x 2 days ending now, write them with the real writer, refresh the
    aggregates (so both the materialised and the raw paths of the queries are used)."""
    with connect(database) as conn:
        conn.execute("TRUNCATE energy_readings")
    replace_fleet(database, build_fleet(METERS, SEED))
    with connect(database) as conn:
        fleet = read_fleet(conn)
    window = default_window(DAYS, INTERVAL)
    readings = generate_readings(fleet, *window, INTERVAL, seed=SEED, timezone="UTC")
    with connect(database) as conn:
        assert writer_for(database).write(conn, readings) == readings.height
    refresh_aggregates(database)
    yield Loaded(database, fleet, readings, window)
    unmaterialize_daily(database)


def fresh(fn: Callable[..., T], *args: Any) -> T:
    """Call a cached query function with an empty cache."""
    st.cache_data.clear()
    return fn(*args)


def floats(frame: pl.DataFrame, *columns: str) -> None:
    """The columns arrive as Float64: kW/kWh/V/A, never Decimal or an integer type."""
    for name in columns:
        assert frame.schema[name] == pl.Float64, (name, frame.schema[name])


def naive(column: str = "timestamp") -> pl.Expr:
    """UTC instants as the naive local (UTC) times the dashboard's queries return."""
    return pl.col(column).dt.replace_time_zone(None)


def test_the_table_holds_integers_in_stored_units(loaded: Loaded) -> None:
    """The premise: the writer stored W, Wh, 0.1 V and mA, so a raw read is 1000x (10x)."""
    first = loaded.readings.row(0, named=True)
    with connect(loaded.db) as conn:
        row = conn.execute(
            "SELECT power, energy, voltage, current FROM energy_readings "
            'WHERE meter_id = %s AND "timestamp" = %s',
            (first["meter_id"], first["timestamp"]),
        ).fetchone()
    assert row == (
        round(first["power"] * 1000), round(first["energy"] * 1000),
        round(first["voltage"] * 10), round(first["current"] * 1000),
    )  # fmt: skip


def materialize_daily(db: Database, materialized: bool) -> None:
    """Refresh the per-day aggregates of migration 010 (or leave them as they are).

    Unrefreshed they answer in real time from the hourly and 15-minute aggregates;
    refreshed, the dashboard reads their materialised whole days. Both must give the
    generated frame's numbers. (Refreshing twice is harmless: nothing changed.)
    """
    if not materialized:
        return
    with connect(db, autocommit=True) as conn:
        for name in ("meter_daily_stats", "meter_daily_peak"):
            conn.execute("CALL refresh_continuous_aggregate(%s::regclass, NULL, now())", (name,))


DAILY_MIGRATION = Path(__file__).resolve().parents[1] / "sql/schema/010_meter_daily_aggregates.sql"


def unmaterialize_daily(db: Database) -> None:
    """Put the per-day aggregates back as migration 010 creates them (nothing materialised).

    `refresh_aggregates` does not refresh them (yet): materialised here, they would keep this
    module's readings for the next module that loads others into the session's database.
    """
    with connect(db) as conn:
        conn.execute("DROP MATERIALIZED VIEW IF EXISTS meter_daily_stats, meter_daily_peak")
        conn.execute(DAILY_MIGRATION.read_text())


def test_whole_days_are_local_days_that_are_utc_days() -> None:
    """The per-day aggregates' buckets are UTC days: a window uses them only for local days
    that begin at a UTC midnight and last 24 hours, inside the window; else none."""
    start = datetime(2026, 11, 20, 9, 45, tzinfo=UTC)
    end = datetime(2026, 11, 27, 9, 45, tzinfo=UTC)
    assert data.whole_days(start, end) == {
        "days_from": datetime(2026, 11, 21, tzinfo=UTC),
        "days_to": datetime(2026, 11, 27, tzinfo=UTC),
    }
    assert data.whole_days(start, end, "Europe/London") == data.whole_days(start, end)
    # Berlin's midnight is 23:00 UTC: no local day is a UTC day, so nothing is read per day.
    assert data.whole_days(start, end, "Europe/Berlin") == {"days_from": start, "days_to": start}
    # London leaves summer time on 2026-10-25 (a 25-hour day): whole days begin after it.
    autumn = data.whole_days(
        datetime(2026, 10, 22, tzinfo=UTC), datetime(2026, 10, 29, tzinfo=UTC), "Europe/London"
    )
    assert autumn == {
        "days_from": datetime(2026, 10, 26, tzinfo=UTC),
        "days_to": datetime(2026, 10, 29, tzinfo=UTC),
    }
    # Less than a day: nothing per day.
    short = (start, start + timedelta(hours=20))
    assert data.whole_days(*short) == {"days_from": start, "days_to": start}


@pytest.mark.parametrize("materialized", [False, True], ids=["real-time", "materialized"])
def test_daily_energy_per_meter_day_is_the_generated_sum(
    loaded: Loaded, materialized: bool
) -> None:
    """kWh per UTC day, class and feeder: the generated frame's sum, whole days and the
    partial first and last day alike (per-day aggregate for the whole days, hourly
    aggregate for the rest, raw tail), and so are the readings per meter and day that
    Data quality counts; with the per-day aggregates unrefreshed and refreshed."""
    materialize_daily(loaded.db, materialized)
    start, end = loaded.window
    first_day, end_day = start.date(), end.date() + timedelta(days=1)
    daily = fresh(data.daily_energy, "UTC", first_day, end_day, end, ALL_METERS)
    floats(daily, "energy_kwh")
    expected = (
        loaded.readings.join(loaded.fleet, on="meter_id")
        .group_by(pl.col("timestamp").dt.date().alias("day"), "customer_class", "feeder")
        .agg(pl.col("energy").sum().alias("energy_kwh"))
        .sort("day", "customer_class", "feeder")
    )
    assert_frame_equal(
        daily.select("day", "customer_class", "feeder", "energy_kwh"), expected,
        check_exact=False, abs_tol=1e-6, rel_tol=0,
    )  # fmt: skip

    complete = fresh(data.completeness, "UTC", first_day, end_day, INTERVAL, ALL_METERS)
    counts = (
        loaded.readings.group_by("meter_id", pl.col("timestamp").dt.date().alias("day"))
        .agg(pl.len().alias("readings"))
        .sort("meter_id", "day")
    )
    assert_frame_equal(complete.select("meter_id", "day", "readings"), counts, check_dtypes=False)


def test_live_latest_reading_is_the_last_generated_one(loaded: Loaded) -> None:
    """Each meter's newest reading in kW, V and A exactly as generated, and a status
    judged in volts against the nominal voltage (not 0.1 V: that would be 'out of band')."""
    latest = fresh(data.live_latest_per_meter, "UTC", ALL_METERS, timedelta(minutes=15))
    floats(latest, "power_kw", "voltage_v", "current_a", "rated_kw")
    last = (
        loaded.readings.sort("timestamp")
        .group_by("meter_id")
        .last()
        .join(loaded.fleet, on="meter_id")
        .sort("meter_id")
    )
    assert latest.get_column("meter_id").to_list() == last.get_column("meter_id").to_list()
    assert latest.get_column("power_kw").to_list() == last.get_column("power").to_list()
    assert latest.get_column("voltage_v").to_list() == last.get_column("voltage").to_list()
    assert latest.get_column("current_a").to_list() == last.get_column("current").to_list()
    expected_status = [
        "voltage out of band"
        if abs(r["voltage"] - r["nominal_voltage"]) > 0.1 * r["nominal_voltage"]
        else "exporting"
        if r["power"] < 0
        else "ok"
        for r in last.iter_rows(named=True)
    ]
    assert latest.get_column("status").to_list() == expected_status
    assert "voltage out of band" not in expected_status  # the generator stays within +-7 %


def test_live_fleet_load_is_the_generated_fleet_sum(loaded: Loaded) -> None:
    load = fresh(data.live_fleet_load, "UTC", ALL_METERS)
    floats(load, "power_kw")
    newest = loaded.readings.get_column("timestamp").max()
    assert isinstance(newest, datetime)
    expected = (
        loaded.readings.filter(pl.col("timestamp") > newest - timedelta(hours=1))
        .group_by(naive().alias("time"))
        .agg(pl.col("power").sum().alias("power_kw"), pl.len().cast(pl.Int64).alias("n"))
        .sort("time")
    )
    assert load.get_column("time").to_list() == expected.get_column("time").to_list()
    assert load.get_column("power_kw").to_list() == pytest.approx(
        expected.get_column("power_kw").to_list(), abs=1e-9
    )
    assert load.get_column("meters_reporting").to_list() == expected.get_column("n").to_list()


def test_meter_trends_raw_and_hourly_are_in_display_units(loaded: Loaded) -> None:
    """Raw readings come back exactly; hourly means, extremes and sums match the frame."""
    start, end = loaded.window
    meters = (1, 6)
    raw = fresh(data.meter_trends, "UTC", meters, end - timedelta(hours=6), end, True)
    floats(raw, "power_kw", "energy_kwh", "voltage_v", "current_a")
    generated = (
        loaded.readings.filter(
            pl.col("meter_id").is_in(meters), pl.col("timestamp") >= end - timedelta(hours=6)
        )
        .sort("meter_id", "timestamp")
        .select(
            "meter_id",
            naive().alias("time"),
            pl.col("power").alias("power_kw"),
            pl.col("energy").alias("energy_kwh"),
            pl.col("voltage").alias("voltage_v"),
            pl.col("current").alias("current_a"),
        )
    )
    assert_frame_equal(raw, generated, check_dtypes=False)  # exact values

    hourly = fresh(data.meter_trends, "UTC", meters, start, end, False)
    floats(hourly, *(c for c in hourly.columns if c not in ("meter_id", "time", "readings")))
    per_hour = (
        loaded.readings.filter(pl.col("meter_id").is_in(meters))
        .group_by("meter_id", naive().dt.truncate("1h").alias("time"))
        .agg(
            pl.col("power").mean().alias("power_kw"),
            pl.col("power").min().alias("min_power_kw"),
            pl.col("power").max().alias("max_power_kw"),
            pl.col("energy").sum().alias("energy_kwh"),
            pl.col("energy").clip(lower_bound=0).sum().alias("import_kwh"),
            (-pl.col("energy")).clip(lower_bound=0).sum().alias("export_kwh"),
            pl.col("voltage").mean().alias("voltage_v"),
            pl.col("voltage").min().alias("min_voltage_v"),
            pl.col("voltage").max().alias("max_voltage_v"),
            pl.col("current").max().alias("max_current_a"),
        )
        .filter(pl.col("time") >= start.replace(tzinfo=None))  # whole buckets from start
        .sort("meter_id", "time")
    )
    assert_frame_equal(
        hourly.select(per_hour.columns), per_hour,
        check_dtypes=False, check_exact=False, abs_tol=1e-6, rel_tol=0,
    )  # fmt: skip


@pytest.mark.parametrize("materialized", [False, True], ids=["real-time", "materialized"])
def test_insights_are_in_kw_and_kwh(loaded: Loaded, materialized: bool) -> None:
    """Top consumers, solar export, voltage quality, the weekly load pattern (all meters, one
    class, one feeder) and peak demand against the frame,
    over whole hours (the aggregates' buckets start at or after the window's start). The
    window holds a whole UTC day, read from the per-day aggregates (unrefreshed and
    refreshed), and partial days on both sides, read from the hourly and 15-minute ones."""
    materialize_daily(loaded.db, materialized)
    start = loaded.window[0].replace(minute=0) + timedelta(hours=1)
    window = ("UTC", start, loaded.window[1], ALL_METERS)
    days = data.whole_days(start, loaded.window[1])
    assert days["days_from"] > start and days["days_to"] < loaded.window[1]
    readings = loaded.readings.filter(pl.col("timestamp") >= start)
    by_meter = readings.group_by("meter_id").agg(
        pl.col("energy").clip(lower_bound=0).sum().alias("import_kwh"),
        (-pl.col("energy")).clip(lower_bound=0).sum().alias("export_kwh"),
        pl.col("energy").sum().alias("net_kwh"),
    )
    top = fresh(data.top_consumers, *window, METERS).sort("meter_id")
    floats(top, "import_kwh", "export_kwh", "net_kwh")
    assert_frame_equal(
        top.select(by_meter.columns), by_meter.sort("meter_id"),
        check_dtypes=False, check_exact=False, abs_tol=1e-6, rel_tol=0,
    )  # fmt: skip

    solar = fresh(data.solar_export, *window)
    floats(solar, "export_kwh", "import_kwh")
    pv = loaded.fleet.filter("has_solar").get_column("meter_id")
    assert pv.len() > 0
    pv_readings = readings.filter(pl.col("meter_id").is_in(pv.implode()))
    assert solar.get_column("export_kwh").sum() == pytest.approx(
        (-pv_readings.get_column("energy")).clip(lower_bound=0).sum(), abs=1e-6
    )
    assert solar.get_column("import_kwh").sum() == pytest.approx(
        pv_readings.get_column("energy").clip(lower_bound=0).sum(), abs=1e-6
    )

    quality = fresh(data.voltage_quality, *window)
    floats(quality, "min_voltage_pu", "max_voltage_pu", "out_of_band_share")
    pu = readings.join(loaded.fleet, on="meter_id").select(
        pl.col("voltage") / pl.col("nominal_voltage")
    )
    assert quality.get_column("min_voltage_pu").min() == pytest.approx(pu.min().item(), abs=1e-12)
    assert quality.get_column("max_voltage_pu").max() == pytest.approx(pu.max().item(), abs=1e-12)
    assert quality.get_column("out_of_band").sum() == 0

    # All meters, one class, one feeder: the heatmap sums segment_hourly_load's classes and
    # feeders, which must give the per-meter sums of the hourly aggregate.
    a_class = (str(loaded.fleet.get_column("customer_class").min()),)
    a_feeder = (str(loaded.fleet.get_column("feeder").max()),)
    for classes, feeders in (((), ()), (a_class, ()), ((), a_feeder)):
        selected = MeterSelection(classes, feeders)
        heat = fresh(data.load_heatmap, "UTC", start, loaded.window[1], selected)
        floats(heat, "power_kw")
        meters = loaded.fleet.filter(
            pl.col("customer_class").is_in(list(classes)) if classes else pl.lit(True),
            pl.col("feeder").is_in(list(feeders)) if feeders else pl.lit(True),
        ).get_column("meter_id")
        assert meters.len() > 0
        hourly = (  # energy_readings_hourly's avg_power: the mean of the 15-minute means
            readings.filter(pl.col("meter_id").is_in(meters.implode()))
            .group_by("meter_id", pl.col("timestamp").dt.truncate("15m"))
            .agg(pl.col("power").mean())
            .group_by("meter_id", pl.col("timestamp").dt.truncate("1h"))
            .agg(pl.col("power").mean())
        )
        pattern = (
            hourly.group_by("timestamp")
            .agg(pl.col("power").sum())
            .group_by(
                pl.col("timestamp").dt.weekday().alias("weekday"),
                pl.col("timestamp").dt.hour().alias("hour"),
            )
            .agg(pl.col("power").mean().alias("power_kw"))
            .sort("weekday", "hour")
        )
        assert_frame_equal(
            heat, pattern, check_dtypes=False, check_exact=False, abs_tol=1e-9, rel_tol=0
        )

    peaks = fresh(data.peak_demand, *window).sort("meter_id")
    floats(peaks, "peak_kw", "peak_of_rated")
    expected = (
        readings.group_by("meter_id", pl.col("timestamp").dt.truncate("15m"))
        .agg(pl.col("power").mean())
        .group_by("meter_id")
        .agg(pl.col("power").max().alias("peak_kw"))
        .join(loaded.fleet, on="meter_id")
        .with_columns(peak_of_rated=pl.col("peak_kw") / pl.col("rated_kw"))
        .sort("meter_id")
    )
    assert_frame_equal(
        peaks.select("meter_id", "peak_kw", "peak_of_rated"),
        expected.select("meter_id", "peak_kw", "peak_of_rated"),
        check_dtypes=False, check_exact=False, abs_tol=1e-9, rel_tol=0,
    )  # fmt: skip


def test_seed_views_are_in_kw_and_kwh_verbatim_or_not(loaded: Loaded) -> None:
    """Seed queries 2 and 3 on the Insights page: the verbatim SQL answers in W and Wh,
    the data layer shows both ways in kW and kWh, as floats, equal to the frame."""
    month = (
        loaded.readings.group_by("meter_id", naive().dt.truncate("1mo").alias("month"))
        .agg(pl.col("energy").sum().alias("total_energy"))
        .sort("month", "meter_id")
    )
    for verbatim in (False, True):
        monthly = fresh(data.monthly_consumption_by_meter, verbatim)
        floats(monthly, "total_energy")
        assert_frame_equal(
            monthly.with_columns(naive("month")).sort("month", "meter_id"), month,
            check_dtypes=False, check_exact=False, abs_tol=1e-6, rel_tol=0,
        )  # fmt: skip

    fleet_15 = (
        loaded.readings.filter(pl.col("timestamp") >= datetime.now(UTC) - timedelta(days=7))
        .group_by(pl.col("timestamp").dt.truncate("15m"))
        .agg(pl.col("power").mean().alias("avg_power"))
        .sort("avg_power", descending=True)
        .head(10)
    )
    for verbatim in (False, True):
        peaks = fresh(data.peak_15min_this_week, verbatim)
        floats(peaks, "avg_power")
        assert peaks.get_column("avg_power").to_list() == pytest.approx(
            fleet_15.get_column("avg_power").to_list(), abs=1e-9
        )


def test_asset_checks_judge_stored_values_against_physical_bounds(loaded: Loaded) -> None:
    """The quality summary compares W, 0.1 V and mA with the meter's kW and V correctly:
    generated data is all in bounds; one reading at 2.5 x its meter's rating and one at
    1.3 x nominal voltage are out. The preview shows kW, kWh, V and A."""
    start, end = loaded.window
    with connect(loaded.db) as conn:
        clean = window_quality(conn, "energy_readings", start, end, INTERVAL)
        preview = window_preview(conn, "energy_readings", start, end)
    assert clean.rows == loaded.readings.height and clean.complete
    assert clean.out_of_bounds == 0 and clean.duplicates == 0
    first = loaded.readings.sort("timestamp", "meter_id").head(len(preview))
    for row, generated in zip(preview, first.iter_rows(named=True), strict=True):
        assert {k: row[k] for k in ("power", "energy", "voltage", "current")} == {
            k: generated[k] for k in ("power", "energy", "voltage", "current")
        }
        assert all(isinstance(row[k], float) for k in ("power", "energy", "voltage", "current"))

    meter = loaded.fleet.filter(pl.col("meter_id") == 1).row(0, named=True)
    later = end + timedelta(days=30)  # outside the window every other test reads
    bad = pl.DataFrame(
        {
            "timestamp": [later, later + INTERVAL, later + 2 * INTERVAL],
            "meter_id": [1, 1, 1],
            "power": [2.5 * meter["rated_kw"], 1.0, 1.0],
            "energy": [0.1, 0.083, 0.083],
            "voltage": [meter["nominal_voltage"], 1.3 * meter["nominal_voltage"],
                        1.15 * meter["nominal_voltage"]],
            "current": [1.0, 1.0, 1.0],
        }
    )  # fmt: skip
    try:
        with connect(loaded.db) as conn:
            writer_for(loaded.db).write(conn, bad)
            judged = window_quality(conn, "energy_readings", later, later + timedelta(hours=1),
                                    INTERVAL)  # fmt: skip
        assert judged.rows == 3 and judged.out_of_bounds == 2
    finally:
        with connect(loaded.db) as conn:
            conn.execute('DELETE FROM energy_readings WHERE "timestamp" >= %s', (later,))
