"""Acknowledging grid events (migration 017, `acknowledge_events`, `events ack`).

On the real embedded engine: rows changed, the first acknowledgement kept, unknown ids
reported with nothing changed, the acknowledgement (when and who) kept by re-detection,
the CLI's output and one-line errors. The grants of grid_operator are tested on the
native PostgreSQL of the build machines, like test_roles.py: PGlite accepts them but
enforces none.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import errors, sql

from grid_pipeline.app.events import UnknownEvents, acknowledge_events, operator_database
from grid_pipeline.config import Settings, load_settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.events.detect import store_events
from grid_pipeline.events.detectors.base import DetectedEvent

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "sql" / "schema"
INIT_SCRIPT = ROOT / "deploy" / "timescaledb" / "10_grid_roles.sql"
NATIVE = "postgresql://postgres@127.0.0.1:5432/postgres"
DAY = datetime(2026, 10, 3, tzinfo=UTC)
WINDOW = (DAY, DAY + timedelta(days=1))


def _event(asset: str, hour: int = 1, severity: str = "warning") -> DetectedEvent:
    return DetectedEvent(
        kind="voltage_sag", asset_type="meter", asset=asset, start=DAY + timedelta(hours=hour),
        end=DAY + timedelta(hours=hour, minutes=20), severity=severity,  # type: ignore[arg-type]
        evidence={"min_voltage": 196}, detector="test",
    )  # fmt: skip


def _detect(db: Database, events: list[DetectedEvent]) -> dict[str, int]:
    """Store `events` as the window's detection; their ids by asset."""
    with connect(db) as conn:
        store_events(conn, WINDOW, events)
        rows = conn.execute(
            "SELECT asset, event_id FROM grid_events WHERE start_ts >= %s AND start_ts < %s",
            WINDOW,
        ).fetchall()
    return {asset: event_id for asset, event_id in rows}


def _acks(db: Database) -> dict[str, tuple[datetime | None, str | None]]:
    with connect(db) as conn:
        rows = conn.execute(
            "SELECT asset, acknowledged_at, acknowledged_by FROM grid_events "
            "WHERE start_ts >= %s AND start_ts < %s",
            WINDOW,
        ).fetchall()
    return {asset: (at, by) for asset, at, by in rows}


@pytest.fixture
def ack_db(database: Database) -> Database:
    """The session's engine with no events in the test's window."""
    with connect(database) as conn:
        conn.execute("DELETE FROM grid_events WHERE start_ts >= %s AND start_ts < %s", WINDOW)
    return database


@pytest.mark.integration
def test_acknowledging_counts_changed_rows_and_keeps_the_first(ack_db: Database) -> None:
    ids = _detect(ack_db, [_event("a1"), _event("a2", 2), _event("a3", 3)])

    assert acknowledge_events(ack_db, [ids["a1"], ids["a2"], ids["a1"]], "alice") == 2
    first = _acks(ack_db)
    assert acknowledge_events(ack_db, [ids["a1"], ids["a2"], ids["a3"]], " bob ") == 1
    assert acknowledge_events(ack_db, [], "bob") == 0

    after = _acks(ack_db)
    assert after["a1"] == first["a1"] and after["a1"][1] == "alice"  # not overwritten
    assert after["a2"][1] == "alice"
    assert after["a3"][0] is not None and after["a3"][1] == "bob"  # trimmed


@pytest.mark.integration
def test_an_unknown_id_is_reported_and_nothing_is_acknowledged(ack_db: Database) -> None:
    ids = _detect(ack_db, [_event("u1")])
    missing = max(ids.values()) + 1_000_000

    with pytest.raises(UnknownEvents, match=rf"^no grid event with id {missing} ") as raised:
        acknowledge_events(ack_db, [ids["u1"], missing], "alice")

    assert raised.value.ids == [missing]
    assert "\n" not in str(raised.value)
    assert _acks(ack_db) == {"u1": (None, None)}


@pytest.mark.parametrize("by", ["", "   ", "x" * 101, "bad\nname"])
def test_a_bad_name_is_a_one_line_value_error(by: str) -> None:
    db = Database("postgresql://nobody@127.0.0.1:1/none", embedded=False)  # never reached
    with pytest.raises(ValueError, match=r"^[^\n]+$"):
        acknowledge_events(db, [1], by)


