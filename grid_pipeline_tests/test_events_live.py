"""The live path of grid events: physical faults in the MQTT stream, found by the watcher.

One UTC day of a 30-meter fleet is simulated at full speed (no pacing) on the embedded
broker with the physical faults of the historic generator (rates raised so that one
day holds every live kind), ingested by a real consumer into the embedded engine, and
watched: once in the middle of an outage, once at the end of the day, then again.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import dagster as dg
import polars as pl
import pytest

from grid_pipeline.app.events import (
    detect_day,
    physical_recorder,
    score_history,
    watch,
    watch_once,
)
from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.defs.events import LIVE_JOB, events_defs
from grid_pipeline.defs.resources import TimescaleResource
from grid_pipeline.embedded.process import free_port
from grid_pipeline.events.detect import detect_all, store_events
from grid_pipeline.events.detectors.base import DetectedEvent
from grid_pipeline.events.inject import Fault, FaultRates, Scenario, plan_day
from grid_pipeline.events.kinds import Thresholds
from grid_pipeline.events.live import Key, LiveWindow, reconcile
from grid_pipeline.mqtt.consumer import ConsumerConfig
from grid_pipeline.mqtt.simulator import PhysicalFaults, Publisher, Simulator, run_simulation
from grid_pipeline.storage.historic import load_history, read_grid
from grid_pipeline_tests.mqtt_support import (
    clean_slate,
    count,
    running_consumer,
    unique_root,
    wait_for,
)

METERS = 30
INTERVAL = timedelta(minutes=5)
#: Per asset and day, far above the generator's defaults: one day of 30 meters then holds
#: every kind the watcher finds (feeder outages are left out: the fleet is one feeder).
RATES = replace(
    FaultRates.none(),
    meter_outage=0.1,
    transformer_outage=0.15,
    voltage_sag=0.15,
    voltage_swell=0.15,
    overload=0.3,
    stuck=0.1,
    zero=0.1,
    spike=0.1,
)
KINDS = {
    ("outage", "meter"),
    ("outage", "transformer"),
    ("voltage_sag", "transformer"),
    ("voltage_swell", "transformer"),
    ("overload", "transformer"),
    ("stuck", "meter"),
    ("zero", "meter"),
    ("spike", "meter"),
}
EVENT_COLUMNS = "kind, asset_type, asset, start_ts, end_ts, severity, evidence, detected_at"


def _empty_events(db: Database) -> None:
    with connect(db) as conn:
        for table in ("grid_events", "injected_faults", "feeder_head_readings"):
            conn.execute(f"TRUNCATE {table}")


def _events(db: Database) -> list[tuple[Any, ...]]:
    with connect(db) as conn:
        return conn.execute(
            f"SELECT {EVENT_COLUMNS} FROM grid_events ORDER BY kind, asset_type, asset, start_ts"
        ).fetchall()


def _day_with_every_kind(scenario: Scenario, fleet: pl.DataFrame) -> tuple[datetime, list[Fault]]:
    """The most recent past UTC day whose plan holds every kind of `KINDS`."""
    today = datetime.now(UTC).date()
    for back in range(1, 25):
        day = today - timedelta(days=back)
        faults = plan_day(day, fleet, scenario)
        if {(f.kind, f.asset_type) for f in faults} >= KINDS:
            return datetime.combine(day, time(), UTC), faults
    raise AssertionError("no day in the last 24 holds every kind: raise RATES")


def _simulate(url: str, sim: Simulator, start: datetime, intervals: int) -> None:
    publisher = Publisher(url, protocol="3.1.1")
    publisher.connect()
    try:
        run_simulation(sim, publisher, start=start, intervals=intervals, speedup=0)
    finally:
        publisher.close()


@dataclass(frozen=True)
class LiveRun:
    start: datetime
    end: datetime
    probe: Fault  # an outage the middle pass looks at while it runs
    mid_events: list[tuple[Any, ...]]
    final_events: list[tuple[Any, ...]]
    again_events: list[tuple[Any, ...]]


@pytest.fixture(scope="module")
def live_run(database: Database, settings: Settings, amqtt_url: str) -> LiveRun:
    fleet = clean_slate(database, METERS)
    _empty_events(database)
    with connect(database) as conn:
        grid = read_grid(conn)
    scenario = Scenario(grid=grid, seed=settings.seed, interval=INTERVAL,
                        data_start=datetime(2000, 1, 1, tzinfo=UTC),
                        data_end=datetime(2100, 1, 1, tzinfo=UTC), rates=RATES)  # fmt: skip
    start, faults = _day_with_every_kind(scenario, fleet)
    end = start + timedelta(days=1)
    probe = min(
        (f for f in faults if f.kind == "outage" and f.end - f.start >= 6 * INTERVAL),
        key=lambda f: f.start,
    )
    root = unique_root()
    sim = Simulator(fleet, interval=INTERVAL, seed=settings.seed, topic_root=root)
    sim.physical = PhysicalFaults(fleet, scenario)
    sim.on_physical = physical_recorder(database, start)
    config = ConsumerConfig(broker_url=amqtt_url, client_id=f"ingest-{root}", protocol="3.1.1",
                            topic_root=root, interval=INTERVAL)  # fmt: skip
    middle = probe.start + 3 * INTERVAL
    with running_consumer(database, config) as consumer:
        _simulate(amqtt_url, sim, start, (middle - start) // INTERVAL)
        wait_for(lambda: count(database) >= sim.counters.expected_rows, what="the first part")
        assert consumer.wait_idle(quiet_s=0.3)
        watch_once(database, settings, judge_newest=True)
        mid = _events(database)
        _simulate(amqtt_url, sim, middle, (end - middle) // INTERVAL)
        wait_for(lambda: count(database) >= sim.counters.expected_rows, what="the whole day")
        assert consumer.wait_idle(quiet_s=0.3)
    # The watcher catching up on the whole day (a running watcher sees it hour by hour).
    whole_day = timedelta(hours=25)
    watch_once(database, settings, judge_newest=True, lookback=whole_day)
    final = _events(database)
    watch(database, settings, every=0.0, grace=0.0, lookback=whole_day, passes=2)
    return LiveRun(start, end, probe, mid, final, _events(database))


@pytest.mark.integration
def test_every_injected_fault_is_found_with_its_kind_and_asset(
    database: Database, settings: Settings, live_run: LiveRun
) -> None:
    scores = score_history(database, settings, (live_run.start, live_run.end))
    found = {kind: (s.matched_faults, s.faults) for kind, s in scores.items()}
    assert {kind for kind, _ in KINDS} <= set(scores), found
    for kind, s in scores.items():
        assert s.recall == 1.0, (kind, s)
        assert s.precision == 1.0, (kind, s)


@pytest.mark.integration
def test_an_open_event_gets_its_end_once_the_fault_ends(live_run: LiveRun) -> None:
    probe = live_run.probe
    key = ("outage", probe.asset_type, probe.asset, probe.start)
    mid = {row[:4]: row for row in live_run.mid_events}
    final = {row[:4]: row for row in live_run.final_events}
    assert key in mid and mid[key][4] is None  # open while the readings are missing
    assert final[key][4] == probe.end  # closed at the first reading heard again
    assert final[key][7] == mid[key][7]  # detected_at: when it was first seen


@pytest.mark.integration
def test_watching_again_changes_nothing(live_run: LiveRun) -> None:
    assert live_run.final_events
    assert live_run.again_events == live_run.final_events


@pytest.mark.integration
def test_the_dagster_job_runs_one_live_pass(
    database: Database, settings: Settings, live_run: LiveRun
) -> None:
    defs = dg.Definitions.merge(
        events_defs(settings),
        dg.Definitions(
            assets=[dg.AssetSpec("mqtt_ingestion"), dg.AssetSpec(settings.chunk_variants[0].table)],
            resources={"timescale": TimescaleResource(data_dir=str(settings.data_dir))},
        ),
    )
    run = defs.resolve_job_def(LIVE_JOB).execute_in_process()
    assert run.success and run.dagster_run.job_name == "live_grid_events_job"
    (materialization,) = run.get_asset_materialization_events()
    metadata = {k: v.value for k, v in materialization.materialization.metadata.items()}
    assert metadata["data_until"] == live_run.end.isoformat()
    assert (metadata["opened"], metadata["closed"], metadata["withdrawn"]) == (0, 0, 0)
    assert _events(database) == live_run.final_events
    spec = defs.resolve_assets_def("live_grid_events").specs_by_key[dg.AssetKey("live_grid_events")]
    assert spec.freshness_policy is not None


@pytest.mark.integration
def test_detecting_the_watched_day_again_keeps_its_outages(
    database: Database, live_run: LiveRun
) -> None:
    """The history's detection (`events detect --day`, the daily asset) replaces a day's
    events: it must find the live outages (meters that stopped reporting) again."""

    def outages() -> set[tuple[Any, ...]]:
        return {row[:5] for row in _events(database) if row[0] == "outage"}

    watched = outages()
    assert watched
    detect_day(database, (live_run.start, live_run.end))
    assert outages() == watched


@pytest.mark.integration
def test_a_live_stream_without_faults_raises_no_event(
    database: Database, settings: Settings, amqtt_url: str
) -> None:
    fleet = clean_slate(database, METERS)
    _empty_events(database)
    with connect(database) as conn:
        grid = read_grid(conn)
    start = datetime.combine(datetime.now(UTC).date() - timedelta(days=1), time(), UTC)
    scenario = Scenario(grid=grid, seed=settings.seed, interval=INTERVAL, data_start=start,
                        data_end=start + timedelta(days=1), rates=FaultRates.none())  # fmt: skip
    root = unique_root()
    sim = Simulator(fleet, interval=INTERVAL, seed=settings.seed, topic_root=root)
    sim.physical = PhysicalFaults(fleet, scenario)  # heads and truth, no fault
    sim.on_physical = physical_recorder(database, start)
    config = ConsumerConfig(broker_url=amqtt_url, client_id=f"ingest-{root}", protocol="3.1.1",
                            topic_root=root, interval=INTERVAL)  # fmt: skip
    intervals = 36  # three night hours: no solar export, so no reverse flow either
    with running_consumer(database, config) as consumer:
        _simulate(amqtt_url, sim, start, intervals)
        wait_for(lambda: count(database) >= intervals * METERS, what="every reading")
        assert consumer.wait_idle(quiet_s=0.3)
    report = watch_once(database, settings, judge_newest=True)
    assert report.frontier == start + intervals * INTERVAL
    assert (report.found, _events(database)) == (0, [])
    with connect(database) as conn:
        heads = conn.execute("SELECT count(*) FROM feeder_head_readings").fetchone()
    assert heads == (intervals * fleet["feeder"].n_unique(),)


@pytest.mark.integration
def test_simulate_and_watch_from_the_command_line(
    database: Database, session_env: dict[str, str], amqtt_url: str
) -> None:
    clean_slate(database, METERS)
    _empty_events(database)
    start = datetime.combine(datetime.now(UTC).date() - timedelta(days=1), time(), UTC)
    env = session_env | {"GRID_PHYSICAL_FAULTS": "on"}
    made = _cli(env, "simulate", "--meters", str(METERS), "--intervals", "6", "--speedup", "0",
                "--start", start.isoformat(), "--fault-scale", "200", "--topic-root",
                unique_root(), "--quiet")  # fmt: skip
    assert "physical faults: the generator's rates x 200" in made.stdout
    sent = json.loads(made.stdout.splitlines()[-1])["simulator"]
    with connect(database) as conn:
        heads = conn.execute("SELECT count(*) FROM feeder_head_readings").fetchone()
        truth = conn.execute("SELECT count(*), min(start_ts) FROM injected_faults").fetchone()
    assert heads == (6,)  # one feeder, six intervals
    assert truth is not None and truth[0] > 0 and truth[1] >= start
    assert sent["readings"] <= 6 * METERS  # meters in an outage published nothing
    watched = _cli(env, "events", "watch", "--once")
    assert "stopped after 1 pass" in watched.stdout
    assert "no readings yet" in watched.stdout  # nothing was ingested from this run


@pytest.mark.integration
def test_the_whole_fleet_silent_is_a_collection_gap_not_an_outage(
    database: Database, settings: Settings
) -> None:
    """The platform down for an hour (no meter reported) raises no outage, live or in the
    history; one meter silent while the others report still does."""
    fleet = clean_slate(database, METERS)
    _empty_events(database)
    start = datetime.combine(datetime.now(UTC).date() - timedelta(days=1), time(), UTC)
    end = start + timedelta(hours=4)
    load_history(database, fleet, (start, end), interval=INTERVAL, seed=settings.seed,
                 timezone="UTC")  # fmt: skip
    down = (start + timedelta(hours=1), start + timedelta(hours=2))
    silent = (start + timedelta(hours=2, minutes=30), start + timedelta(hours=3))
    with connect(database) as conn:
        conn.execute('DELETE FROM energy_readings WHERE "timestamp" >= %s AND "timestamp" < %s',
                     down)  # fmt: skip
        conn.execute('DELETE FROM energy_readings WHERE meter_id = 4 AND "timestamp" >= %s '
                     'AND "timestamp" < %s', silent)  # fmt: skip
    expected = {("outage", "meter", "4", silent[0], silent[1])}

    def outages() -> set[tuple[Any, ...]]:
        return {row[:5] for row in _events(database) if row[0] == "outage"}

    watch_once(database, settings, judge_newest=True, lookback=timedelta(hours=5))
    assert outages() == expected
    _empty_events(database)
    with connect(database) as conn:
        store_events(conn, (start, end), detect_all(conn, (start, end), Thresholds()))
    assert outages() == expected


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "grid_pipeline.cli", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_reconcile_keeps_what_it_cannot_see_whole_and_withdraws_what_it_no_longer_finds() -> None:
    lo = datetime(2026, 1, 1, tzinfo=UTC)
    window = LiveWindow(lo, lo + timedelta(hours=6), lo + timedelta(hours=6) - INTERVAL, INTERVAL)

    def event(kind: str, asset: str, start: datetime, end: datetime) -> DetectedEvent:
        return DetectedEvent(kind, "meter", asset, start, end, "warning")

    found = [
        event("stuck", "1", lo, lo + timedelta(hours=2)),  # cut at lo, never stored: dropped
        event("zero", "2", lo, lo + timedelta(hours=2)),  # cut at lo, stored: kept
        event("outage", "3", lo + timedelta(hours=5), window.judged),  # reaches judged: open
        event("spike", "4", window.frontier - INTERVAL, window.frontier),  # one reading: closed
    ]
    known: dict[Key, datetime | None] = {
        ("zero", "meter", "2", lo): None,  # was open, ends now
        ("spike", "meter", "5", lo + timedelta(hours=1)): lo + timedelta(hours=1, minutes=5),
        ("stuck", "meter", "6", lo - timedelta(hours=1)): None,  # before lo: left alone
    }
    changes = reconcile(found, known, window)
    assert {(e.kind, e.asset, e.end) for e in changes.upserts} == {
        ("zero", "2", lo + timedelta(hours=2)),
        ("outage", "3", None),
        ("spike", "4", window.frontier),
    }
    assert changes.deletes == [("spike", "meter", "5", lo + timedelta(hours=1))]
    assert (changes.opened, changes.closed, changes.still_open) == (2, 1, 1)


def test_the_watcher_outlives_a_database_it_cannot_reach(settings: Settings) -> None:
    """A pass the database cannot answer is one line, and the next pass comes: `up` keeps
    the watcher as a child, and a child that died would stop the whole stack."""
    gone = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", embedded=False)
    lines: list[str] = []
    done = watch(gone, settings, every=0.01, passes=3, failed=lines.append)
    assert done == 3 and len(lines) == 3
    assert all(line.startswith("pass failed, trying again in 0.01 s: ") for line in lines)
    assert all("\n" not in line for line in lines)
