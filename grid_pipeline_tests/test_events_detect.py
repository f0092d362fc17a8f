"""The grid-event detectors on the real engine, and their pure run and roll-up logic.

The integration tests load a small fleet (40 meters on 2 feeders, 10 days in June,
when rooftop solar pushes power back through transformers), write feeder-head
readings as the true total plus 2 % losses, and inject one fault of every kind
with UPDATE statements the way the generator lays them out (outages and voltage
events are physical and reach the head; theft, stuck, zero and spike are metering
faults the head does not see). Each fault must come back as exactly one event of
the right kind on the right asset at the right time; the clean fleet must raise
nothing but reverse flow, which is real.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.events.detect import DetectedEvent, detect_all, run_detection
from grid_pipeline.events.detectors import outage, voltage
from grid_pipeline.events.detectors.loading import sustained_runs
from grid_pipeline.events.detectors.metering import spike_events, stuck_runs
from grid_pipeline.events.detectors.theft import backed, detect_frames, step_at
from grid_pipeline.events.kinds import Thresholds
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.historic import load_history, read_fleet, replace_fleet

INTERVAL = timedelta(minutes=5)
DAY0 = datetime(2026, 6, 1, tzinfo=UTC)
WINDOW = (DAY0, DAY0 + timedelta(days=10))
LOSSES = 1.02


def at(day: int, hour: float) -> datetime:
    return DAY0 + timedelta(days=day, hours=hour)


@dataclass(frozen=True)
class Fault:
    kind: str
    asset_type: str
    asset: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Detected:
    clean: list[DetectedEvent]
    faults: list[Fault]
    events: list[DetectedEvent]


def execute(db: Database, statement: str, params: dict[str, Any]) -> None:
    with connect(db) as conn:
        conn.execute(statement, params)


def readings(db: Database, where: str, params: dict[str, Any]) -> None:
    """UPDATE energy_readings SET ... (`where` holds the SET and WHERE clauses)."""
    execute(db, f"UPDATE energy_readings SET {where}", params)


def write_heads(db: Database) -> None:
    """Each feeder's head: the sum of its meters' readings plus 2 % losses."""
    execute(db, "TRUNCATE feeder_head_readings", {})
    execute(
        db,
        'INSERT INTO feeder_head_readings ("timestamp", feeder, power, energy) '
        'SELECT e."timestamp", m.feeder, round(sum(e.power) * %(losses)s)::int, '
        "round(sum(e.energy) * %(losses)s)::int "
        "FROM energy_readings AS e JOIN meters AS m USING (meter_id) GROUP BY 1, 2",
        {"losses": LOSSES},
    )


def assets(db: Database) -> pl.DataFrame:
    with connect(db) as conn:
        rows = conn.execute(
            "SELECT m.meter_id, m.customer_class, m.feeder, m.transformer, m.rated_kw, "
            "t.rating_kva, count(*) OVER (PARTITION BY m.transformer) AS size "
            "FROM meters AS m JOIN transformers AS t USING (transformer) ORDER BY meter_id"
        ).fetchall()
    return pl.DataFrame(
        rows,
        schema=["meter_id", "customer_class", "feeder", "transformer", "rated_kw",
                "rating_kva", "size"],
        orient="row",
    )  # fmt: skip


def inject(db: Database) -> list[Fault]:
    """One fault of every kind; physical ones before the feeder heads, metering ones after."""
    grid = assets(db)
    homes = grid.filter(pl.col("customer_class") == "residential", pl.col("size") >= 2)
    shared = homes.get_column("transformer").unique().sort().to_list()
    sag_tx, swell_tx, out_tx, over_tx = shared[0], shared[1], shared[2], shared[-1]
    used = {over_tx}  # its readings are rewritten by the overload
    singles = grid.filter(
        pl.col("customer_class") == "residential", ~pl.col("transformer").is_in(used)
    ).get_column("meter_id")
    out_m, theft_m, stuck_m, zero_m, spike_m = (int(m) for m in singles[:5])
    faults = [
        Fault("outage", "feeder", "F01", at(2, 10), at(2, 11)),
        Fault("outage", "transformer", out_tx, at(3, 14), at(3, 15.5)),
        Fault("outage", "meter", str(out_m), at(4, 2), at(4, 2.5)),
        Fault("voltage_sag", "transformer", sag_tx, at(5, 8), at(5, 9)),
        Fault("voltage_swell", "transformer", swell_tx, at(5, 12), at(5, 12 + 40 / 60)),
        Fault("overload", "transformer", over_tx, at(6, 13), at(6, 15)),
        Fault("theft", "meter", str(theft_m), at(6, 7), at(9, 7)),
        Fault("stuck", "meter", str(stuck_m), at(7, 3), at(7, 6)),
        Fault("zero", "meter", str(zero_m), at(7, 10), at(7, 13)),
        Fault("spike", "meter", str(spike_m), at(8, 18), at(8, 18) + INTERVAL),
    ]
    span = 'WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s AND meter_id IN '
    off = "power = 0, energy = 0, voltage = 0, current = 0 "
    f = {x.kind + x.asset_type: x for x in faults}
    for fault, members in (
        (f["outagefeeder"], "(SELECT meter_id FROM meters WHERE feeder = %(asset)s)"),
        (f["outagetransformer"], "(SELECT meter_id FROM meters WHERE transformer = %(asset)s)"),
        (f["outagemeter"], "(%(asset)s::int)"),
    ):
        params = {"start": fault.start, "end": fault.end, "asset": fault.asset}
        readings(db, off + span + members, params)
    for fault, factor in (
        (f["voltage_sagtransformer"], 0.8),
        (f["voltage_swelltransformer"], 1.15),
    ):
        params = {"start": fault.start, "end": fault.end, "asset": fault.asset, "f": factor}
        readings(
            db,
            "voltage = round(voltage * %(f)s) "
            + span
            + "(SELECT meter_id FROM meters WHERE transformer = %(asset)s)",
            params,
        )
    over = f["overloadtransformer"]  # each home draws its share of 1.3 x the rating
    readings(
        db,
        "power = round(m.rated_kw * 1000 * 1.3 * t.rating_kva / s.rated), "
        "energy = round(m.rated_kw * 1000 * 1.3 * t.rating_kva / s.rated / 12) "
        "FROM meters AS m JOIN transformers AS t USING (transformer), "
        "(SELECT sum(rated_kw) AS rated FROM meters WHERE transformer = %(asset)s) AS s "
        "WHERE energy_readings.meter_id = m.meter_id AND m.transformer = %(asset)s "
        'AND "timestamp" >= %(start)s AND "timestamp" < %(end)s',
        {"start": over.start, "end": over.end, "asset": over.asset},
    )
    write_heads(db)
    theft = f["theftmeter"]
    readings(
        db,
        "power = round(power * 0.5), energy = round(energy * 0.5), current = round(current * 0.5) "
        + span
        + "(%(asset)s::int)",
        {"start": theft.start, "end": theft.end, "asset": theft.asset},
    )
    stuck = f["stuckmeter"]
    readings(
        db,
        "power = s.power, energy = s.energy, voltage = s.voltage, current = s.current "
        "FROM (SELECT power, energy, voltage, current FROM energy_readings "
        'WHERE meter_id = %(asset)s::int AND "timestamp" = %(start)s) AS s '
        'WHERE meter_id = %(asset)s::int AND "timestamp" >= %(start)s AND "timestamp" < %(end)s',
        {"start": stuck.start, "end": stuck.end, "asset": stuck.asset},
    )
    zero = f["zerometer"]
    readings(
        db,
        "power = 0, energy = 0, current = 0 " + span + "(%(asset)s::int)",
        {"start": zero.start, "end": zero.end, "asset": zero.asset},
    )
    spike = f["spikemeter"]
    readings(
        db,
        "power = round(3 * 1000 * (SELECT rated_kw FROM meters WHERE meter_id = %(asset)s::int)) "
        + span
        + "(%(asset)s::int)",
        {"start": spike.start, "end": spike.end, "asset": spike.asset},
    )
    return faults


@pytest.fixture(scope="module")
def detected(database: Database) -> Iterator[Detected]:
    """Detection on the clean fleet, then on the same fleet with every fault injected."""
    with connect(database) as conn:
        conn.execute("TRUNCATE energy_readings, feeder_head_readings, grid_events")
    replace_fleet(database, build_fleet(40, 7, n_feeders=2))
    with connect(database) as conn:
        fleet = read_fleet(conn)
    load_history(database, fleet, WINDOW, interval=INTERVAL, seed=7, timezone="UTC")
    write_heads(database)
    with connect(database) as conn:
        clean = detect_all(conn, WINDOW, Thresholds())
    faults = inject(database)
    with connect(database) as conn:
        events = detect_all(conn, WINDOW, Thresholds())
    yield Detected(clean, faults, events)


def _matches(event: DetectedEvent, fault: Fault) -> bool:
    return (event.kind, event.asset_type, event.asset) == (
        fault.kind,
        fault.asset_type,
        fault.asset,
    )


# --- integration ------------------------------------------------------------------------------


@pytest.mark.integration
def test_the_clean_fleet_raises_nothing_but_reverse_flow(detected: Detected) -> None:
    kinds = {e.kind for e in detected.clean}
    assert kinds <= {"reverse_flow"}, [e for e in detected.clean if e.kind != "reverse_flow"]
    assert "reverse_flow" in kinds  # June sun on 30 % of the roofs: real export
    for event in detected.clean:
        assert event.asset_type == "transformer" and event.end is not None
        assert event.end - event.start >= Thresholds().reverse_flow_min


@pytest.mark.integration
def test_every_fault_is_found_once_on_its_asset_at_its_time(detected: Detected) -> None:
    tolerance = {"voltage_sag": timedelta(minutes=10), "voltage_swell": timedelta(minutes=10),
                 "theft": timedelta(hours=4)}  # fmt: skip
    for fault in detected.faults:
        found = [e for e in detected.events if _matches(e, fault)]
        assert len(found) == 1, (fault, found)
        slack = tolerance.get(fault.kind, timedelta(0))
        assert abs(found[0].start - fault.start) <= slack, (fault, found[0])
        assert found[0].end is not None and abs(found[0].end - fault.end) <= slack, (
            fault,
            found[0],
        )


@pytest.mark.integration
def test_no_event_but_the_injected_faults_and_reverse_flow(detected: Detected) -> None:
    extra = [
        e
        for e in detected.events
        if e.kind != "reverse_flow" and not any(_matches(e, f) for f in detected.faults)
    ]
    assert extra == []


@pytest.mark.integration
def test_storing_a_window_twice_leaves_the_same_rows(
    database: Database, detected: Detected
) -> None:
    def stored() -> list[tuple[Any, ...]]:
        with connect(database) as conn:
            return conn.execute(
                "SELECT kind, asset_type, asset, start_ts, end_ts, severity, evidence, detector "
                "FROM grid_events ORDER BY kind, asset, start_ts"
            ).fetchall()

    first = run_detection(database, WINDOW)
    rows = stored()
    second = run_detection(database, WINDOW)
    assert stored() == rows
    assert first.stored == second.stored == len(rows) == len(detected.events)
    assert first.events == second.events and set(first.seconds) >= {"outage", "theft", "store"}


@pytest.mark.integration
def test_a_day_window_keeps_the_events_starting_in_it(
    database: Database, detected: Detected
) -> None:
    day = (at(7, 0), at(8, 0))
    run_detection(database, day)  # replaces only that day's events
    with connect(database) as conn:
        events = detect_all(conn, day, Thresholds())
        count = conn.execute("SELECT count(*) FROM grid_events").fetchone()
    assert {e.kind for e in events} - {"reverse_flow"} == {"stuck", "zero"}
    assert all(day[0] <= e.start < day[1] for e in events)
    assert count is not None and count[0] == len(detected.events)


# --- pure logic -------------------------------------------------------------------------------


def _out(rows: list[tuple[int, int, str, str, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(DAY0 + i * INTERVAL, *rest) for i, *rest in rows],
        schema=["timestamp", "meter_id", "transformer", "feeder", "transformer_meters",
                "feeder_meters"],
        orient="row",
    )  # fmt: skip


def test_outage_rolls_up_to_the_highest_asset_wholly_out() -> None:
    """Feeder F1 = transformers T1 (meters 1, 2) and T2 (meters 3, 4). Interval 0: all out
    (the feeder). Intervals 1-2: T1 out (the transformer). Intervals 0-3: meter 3 out, on
    past the feeder's outage (one meter event from interval 1, where the feeder's ends)."""
    t1, t2 = ("T1", "F1", 2, 4), ("T2", "F1", 2, 4)
    rows = [(0, 1, *t1), (0, 2, *t1), (0, 4, *t2)]
    rows += [(i, m, *t1) for i in (1, 2) for m in (1, 2)]
    rows += [(i, 3, *t2) for i in (0, 1, 2, 3)]
    events = {(e.asset_type, e.asset, e.start, e.end)
              for e in outage.detect_frame(_out(rows), INTERVAL)}  # fmt: skip
    assert events == {
        ("feeder", "F1", DAY0, DAY0 + INTERVAL),
        ("transformer", "T1", DAY0 + INTERVAL, DAY0 + 3 * INTERVAL),
        ("meter", "3", DAY0 + INTERVAL, DAY0 + 4 * INTERVAL),
    }


def test_voltage_rolls_up_when_half_the_meters_see_it() -> None:
    window = timedelta(minutes=10)
    rows = [(DAY0, 1, "T1", 4, 0.85), (DAY0, 2, "T1", 4, 0.86),  # 2 of 4: the transformer
            (DAY0 + window, 3, "T1", 4, 0.88)]  # fmt: skip  # 1 of 4: a meter
    means = pl.DataFrame(
        rows, schema=["bucket", "meter_id", "transformer", "transformer_meters", "pu"], orient="row"
    )
    events = voltage.detect_frame(means, Thresholds())
    assert {(e.kind, e.asset_type, e.asset, e.start) for e in events} == {
        ("voltage_sag", "transformer", "T1", DAY0),
        ("voltage_sag", "meter", "3", DAY0 + window),
    }
    assert next(e for e in events if e.asset == "T1").evidence["worst_pu"] == 0.85


def test_sustained_runs_need_the_minimum_of_consecutive_intervals() -> None:
    loads = [110.0] * 5 + [90.0] + [120.0] * 6 + [-10.0] * 7
    frame = pl.DataFrame(
        {
            "transformer": ["T1"] * len(loads),
            "timestamp": [DAY0 + i * INTERVAL for i in range(len(loads))],
            "load_kva": loads,
            "rating_kva": [100.0] * len(loads),
        }
    )
    over = sustained_runs(
        frame, ratio=1.0, min_duration=timedelta(minutes=30), interval=INTERVAL, export=False
    )
    assert over.select("start", "end", "intervals", "peak_ratio").rows() == [
        (DAY0 + 6 * INTERVAL, DAY0 + 12 * INTERVAL, 6, 1.2)
    ]
    reverse = sustained_runs(
        frame, ratio=0.05, min_duration=timedelta(minutes=30), interval=INTERVAL, export=True
    )
    assert reverse.get_column("intervals").to_list() == [7]
    gap = frame.filter(pl.col("timestamp") != DAY0 + 15 * INTERVAL)  # a missing interval
    assert sustained_runs(
        gap, ratio=0.05, min_duration=timedelta(minutes=30), interval=INTERVAL, export=True
    ).is_empty()


def test_a_stuck_run_is_identical_readings_not_just_equal_power() -> None:
    n = 14
    frame = pl.DataFrame(
        {
            "timestamp": [DAY0 + i * INTERVAL for i in range(n)] * 2,
            "meter_id": [1] * n + [2] * n,
            "power": [500] * n + [500] * n,
            "energy": [42] * n + [42] * n,
            "voltage": [2301] * n + [2301 + (i % 2) for i in range(n)],
            "current": [2170] * n + [2170] * n,
        }
    )
    found = stuck_runs(frame, timedelta(hours=1), INTERVAL)
    assert found.select("meter_id", "start", "intervals").rows() == [(1, DAY0, n)]


def test_the_step_lands_where_the_level_changes() -> None:
    import numpy as np

    usual = np.tile([1.0, 3.0, 2.0, 4.0], 12)
    values = np.concatenate([usual[:29], usual[29:] * 0.5])
    assert step_at(values, usual, usual * 0.5, 10, 40) == 29


def test_a_spike_is_one_reading_alone_above_the_limit() -> None:
    times = [DAY0, DAY0 + 5 * INTERVAL, DAY0 + 6 * INTERVAL, DAY0 + 9 * INTERVAL]
    rows = pl.DataFrame(
        {"timestamp": times, "meter_id": [1] * 4, "power": [30_000] * 4, "rated_kw": [7.0] * 4}
    )
    found = spike_events(rows, INTERVAL)
    assert [(e.asset, e.start, e.end) for e in found] == [
        ("1", DAY0, DAY0 + INTERVAL),
        ("1", DAY0 + 9 * INTERVAL, DAY0 + 10 * INTERVAL),
    ]


def test_the_balance_backs_the_thefts_not_a_dip_even_when_thefts_fill_the_days() -> None:
    """14 days of a feeder's hours with 2 % losses and a little noise: thefts on days 0-5
    and 8-13 (more days than honest ones), and a household's own dip on days 6-7 (nothing
    stolen). The balance backs the two thefts, at their hidden share, and not the dip."""
    import numpy as np

    hours = 14 * 24
    rng = np.random.default_rng(3)
    flow = 1e6 * (1.0 + 0.5 * np.sin(np.arange(hours) * 2 * np.pi / 24) ** 2)
    evening = 400.0 + 900.0 * (np.arange(hours) % 24 >= 17)  # what a home registers, Wh
    registered = np.zeros((hours, 3))
    registered[0:144, 0], registered[192:336, 1], registered[144:192, 2] = (
        evening[0:144], evening[192:336], evening[144:192])  # fmt: skip
    y = (0.02 * flow + 1.0 * registered[:, 0] + 0.8 * registered[:, 1]) / flow
    y += 2e-5 * rng.standard_normal(hours)
    base = np.ones((hours, 1))
    chosen, k = backed(y, base, registered / flow[:, None], np.array([1.0, 0.8, 1.0]), Thresholds())
    assert chosen.tolist() == [True, True, False]
    assert abs(k[0] - 1.0) < 0.05 and abs(k[1] - 0.8) < 0.05


def _feeder(
    days: int, thefts: list[tuple[int, datetime, datetime, float]], dips: list[tuple[int, int, int]]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hourly energy of 30 households without solar on one feeder from DAY0 for `days`
    days, and the feeder head (true flow plus 2 % losses with a little noise). A theft
    (meter, start, end, share) hides that share of the meter's energy from it, not from
    the head; a dip (meter, first day, last day) halves what the household uses."""
    import numpy as np

    rng = np.random.default_rng(11)
    meters, hours = 30, days * 24
    stamps = [DAY0 + timedelta(hours=h) for h in range(hours)]
    of_day = np.arange(hours) % 24
    profile = 300.0 + 250.0 * ((of_day >= 6) & (of_day < 9)) + 700.0 * (of_day >= 17)
    weather = np.repeat(1.0 + 0.2 * rng.standard_normal(days), 24)
    size = 0.6 + 0.8 * rng.random(meters)
    true = size[:, None] * profile[None, :] * weather[None, :]
    true *= np.repeat(1.0 + 0.08 * rng.standard_normal((meters, days)), 24, axis=1)
    true *= 1.0 + 0.15 * rng.standard_normal((meters, hours))
    true = np.maximum(true, 10.0)
    for meter, first, last in dips:
        true[meter, first * 24 : (last + 1) * 24] *= 0.5
    registered = true.copy()
    for meter, start, end, share in thefts:
        on = [(start <= t < end) for t in stamps]
        registered[meter, on] *= 1.0 - share
    registered = np.round(registered)
    flow = registered.sum(axis=0)
    head = true.sum(axis=0) + 0.02 * true.sum(axis=0) * (1.0 + 0.05 * rng.standard_normal(hours))
    hourly = pl.DataFrame(
        {
            "hour": stamps * meters,
            "meter_id": np.repeat(np.arange(meters), hours).astype(np.int32),
            "feeder": ["F01"] * (meters * hours),
            "customer_class": ["residential"] * (meters * hours),
            "has_solar": [False] * (meters * hours),
            "energy": registered.reshape(-1).astype(np.int64),
        }
    ).with_columns(pl.col("hour").dt.cast_time_unit("us"))
    heads = pl.DataFrame(
        {"hour": stamps, "feeder": ["F01"] * hours, "head": head, "metered": flow, "flow": flow}
    ).with_columns(pl.col("hour").dt.cast_time_unit("us"))
    return hourly, heads


