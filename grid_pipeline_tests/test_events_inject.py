"""Physical faults in the historic readings: deterministic, exact in what they change, with
their ground truth and the feeder heads that measure the true flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import polars as pl
import pytest

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.events.inject import HEAD_LOSS_SHARE, FaultRates, Scenario, inject, plan_day
from grid_pipeline.fleet.grid import build_grid
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.fleet.readings import iter_readings
from grid_pipeline.storage.historic import load_history, read_grid, replace_fleet

INTERVAL = timedelta(minutes=5)
START = datetime(2026, 11, 16, tzinfo=UTC)
DAYS = 6
FLEET = build_fleet(200, 42)
GRID = build_grid(FLEET)
#: High rates so a small fleet over a few days sees every kind.
BUSY = FaultRates(
    meter_outage=0.02, transformer_outage=0.05, feeder_outage=0.1, voltage_sag=0.05,
    voltage_swell=0.05, overload=0.1, theft=0.01, stuck=0.02, zero=0.02, spike=0.02,
    clock_drift=0.02,
)  # fmt: skip


def scenario(rates: FaultRates = BUSY) -> Scenario:
    return Scenario(GRID, 42, INTERVAL, START, START + timedelta(days=DAYS), rates)


def clean_day(day: int) -> pl.DataFrame:
    lo = START + timedelta(days=day)
    return pl.concat(list(iter_readings(FLEET, lo, lo + timedelta(days=1), INTERVAL, 42, "UTC")))


def day_window(day: int) -> tuple[datetime, datetime]:
    lo = START + timedelta(days=day)
    return lo, lo + timedelta(days=1)


@pytest.fixture(scope="module")
def days() -> list[tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]]:
    """Per day: clean readings, faulty readings, feeder heads, truth."""
    out = []
    for d in range(DAYS):
        clean = clean_day(d)
        injected = inject(clean, FLEET, day_window(d), scenario())
        out.append((clean, injected.readings, injected.head, injected.truth))
    return out


def test_every_kind_is_injected_and_rows_stay_one_per_meter_and_interval(days: list) -> None:  # type: ignore[type-arg]
    truth = pl.concat([t for *_, t in days])
    kinds = set(zip(truth["kind"], truth["asset_type"], strict=True))
    assert kinds >= {("outage", "meter"), ("outage", "transformer"), ("outage", "feeder"),
                     ("voltage_sag", "transformer"), ("voltage_swell", "transformer"),
                     ("overload", "transformer"), ("theft", "meter"), ("stuck", "meter"),
                     ("zero", "meter"), ("spike", "meter"), ("clock_drift", "meter"),
                     ("reverse_flow", "transformer")}  # fmt: skip
    for clean, faulty, *_ in days:
        assert faulty.height == clean.height
        assert faulty.select("timestamp", "meter_id").equals(clean.select("timestamp", "meter_id"))


def _meters(asset_type: str, asset: str) -> list[int]:
    if asset_type == "meter":
        return [int(asset)]
    if asset_type == "transformer":
        return GRID.meter_transformer.filter(pl.col("transformer") == asset)["meter_id"].to_list()
    return FLEET.filter(pl.col("feeder") == asset)["meter_id"].to_list()


def _inside(frame: pl.DataFrame, row: dict, meters: list[int]) -> pl.DataFrame:  # type: ignore[type-arg]
    return frame.filter(pl.col("meter_id").is_in(meters) & (pl.col("timestamp") >= row["start"])
                        & (pl.col("timestamp") < row["end"]))  # fmt: skip


def test_each_fault_changes_exactly_what_it_says(days: list) -> None:  # type: ignore[type-arg]
    """Outages read zero, zero reads keep the voltage, stuck repeats one reading, sags and
    swells leave EN 50160's band, spikes exceed the rating, theft takes 40-70 %; outside the
    faults every reading equals the clean one."""
    rated = dict(FLEET.select("meter_id", "rated_kw").iter_rows())
    nominal = dict(FLEET.select("meter_id", "nominal_voltage").iter_rows())
    for day, (clean, faulty, _, truth) in enumerate(days):
        touched = pl.Series([False] * faulty.height)
        planned = plan_day(day_window(day)[0].date(), FLEET, scenario())
        assert {(f.kind, f.asset) for f in planned if f.day == day_window(day)[0].date()} == set(
            truth.filter(pl.col("kind") != "reverse_flow").select("kind", "asset").iter_rows()
        )
        for fault in planned:
            row = {"kind": fault.kind, "asset_type": fault.asset_type, "asset": fault.asset,
                   "start": fault.start, "end": fault.end}  # fmt: skip
            meters = _meters(row["asset_type"], row["asset"])
            lo, hi = day_window(day)
            window = {"start": max(row["start"], lo), "end": min(row["end"], hi)}
            got, was = _inside(faulty, window, meters), _inside(clean, window, meters)
            assert got.height == len(meters) * ((window["end"] - window["start"]) // INTERVAL)
            kind = row["kind"]
            if kind == "outage":
                assert got.select(pl.all().exclude("timestamp", "meter_id").abs().sum()).row(0) == (
                    0,
                    0,
                    0,
                    0,
                )
            elif kind == "zero":
                assert got["power"].abs().max() == 0 and got["voltage"].min() > 0
            elif kind == "stuck":
                assert got.select("power", "energy", "voltage", "current").unique().height == 1
            elif kind in ("voltage_sag", "voltage_swell"):
                ratio = got["voltage"] / got["meter_id"].replace_strict(nominal)
                assert (ratio < 0.9).all() if kind == "voltage_sag" else (ratio > 1.1).all()
            elif kind == "spike":
                assert got["power"].item() > 1.5 * rated[int(row["asset"])]
            elif kind == "clock_drift":
                _assert_filed_by_a_drifting_clock(got, clean, fault)
            elif kind == "theft":
                share = got["energy"].sum() / was["energy"].sum()
                assert 0.28 < share < 0.62, share  # 1 - (0.4..0.7), whole Wh rounding
            elif kind == "overload":
                total = got.group_by("timestamp").agg(pl.col("power").sum())["power"]
                rating = GRID.transformers.filter(pl.col("transformer") == row["asset"])[
                    "rating_kva"
                ].item()
                assert (total > 1.09 * rating).all()
                assert (got["power"] <= 1.4 * got["meter_id"].replace_strict(rated)).all()
            keys = faulty.select(
                pl.col("meter_id").is_in(meters)
                & (pl.col("timestamp") >= window["start"])
                & (pl.col("timestamp") < window["end"])
            ).to_series()
            touched = touched | keys
        untouched = ~touched
        assert faulty.filter(untouched).equals(clean.filter(untouched))


def _assert_filed_by_a_drifting_clock(got: pl.DataFrame, clean: pl.DataFrame, fault: Any) -> None:
    """Each reading is the meter's clean one k intervals away, k the offset so far in
    whole intervals (fast: earlier, slow: later), reaching 20-30 minutes at the sync."""
    assert 20.0 <= abs(fault.magnitude) <= 30.0
    values = ["power", "energy", "voltage", "current"]
    meter = clean.filter(pl.col("meter_id") == fault.meters[0])
    by_time = {row[0]: row[1:] for row in meter.select("timestamp", *values).iter_rows()}
    rate = fault.magnitude / ((fault.end - fault.start) / timedelta(minutes=1))
    for row in got.select("timestamp", *values).iter_rows():
        minutes = rate * ((row[0] - fault.start) / timedelta(minutes=1)) / 5.0
        k = int(abs(minutes) + 0.5) * (1 if minutes > 0 else -1)
        assert row[1:] == by_time[row[0] - k * INTERVAL]
    last = rate * ((fault.end - INTERVAL - fault.start) / timedelta(minutes=1)) / 5.0
    assert abs(last) >= 3.5  # the offset reached at least four intervals: echoes to find


def test_faults_never_overlap_on_a_meter() -> None:
    for d in range(DAYS):
        spans: dict[int, list[tuple[datetime, datetime]]] = {}
        for fault in plan_day((START + timedelta(days=d)).date(), FLEET, scenario()):
            for m in fault.meters:
                spans.setdefault(m, []).append((fault.start, fault.end))
        for meter, runs in spans.items():
            runs.sort()
            assert all(a[1] <= b[0] for a, b in pairwise(runs)), meter


def test_a_day_holds_the_same_faults_whatever_the_data_set_around_it() -> None:
    """A day generated alone (a Dagster partition) equals the same day in a longer set."""
    day = (START + timedelta(days=4)).date()
    longer = Scenario(
        GRID, 42, INTERVAL, START - timedelta(days=10), START + timedelta(days=20), BUSY
    )
    inside = [f for f in plan_day(day, FLEET, longer) if f.kind != "theft"]
    alone = [f for f in plan_day(day, FLEET, scenario()) if f.kind != "theft"]
    assert inside == alone and alone


def test_the_feeder_head_measures_the_true_flow_plus_losses(days: list) -> None:  # type: ignore[type-arg]
    """On a clean grid the head reads its meters plus about 2 % losses. Theft, stuck, zero
    and spike readings fool the meter, not the head: where a feeder has only those, its head
    reads exactly what it reads on the clean grid; outages and overloads change it."""
    clean = clean_day(0)
    calm = inject(clean, FLEET, day_window(0), scenario(FaultRates.none())).head
    metered = (
        clean.join(FLEET.select("meter_id", "feeder"), on="meter_id")
        .group_by("timestamp", "feeder")
        .agg(pl.col("power").sum().alias("kw"))
    )
    both = calm.join(metered, on=["timestamp", "feeder"])
    loss = (both["power"] / 1000 - both["kw"]) / both["kw"].abs()
    assert loss.median() == pytest.approx(HEAD_LOSS_SHARE, abs=0.002)
    _, _, busy, _ = days[0]
    feeder_of = dict(FLEET.select("meter_id", "feeder").iter_rows())
    moved = pl.DataFrame(
        [(feeder_of[m], f.start + k * INTERVAL)
         for f in plan_day(START.date(), FLEET, scenario()) if f.kind in ("outage", "overload")
         for m in f.meters for k in range((f.end - f.start) // INTERVAL)],
        schema={"feeder": pl.Utf8, "timestamp": pl.Datetime("us", "UTC")}, orient="row",
    ).unique()  # fmt: skip
    compared = busy.join(calm, on=["timestamp", "feeder"], suffix="_calm")
    metering_only = compared.join(moved, on=["feeder", "timestamp"], how="anti")
    physical = compared.join(moved, on=["feeder", "timestamp"], how="semi")
    assert metering_only.height and physical.height
    assert (metering_only["power"] == metering_only["power_calm"]).all()
    assert not (physical["power"] == physical["power_calm"]).all()


def test_without_faults_the_readings_are_the_clean_ones() -> None:
    clean = clean_day(2)
    injected = inject(clean, FLEET, day_window(2), scenario(FaultRates.none()))
    assert injected.readings.equals(clean)
    assert set(injected.truth["kind"]) <= {"reverse_flow"}
    assert injected.head.height == FLEET["feeder"].n_unique() * 288


@pytest.mark.integration
def test_generation_stores_heads_and_truth_and_a_second_load_changes_nothing(
    database: Database,
) -> None:
    """Two days loaded with faults: every reading row, a head row per feeder and interval,
    the truth of both days; loading them again leaves exactly the same rows."""
    with connect(database) as conn:
        conn.execute("TRUNCATE energy_readings, feeder_head_readings, injected_faults")
    replace_fleet(database, FLEET)
    window = (START, START + timedelta(days=2))
    with connect(database) as conn:
        stored = Scenario(read_grid(conn), 42, INTERVAL, *window, BUSY)

    def snapshot() -> tuple[Any, ...]:
        with connect(database) as conn:
            return (
                conn.execute("SELECT count(*), sum(energy) FROM energy_readings").fetchone(),
                conn.execute("SELECT count(*), sum(power) FROM feeder_head_readings").fetchone(),
                conn.execute(
                    "SELECT kind, asset_type, asset, start_ts, end_ts FROM injected_faults "
                    "ORDER BY 1, 2, 3, 4"
                ).fetchall(),
            )

    load_history(database, FLEET, window, interval=INTERVAL, seed=42, timezone="UTC",
                 scenario=stored)  # fmt: skip
    first = snapshot()
    load_history(database, FLEET, window, interval=INTERVAL, seed=42, timezone="UTC",
                 scenario=stored)  # fmt: skip
    assert snapshot() == first
    readings, heads, truth = first
    assert readings[0] == FLEET.height * 2 * 288
    assert heads[0] == FLEET["feeder"].n_unique() * 2 * 288
    expected = sorted(
        (row["kind"], row["asset_type"], row["asset"], row["start"], row["end"])
        for d in range(2)
        for row in inject(clean_day(d), FLEET, day_window(d), stored).truth.iter_rows(named=True)
    )
    assert truth == expected
    with connect(database) as conn:
        conn.execute("TRUNCATE energy_readings, feeder_head_readings, injected_faults")
