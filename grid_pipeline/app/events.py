"""Grid events as the product runs them: detect over the data set, score against the truth.

The CLI (`grid-pipeline events detect|score`) and the Dagster detection assets call
these, so a day detected from either place is detected the same way.

The live path: `live_scenario` and `physical_recorder` serve `simulate
--physical-faults` (faults in the stream, heads and truth stored per tick);
`watch_once` is one near-real-time pass over the trailing window of the live data
(`events.live`), `watch` loops it (`grid-pipeline events watch`, the Dagster
`live_grid_events` asset runs one pass).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

import polars as pl
import psycopg

from grid_pipeline.app.dataset import history_window
from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect, resolve_database
from grid_pipeline.db.sqlfiles import query
from grid_pipeline.embedded.process import ServiceError
from grid_pipeline.events.acknowledge import UnknownEvents as UnknownEvents  # for callers
from grid_pipeline.events.acknowledge import acknowledge, check_by, check_ids
from grid_pipeline.events.detect import DetectionReport, run_detection
from grid_pipeline.events.inject import FaultRates, Scenario
from grid_pipeline.events.kinds import Thresholds
from grid_pipeline.events.live import DEFAULT_LOOKBACK, detect_window, live_window, reconcile
from grid_pipeline.events.score import EVENT_COLUMNS, KindScore, score
from grid_pipeline.mqtt.simulator import PhysicalTick
from grid_pipeline.storage.historic import read_grid
from grid_pipeline.storage.live_events import apply_reconciled, known_events, record_physical_tick

Window = tuple[datetime, datetime]
Progress = Callable[[str], None]

_EVENT_SCHEMA = pl.Schema(
    {"kind": pl.Utf8(), "asset_type": pl.Utf8(), "asset": pl.Utf8(),
     "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC")}
)  # fmt: skip


def detect_day(db: Database, window: Window) -> DetectionReport:
    """Detect every kind of event starting in `window` (one UTC day) and store them,
    replacing what an earlier detection of the same window stored."""
    return run_detection(db, window, Thresholds())


def detect_history(
    db: Database, settings: Settings, window: Window | None = None, progress: Progress = print
) -> DetectionReport:
    """Detect over `window` (default: the data set) in one pass: each detector reads the
    window once (theft's baselines too), where day by day it would read them per day."""
    span = window or history_window(settings)

    def step(name: str, found: int, seconds: float) -> None:
        progress(f"  {name:<10} {found:>5} events  {seconds:6.1f} s")

    return run_detection(db, span, Thresholds(), step)


def _events(db: Database, name: str, window: Window) -> pl.DataFrame:
    with connect(db) as conn:
        rows = conn.execute(query(name), {"start": window[0], "end": window[1]}).fetchall()
    return pl.DataFrame(rows, schema=_EVENT_SCHEMA, orient="row").select(EVENT_COLUMNS)


def score_history(
    db: Database, settings: Settings, window: Window | None = None
) -> dict[str, KindScore]:
    """Detected events against the injected ground truth over `window` (default: the data set)."""
    span = window or history_window(settings)
    return score(_events(db, "events_ground_truth", span), _events(db, "events_detected", span))


# ---------------------------------------------------------------------------- live path


def live_scenario(
    db: Database, settings: Settings, start: datetime, scale: float = 1.0
) -> Scenario:
    """The physical faults of a live simulation starting at `start`: the stored grid, the
    historic generator's rates times `scale` (capped at 1 per asset and day; a short run
    at the documented rates sees few faults), thefts only from `start` on."""
    rates = FaultRates()
    scaled = {f.name: min(1.0, getattr(rates, f.name) * scale) for f in fields(rates)}
    with connect(db) as conn:
        grid = read_grid(conn)
    return Scenario(
        grid=grid, seed=settings.seed, interval=settings.interval, data_start=start,
        data_end=start + timedelta(days=366), rates=FaultRates(**scaled),
    )  # fmt: skip


def physical_recorder(db: Database, start: datetime) -> Callable[[PhysicalTick], None]:
    """Stores each tick's feeder heads and the live truth since `start` (one short
    transaction per tick, before the tick's readings are published)."""

    def record(tick: PhysicalTick) -> None:
        with connect(db) as conn:
            record_physical_tick(conn, start, tick)

    return record


@dataclass(frozen=True)
class WatchReport:
    """What one live pass saw and changed."""

    frontier: datetime | None
    lo: datetime | None = None
    found: int = 0
    opened: int = 0
    closed: int = 0
    deleted: int = 0
    still_open: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        """One progress line: the data's clock, what changed, how long the pass took."""
        if self.frontier is None:
            return "no readings yet"
        took = sum(self.seconds.values())
        return (
            f"data to {self.frontier:%Y-%m-%d %H:%M} UTC: {self.still_open} open, "
            f"+{self.opened} new, {self.closed} closed, {self.deleted} withdrawn "
            f"({took:.2f} s)"
        )


def watch_once(
    db: Database,
    settings: Settings,
    *,
    lookback: timedelta = DEFAULT_LOOKBACK,
    judge_newest: bool = False,
    thresholds: Thresholds | None = None,
) -> WatchReport:
    """One live pass: detect over the trailing window and upsert `grid_events` (open
    events with end_ts NULL, closed when their condition ends). Re-running it on the
    same data changes nothing."""
    thresholds = thresholds or Thresholds()
    with connect(db) as conn:
        window = live_window(conn, settings.interval, thresholds, lookback, judge_newest)
        if window is None:
            return WatchReport(None)
        found, seconds = detect_window(conn, window, thresholds)
        started = time.perf_counter()
        changes = reconcile(found, known_events(conn, window), window)
        apply_reconciled(conn, changes)
        seconds["store"] = time.perf_counter() - started
    return WatchReport(
        window.frontier, window.lo, len(changes.upserts), changes.opened, changes.closed,
        len(changes.deletes), changes.still_open, seconds,
    )  # fmt: skip


def watch(
    db: Database,
    settings: Settings,
    *,
    every: float = 10.0,
    grace: float = 5.0,
    lookback: timedelta = DEFAULT_LOOKBACK,
    stop: threading.Event | None = None,
    passes: int | None = None,
    progress: Callable[[WatchReport], None] | None = None,
    failed: Callable[[str], None] | None = None,
) -> int:
    """Watch the live data: a pass every `every` seconds until `stop` is set (or after
    `passes`); returns the passes run.

    The newest interval's missing readings count as outages once the same frontier has
    been seen for `grace` wall seconds (the consumer commits a tick in several batches);
    before that only the intervals before it are judged. A pass the database cannot
    answer (the engine restarting, a network cut) is reported to `failed` in one line and
    tried again a period later: the watcher outlives the engine, as the stack's other
    services do, and loses nothing (each pass re-reads its whole window)."""
    stop = stop or threading.Event()
    seen: dict[datetime, float] = {}
    done = 0
    while not stop.is_set():
        began = time.monotonic()
        try:
            frontier = _frontier(db, settings)
            if frontier is not None:
                seen.setdefault(frontier, began)
                seen = {f: t for f, t in seen.items() if f == frontier}
            settled = frontier is not None and began - seen[frontier] >= grace
            report = watch_once(db, settings, lookback=lookback, judge_newest=settled)
        except (psycopg.OperationalError, ServiceError) as exc:
            if failed:
                failed(f"pass failed, trying again in {every:g} s: {_first_line(exc)}")
        else:
            if progress:
                progress(report)
        done += 1
        if passes is not None and done >= passes:
            break
        stop.wait(max(0.0, every - (time.monotonic() - began)))
    return done


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _frontier(db: Database, settings: Settings) -> datetime | None:
    with connect(db) as conn:
        row = conn.execute(query("events_live_frontier")).fetchone()
    if row is None or row[0] is None:
        return None
    newest: datetime = row[0]
    return newest + settings.interval


# ---------------------------------------------------------------------------- acknowledging


def operator_database(settings: Settings) -> Database:
    """The database acknowledgements are written to: GRID_OPERATOR_DATABASE_URL (a URL of
    the grid_operator role, which may update only the acknowledgement columns) when set;
    unset, the project's database like every other client (GRID_DATABASE_URL, or the
    running embedded engine, which has no roles to switch to)."""
    if settings.operator_database_url:
        return Database(settings.operator_database_url, embedded=False)
    return resolve_database(settings)


def acknowledge_events(db: Database, event_ids: Sequence[int], by: str) -> int:
    """Acknowledge the events `event_ids` as `by` (who); returns how many rows changed.

    Events acknowledged before keep their first acknowledgement (not counted). An id
    that names no event (re-detection renumbers a window's events) raises
    `UnknownEvents`, one line naming the ids, and nothing is acknowledged; an empty or
    unprintable `by` raises ValueError. Pass `operator_database(settings)` as `db`.
    """
    check_by(by)  # a bad name or id is refused before a connection is opened
    if not check_ids(event_ids):
        return 0
    with connect(db) as conn:
        return acknowledge(conn, event_ids, by)
