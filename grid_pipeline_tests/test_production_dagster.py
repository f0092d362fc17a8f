"""The compose stack's Dagster instance (deploy/dagster) on a real PostgreSQL.

`deploy/dagster/dagster.yaml` must load as an instance config and store runs,
event logs and schedule state through dagster-postgres: checked on the native
PostgreSQL of the build machines (127.0.0.1:5432, trust auth) in a database of
its own, dropped afterwards. The code server's command from docker-compose.yml
is started too and answers the healthcheck the compose file uses.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml
from psycopg import sql

from grid_pipeline.embedded.process import free_port

ROOT = Path(__file__).resolve().parents[1]
DAGSTER_DIR = ROOT / "deploy" / "dagster"
NATIVE = "postgresql://postgres@127.0.0.1:5432/postgres"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dagster_database() -> Iterator[str]:
    """A fresh database for Dagster's storage; its name. Dropped at the end."""
    try:
        admin = psycopg.connect(NATIVE, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no native PostgreSQL at 127.0.0.1:5432 (trust auth): {exc}")
    name = f"dagster_test_{secrets.token_hex(4)}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.close()


@pytest.fixture
def instance(
    dagster_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    """The instance exactly as the compose services build it: DAGSTER_HOME + DAGSTER_PG_*."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DAGSTER_DIR / "dagster.yaml", home / "dagster.yaml")
    for name, value in {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USERNAME": "postgres",
        "DAGSTER_PG_PASSWORD": "trust-auth-ignores-this",
        "DAGSTER_PG_DB": dagster_database,
        "DAGSTER_MAX_CONCURRENT_RUNS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.get() as loaded:
        yield loaded


@dg.asset
def probe_reading() -> dg.MaterializeResult[None]:
    """A stand-in asset: what matters here is where its run and events are stored."""
    return dg.MaterializeResult(metadata={"rows": 1})


@dg.op
def probe_op() -> int:
    return 1


@dg.job
def probe_job() -> None:
    probe_op()


def test_instance_uses_postgres_storage_queue_and_default_launcher(
    instance: dg.DagsterInstance,
) -> None:
    from dagster._core.launcher import DefaultRunLauncher
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_postgres import (
        PostgresEventLogStorage,
        PostgresRunStorage,
        PostgresScheduleStorage,
    )

    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    assert isinstance(instance.run_launcher, DefaultRunLauncher)


def test_runs_events_and_schedule_state_land_in_postgres(
    instance: dg.DagsterInstance, dagster_database: str
) -> None:
    job_result = probe_job.execute_in_process(instance=instance)
    asset_result = dg.materialize([probe_reading], instance=instance)
    assert job_result.success and asset_result.success
    for run_id in (job_result.run_id, asset_result.run_id):
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert instance.all_logs(run_id)
    event = instance.get_latest_materialization_event(dg.AssetKey("probe_reading"))
    assert event is not None and event.run_id == asset_result.run_id
    assert instance.all_instigator_state() == []
    # Really in that PostgreSQL database, not in files under DAGSTER_HOME.
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{dagster_database}") as conn:
        runs = conn.execute("SELECT count(*) FROM runs").fetchone()
        events = conn.execute("SELECT count(*) FROM event_logs").fetchone()
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
    assert runs is not None and runs[0] >= 2
    assert events is not None and events[0] > 0
    assert {"runs", "event_logs", "jobs", "job_ticks"} <= tables


def test_compose_services_share_the_instance_and_workspace() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in ("code-server", "dagster-webserver", "dagster-daemon"):
        service = compose["services"][name]
        env = service["environment"]
        assert env["DAGSTER_HOME"] == "/opt/dagster/home"
        assert {"DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"} <= set(env)
        assert (
            "./deploy/dagster/dagster.yaml:/opt/dagster/home/dagster.yaml:ro" in service["volumes"]
        )
    for name in ("dagster-webserver", "dagster-daemon"):
        command = compose["services"][name]["command"]
        assert command[command.index("-w") + 1] == "/opt/dagster/workspace.yaml"


def test_code_server_command_serves_the_definitions(tmp_path: Path) -> None:
    """`dagster api grpc -m grid_pipeline.definitions` answers `grpc-health-check`."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRID_", "DAGSTER_"))}
    env.update(GRID_DATA_DIR=str(tmp_path / "grid"), DAGSTER_HOME=str(tmp_path))
    bin_dir = Path(sys.executable).parent
    server = subprocess.Popen(
        [str(bin_dir / "dagster"), "api", "grpc", "-m", "grid_pipeline.definitions",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            check = subprocess.run(
                [str(bin_dir / "dagster"), "api", "grpc-health-check", "-p", str(port)],
                env=env, capture_output=True, timeout=30,
            )  # fmt: skip
            if check.returncode == 0:
                return
            if server.poll() is not None:
                stderr = server.stderr.read().decode() if server.stderr else ""
                pytest.fail(f"code server exited: {stderr[-2000:]}")
            time.sleep(1)
        pytest.fail("code server did not become healthy within 90 s")
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
