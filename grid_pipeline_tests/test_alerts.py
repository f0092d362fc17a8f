"""Alerts: grid events POSTed to a real local webhook, once per change, with retries and backoff.

The webhook is an `http.server` in a thread that records every request and answers with
a scripted status; the clock is injected, so the backoff is stepped through without
sleeping. Events are stored the way detection stores them (`store_events`: delete the
window, insert), so "re-detection" here is the real replace.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from grid_pipeline.alerts.backoff import MAX_ATTEMPTS, retry_delay
from grid_pipeline.alerts.queue import deliver_due, enqueue
from grid_pipeline.alerts.webhook import post_alert
from grid_pipeline.app.alerts import AlertReport, deliver_alerts
from grid_pipeline.app.events import acknowledge_events
from grid_pipeline.config import ConfigError, Settings, load_settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.defs.alerts import alerts_defs
from grid_pipeline.defs.resources import TimescaleResource
from grid_pipeline.events.detect import store_events
from grid_pipeline.events.detectors.base import DetectedEvent

DAY = datetime(2026, 11, 20, tzinfo=UTC)
WINDOW = (DAY, DAY + timedelta(days=1))


@dataclass
class Webhook:
    """A local HTTP receiver: the requests it got, and the statuses it answers with."""

    url: str
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[dict[str, Any]]:
        return [r for r in self.received if r["status"] == 200]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with hook.lock:
                status = hook.statuses.pop(0) if hook.statuses else 200
                hook.received.append(
                    {"key": self.headers["Idempotency-Key"], "body": body, "status": status}
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()


class Clock:
    """An injectable clock the test moves forward."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def _event(asset: str, severity: str, hour: int = 1, open_: bool = False) -> DetectedEvent:
    return DetectedEvent(
        kind="outage", asset_type="meter", asset=asset, start=DAY + timedelta(hours=hour),
        end=None if open_ else DAY + timedelta(hours=hour, minutes=30),
        severity=severity,  # type: ignore[arg-type]
        evidence={"missing_intervals": 6}, detector="test",
    )  # fmt: skip


def _detect(db: Database, events: list[DetectedEvent]) -> None:
    """Store `events` as the window's detection (deleting what was there, as re-detection does)."""
    with connect(db) as conn:
        store_events(conn, WINDOW, events)


def _status(db: Database) -> dict[str, tuple[str, int]]:
    with connect(db) as conn:
        rows = conn.execute("SELECT asset, status, attempts FROM alert_deliveries").fetchall()
    return {asset: (status, attempts) for asset, status, attempts in rows}


@pytest.fixture
def alerts_db(database: Database) -> Database:
    """The session's engine with no grid events and no deliveries (other tests leave theirs)."""
    with connect(database) as conn:
        conn.execute("DELETE FROM grid_events")
        conn.execute("TRUNCATE alert_deliveries")
    return database


def _on(settings: Settings, hook: Webhook, minimum: str = "warning") -> Settings:
    return replace(settings, alert_webhook=hook.url, alert_min_severity=minimum)


@pytest.mark.integration
def test_each_qualifying_event_is_delivered_once_and_lower_ones_never(
    alerts_db: Database, settings: Settings, webhook: Webhook
) -> None:
    _detect(alerts_db, [_event("m1", "critical"), _event("m2", "warning"), _event("m3", "info")])
    clock = Clock()
    cfg = _on(settings, webhook)

    first = deliver_alerts(alerts_db, cfg, now=clock)
    clock.advance(timedelta(hours=2))
    second = deliver_alerts(alerts_db, cfg, now=clock)

    assert first == AlertReport(enqueued=2, delivered=2, retried=0, failed=0)
    assert second == AlertReport()
    sent = sorted(r["body"]["asset"] for r in webhook.received)
    assert sent == ["m1", "m2"]  # m3 (info) is below the default minimum
    body = next(r["body"] for r in webhook.received if r["body"]["asset"] == "m1")
    assert body == {
        "idempotency_key": "outage/meter/m1/2026-11-20T01:00:00+00:00/opened",
        "change": "opened", "previous_severity": None,
        "kind": "outage", "asset_type": "meter", "asset": "m1",
        "start": "2026-11-20T01:00:00+00:00", "end": "2026-11-20T01:30:00+00:00",
        "severity": "critical", "evidence": {"missing_intervals": 6},
        "acknowledged_at": None, "acknowledged_by": None,
    }  # fmt: skip
    assert all(r["key"] == r["body"]["idempotency_key"] for r in webhook.received)
    assert _status(alerts_db) == {"m1": ("delivered", 1), "m2": ("delivered", 1)}


