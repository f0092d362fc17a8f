"""Clock drift: the echoes a drifting clock leaves are found on exactly the drifting meters,
by the detector (SQL) and by the VEE rule (polars), and a clean grid has none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.units import to_stored
from grid_pipeline.events.detectors import clock
from grid_pipeline.events.inject import FaultRates, Scenario, inject
from grid_pipeline.events.kinds import Thresholds
from grid_pipeline.fleet.grid import build_grid
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.fleet.readings import iter_readings
from grid_pipeline.storage.historic import load_history, read_grid, replace_fleet
from grid_pipeline.vee.rules import meter_facts, validate

INTERVAL = timedelta(minutes=5)
START = datetime(2026, 11, 16, tzinfo=UTC)
FLEET = build_fleet(200, 42)
GRID = build_grid(FLEET)
DRIFT = FaultRates(**(vars(FaultRates.none()) | {"clock_drift": 0.05}))
DAY = (START, START + timedelta(days=1))


def drifting_day(rates: FaultRates = DRIFT) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One day of readings in stored units with its truth."""
    clean = pl.concat(list(iter_readings(FLEET, *DAY, INTERVAL, 42, "UTC")))
    scenario = Scenario(GRID, 42, INTERVAL, START, DAY[1], rates)
    injected = inject(clean, FLEET, DAY, scenario)
    truth = injected.truth.filter(pl.col("kind") == "clock_drift")
    return to_stored(injected.readings), truth


def households(truth: pl.DataFrame) -> pl.DataFrame:
    """The drifts on households: a business or plant held at its connection limit reads
    the same power for hours, where an echo cannot be told from chance (see `clock`)."""
    homes = FLEET.filter(pl.col("customer_class") == "residential")["meter_id"].cast(pl.Utf8)
    return truth.filter(pl.col("asset").is_in(homes.to_list()))


def overlaps(found: pl.DataFrame, truth: pl.DataFrame) -> bool:
    """Every found (meter_id, start, end) overlaps a drift of the truth, and every drift
    on a household is found."""
    pairs = truth.with_columns(pl.col("asset").cast(pl.Int32).alias("meter_id")).join(
        found, on="meter_id", suffix="_found"
    )
    hits = pairs.filter((pl.col("start_found") < pl.col("end"))
                        & (pl.col("start") < pl.col("end_found")))  # fmt: skip
    homes = households(truth)["asset"].to_list()
    return hits.height == found.height and set(homes) <= set(hits["asset"].to_list())


def test_the_echoes_cluster_on_exactly_the_drifting_meters() -> None:
    readings, truth = drifting_day()
    assert truth.height >= 5 and set(truth["magnitude"] > 0) == {True, False}  # fast and slow
    assert households(truth).height >= 5
    found = clock.drift_clusters(clock.echo_pairs(readings), INTERVAL)
    assert overlaps(found.select("meter_id", "start", "end"), truth)
    assert (found["echoes"] >= clock.MIN_ECHOES).all()


def test_a_clean_day_has_no_clock_drift() -> None:
    readings, truth = drifting_day(FaultRates.none())
    assert truth.is_empty()
    assert clock.drift_clusters(clock.echo_pairs(readings), INTERVAL).is_empty()


def test_the_vee_rule_flags_the_echoes_of_the_drifting_meters() -> None:
    readings, truth = drifting_day()
    expected = readings.select("timestamp", "meter_id")
    flags = validate(readings, meter_facts(FLEET), expected, INTERVAL, DAY[1])
    drift = flags.filter(pl.col("rule") == "clock_drift")
    flagged = set(drift["meter_id"].to_list())
    assert {int(a) for a in households(truth)["asset"]} <= flagged
    assert flagged <= {int(a) for a in truth["asset"]}
    # each flagged reading equals the one it says it repeats
    for row in drift.iter_rows(named=True):
        echo = datetime.strptime(row["detail"].removeprefix("repeats "), "%Y-%m-%d %H:%M")
        same = readings.filter(
            (pl.col("meter_id") == row["meter_id"])
            & pl.col("timestamp").is_in([row["timestamp"], echo.replace(tzinfo=UTC)])
        ).select("power", "energy", "voltage", "current")
        assert same.height == 2 and same.unique().height == 1


@pytest.mark.integration
def test_the_detector_finds_the_drifts_in_the_database(database: Database) -> None:
    with connect(database) as conn:
        conn.execute("TRUNCATE energy_readings, feeder_head_readings, injected_faults")
    replace_fleet(database, FLEET)
    with connect(database) as conn:
        scenario = Scenario(read_grid(conn), 42, INTERVAL, *DAY, DRIFT)
    load_history(database, FLEET, DAY, interval=INTERVAL, seed=42, timezone="UTC",
                 scenario=scenario)  # fmt: skip
    try:
        with connect(database) as conn:
            events = clock.detect(conn, DAY, Thresholds())
            truth = conn.execute(
                "SELECT asset, start_ts, end_ts FROM injected_faults WHERE kind = 'clock_drift'"
            ).fetchall()
        found = pl.DataFrame(
            [(int(e.asset), e.start, e.end) for e in events],
            schema={"meter_id": pl.Int32, "start": pl.Datetime("us", "UTC"),
                    "end": pl.Datetime("us", "UTC")}, orient="row",
        )  # fmt: skip
        expected = pl.DataFrame(truth, schema=["asset", "start", "end"], orient="row")
        assert {e.kind for e in events} == {"clock_drift"}
        assert overlaps(found, expected)
    finally:
        with connect(database) as conn:
            conn.execute("TRUNCATE energy_readings, feeder_head_readings, injected_faults")
