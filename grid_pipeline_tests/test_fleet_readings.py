"""Reading generation: determinism, window independence, physics and faults."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from grid_pipeline.fleet import (
    READINGS_SCHEMA,
    FaultConfig,
    build_fleet,
    current_amps,
    generate_readings,
    generate_readings_with_faults,
    iter_readings,
)

BERLIN = "Europe/Berlin"
FIVE_MIN = timedelta(minutes=5)
# Spans the switch to summer time (2024-03-31 02:00 CET) to exercise local time.
START = datetime(2024, 3, 30, tzinfo=UTC)
SUMMER = datetime(2024, 6, 3, tzinfo=UTC)  # a Monday


@pytest.fixture(scope="module")
def fleet() -> pl.DataFrame:
    return build_fleet(40, seed=7)


@pytest.fixture(scope="module")
def window(fleet: pl.DataFrame) -> pl.DataFrame:
    return generate_readings(fleet, START, START + timedelta(days=3), seed=9, timezone=BERLIN)


@pytest.fixture(scope="module")
def summer() -> pl.DataFrame:
    """Two summer weeks of a mid-size fleet, with local-time columns, for the shapes."""
    fleet = build_fleet(300, seed=21)
    readings = generate_readings(
        fleet, SUMMER, SUMMER + timedelta(days=14), seed=21, timezone=BERLIN
    )
    local = pl.col("timestamp").dt.convert_time_zone(BERLIN)
    return readings.join(fleet, on="meter_id").with_columns(
        hour=local.dt.hour(),
        minute=local.dt.minute(),
        workday=local.dt.weekday() <= 5,
        day=local.dt.date(),
    )


def _hourly(summer: pl.DataFrame, customer_class: str, workday: bool) -> list[float]:
    """Fleet-average power per local hour for non-solar meters of one class."""
    profile = (
        summer.filter(
            pl.col("customer_class") == customer_class,
            ~pl.col("has_solar"),
            pl.col("workday") == workday,
        )
        .group_by("hour")
        .agg(pl.col("power").mean())
        .sort("hour")
    )
    assert profile.height == 24
    return profile["power"].to_list()


def _between(frame: pl.DataFrame, low: datetime, high: datetime) -> pl.DataFrame:
    return frame.filter(pl.col("timestamp").is_between(low, high, closed="left"))


# --------------------------------------------------------------------------
# Shape, determinism, window independence
# --------------------------------------------------------------------------


def test_schema_and_row_count(fleet: pl.DataFrame, window: pl.DataFrame) -> None:
    assert window.schema == READINGS_SCHEMA
    assert window.height == fleet.height * 3 * 288
    assert window.select(pl.struct("timestamp", "meter_id").is_unique().all()).item()
    assert window["timestamp"].min() == START
    assert window["timestamp"].is_sorted()


def test_deterministic_for_a_seed(fleet: pl.DataFrame, window: pl.DataFrame) -> None:
    again = generate_readings(fleet, START, START + timedelta(days=3), seed=9, timezone=BERLIN)
    assert_frame_equal(window, again)
    other = generate_readings(fleet, START, START + timedelta(days=1), seed=10, timezone=BERLIN)
    assert not other["power"].equals(_between(window, START, START + timedelta(days=1))["power"])


@pytest.mark.parametrize("day", [0, 1, 2])
def test_single_day_equals_window_rows(fleet: pl.DataFrame, window: pl.DataFrame, day: int) -> None:
    low, high = START + timedelta(days=day), START + timedelta(days=day + 1)
    alone = generate_readings(fleet, low, high, seed=9, timezone=BERLIN)
    assert_frame_equal(alone, _between(window, low, high))


@pytest.mark.parametrize("offset", [timedelta(hours=1, minutes=5), timedelta(days=1, hours=13)])
def test_single_timestamp_equals_window_rows(
    fleet: pl.DataFrame, window: pl.DataFrame, offset: timedelta
) -> None:
    moment = START + offset
    alone = generate_readings(fleet, moment, moment + FIVE_MIN, seed=9, timezone=BERLIN)
    assert alone.height == fleet.height
    assert_frame_equal(alone, window.filter(pl.col("timestamp") == moment))


def test_meter_blocks_give_the_same_rows(fleet: pl.DataFrame, window: pl.DataFrame) -> None:
    frames = list(
        iter_readings(
            fleet, START, START + timedelta(days=3), seed=9, timezone=BERLIN, max_rows=1000
        )
    )
    assert len(frames) == 3 * math.ceil(fleet.height / (1000 // 288))
    assert max(frame.height for frame in frames) <= 1000
    assert_frame_equal(pl.concat(frames).sort("timestamp", "meter_id"), window)


def test_start_is_aligned_down_and_end_exclusive(fleet: pl.DataFrame) -> None:
    readings = generate_readings(
        fleet, START + timedelta(minutes=7), START + timedelta(minutes=20), timezone=BERLIN
    )
    stamps = readings["timestamp"].unique().sort().to_list()
    assert stamps == [START + timedelta(minutes=m) for m in (5, 10, 15)]


def test_empty_window_keeps_schema(fleet: pl.DataFrame) -> None:
    readings = generate_readings(fleet, START, START)
    assert readings.height == 0
    assert readings.schema == READINGS_SCHEMA


def test_naive_datetimes_are_rejected(fleet: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_readings(fleet, datetime(2024, 1, 1), datetime(2024, 1, 2))


def test_non_positive_interval_is_rejected(fleet: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="interval"):
        generate_readings(fleet, START, START + timedelta(hours=1), interval=timedelta(0))


# --------------------------------------------------------------------------
# Physics
# --------------------------------------------------------------------------


def test_values_are_finite_and_rounded(window: pl.DataFrame) -> None:
    for column, decimals in (("power", 3), ("energy", 4), ("voltage", 1), ("current", 2)):
        values = window[column]
        assert values.is_finite().all(), column
        assert ((values - values.round(decimals)).abs() < 1e-9).all(), column


def test_energy_is_power_times_interval(window: pl.DataFrame) -> None:
    hours = FIVE_MIN / timedelta(hours=1)
    error = (window["energy"] - window["power"] * hours).abs().max()
    assert isinstance(error, float)
    assert error <= 5e-4


def test_voltage_near_nominal_without_faults(fleet: pl.DataFrame, window: pl.DataFrame) -> None:
    ratio = window.join(fleet, on="meter_id").select(pl.col("voltage") / pl.col("nominal_voltage"))
    assert ratio.to_series().is_between(0.9, 1.1).all()


def test_current_consistent_with_power_and_voltage(
    fleet: pl.DataFrame, window: pl.DataFrame
) -> None:
    joined = window.join(fleet, on="meter_id")
    phase = np.where(joined["customer_class"].to_numpy() == "residential", 1.0, math.sqrt(3) * 0.95)
    expected = joined["power"].abs().to_numpy() * 1000.0 / (phase * joined["voltage"].to_numpy())
    assert np.abs(joined["current"].to_numpy() - expected).max() <= 0.0051


def test_current_amps_formula() -> None:
    amps = current_amps(
        np.array([2.3, -2.3, 10.0, 1.0]),
        np.array([230.0, 230.0, 400.0, 0.0]),
        np.array([0, 0, 1, 2]),
    )
    assert amps.tolist() == [10.0, 10.0, round(10_000 / (math.sqrt(3) * 400 * 0.95), 2), 0.0]


def test_residential_peaks_morning_and_evening(summer: pl.DataFrame) -> None:
    profile = _hourly(summer, "residential", workday=True)
    assert 17 <= int(np.argmax(profile)) <= 21
    morning = int(np.argmax(profile[4:12])) + 4
    assert 6 <= morning <= 8
    night = float(np.mean(profile[1:5]))
    assert profile[morning] > 1.8 * night
    assert max(profile) > 3 * night


def test_commercial_peaks_in_office_hours(summer: pl.DataFrame) -> None:
    weekday = _hourly(summer, "commercial", workday=True)
    weekend = _hourly(summer, "commercial", workday=False)
    assert 8 <= int(np.argmax(weekday)) < 18
    office = float(np.mean(weekday[9:17]))
    assert office > 3 * float(np.mean(weekday[0:5]))
    assert float(np.mean(weekend[9:17])) < 0.5 * office


def test_industrial_runs_two_shifts_on_weekdays(summer: pl.DataFrame) -> None:
    weekday = _hourly(summer, "industrial", workday=True)
    weekend = _hourly(summer, "industrial", workday=False)
    assert float(np.mean(weekday[7:21])) > 2 * float(np.mean(weekday[0:4]))
    assert float(np.mean(weekend[7:21])) < 0.7 * float(np.mean(weekday[7:21]))
    assert min(weekday[0:4]) > 0  # continuous-process base load at night


def test_prosumers_export_at_local_noon(summer: pl.DataFrame) -> None:
    noon = summer.filter(
        pl.col("customer_class") == "residential",
        pl.col("has_solar"),
        pl.col("hour") == 12,
        pl.col("minute") == 0,
    )
    per_day = noon.group_by("day").agg((pl.col("power") < 0).mean().alias("exporting"))
    assert per_day.height == 14
    assert np.mean(per_day["exporting"].to_numpy() > 0.5) >= 0.8
    assert np.mean(noon["power"].to_numpy() < 0) > 0.7
    night = summer.filter(pl.col("has_solar"), pl.col("hour") == 1)
    assert (night["power"] >= 0).all()


# --------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------


def _faulted(fleet: pl.DataFrame, config: FaultConfig | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    return generate_readings_with_faults(
        fleet, START, START + timedelta(days=3), seed=9, timezone=BERLIN, faults=config
    )


def _in_labels(readings: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """Rows of ``readings`` inside any labelled run (labels are half-open)."""
    return (
        readings.join(labels, on="meter_id")
        .filter(pl.col("timestamp") >= pl.col("start"), pl.col("timestamp") < pl.col("end"))
        .select(readings.columns)
    )


def _outside_labels(readings: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    return readings.join(_in_labels(readings, labels), on=["timestamp", "meter_id"], how="anti")


def test_no_faults_by_default(fleet: pl.DataFrame, window: pl.DataFrame) -> None:
    readings, labels = _faulted(fleet, None)
    assert labels.height == 0
    assert_frame_equal(readings, window)


def test_gaps_are_missing_rows(fleet: pl.DataFrame, window: pl.DataFrame) -> None:
    readings, labels = _faulted(fleet, FaultConfig(gap_rate=0.5))
    assert labels.height > 10
    assert set(labels["kind"]) == {"gap"}
    assert _in_labels(readings, labels).height == 0
    missing = window.height - readings.height
    expected = labels.select((pl.col("end") - pl.col("start")) / pl.duration(minutes=5)).sum()
    assert missing == expected.item()
    assert_frame_equal(readings, _outside_labels(window, labels))


def test_spikes_multiply_power(fleet: pl.DataFrame, window: pl.DataFrame) -> None:
    readings, labels = _faulted(fleet, FaultConfig(spike_rate=0.5))
    assert labels.height > 10
    assert (labels["end"] - labels["start"] == timedelta(minutes=5)).all()
    spiked = _in_labels(readings, labels).join(window, on=["timestamp", "meter_id"])
    clean = spiked.filter(pl.col("power_right").abs() > 0.05)
    ratio = clean["power"] / clean["power_right"]
    assert ratio.is_between(4.9, 20.1).all()
    assert_frame_equal(_outside_labels(readings, labels), _outside_labels(window, labels))


@pytest.mark.parametrize(
    ("config", "kind", "low", "high"),
    [
        (FaultConfig(sag_rate=0.5), "sag", 0.69, 0.86),
        (FaultConfig(swell_rate=0.5), "swell", 1.09, 1.16),
    ],
)
def test_sags_and_swells_move_voltage(
    fleet: pl.DataFrame,
    window: pl.DataFrame,
    config: FaultConfig,
    kind: str,
    low: float,
    high: float,
) -> None:
    readings, labels = _faulted(fleet, config)
    assert labels.height > 10
    assert set(labels["kind"]) == {kind}
    hit = _in_labels(readings, labels).join(window, on=["timestamp", "meter_id"])
    assert (hit["voltage"] / hit["voltage_right"]).is_between(low, high).all()
    assert (hit["power"] == hit["power_right"]).all()
    assert readings.height == window.height


def test_outages_report_zeros(fleet: pl.DataFrame, window: pl.DataFrame) -> None:
    readings, labels = _faulted(fleet, FaultConfig(outage_rate=0.5))
    assert labels.height > 10
    out = _in_labels(readings, labels)
    assert out.height > 0
    assert (out.select("power", "energy", "voltage", "current").to_numpy() == 0.0).all()
    assert_frame_equal(_outside_labels(readings, labels), _outside_labels(window, labels))


def test_faults_are_deterministic_and_window_independent(fleet: pl.DataFrame) -> None:
    config = FaultConfig(
        gap_rate=0.3, spike_rate=0.3, sag_rate=0.3, swell_rate=0.3, outage_rate=0.3
    )
    readings, labels = _faulted(fleet, config)
    assert set(labels["kind"]) == {"gap", "spike", "sag", "swell", "outage"}
    again, again_labels = _faulted(fleet, config)
    assert_frame_equal(readings, again)
    assert_frame_equal(labels, again_labels)
    low, high = START + timedelta(days=1, hours=5), START + timedelta(days=2)
    part, part_labels = generate_readings_with_faults(
        fleet, low, high, seed=9, timezone=BERLIN, faults=config
    )
    assert_frame_equal(part, _between(readings, low, high))
    clipped = labels.with_columns(
        pl.col("start").clip(lower_bound=low), pl.col("end").clip(upper_bound=high)
    ).filter(pl.col("start") < pl.col("end"))
    assert_frame_equal(part_labels, clipped.sort("start", "meter_id", "kind"))


def test_typical_config_injects_something(fleet: pl.DataFrame) -> None:
    _, labels = _faulted(build_fleet(300, seed=7), FaultConfig.typical())
    assert labels.height > 0
    assert FaultConfig().enabled is False


def test_invalid_fault_rate_raises() -> None:
    with pytest.raises(ValueError, match="gap_rate"):
        FaultConfig(gap_rate=1.5)


# --------------------------------------------------------------------------
# Invariants over random small fleets and windows
# --------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    n_meters=st.integers(1, 12),
    seed=st.integers(0, 2**32),
    start_minute=st.integers(0, 366 * 24 * 60),
    length_minutes=st.integers(0, 2 * 24 * 60),
    interval_minutes=st.sampled_from([1, 5, 15, 60]),
    timezone=st.sampled_from(["UTC", BERLIN, "America/New_York", "Asia/Kolkata"]),
)
def test_invariants(
    n_meters: int,
    seed: int,
    start_minute: int,
    length_minutes: int,
    interval_minutes: int,
    timezone: str,
) -> None:
    fleet = build_fleet(n_meters, seed=seed)
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=start_minute)
    end = start + timedelta(minutes=length_minutes)
    readings = generate_readings(
        fleet, start, end, timedelta(minutes=interval_minutes), seed=seed, timezone=timezone
    )
    aligned = start_minute - start_minute % interval_minutes
    expected = math.ceil((start_minute + length_minutes - aligned) / interval_minutes)
    assert readings.height == n_meters * max(expected, 0)
    assert readings.schema == READINGS_SCHEMA
    assert readings.select(pl.all().exclude("timestamp").is_finite().all()).row(0) == (True,) * 5
    hours = interval_minutes / 60
    assert ((readings["energy"] - readings["power"] * hours).abs() <= 5e-4).all()
    assert (readings["current"] >= 0).all()
