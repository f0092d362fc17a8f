"""Historic data set on the real embedded engine: fleet, readings, variants, seed queries."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from psycopg import sql

from grid_pipeline.config import Settings, load_settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.defs.historic import historic_assets
from grid_pipeline.defs.resources import TimescaleResource
from grid_pipeline.defs.schema import database_schema
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.compression import time_chunk_interval
from grid_pipeline.storage.historic import (
    days_in,
    default_window,
    load_history,
    read_fleet,
    replace_fleet,
)
from grid_pipeline.storage.hypertables import ensure_variant, fill_variant_window
from grid_pipeline.storage.seed_queries import SEED_QUERIES, for_table, seed_query

pytestmark = pytest.mark.integration

SEED = Path(__file__).resolve().parent / "seed" / "smart-grid-monitoring-seed.md"
METERS = 6
DAYS = 3
INTERVAL = timedelta(minutes=5)


def seed_queries() -> dict[int, str]:
    """Queries 1-4 as the project stores them, checked to be the seed's text verbatim."""
    text = SEED.read_text()
    in_seed = {
        int(n): q for n, q in re.findall(r"### Query (\d):.*?```sql\n(.*?)```", text, flags=re.S)
    }
    ours = {i + 1: seed_query(name) for i, name in enumerate(SEED_QUERIES)}
    for n, q in ours.items():
        assert q.split("\n", 1)[1] == in_seed[n], f"seed query {n} is not verbatim"
    return ours


@pytest.fixture(scope="module")
def loaded(database: Database, settings: Settings) -> tuple[datetime, datetime]:
    """A small fleet, DAYS days ending now, loaded into every variant."""
    with connect(database) as conn:
        for variant in settings.chunk_variants:
            ensure_variant(conn, variant)
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(variant.table)))
    replace_fleet(database, build_fleet(METERS, 7))
    with connect(database) as conn:
        fleet = read_fleet(conn)
    window = default_window(DAYS, INTERVAL)
    load_history(database, fleet, window, interval=INTERVAL, seed=7, timezone="UTC")
    with connect(database) as conn:
        for variant in settings.chunk_variants[1:]:
            for part in days_in(window):
                fill_variant_window(conn, variant, *part)
    return window


def test_fleet_round_trips(database: Database, loaded: tuple[datetime, datetime]) -> None:
    with connect(database) as conn:
        stored = read_fleet(conn)
    assert stored.equals(build_fleet(METERS, 7).select(stored.columns))


def test_variants_have_their_chunk_intervals_and_equal_rows(
    database: Database, settings: Settings, loaded: tuple[datetime, datetime]
) -> None:
    expected_rows = METERS * DAYS * 288
    with connect(database) as conn:
        for variant in settings.chunk_variants:
            assert time_chunk_interval(conn, variant.table) == variant.interval
            count = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(variant.table))
            ).fetchone()
            assert count == (expected_rows,), variant.table


def test_reloading_a_day_leaves_the_rows_unchanged(
    database: Database, loaded: tuple[datetime, datetime]
) -> None:
    day = list(days_in(loaded))[1]
    snapshot = "SELECT count(*), sum(power), sum(energy) FROM energy_readings"
    with connect(database) as conn:
        before = conn.execute(snapshot).fetchone()
        fleet = read_fleet(conn)
    load_history(database, fleet, day, interval=INTERVAL, seed=7, timezone="UTC")
    with connect(database) as conn:
        assert conn.execute(snapshot).fetchone() == before


def test_seed_queries_run_verbatim_on_every_variant(
    database: Database, settings: Settings, loaded: tuple[datetime, datetime]
) -> None:
    queries = seed_queries()
    assert sorted(queries) == [1, 2, 3, 4]
    last = loaded[1] - INTERVAL  # the newest reading loaded
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    hours_today = last.hour + 1 if last >= midnight else 0
    months = {
        (loaded[0].year, loaded[0].month),
        ((loaded[1] - INTERVAL).year, (loaded[1] - INTERVAL).month),
    }
    with connect(database) as conn:
        for variant in settings.chunk_variants:
            sql_of = {n: for_table(q, variant.table) for n, q in queries.items()}
            hourly = conn.execute(sql_of[1]).fetchall()
            # Today's hours up to the current one (a full day gives 24, tested below).
            assert len(hourly) == hours_today
            assert len(conn.execute(sql_of[2]).fetchall()) == 10
            assert len(conn.execute(sql_of[3]).fetchall()) == METERS * len(months)
            count, avg, top, low = conn.execute(sql_of[4]).fetchone()
            assert count == METERS * DAYS * 288 and low <= avg <= top


def test_a_full_day_gives_24_hourly_rows(
    database: Database, loaded: tuple[datetime, datetime]
) -> None:
    """Seed query 1's shape for a complete day (yesterday, same SQL with a fixed day)."""
    with connect(database) as conn:
        rows = conn.execute(
            "SELECT time_bucket('1 hour', timestamp) AS hour, AVG(power) FROM energy_readings "
            "WHERE timestamp >= DATE_TRUNC('day', NOW()) - INTERVAL '1 day' "
            "AND timestamp < DATE_TRUNC('day', NOW()) GROUP BY hour ORDER BY hour"
        ).fetchall()
    assert len(rows) == 24


def test_dagster_materialises_the_graph_in_process(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRID_METERS", "4")
    monkeypatch.setenv("GRID_DAYS", "2")
    cfg = load_settings()
    assets = historic_assets(cfg)
    resource = TimescaleResource(data_dir=str(settings.data_dir))
    unpartitioned = dg.materialize(
        [database_schema, *assets[:1]], resources={"timescale": resource}
    )
    assert unpartitioned.success
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    for _ in range(2):  # twice: re-materialising a partition is idempotent
        result = dg.materialize(
            assets, resources={"timescale": resource}, partition_key=yesterday,
            selection=[a.key for a in assets[1:]],
        )  # fmt: skip
        assert result.success
        for variant in cfg.chunk_variants:
            mats = result.asset_materializations_for_node(variant.table)
            assert mats[0].metadata["window_rows"].value == 4 * 288
        checks = result.get_asset_check_evaluations()
        assert checks and all(c.passed for c in checks), [
            c.check_name for c in checks if not c.passed
        ]