def _thefts_found(hourly: pl.DataFrame, head: pl.DataFrame) -> list[tuple[str, datetime, int]]:
    events = detect_frames(hourly, head, Thresholds())
    return [(e.asset, e.start, int(e.evidence["ongoing"])) for e in events]


def _near(found: datetime, true: datetime) -> bool:
    return abs(found - true) <= timedelta(minutes=15)


def test_two_thefts_on_one_meter_in_a_fortnight_are_two_events() -> None:
    """Meter 7 steals twice in 24 days; meter 12 halves its use for three days (its
    feeder's balance does not move): two thefts on meter 7 at their starts, nothing else."""
    first, second = (at(9, 18), at(13, 18), 0.5), (at(18, 7), at(22, 7), 0.6)
    hourly, head = _feeder(24, [(7, *first), (7, *second)], [(12, 15, 17)])
    found = _thefts_found(hourly, head)
    assert [(asset, ongoing) for asset, _, ongoing in found] == [("7", 0), ("7", 0)]
    assert _near(found[0][1], first[0]) and _near(found[1][1], second[0])


def test_a_theft_from_the_second_day_of_the_data_is_found() -> None:
    """No lookback: the data start a day before the theft; the honest days after it make
    the meter's baseline."""
    start = at(1, 19)
    hourly, head = _feeder(14, [(4, start, at(6, 19), 0.5)], [])
    found = _thefts_found(hourly, head)
    assert [(asset, ongoing) for asset, _, ongoing in found] == [("4", 0)]
    assert _near(found[0][1], start)


def test_a_theft_starting_hours_before_the_data_ends_is_found_ongoing() -> None:
    """One low day at the end of the data is a candidate; the hourly balance carries it."""
    start = at(13, 3)
    hourly, head = _feeder(14, [(21, start, at(17, 3), 0.6)], [])
    found = _thefts_found(hourly, head)
    assert [(asset, ongoing) for asset, _, ongoing in found] == [("21", 1)]
    assert _near(found[0][1], start)
