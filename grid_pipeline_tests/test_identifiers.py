"""Hostile identifiers cannot inject SQL.

Table names reach SQL from configuration (GRID_CHUNK_INTERVALS) and from code
(writer targets, hypertable statistics). Two defences, both tested: the
configuration parser accepts only plain lower-case identifiers, and every
dynamic identifier is composed with `psycopg.sql.Identifier`, so even a name
that slipped through is one quoted identifier, never SQL. The attack string is
fed through each path on the real embedded engine, and `energy_readings` must
still be there, with the same rows, afterwards. A static scan backs this up:
no `execute()` in the package or dashboard takes an f-string, `%`-formatted or
`.format()`-ed string.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import psycopg
import pytest
from psycopg import sql

from grid_pipeline.config import ChunkVariant, ConfigError, load_settings, parse_chunk_intervals
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.writer import UnnestWriter
from grid_pipeline.storage.hypertables import ensure_variant, fill_variant_window, hypertable_stats

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = 'x"; DROP TABLE energy_readings; --'
HOSTILE_NAMES = [
    HOSTILE,
    "energy_readings; DROP TABLE meters",
    "energy-readings",
    'Energy"Readings',
    "readings_1h -- comment",
    "a" * 64,
    "ümlaut",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_configuration_rejects_hostile_table_names(name: str) -> None:
    with pytest.raises(ConfigError, match="GRID_CHUNK_INTERVALS"):
        parse_chunk_intervals(f"energy_readings=1 day,{name}=3 hours")
    with pytest.raises(ConfigError):
        load_settings({"GRID_CHUNK_INTERVALS": f"energy_readings=1 day,{name}=1 week"})


def test_the_identifier_is_quoted_not_interpolated() -> None:
    statement = UnnestWriter(HOSTILE).statement().as_string(None)
    assert 'INSERT INTO "x""; DROP TABLE energy_readings; --" (' in statement
    assert "DROP TABLE energy_readings;" not in statement.replace(
        '"x""; DROP TABLE energy_readings; --"', ""
    )


def _fingerprint(db: Database) -> tuple[str | None, int]:
    with connect(db) as conn:
        row = conn.execute(
            "SELECT to_regclass('energy_readings')::text, (SELECT count(*) FROM energy_readings)"
        ).fetchone()
    assert row is not None
    return row[0], int(row[1])


def _drop_if_created(db: Database, name: str) -> None:
    with connect(db) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.mark.integration
def test_hostile_names_through_every_identifier_path(database: Database) -> None:
    before = _fingerprint(database)
    assert before[0] == "energy_readings"
    variant = ChunkVariant(HOSTILE, timedelta(days=1))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "timestamp": [start],
            "meter_id": [1],
            "power": [1.0],
            "energy": [0.1],
            "voltage": [230.0],
            "current": [4.0],
        }
    )
    try:
        # ensure_variant: CREATE TABLE {Identifier} then create_hypertable(%s::regclass).
        # Either the quoted table is created or the engine rejects the name; no DROP runs.
        try:
            with connect(database) as conn:
                ensure_variant(conn, variant)
        except psycopg.Error:
            pass
        assert _fingerprint(database) == before
        for attempt in (
            lambda conn: fill_variant_window(conn, variant, start, start + timedelta(days=1)),
            lambda conn: UnnestWriter(HOSTILE).write(conn, frame),
            lambda conn: hypertable_stats(conn, HOSTILE),
        ):
            try:
                with connect(database) as conn:
                    attempt(conn)
            except psycopg.Error:
                pass
            assert _fingerprint(database) == before
    finally:
        _drop_if_created(database, HOSTILE)
    assert _fingerprint(database) == before


# --- static: no string-built SQL ---------------------------------------------------------

_SQL_METHODS = {"execute", "executemany", "copy", "stream"}


def _string_built(node: ast.expr) -> bool:
    """An f-string, `"..." % x`, `"...".format(...)` or `"a" + b` where SQL belongs."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        left = node.left
        return isinstance(left, ast.JoinedStr) or (
            isinstance(left, ast.Constant) and isinstance(left.value, str)
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "format" and isinstance(node.func.value, ast.Constant)
    return False


def _python_sources() -> list[Path]:
    files = [*(ROOT / "grid_pipeline").rglob("*.py"), *(ROOT / "dashboard").rglob("*.py")]
    return [f for f in files if "node_modules" not in f.parts]


def test_no_execute_takes_a_string_built_statement() -> None:
    offenders: list[str] = []
    for path in _python_sources():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _SQL_METHODS
                and node.args
                and _string_built(node.args[0])
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "SQL built from strings (use psycopg.sql):\n" + "\n".join(offenders)


def test_the_static_scan_recognises_string_built_sql() -> None:
    def first_arg(code: str) -> ast.expr:
        call = ast.parse(code).body[0]
        assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)
        return call.value.args[0]

    assert _string_built(first_arg('conn.execute(f"DROP TABLE {name}")'))
    assert _string_built(first_arg('conn.execute("DROP TABLE %s" % name)'))
    assert _string_built(first_arg('conn.execute("DROP TABLE {}".format(name))'))
    assert not _string_built(first_arg('conn.execute("SELECT %s", (name,))'))
    assert not _string_built(first_arg("conn.execute(sql.SQL('x {}').format(n))"))