@pytest.mark.integration
def test_redetection_keeps_when_and_who(ack_db: Database) -> None:
    ids = _detect(ack_db, [_event("r1"), _event("r2", 2)])
    acknowledge_events(ack_db, [ids["r1"]], "carol")
    before = _acks(ack_db)

    new_ids = _detect(ack_db, [_event("r1"), _event("r2", 2), _event("r3", 3)])

    assert new_ids["r1"] != ids["r1"]  # a new row, the same event
    after = _acks(ack_db)
    assert after["r1"] == before["r1"] and after["r1"][1] == "carol"
    assert after["r2"] == after["r3"] == (None, None)


def test_the_operator_database_is_the_main_one_unless_set(
    settings: Settings, session_env: dict[str, str], database: Database
) -> None:
    assert operator_database(settings) == database  # embedded: the running engine
    url = "postgresql://grid_operator:secret@db.example.org:5432/grid"
    configured = load_settings({**session_env, "GRID_OPERATOR_DATABASE_URL": url})
    assert configured.operator_database_url == url
    assert operator_database(configured) == Database(url, embedded=False)
    assert replace(configured, operator_database_url=None).operator_database_url is None


# --- the command line ---------------------------------------------------------------------


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grid_pipeline.cli", "events", "ack", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.integration
def test_the_cli_acknowledges_and_reports(ack_db: Database, session_env: dict[str, str]) -> None:
    ids = _detect(ack_db, [_event("c1"), _event("c2", 2)])

    first = _cli(session_env, str(ids["c1"]), str(ids["c2"]), "--by", "dave")
    again = _cli(session_env, str(ids["c1"]), "--by", "erin")

    assert first.returncode == 0, first.stderr
    assert first.stdout == "acknowledged 2 of 2 events\n"
    assert again.returncode == 0, again.stderr
    assert again.stdout == "acknowledged 0 of 1 event (1 already acknowledged)\n"
    assert {by for _, by in _acks(ack_db).values()} == {"dave"}


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["12x"], "'12x' is not an event id"),
        (["1", "--by", ""], "who acknowledges must be named"),
        (["999999999999"], "no grid event with id 999999999999"),
    ],
)
def test_the_cli_errors_are_one_line(
    ack_db: Database, session_env: dict[str, str], args: list[str], message: str
) -> None:
    result = _cli(session_env, *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr


# --- grants, on a native PostgreSQL --------------------------------------------------------


def _native_admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(NATIVE, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no native PostgreSQL at 127.0.0.1:5432 (trust auth): {exc}")


def _plain_statements(path: Path) -> list[str]:
    """The file's statements without the TimescaleDB calls (the native server has none)."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("--")]
    statements = [s.strip() for s in "\n".join(lines).split(";")]
    return [
        s
        for s in statements
        if s and not s.upper().startswith("CREATE EXTENSION") and "create_hypertable(" not in s
    ]


@pytest.fixture(scope="module")
def native() -> Iterator[str]:
    """A scratch database prepared as docker compose does: the init script (psql, as the
    superuser, GRID_OPERATOR_PASSWORD set) creates the login roles, then migrations 001,
    011, 012, 015 and 017 run as grid_owner (the `migrate` service). The URL pattern,
    with {role} for the role."""
    psql = shutil.which("psql")
    admin = _native_admin()
    if psql is None:
        admin.close()
        pytest.skip("psql is not installed (it runs the compose init script)")
    admin.execute("SELECT pg_advisory_lock(hashtext('grid_pipeline_tests.roles'))")
    roles = ("grid_owner", "grid_ingest", "grid_reader", "grid_operator")
    existing = {
        r[0] for r in admin.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                                    (list(roles),))
    }  # fmt: skip
    suffix = secrets.token_hex(4)
    dbname, dagster = f"grid_ack_{suffix}", f"dagster_a_{suffix}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    url = f"postgresql://{{role}}@127.0.0.1:5432/{dbname}"
    try:
        env = {
            **os.environ,
            **{f"GRID_{name}_PASSWORD": secrets.token_hex(12)
               for name in ("OWNER", "INGEST", "READER", "OPERATOR")},
            "DAGSTER_PG_USERNAME": dagster, "DAGSTER_PG_PASSWORD": secrets.token_hex(12),
            "DAGSTER_PG_DB": dagster,
        }  # fmt: skip
        for _ in range(2):  # re-runnable, the operator's part too
            subprocess.run(
                [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "5432",
                 "-U", "postgres", "-d", dbname, "-f", str(INIT_SCRIPT)],
                env=env, check=True, capture_output=True, timeout=60,
            )  # fmt: skip
        with psycopg.connect(url.format(role="grid_owner")) as conn:
            for name in ("001_core.sql", "011_grid_model.sql", "012_grid_events.sql",
                         "015_alert_deliveries.sql"):  # fmt: skip
                for statement in _plain_statements(SCHEMA / name):
                    conn.execute(statement.encode())
            conn.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY, checksum text)")
            conn.execute((SCHEMA / "017_event_acknowledgement.sql").read_text().encode())
        with connect(Database(url.format(role="grid_owner"), embedded=False)) as conn:
            store_events(conn, WINDOW, [_event("n1"), _event("n2", 2)])
        yield url
    finally:
        for name in (dbname, dagster):
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        for role in [*(r for r in roles if r not in existing), dagster]:
            try:
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            except psycopg.Error as exc:  # privileges elsewhere on a shared server
                print(f"could not drop role {role}: {exc}")
        admin.execute("SELECT pg_advisory_unlock(hashtext('grid_pipeline_tests.roles'))")
        admin.close()


def test_the_init_script_gives_the_operator_a_login_and_nothing_more(native: str) -> None:
    with psycopg.connect(native.format(role="grid_operator")) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls "
            "FROM pg_roles WHERE rolname = 'grid_operator'"
        ).fetchone()
        assert row == (True, False, False, False, False)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("1min",)


def _ids(url: str) -> dict[str, int]:
    with psycopg.connect(url.format(role="postgres")) as conn:
        rows = conn.execute("SELECT asset, event_id FROM grid_events").fetchall()
    return {asset: event_id for asset, event_id in rows}


@pytest.mark.integration
def test_the_operator_acknowledges_through_the_application(native: str) -> None:
    ids = _ids(native)
    operator = Database(native.format(role="grid_operator"), embedded=False)
    assert acknowledge_events(operator, [ids["n1"]], "frank") == 1
    with psycopg.connect(native.format(role="grid_operator")) as conn:
        row = conn.execute(
            "SELECT acknowledged_by FROM grid_events WHERE event_id = %s", (ids["n1"],)
        ).fetchone()
        assert row == ("frank",)
        conn.execute("SELECT count(*) FROM meters JOIN transformers USING (transformer)")
        conn.execute("SELECT count(*) FROM feeders")


OPERATOR_FORBIDDEN = [
    "UPDATE grid_events SET severity = 'info'",
    "UPDATE grid_events SET end_ts = NULL",
    "UPDATE grid_events SET evidence = '{}'",
    "UPDATE grid_events SET acknowledged_at = now(), kind = 'x'",
    "DELETE FROM grid_events",
    "INSERT INTO grid_events (kind, asset_type, asset, start_ts, severity, detector) "
    "VALUES ('x', 'meter', '1', now(), 'info', 'x')",
    "TRUNCATE grid_events",
    "UPDATE meters SET rated_kw = 2",
    "DELETE FROM alert_deliveries",
    "SELECT count(*) FROM energy_readings",
    "CREATE TABLE operator_table (x int)",
    "ALTER TABLE grid_events ADD COLUMN x int",
]


@pytest.mark.integration
@pytest.mark.parametrize("statement", OPERATOR_FORBIDDEN)
def test_the_operator_may_change_nothing_else(native: str, statement: str) -> None:
    with (
        psycopg.connect(native.format(role="grid_operator")) as conn,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


@pytest.mark.integration
def test_the_reader_cannot_acknowledge(native: str) -> None:
    ids = _ids(native)
    reader = Database(native.format(role="grid_reader"), embedded=False)
    with pytest.raises(errors.ReadOnlySqlTransaction):  # its sessions are read-only
        acknowledge_events(reader, [ids["n2"]], "mallory")
    with psycopg.connect(native.format(role="grid_reader")) as conn:
        conn.execute("SET default_transaction_read_only = off")  # any session may: the grants
        conn.commit()  # are the real barrier
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("UPDATE grid_events SET acknowledged_at = now(), acknowledged_by = 'm'")


@pytest.mark.integration
def test_the_migration_is_idempotent(native: str) -> None:
    with psycopg.connect(native.format(role="postgres")) as conn:
        conn.execute((SCHEMA / "017_event_acknowledgement.sql").read_text().encode())
