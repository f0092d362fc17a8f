"""Dagster is the control plane: what a user does in the UI works after the first run.

One scenario on a small data set, all through the running instance (the GraphQL
API the UI uses), never `materialize()`:

1. `grid-pipeline up --once` bootstraps: one backfill, executed by the daemon,
   every run succeeded, exactly meters x days x 288 rows per readings table.
2. Then with `dagster dev` up again on the same instance: re-materialise one
   partition of every readings table after compression, then a range; both
   succeed, row counts are unchanged and the days are compressed again.
3. The upkeep jobs and one bounded ingestion run succeed; every check's latest
   evaluation still passed (the live path no longer replaces the readings'
   materialisation), and no run is `__ephemeral_asset_job__`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from psycopg import sql

from grid_pipeline.app.dataset import first_and_last_day
from grid_pipeline.app.services import start_broker, start_database
from grid_pipeline.config import Settings, load_settings
from grid_pipeline.db.connection import connect
from grid_pipeline.embedded import broker, engine
from grid_pipeline.embedded.process import free_port, log_tail
from grid_pipeline.orchestration import dagster_api as api
from grid_pipeline.orchestration.bootstrap import BOOTSTRAP_TAGS
from grid_pipeline.stack import REPO_ROOT, child_environment
from grid_pipeline_tests.conftest import env_for
from grid_pipeline_tests.dagster_support import fast_daemon_env, stop_group

pytestmark = pytest.mark.integration

METERS, DAYS = 3, 2
READINGS = ("energy_readings", "energy_readings_3h", "energy_readings_week")


@dataclass(frozen=True)
class Stack:
    settings: Settings
    env: dict[str, str]
    bootstrap: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("control_plane")
    env = env_for(base / "grid", GRID_METERS=str(METERS), GRID_DAYS=str(DAYS),
                  GRID_DAGSTER_PORT=str(free_port()), GRID_BENCH_REPEAT="1")  # fmt: skip
    env.update(fast_daemon_env(base / "hooks"))
    result = subprocess.run(
        [sys.executable, "-m", "grid_pipeline.cli", "up", "--once"],
        env=env, capture_output=True, text=True, timeout=900, check=False, cwd=REPO_ROOT,
    )  # fmt: skip
    settings = load_settings(env)
    yield Stack(settings, env, result)
    engine.stop(settings)
    broker.stop(settings)


def _counts(settings: Settings) -> dict[str, int]:
    with connect(start_database(settings)) as conn:
        return {
            table: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()[0]  # type: ignore[index]
            for table in READINGS
        }


def _uncompressed_chunks(settings: Settings) -> int:
    with connect(start_database(settings)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks "
            "WHERE hypertable_name = ANY(%s) AND NOT is_compressed",
            (list(READINGS),),
        ).fetchone()
    return int(row[0]) if row else -1


def test_up_once_bootstraps_through_a_backfill_and_leaves_nothing_running(
    bootstrapped: Stack,
) -> None:
    result = bootstrapped.bootstrap
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "completed_success" in result.stdout
    assert "failed runs: none; failed blocking checks: none" in result.stdout
    settings = bootstrapped.settings
    assert engine.status(settings) is None and broker.status(settings) is None
    # The window is fixed once: exactly the seed's count, whatever the clock did.
    assert _counts(settings) == dict.fromkeys(READINGS, METERS * DAYS * 288)
    engine.stop(settings)


@pytest.fixture(scope="module")
def dagster_url(bootstrapped: Stack) -> Iterator[str]:
    """`dagster dev` again on the bootstrap's instance, engine and broker up."""
    settings = bootstrapped.settings
    start_database(settings)
    start_broker(settings)
    env = child_environment(settings)
    env.update({k: v for k, v in bootstrapped.env.items() if k.startswith("GRID_")})
    if "PYTHONPATH" in bootstrapped.env:  # the fast daemon ticks of the bootstrap
        env["PYTHONPATH"] = bootstrapped.env["PYTHONPATH"]
    env["GRID_INGEST_SENSOR"] = "off"  # the test launches its own ingestion run
    url = f"http://127.0.0.1:{settings.dagster_port}"
    log = settings.log_dir / "dagster-test.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-w", str(REPO_ROOT / "workspace.yaml"),
             "-h", "127.0.0.1", "-p", str(settings.dagster_port)],
            cwd=REPO_ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        try:
            api.wait_until_ready(url, timeout_s=180)
        except api.DagsterApiError as exc:
            pytest.fail(f"{exc}\n{log_tail(log, 30)}")
        api.set_pool_limit(url, "timescaledb", 1)
        yield url
    finally:
        stop_group(process)


def _backfill(url: str, keys: list[str], partitions: list[str]) -> api.BackfillState:
    backfill_id = api.launch_asset_backfill(
        url, keys, all_partitions=False, partition_names=partitions
    )
    return api.wait_for_backfill(url, backfill_id, progress=lambda _: None, timeout_s=600)


def test_the_bootstrap_is_a_backfill_of_named_re_executable_runs(
    bootstrapped: Stack, dagster_url: str
) -> None:
    runs = api.runs(dagster_url, limit=200, tags=BOOTSTRAP_TAGS)
    assert runs and all(run.status == "SUCCESS" for run in runs)
    assert all(run.tags.get("dagster/backfill") for run in runs)
    assert "__ephemeral_asset_job__" not in {run.job_name for run in api.runs(dagster_url, 200)}


def test_rematerialising_a_partition_and_a_range_after_compression(
    bootstrapped: Stack, dagster_url: str
) -> None:
    settings = bootstrapped.settings
    before = _counts(settings)
    assert _uncompressed_chunks(settings) == 0  # the bootstrap compressed every chunk
    first, last = first_and_last_day(settings)
    one = _backfill(dagster_url, list(READINGS), [first.isoformat()])
    assert one.status == "COMPLETED_SUCCESS", one.summary()
    days = [first.isoformat(), last.isoformat()]
    both = _backfill(dagster_url, list(READINGS), days)
    assert both.status == "COMPLETED_SUCCESS", both.summary()
    assert _counts(settings) == before
    assert _uncompressed_chunks(settings) == 0  # the replaced days are compressed again


def test_upkeep_and_ingestion_keep_every_check_passing(
    bootstrapped: Stack, dagster_url: str
) -> None:
    for job, config in [
        ("compression_job", None),
        ("refresh_aggregates_job", None),
        ("mqtt_ingestion_job", {"ops": {"mqtt_ingestion": {"config": {"duration_s": 2.0}}}}),
    ]:
        run_id = api.launch_job_run(dagster_url, job, run_config=config)
        info = api.wait_for_run(dagster_url, run_id, timeout_s=300)
        assert info.status == "SUCCESS", f"{job}: {info}"
        assert info.job_name == job
    # The 5-minute refresh schedule may be running its checks right now: judge the
    # latest evaluations once nothing is in progress.
    api.wait_for_idle(dagster_url, timeout_s=300)
    checks = api.latest_check_results(dagster_url)
    assert checks
    failing = [f"{c.asset_key}:{c.check_name}[{c.partition}] {c.status}" for c in checks
               if c.status != "SUCCEEDED"]  # fmt: skip
    assert failing == []
    # Per partition: one result per day for each readings table's checks.
    first, last = first_and_last_day(bootstrapped.settings)
    days = {str(first + timedelta(days=i)) for i in range((last - first).days + 1)}
    per_day = {
        c.partition
        for c in checks
        if c.asset_key == "energy_readings" and c.check_name == "no_duplicate_readings"
    }
    assert per_day == days
