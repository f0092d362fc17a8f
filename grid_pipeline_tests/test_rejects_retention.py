"""Quarantined payloads are kept for GRID_REJECTS_RETENTION, not forever.

Real embedded engine (the session's): rejects received 40 days ago go, those of
yesterday stay; the hourly Dagster job that does it is defined, on by default,
and records how many rows it deleted.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import dagster as dg
import pytest

from grid_pipeline.app.upkeep import expire_rejects
from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.definitions import defs
from grid_pipeline.defs.resources import TimescaleResource
from grid_pipeline.defs.storage import storage_defs

RETENTION = timedelta(days=30)


def _insert_rejects(db: Database, topic: str, days_ago: int, count: int) -> None:
    with connect(db) as conn:
        for n in range(count):
            conn.execute(
                "INSERT INTO ingest_rejects (received_at, topic, payload, reason) "
                "VALUES (now() - make_interval(days => %s), %s, %s, 'retention test')",
                (days_ago, topic, f"payload {n}".encode()),
            )


def _rejects_on(db: Database, topic: str) -> int:
    with connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM ingest_rejects WHERE topic = %s", (topic,))
        return int(row.fetchone()[0])  # type: ignore[index]


def _expired_rows(db: Database) -> int:
    with connect(db) as conn:
        row = conn.execute(
            "SELECT count(*) FROM ingest_rejects WHERE received_at < now() - %s", (RETENTION,)
        ).fetchone()
        return int(row[0])  # type: ignore[index]


@pytest.mark.integration
def test_only_rejects_older_than_the_retention_are_deleted(database: Database) -> None:
    old, recent = f"test/old/{uuid.uuid4()}", f"test/recent/{uuid.uuid4()}"
    _insert_rejects(database, old, days_ago=40, count=3)
    _insert_rejects(database, recent, days_ago=1, count=2)
    expired = _expired_rows(database)

    report = expire_rejects(database, RETENTION, batch_rows=2)  # 2 batches and an empty one

    assert _rejects_on(database, old) == 0
    assert _rejects_on(database, recent) == 2
    assert report.rows_deleted == expired >= 3
    assert report.batches >= 2
    assert expire_rejects(database, RETENTION).rows_deleted == 0  # nothing left to expire


def test_retention_job_is_scheduled_hourly_and_on() -> None:
    job = defs.resolve_job_def("rejects_retention_job")
    assert "ingest_rejects_retention" in {
        key.to_user_string() for key in job.asset_layer.selected_asset_keys
    }
    schedule = defs.resolve_schedule_def("rejects_retention_schedule")
    assert schedule.job_name == "rejects_retention_job"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


@pytest.mark.integration
def test_retention_job_records_rows_deleted(database: Database, settings: Settings) -> None:
    old = f"test/old/{uuid.uuid4()}"
    _insert_rejects(database, old, days_ago=40, count=4)
    expired = _expired_rows(database)
    job_defs = dg.Definitions.merge(
        storage_defs(settings),
        dg.Definitions(
            assets=[
                dg.AssetSpec("mqtt_ingestion"),
                *(dg.AssetSpec(v.table) for v in settings.chunk_variants),
            ],
            resources={"timescale": TimescaleResource(data_dir=str(settings.data_dir))},
        ),
    )

    run = job_defs.resolve_job_def("rejects_retention_job").execute_in_process()

    assert run.success
    (materialization,) = run.get_asset_materialization_events()
    metadata = materialization.materialization.metadata
    assert metadata["rows_deleted"].value == expired >= 4
    assert _rejects_on(database, old) == 0