@pytest.mark.integration
def test_min_severity_info_sends_every_event(
    alerts_db: Database, settings: Settings, webhook: Webhook
) -> None:
    _detect(alerts_db, [_event("m1", "critical"), _event("m3", "info")])
    report = deliver_alerts(alerts_db, _on(settings, webhook, "info"), now=Clock())
    assert report.delivered == 2
    assert sorted(r["body"]["asset"] for r in webhook.received) == ["m1", "m3"]


@pytest.mark.integration
def test_a_failing_webhook_gets_the_alert_on_the_third_attempt_after_the_backoff(
    alerts_db: Database, settings: Settings, webhook: Webhook
) -> None:
    _detect(alerts_db, [_event("m1", "critical")])
    webhook.statuses = [500, 503]
    clock = Clock()
    cfg = _on(settings, webhook)

    assert deliver_alerts(alerts_db, cfg, now=clock).retried == 1  # attempt 1: 500
    clock.advance(retry_delay(1) - timedelta(seconds=1))
    assert deliver_alerts(alerts_db, cfg, now=clock) == AlertReport()  # not due yet
    clock.advance(timedelta(seconds=1))
    assert deliver_alerts(alerts_db, cfg, now=clock).retried == 1  # attempt 2: 503
    clock.advance(retry_delay(2) - timedelta(seconds=1))
    assert deliver_alerts(alerts_db, cfg, now=clock) == AlertReport()  # 1 min not over
    clock.advance(timedelta(seconds=1))
    assert deliver_alerts(alerts_db, cfg, now=clock).delivered == 1  # attempt 3: 200

    assert [r["status"] for r in webhook.received] == [500, 503, 200]
    assert len({r["key"] for r in webhook.received}) == 1  # the same key each time
    assert _status(alerts_db) == {"m1": ("delivered", 3)}
    with connect(alerts_db) as conn:
        row = conn.execute("SELECT last_error, delivered_at FROM alert_deliveries").fetchone()
    assert row == (None, clock.now)


@pytest.mark.integration
def test_a_webhook_that_never_accepts_is_given_up_after_the_last_attempt(
    alerts_db: Database, settings: Settings, webhook: Webhook
) -> None:
    _detect(alerts_db, [_event("m1", "warning")])
    webhook.statuses = [500] * 20
    clock = Clock()
    reports = []
    for _ in range(MAX_ATTEMPTS + 2):
        reports.append(deliver_alerts(alerts_db, _on(settings, webhook), now=clock))
        clock.advance(timedelta(hours=1))  # past every backoff (capped at an hour)

    assert len(webhook.received) == MAX_ATTEMPTS
    assert sum(r.retried for r in reports) == MAX_ATTEMPTS - 1
    assert sum(r.failed for r in reports) == 1
    assert _status(alerts_db) == {"m1": ("failed", MAX_ATTEMPTS)}
    with connect(alerts_db) as conn:
        (error,) = conn.execute("SELECT last_error FROM alert_deliveries").fetchone() or ("",)
    assert error.startswith("HTTP 500")


@pytest.mark.integration
def test_an_unreachable_webhook_is_a_retry_with_the_reason_kept(
    alerts_db: Database, settings: Settings
) -> None:
    _detect(alerts_db, [_event("m1", "warning")])
    cfg = replace(settings, alert_webhook="http://127.0.0.1:9/nothing-listens")
    assert deliver_alerts(alerts_db, cfg, now=Clock()).retried == 1
    with connect(alerts_db) as conn:
        (error,) = conn.execute("SELECT last_error FROM alert_deliveries").fetchone() or ("",)
    assert error and "\n" not in error


