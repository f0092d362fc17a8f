"""Database roles (sql/schema/005_roles.sql + deploy/timescaledb/10_grid_roles.sql).

The embedded engine (PGlite) is one superuser session: it must accept the roles
migration, but it cannot enforce it. So the grants are tested on the native
PostgreSQL 15 of the build machines (127.0.0.1:5432, trust auth), which has no
TimescaleDB: a scratch database gets the compose init script (run by psql, as
the timescaledb container does on first start), then the real DDL of 001, 003
and 004 minus the TimescaleDB calls, a plain view standing in for the continuous
aggregates of 002, and 005 itself, applied as the owner role like the compose
`migrate` service does. The services' own code paths (the COPY and UNNEST
writers, the rejects and run records, the migrator) then run as the service roles.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import psycopg
import pytest
from psycopg import errors, sql

from grid_pipeline.db.conflicts import record_conflicts
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.migrate import migrate
from grid_pipeline.db.sqlfiles import schema_files
from grid_pipeline.db.writer import CopyWriter, UnnestWriter
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.mqtt.consumer import _write_rejects
from grid_pipeline.mqtt.counters import RunCounters, record_end, record_start
from grid_pipeline.mqtt.payload import Reject
from grid_pipeline.storage.historic import replace_fleet

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "sql" / "schema"
INIT_SCRIPT = ROOT / "deploy" / "timescaledb" / "10_grid_roles.sql"
NATIVE = "postgresql://postgres@127.0.0.1:5432/postgres"
GRID_ROLES = ("grid_owner", "grid_ingest", "grid_reader")

pytestmark = pytest.mark.integration


def _native_admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(NATIVE, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no native PostgreSQL at 127.0.0.1:5432 (trust auth): {exc}")


def _url(role: str, dbname: str) -> str:
    return f"postgresql://{role}@127.0.0.1:5432/{dbname}"


def _plain_postgres_statements(path: Path) -> list[str]:
    """The file's statements without the TimescaleDB calls (PG15 has no timescaledb)."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("--")]
    statements = [s.strip() for s in "\n".join(lines).split(";")]
    return [
        s
        for s in statements
        if s and not s.upper().startswith("CREATE EXTENSION") and "create_hypertable(" not in s
    ]


@dataclass(frozen=True)
class Cluster:
    """A scratch database prepared like the compose stack, and its role URLs."""

    dbname: str
    dagster_role: str
    dagster_db: str

    def url(self, role: str) -> str:
        return _url(role, self.dbname)

    def db(self, role: str) -> Database:
        return Database(self.url(role), embedded=False)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    psql = shutil.which("psql")
    admin = _native_admin()
    if psql is None:
        admin.close()
        pytest.skip("psql is not installed (it runs the compose init script)")
    # Roles are cluster-wide: one test run at a time on a shared server.
    admin.execute("SELECT pg_advisory_lock(hashtext('grid_pipeline_tests.roles'))")
    suffix = secrets.token_hex(4)
    cluster = Cluster(f"grid_roles_{suffix}", f"dagster_t_{suffix}", f"dagster_t_{suffix}")
    existing = {
        r[0]
        for r in admin.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(GRID_ROLES),)
        )
    }
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cluster.dbname)))
    try:
        env = {
            **os.environ,
            "GRID_OWNER_PASSWORD": secrets.token_hex(12),
            "GRID_INGEST_PASSWORD": secrets.token_hex(12),
            "GRID_READER_PASSWORD": secrets.token_hex(12),
            "DAGSTER_PG_USERNAME": cluster.dagster_role,
            "DAGSTER_PG_PASSWORD": secrets.token_hex(12),
            "DAGSTER_PG_DB": cluster.dagster_db,
        }
        # As the timescaledb image runs it: psql, ON_ERROR_STOP, superuser, POSTGRES_DB.
        for _ in range(2):  # twice: the init script is re-runnable (password rotation)
            subprocess.run(
                [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "5432",
                 "-U", "postgres", "-d", cluster.dbname, "-f", str(INIT_SCRIPT)],
                env=env, check=True, capture_output=True, timeout=60,
            )  # fmt: skip
        with psycopg.connect(cluster.url("grid_owner")) as owner:
            applied = ("001_core.sql", "003_ingestion.sql", "004_benchmarks.sql",
                       "007_ingest_runs_progress.sql", "011_grid_model.sql")  # fmt: skip
            for name in applied:
                for statement in _plain_postgres_statements(SCHEMA / name):
                    owner.execute(statement.encode())
            # The readings columns as migration 009 leaves them (its conversion loop
            # needs TimescaleDB; on an empty plain table it is just this).
            owner.execute(
                "ALTER TABLE energy_readings ALTER COLUMN power TYPE integer, "
                "ALTER COLUMN energy TYPE integer, ALTER COLUMN voltage TYPE integer, "
                "ALTER COLUMN current TYPE integer"
            )
            # Stand-in for a continuous aggregate of 002 (a view, as caggs are).
            owner.execute(
                "CREATE VIEW energy_readings_15min AS SELECT meter_id, "
                "date_trunc('hour', \"timestamp\") AS bucket, avg(power) AS avg_power, "
                "max(power) AS max_power, sum(energy) AS total_energy "
                "FROM energy_readings GROUP BY 1, 2"
            )
            # The migrator's ledger with every file applied: as after `grid-pipeline db migrate`.
            owner.execute(
                "CREATE TABLE schema_migrations (version text PRIMARY KEY, checksum text NOT "
                "NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for path in schema_files():
                digest = hashlib.sha256(path.read_text().encode()).hexdigest()
                owner.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                    (path.stem, digest),
                )
            owner.execute((SCHEMA / "005_roles.sql").read_text().encode())
            # A later migration's table with its own grants (ingestion's conflicts).
            owner.execute((SCHEMA / "018_reading_conflicts.sql").read_text().encode())
        replace_fleet(cluster.db("grid_owner"), build_fleet(5, 42))
        yield cluster
    finally:
        for name in (cluster.dbname, cluster.dagster_db):
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        for role in [*(r for r in GRID_ROLES if r not in existing), cluster.dagster_role]:
            try:
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            except psycopg.Error as exc:  # privileges elsewhere on a shared server
                print(f"could not drop role {role}: {exc}")
        admin.execute("SELECT pg_advisory_unlock(hashtext('grid_pipeline_tests.roles'))")
        admin.close()


