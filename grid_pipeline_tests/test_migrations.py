"""Migrations are ordered and idempotent; the seed's DDL runs verbatim against our schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.migrate import migrate

pytestmark = pytest.mark.integration

SEED = Path(__file__).resolve().parent / "seed" / "smart-grid-monitoring-seed.md"

SCHEMA_SNAPSHOT = """
SELECT table_name, column_name, data_type, is_nullable
FROM information_schema.columns
WHERE table_schema = 'public'
ORDER BY table_name, ordinal_position
"""


def seed_sql_blocks() -> list[str]:
    """The ```sql blocks of the seed description (kept in the repository), verbatim."""
    return re.findall(r"```sql\n(.*?)```", SEED.read_text(), flags=re.S)


def test_migrating_twice_changes_nothing(database: Database) -> None:
    with connect(database) as conn:
        before = conn.execute(SCHEMA_SNAPSHOT).fetchall()
        ledger = conn.execute(
            "SELECT version, checksum FROM schema_migrations ORDER BY 1"
        ).fetchall()
    report = migrate(database)
    assert report.applied == []
    assert report.skipped == [v for v, _ in ledger]
    with connect(database) as conn:
        assert conn.execute(SCHEMA_SNAPSHOT).fetchall() == before
        assert (
            conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY 1").fetchall()
            == ledger
        )


def test_core_tables_have_the_seed_columns(database: Database) -> None:
    with connect(database) as conn:
        cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'energy_readings' ORDER BY ordinal_position")]  # fmt: skip
        dims = conn.execute(
            "SELECT column_name, time_interval FROM timescaledb_information.dimensions "
            "WHERE hypertable_name = 'energy_readings'"
        ).fetchall()
    assert cols == ["timestamp", "meter_id", "power", "energy", "voltage", "current"]
    assert [(c, i.days) for c, i in dims] == [("timestamp", 1)]


def test_seed_ddl_runs_verbatim(database: Database) -> None:
    """The seed's hypertable DDL (migrate_data, LIKE ... INCLUDING ALL clones with 3-hour and
    1-week chunks, INSERT ... SELECT between them), in a scratch schema that shadows ours."""
    blocks = seed_sql_blocks()
    convert = next(b for b in blocks if "migrate_data" in b)
    clones = next(b for b in blocks if "INCLUDING ALL" in b)
    with connect(database) as conn:
        conn.execute("DROP SCHEMA IF EXISTS seed_check CASCADE")
        conn.execute("CREATE SCHEMA seed_check")
        conn.execute("SET LOCAL search_path TO seed_check, public")
        conn.execute("CREATE TABLE energy_readings (LIKE public.energy_readings INCLUDING ALL)")
        conn.execute(
            "INSERT INTO energy_readings SELECT t, m, 1.5, 0.125, 230.0, 6.5 FROM "
            "generate_series(now() - interval '2 days', now(), interval '5 minutes') t, "
            "generate_series(1, 3) m"
        )
        for statement in filter(str.strip, convert.split(";")):
            conn.execute(statement)
        for statement in filter(str.strip, clones.split(";")):
            conn.execute(statement)
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM energy_readings),"
            " (SELECT count(*) FROM energy_readings_3h),"
            " (SELECT count(*) FROM energy_readings_week)"
        ).fetchone()
        intervals = dict(conn.execute(
            "SELECT hypertable_name, time_interval FROM timescaledb_information.dimensions "
            "WHERE hypertable_schema = 'seed_check'").fetchall())  # fmt: skip
        conn.rollback()
    assert counts is not None and counts[0] == counts[1] == counts[2] > 0
    assert {k: v.total_seconds() for k, v in intervals.items()} == {
        "energy_readings": 86400, "energy_readings_3h": 10800, "energy_readings_week": 604800,
    }  # fmt: skip