@pytest.mark.integration
def test_redetection_that_replaces_the_events_does_not_send_them_again(
    alerts_db: Database, settings: Settings, webhook: Webhook
) -> None:
    events = [_event("m1", "critical"), _event("m2", "warning")]
    _detect(alerts_db, events)
    clock = Clock()
    cfg = _on(settings, webhook)
    assert deliver_alerts(alerts_db, cfg, now=clock).delivered == 2
    with connect(alerts_db) as conn:
        ids_before = conn.execute("SELECT event_id FROM grid_events ORDER BY asset").fetchall()

    _detect(alerts_db, [*events, _event("m4", "warning", hour=5)])  # delete + re-insert, one new
    clock.advance(timedelta(minutes=1))
    report = deliver_alerts(alerts_db, cfg, now=clock)

    with connect(alerts_db) as conn:
        ids_after = conn.execute("SELECT event_id FROM grid_events ORDER BY asset").fetchall()
    assert set(ids_before).isdisjoint(ids_after)  # new event_ids: only the stable key held
    assert report == AlertReport(enqueued=1, delivered=1)
    assert sorted(r["body"]["asset"] for r in webhook.received) == ["m1", "m2", "m4"]


@pytest.mark.integration
def test_two_deliverers_at_once_send_each_alert_once(
    alerts_db: Database, settings: Settings, webhook: Webhook
) -> None:
    _detect(alerts_db, [_event(f"m{i}", "critical", hour=i) for i in range(1, 7)])
    cfg = _on(settings, webhook)
    reports: list[AlertReport] = []

    def run() -> None:
        reports.append(deliver_alerts(alerts_db, cfg))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sum(r.delivered for r in reports) == 6
    assert sorted(r["body"]["asset"] for r in webhook.received) == [f"m{i}" for i in range(1, 7)]