# --- attributes -------------------------------------------------------------------------


@pytest.mark.parametrize("role", [*GRID_ROLES])
def test_no_grid_role_is_privileged(cluster: Cluster, role: str) -> None:
    with psycopg.connect(cluster.url("grid_reader")) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
            "FROM pg_roles WHERE rolname = %s",
            (role,),
        ).fetchone()
    assert row == (False, False, False, False, False)


def test_reader_sessions_are_read_only_by_default(cluster: Cluster) -> None:
    with psycopg.connect(cluster.url("grid_reader")) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)


# --- grid_reader ------------------------------------------------------------------------

READABLE = [
    "meters", "energy_readings", "ingest_rejects", "ingest_runs", "benchmark_runs",
    "benchmark_results", "compression_runs", "energy_readings_15min", "schema_migrations",
    "reading_conflicts",
]  # fmt: skip


def test_reader_selects_tables_views_and_benchmarks(cluster: Cluster) -> None:
    with psycopg.connect(cluster.url("grid_reader")) as conn:
        for table in READABLE:
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        assert conn.execute("SELECT count(*) FROM meters").fetchone() == (5,)


READER_FORBIDDEN = [
    "INSERT INTO meters VALUES (99, 'residential', 'f', 's', false, 1, 230, 0)",
    "INSERT INTO energy_readings VALUES (now(), 1, 1, 1, 230, 1)",
    "UPDATE meters SET rated_kw = 2",
    "DELETE FROM meters",
    "DELETE FROM benchmark_runs",
    "TRUNCATE energy_readings",
    "CREATE TABLE reader_table (x int)",
    "CREATE TEMP TABLE reader_temp (x int)",
    "CREATE SCHEMA reader_schema",
    "CREATE VIEW reader_view AS SELECT 1",
    "DROP TABLE meters",
    "ALTER TABLE meters ADD COLUMN x int",
]


@pytest.mark.parametrize("statement", READER_FORBIDDEN)
def test_reader_cannot_write_or_create(cluster: Cluster, statement: str) -> None:
    with psycopg.connect(cluster.url("grid_reader")) as conn:
        # Read-only by default; the grants are the real barrier (any session may
        # turn the default off), so test them with it off.
        with pytest.raises(errors.ReadOnlySqlTransaction):
            conn.execute(statement)
        conn.rollback()
        conn.execute("SET default_transaction_read_only = off")
        conn.commit()
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)


def test_reader_cannot_connect_to_the_dagster_database(cluster: Cluster) -> None:
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(_url("grid_reader", cluster.dagster_db)).close()


# --- grid_ingest ------------------------------------------------------------------------


def _frame(meter_ids: list[int], start: datetime) -> pl.DataFrame:
    n = len(meter_ids)
    return pl.DataFrame(
        {
            "timestamp": [start + timedelta(minutes=5 * i) for i in range(n)],
            "meter_id": meter_ids,
            "power": [1.5] * n,
            "energy": [0.125] * n,
            "voltage": [230.0] * n,
            "current": [6.5] * n,
        }
    )


