"""The seed's size report runs verbatim and reports what the compression study reports.

`SELECT hypertable_name, pg_size_pretty(total_bytes) AS size FROM
hypertable_compression_stats;` names a relation; TimescaleDB 2.x only has a function
of that name. Migration 008 adds the relation (a view); these tests run the seed's
statement as the seed prints it, on the real embedded engine, and hold the view to the
study's figures and to the upgrade rule (no dependency on TimescaleDB's own objects).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.storage.compression import compress_hypertable
from grid_pipeline_tests.conftest import load_dataset

pytestmark = pytest.mark.integration

SEED = Path(__file__).resolve().parent / "seed" / "smart-grid-monitoring-seed.md"


def seed_block(heading: str) -> str:
    """The ```sql block under `### <heading>` in the seed, verbatim."""
    found = re.search(rf"### {re.escape(heading)}\n```sql\n(.*?)```", SEED.read_text(), re.S)
    assert found, f"seed has no SQL block under {heading!r}"
    return found.group(1)


def hypertables(database: Database) -> list[str]:
    with connect(database) as conn:
        return [
            str(name)
            for (name,) in conn.execute(
                "SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1"
            )
        ]


def test_seed_size_report_runs_verbatim_after_the_seeds_compression(
    database: Database, settings: Settings
) -> None:
    """The seed's two compression blocks in its order: compress everything, then sizes."""
    load_dataset(database, settings, meters=2, days=2)
    with connect(database) as conn:
        conn.execute(seed_block("Execute Compression"))
        conn.commit()
        rows = conn.execute(seed_block("View Table Sizes")).fetchall()
    names = [str(name) for name, _ in rows]
    assert sorted(names) == hypertables(database)  # one row per hypertable, no duplicate
    assert {v.table for v in settings.chunk_variants} <= set(names)
    assert all(re.fullmatch(r"\d+ (bytes|kB|MB|GB)", size) for _, size in rows), rows


def test_total_bytes_is_the_size_the_study_reports(database: Database, settings: Settings) -> None:
    """After `compress_hypertable` (the study), the view's row for that variant carries the
    study's figures: total_bytes is the size it records after compression."""
    variant = settings.chunk_variants[1].table
    load_dataset(database, settings, meters=2, days=2)
    study = compress_hypertable(database, variant)
    assert study.sizes.compressed_chunks > 0
    with connect(database) as conn:
        row = conn.execute(
            "SELECT total_chunks, number_compressed_chunks, before_compression_total_bytes, "
            "after_compression_total_bytes, total_bytes FROM hypertable_compression_stats "
            "WHERE hypertable_schema = current_schema() AND hypertable_name = %s",
            (variant,),
        ).fetchone()
        recorded = conn.execute(
            "SELECT detailed_bytes_after FROM compression_runs WHERE hypertable = %s "
            "ORDER BY compressed_at DESC LIMIT 1",
            (variant,),
        ).fetchone()
    sizes = study.sizes
    assert row == (
        sizes.total_chunks,
        sizes.compressed_chunks,
        sizes.before_bytes,
        sizes.after_bytes,
        sizes.detailed_total_bytes,
    )
    assert recorded == (sizes.detailed_total_bytes,)


def test_uncompressed_hypertables_report_their_size_and_no_compressed_bytes(
    database: Database, settings: Settings
) -> None:
    load_dataset(database, settings, meters=2, days=2)
    with connect(database) as conn:
        row = conn.execute(
            "SELECT v.total_chunks, v.number_compressed_chunks, "
            "v.after_compression_total_bytes, v.total_bytes = hypertable_size(%s::regclass) "
            "FROM hypertable_compression_stats AS v "
            "WHERE hypertable_schema = current_schema() AND hypertable_name = %s",
            ("energy_readings", "energy_readings"),
        ).fetchone()
    assert row is not None
    total_chunks, compressed, after_bytes, same_size = row
    assert total_chunks > 0 and compressed == 0 and after_bytes is None and same_size


def test_size_report_depends_on_no_timescaledb_object(database: Database) -> None:
    """TimescaleDB's update scripts drop and re-create their views (for example
    timescaledb_information.hypertables); a view of ours depending on one would make
    `ALTER EXTENSION timescaledb UPDATE` fail. The view and its function name none."""
    with connect(database) as conn:
        pinned = conn.execute(
            "WITH ours AS ("
            "  SELECT 'pg_rewrite'::regclass AS classid, r.oid AS objid FROM pg_rewrite AS r"
            "  WHERE r.ev_class = 'hypertable_compression_stats'::regclass"
            "  UNION ALL"
            "  SELECT 'pg_proc'::regclass, 'hypertable_size_report()'::regprocedure::oid"
            ") "
            "SELECT pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid) "
            "FROM ours JOIN pg_depend AS d ON d.classid = ours.classid AND d.objid = ours.objid "
            "JOIN pg_depend AS member ON member.classid = d.refclassid "
            "  AND member.objid = d.refobjid AND member.deptype = 'e' "
            "JOIN pg_extension AS x ON x.oid = member.refobjid AND x.extname = 'timescaledb'"
        ).fetchall()
    assert pinned == []


def test_the_function_of_the_same_name_still_answers(database: Database) -> None:
    """The view shares its name with TimescaleDB's function; calls of the function (the
    study's own query) still reach the function."""
    with connect(database) as conn:
        columns = [
            c.name
            for c in conn.execute(
                "SELECT * FROM hypertable_compression_stats('energy_readings'::regclass)"
            ).description
            or []
        ]
    assert "after_compression_total_bytes" in columns and "total_bytes" not in columns