def _cli(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grid_pipeline.cli", "alerts", "deliver"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.integration
def test_a_restarted_deliverer_sends_nothing_already_delivered(
    alerts_db: Database, settings: Settings, session_env: dict[str, str], webhook: Webhook
) -> None:
    _detect(alerts_db, [_event("m1", "critical"), _event("m2", "warning")])
    assert deliver_alerts(alerts_db, _on(settings, webhook)).delivered == 2
    _detect(alerts_db, [_event("m1", "critical"), _event("m2", "warning"),
                        _event("m5", "critical", hour=6)])  # fmt: skip
    env = {**session_env, "GRID_ALERT_WEBHOOK": webhook.url}

    first = _cli(env)  # a new process: only the event it has not seen
    again = _cli(env)  # and another: nothing

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "enqueued 1, delivered 1, retried 0, failed 0"
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "enqueued 0, delivered 0, retried 0, failed 0"
    assert sorted(r["body"]["asset"] for r in webhook.received) == ["m1", "m2", "m5"]


@pytest.mark.integration
def test_without_a_webhook_the_cli_says_alerts_are_off(session_env: dict[str, str]) -> None:
    env = {k: v for k, v in session_env.items() if k != "GRID_ALERT_WEBHOOK"}
    result = _cli(env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "alerts are off: GRID_ALERT_WEBHOOK is not set\n"


@pytest.mark.parametrize(
    "value", ["ftp://example.org/hook", "example.org/hook", "http://", "http://h:99999/x"]
)
def test_a_bad_webhook_is_a_one_line_error(value: str, session_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"^GRID_ALERT_WEBHOOK: ") as raised:
        load_settings({**session_env, "GRID_ALERT_WEBHOOK": value})
    assert "\n" not in str(raised.value)
    result = _cli({**session_env, "GRID_ALERT_WEBHOOK": value})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "GRID_ALERT_WEBHOOK" in result.stderr


def test_a_bad_min_severity_is_a_one_line_error(session_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"^GRID_ALERT_MIN_SEVERITY: 'urgent' is not one of"):
        load_settings({**session_env, "GRID_ALERT_MIN_SEVERITY": "urgent"})
    assert load_settings(session_env).alert_min_severity == "warning"


def test_backoff_doubles_from_30_seconds_to_an_hour() -> None:
    delays = [retry_delay(n).total_seconds() for n in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_the_schedule_is_stopped_without_a_webhook_and_running_with_one(
    settings: Settings,
) -> None:
    off = alerts_defs(replace(settings, alert_webhook=None))
    on = alerts_defs(replace(settings, alert_webhook="https://alerts.example.org/hook"))
    (stopped,) = off.schedules or []
    (running,) = on.schedules or []
    assert stopped.default_status == dg.DefaultScheduleStatus.STOPPED
    assert running.default_status == dg.DefaultScheduleStatus.RUNNING
    assert isinstance(running, dg.ScheduleDefinition)
    assert running.cron_schedule == "* * * * *" and running.job_name == "alerts_job"


def _job_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions.merge(
        alerts_defs(settings),
        dg.Definitions(
            assets=[dg.AssetSpec("grid_events")],
            resources={"timescale": TimescaleResource(data_dir=str(settings.data_dir))},
        ),
    )


@pytest.mark.integration
def test_the_asset_does_nothing_and_succeeds_when_alerts_are_off(
    alerts_db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRID_ALERT_WEBHOOK", raising=False)
    _detect(alerts_db, [_event("m1", "critical")])
    run = _job_defs(settings).resolve_job_def("alerts_job").execute_in_process()
    assert run.success
    (materialization,) = run.get_asset_materialization_events()
    assert str(materialization.materialization.metadata["alerts"].value).startswith("off")
    assert _status(alerts_db) == {}


@pytest.mark.integration
def test_the_asset_delivers_and_records_the_counts(
    alerts_db: Database, settings: Settings, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRID_ALERT_WEBHOOK", webhook.url)  # the resource reads the environment
    _detect(alerts_db, [_event("m1", "critical"), _event("m3", "info")])
    run = _job_defs(settings).resolve_job_def("alerts_job").execute_in_process()
    assert run.success
    (materialization,) = run.get_asset_materialization_events()
    metadata = {k: v.value for k, v in materialization.materialization.metadata.items()}
    assert metadata["enqueued"] == metadata["delivered"] == 1
    assert metadata["retried"] == metadata["failed"] == 0
    assert [r["body"]["asset"] for r in webhook.received] == ["m1"]


# --- once per change: opened, severity, closed ---------------------------------------------


def _changes(hook: Webhook) -> list[tuple[str, str, str | None, str | None]]:
    """(asset, change, severity, end) of each accepted POST, in the order received."""
    return [
        (b["asset"], b["change"], b["severity"], b["end"])
        for b in (r["body"] for r in hook.accepted())
    ]


@pytest.mark.integration
def test_an_event_is_sent_again_once_per_change_and_never_twice_across_restarts(
    alerts_db: Database, settings: Settings, session_env: dict[str, str], webhook: Webhook
) -> None:
    cfg = _on(settings, webhook)
    env = {**session_env, "GRID_ALERT_WEBHOOK": webhook.url}
    end = "2026-11-20T01:30:00+00:00"

    _detect(alerts_db, [_event("m1", "warning", open_=True)])  # opened
    assert deliver_alerts(alerts_db, cfg) == AlertReport(enqueued=1, delivered=1)
    _detect(alerts_db, [_event("m1", "critical", open_=True)])  # severity changes
    assert deliver_alerts(alerts_db, cfg) == AlertReport(enqueued=1, delivered=1)
    assert deliver_alerts(alerts_db, cfg) == AlertReport()  # the same state: nothing
    _detect(alerts_db, [_event("m1", "critical")])  # closes
    closed = _cli(env)  # a new deliverer process takes the close
    again = _cli(env)  # and a restarted one: nothing
    _detect(alerts_db, [_event("m1", "critical")])  # re-detected as it is: nothing new
    last = deliver_alerts(alerts_db, cfg)

    assert closed.returncode == 0, closed.stderr
    assert closed.stdout.strip() == "enqueued 1, delivered 1, retried 0, failed 0"
    assert again.stdout.strip() == "enqueued 0, delivered 0, retried 0, failed 0"
    assert last == AlertReport()
    assert _changes(webhook) == [
        ("m1", "opened", "warning", None),
        ("m1", "severity", "critical", None),
        ("m1", "closed", "critical", end),
    ]
    bodies = [r["body"] for r in webhook.received]
    assert [b["previous_severity"] for b in bodies] == [None, "warning", None]
    keys = [r["key"] for r in webhook.received]
    assert keys == [
        "outage/meter/m1/2026-11-20T01:00:00+00:00/opened",
        "outage/meter/m1/2026-11-20T01:00:00+00:00/severity:critical",
        "outage/meter/m1/2026-11-20T01:00:00+00:00/closed",
    ]


@pytest.mark.integration
def test_an_event_first_seen_closed_is_one_alert(
    alerts_db: Database, settings: Settings, webhook: Webhook
) -> None:
    _detect(alerts_db, [_event("m1", "warning")])  # found by the history: already over
    cfg = _on(settings, webhook)
    assert deliver_alerts(alerts_db, cfg).delivered == 1
    assert deliver_alerts(alerts_db, cfg) == AlertReport()
    assert _changes(webhook) == [("m1", "opened", "warning", "2026-11-20T01:30:00+00:00")]


@pytest.mark.integration
def test_an_acknowledged_event_gets_its_close_but_no_severity_change(
    alerts_db: Database, settings: Settings, webhook: Webhook
) -> None:
    cfg = _on(settings, webhook)
    _detect(alerts_db, [_event("m1", "warning", open_=True), _event("m2", "critical", 2, True)])
    with connect(alerts_db) as conn:
        ids = dict(conn.execute("SELECT asset, event_id FROM grid_events").fetchall())
    acknowledge_events(alerts_db, [ids["m2"]], "olga")  # before its first alert
    assert deliver_alerts(alerts_db, cfg).delivered == 1  # m1 only
    with connect(alerts_db) as conn:
        ids = dict(conn.execute("SELECT asset, event_id FROM grid_events").fetchall())
    acknowledge_events(alerts_db, [ids["m1"]], "olga")

    _detect(alerts_db, [_event("m1", "critical", open_=True), _event("m2", "critical", 2, True)])
    assert deliver_alerts(alerts_db, cfg) == AlertReport()  # acknowledged: no severity re-send
    _detect(alerts_db, [_event("m1", "critical"), _event("m2", "critical", 2)])
    assert deliver_alerts(alerts_db, cfg) == AlertReport(enqueued=1, delivered=1)

    assert _changes(webhook) == [
        ("m1", "opened", "warning", None),
        ("m1", "closed", "critical", "2026-11-20T01:30:00+00:00"),
    ]
    close = webhook.received[-1]["body"]
    assert close["acknowledged_by"] == "olga" and close["acknowledged_at"] is not None


@pytest.mark.integration
def test_an_events_changes_are_delivered_in_order_behind_a_retry(
    alerts_db: Database, settings: Settings, webhook: Webhook
) -> None:
    cfg = _on(settings, webhook)
    clock = Clock()
    _detect(alerts_db, [_event("m1", "warning", open_=True)])
    webhook.statuses = [500]
    assert deliver_alerts(alerts_db, cfg, now=clock).retried == 1  # opened: 500, backoff
    _detect(alerts_db, [_event("m1", "warning")])  # closes meanwhile
    clock.advance(timedelta(seconds=1))
    assert deliver_alerts(alerts_db, cfg, now=clock) == AlertReport(enqueued=1)  # waits
    clock.advance(retry_delay(1))
    assert deliver_alerts(alerts_db, cfg, now=clock).delivered == 2

    assert [c for _, c, _, _ in _changes(webhook)] == ["opened", "closed"]
    assert webhook.received[1]["body"]["end"] is None  # opened announces the open event


# --- the upgrade from one delivery per event (015) ------------------------------------------

NATIVE = "postgresql://postgres@127.0.0.1:5432/postgres"
SCHEMA = Path(__file__).resolve().parents[1] / "sql" / "schema"


def _plain_statements(path: Path) -> list[str]:
    """The file's statements without the TimescaleDB calls (the native server has none)."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("--")]
    return [
        s
        for s in (part.strip() for part in "\n".join(lines).split(";"))
        if s and "create_hypertable(" not in s
    ]


@pytest.fixture
def native() -> Iterator[Database]:
    """A fresh database on the native PostgreSQL with the grid events (012, and the column
    017 adds: its grants need more tables) and the alert deliveries of 015, not migrated
    further: each test applies 020 when it wants it."""
    try:
        admin = psycopg.connect(NATIVE, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no native PostgreSQL at 127.0.0.1:5432 (trust auth): {exc}")
    admin.execute("SELECT pg_advisory_lock(hashtext('grid_pipeline_tests.roles'))")
    reader = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'grid_reader'").fetchone()
    dbname = f"grid_alerts_{secrets.token_hex(4)}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    try:
        if reader is None:  # 012 and 015 grant to it (005 creates it)
            admin.execute("CREATE ROLE grid_reader NOLOGIN")
        db = Database(f"postgresql://postgres@127.0.0.1:5432/{dbname}", embedded=False)
        with connect(db) as conn:
            for name in ("012_grid_events.sql", "015_alert_deliveries.sql"):
                for statement in _plain_statements(SCHEMA / name):
                    conn.execute(statement.encode())
            conn.execute("ALTER TABLE grid_events ADD COLUMN acknowledged_by text")
        yield db
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(dbname)))  # fmt: skip
        if reader is None:
            admin.execute("DROP ROLE IF EXISTS grid_reader")
        admin.execute("SELECT pg_advisory_unlock(hashtext('grid_pipeline_tests.roles'))")
        admin.close()


@pytest.mark.integration
def test_deliveries_made_before_the_upgrade_are_not_sent_again(native: Database) -> None:
    """Migration 020_alert_changes on a table of 015 rows, on the native PostgreSQL (the
    embedded engine of the tests migrates an empty table): each row becomes the event's
    'opened' delivery announcing it as it is, so nothing is queued again, and a close
    that comes later is."""
    db = native
    _detect(db, [_event("m1", "critical", open_=True), _event("m2", "warning")])
    with connect(db) as conn:
        conn.execute(
            "INSERT INTO alert_deliveries (kind, asset_type, asset, start_ts, status) "
            "SELECT kind, asset_type, asset, start_ts, 'delivered' FROM grid_events"
        )
        conn.execute((SCHEMA / "020_alert_changes.sql").read_text().encode())
        assert enqueue(conn, "warning", datetime.now(UTC)) == 0
        rows = conn.execute(
            "SELECT asset, change, severity, end_ts IS NULL FROM alert_deliveries ORDER BY asset"
        ).fetchall()
    assert rows == [("m1", "opened", "critical", True), ("m2", "opened", "warning", False)]
    _detect(db, [_event("m1", "critical"), _event("m2", "warning")])  # m1 closes
    with connect(db) as conn:
        assert enqueue(conn, "warning", datetime.now(UTC)) == 1


@pytest.mark.integration
def test_two_deliverers_at_once_send_each_alert_once_on_a_native_server(
    native: Database, webhook: Webhook
) -> None:
    """`FOR UPDATE SKIP LOCKED` with two deliverers running at the same time, on the native
    PostgreSQL (the embedded engine is one session: its deliverers take turns, so it
    cannot show that a row locked by one is passed over by the other)."""
    db = native
    with connect(db) as conn:
        conn.execute((SCHEMA / "020_alert_changes.sql").read_text().encode())
    _detect(db, [_event(f"m{i:02d}", "critical", hour=i % 20) for i in range(40)])
    with connect(db) as conn:
        assert enqueue(conn, "warning", datetime.now(UTC)) == 40

    def slow_send(url: str, alert: Any) -> Any:
        result = post_alert(url, alert)
        threading.Event().wait(0.02)  # still holding the row: the other must pass it
        return result

    counts: dict[str, int] = {}

    def deliverer(name: str) -> None:
        done = deliver_due(db, webhook.url, lambda: datetime.now(UTC), slow_send)
        counts[name] = done.delivered

    threads = [threading.Thread(target=deliverer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    keys = [r["key"] for r in webhook.accepted()]
    assert len(keys) == 40 and len(set(keys)) == 40
    assert counts["a"] + counts["b"] == 40
    assert counts["a"] > 0 and counts["b"] > 0  # both worked, side by side
    with connect(db) as conn:
        statuses = conn.execute(
            "SELECT status, count(*) FROM alert_deliveries GROUP BY status"
        ).fetchall()
    assert statuses == [("delivered", 40)]