def test_ingest_runs_the_ingestion_write_paths(cluster: Cluster) -> None:
    db = cluster.db("grid_ingest")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    frame = _frame([1, 2, 3], start)
    with connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM meters").fetchone() == (5,)
        assert CopyWriter("energy_readings").write(conn, frame) == 3
        assert UnnestWriter("energy_readings").write(conn, frame) == 0  # idempotent
        assert UnnestWriter("energy_readings").write(conn, _frame([4], start)) == 1
        _write_rejects(conn, [Reject("grid/f1/1/reading", b"{not json", "bad json")])
        counters = RunCounters(run_id=f"roles-{secrets.token_hex(4)}", client_id="roles-test")
        record_start(conn, counters, broker="mqtt://x", subscription="grid/+/+/reading",
                     protocol="5")  # fmt: skip
        record_end(conn, counters, ended_at=datetime.now(UTC))
        clash = pl.DataFrame({"timestamp": [start], "meter_id": [1]} | {
            f"{side}_{name}": [1] for side in ("incoming", "stored")
            for name in ("power", "energy", "voltage", "current")})  # fmt: skip
        assert record_conflicts(conn, clash, counters.run_id, "energy_readings") == 1
    with psycopg.connect(cluster.url("grid_reader")) as conn:
        assert conn.execute("SELECT count(*) FROM energy_readings").fetchone() == (4,)
        assert conn.execute("SELECT count(*) FROM ingest_rejects").fetchone() == (1,)
        status = conn.execute(
            "SELECT status FROM ingest_runs WHERE run_id = %s", (counters.run_id,)
        ).fetchone()
        assert status == ("finished",)


INGEST_FORBIDDEN = [
    "DROP TABLE energy_readings",
    "DROP TABLE ingest_rejects",
    "ALTER TABLE energy_readings ADD COLUMN x int",
    "ALTER TABLE energy_readings RENAME TO r",
    "CREATE INDEX ingest_idx ON energy_readings (power)",
    "CREATE TABLE ingest_table (x int)",
    "TRUNCATE energy_readings",
    "DELETE FROM energy_readings",
    "UPDATE energy_readings SET power = 0",
    "DELETE FROM ingest_rejects",
    "INSERT INTO meters VALUES (99, 'residential', 'f', 's', false, 1, 230, 0)",
    "DELETE FROM ingest_runs",
    "INSERT INTO benchmark_runs (engine, timescaledb_version, rows, meters, days, cores, "
    "repetitions) VALUES ('x', 'x', 0, 0, 0, 0, 0)",
    "DROP VIEW energy_readings_15min",
]


@pytest.mark.parametrize("statement", INGEST_FORBIDDEN)
def test_ingest_cannot_change_the_schema_or_other_data(cluster: Cluster, statement: str) -> None:
    with (
        psycopg.connect(cluster.url("grid_ingest")) as conn,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


# --- owner, default privileges, idempotence ----------------------------------------------


def test_tables_created_later_by_the_owner_are_readable_not_writable(cluster: Cluster) -> None:
    """A chunk-interval variant created by a Dagster run (as the owner) after 005."""
    with psycopg.connect(cluster.url("grid_owner")) as owner:
        owner.execute("CREATE TABLE energy_readings_3h (LIKE energy_readings INCLUDING ALL)")
    with psycopg.connect(cluster.url("grid_reader")) as reader:
        assert reader.execute("SELECT count(*) FROM energy_readings_3h").fetchone() == (0,)
    with (
        psycopg.connect(cluster.url("grid_ingest")) as ingest,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        ingest.execute("SELECT count(*) FROM energy_readings_3h")


def test_roles_migration_is_idempotent_as_the_owner(cluster: Cluster) -> None:
    with psycopg.connect(cluster.url("grid_owner")) as owner:
        owner.execute((SCHEMA / "005_roles.sql").read_text().encode())
        owner.execute((SCHEMA / "005_roles.sql").read_text().encode())


def test_dagster_role_owns_its_database(cluster: Cluster) -> None:
    with psycopg.connect(_url(cluster.dagster_role, cluster.dagster_db)) as conn:
        conn.execute("CREATE TABLE dagster_probe (x int)")
        conn.execute("DROP TABLE dagster_probe")


@pytest.mark.parametrize("role", ["grid_ingest", "grid_reader"])
def test_service_roles_pass_the_migrators_check(cluster: Cluster, role: str) -> None:
    """`ingest` and `simulate` call start_database(): with the schema current it must
    run no DDL, so a role without CREATE (or a read-only session) gets through."""
    report = migrate(cluster.db(role))
    assert report.applied == []
    assert len(report.skipped) == len(schema_files())


# --- embedded engine ---------------------------------------------------------------------


def test_roles_migration_applies_on_the_embedded_engine(database: Database) -> None:
    """PGlite accepts 005 (it cannot enforce it): recorded, roles present, re-runnable."""
    with connect(database) as conn:
        applied = conn.execute(
            "SELECT 1 FROM schema_migrations WHERE version = '005_roles'"
        ).fetchone()
        assert applied is not None
        roles = {
            r[0]
            for r in conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s) AND NOT rolcanlogin",
                (list(GRID_ROLES),),
            )
        }
        assert roles == set(GRID_ROLES)
        conn.execute((SCHEMA / "005_roles.sql").read_text().encode())
    assert not database.supports_roles
