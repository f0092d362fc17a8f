"""The embedded TimescaleDB, for real: persistence, sharing, queuing, clear errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from grid_pipeline.config import load_settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.embedded import engine
from grid_pipeline.embedded.process import ServiceError, free_port, pid_alive

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "grid_pipeline.cli"]


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_start_stop_start_keeps_data(fresh_env: dict[str, str]) -> None:
    settings = load_settings(fresh_env)
    status, started = engine.start(settings)
    assert started
    with psycopg.connect(status.url) as conn:
        version = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        assert version is not None and version[0].startswith("2.")
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (42)")
        conn.execute("CREATE TABLE ht (ts timestamptz NOT NULL, v float8)")
        conn.execute("SELECT create_hypertable('ht', 'ts')")
    again, started_again = engine.start(settings)
    assert not started_again and again.pid == status.pid  # starting twice is a no-op
    assert engine.stop(settings)
    assert not pid_alive(status.pid)
    assert engine.status(settings) is None

    restarted, _ = engine.start(settings)
    with psycopg.connect(restarted.url) as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(42,)]
    with psycopg.connect(restarted.url, autocommit=True) as conn:
        # Regression: on a restarted data dir, TimescaleDB's TSL part (compression,
        # continuous aggregates) must be loaded even if the first statement needs it.
        conn.execute("ALTER TABLE ht SET (timescaledb.compress)")
        conn.execute(
            "CREATE MATERIALIZED VIEW ht_hourly WITH (timescaledb.continuous) AS "
            "SELECT time_bucket('1 hour', ts) AS b, avg(v) FROM ht GROUP BY b WITH NO DATA"
        )


def test_cli_db_lifecycle_and_url_work_with_psql_and_psycopg(fresh_env: dict[str, str]) -> None:
    assert run_cli(fresh_env, "db", "status").returncode == 3  # not running yet
    started = run_cli(fresh_env, "db", "start")
    assert started.returncode == 0, started.stderr
    url = run_cli(fresh_env, "db", "url").stdout.strip()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    if subprocess.run(["which", "psql"], capture_output=True, check=False).returncode == 0:
        out = subprocess.run(
            ["psql", url, "-Atc", "SELECT extname FROM pg_extension ORDER BY 1"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert "timescaledb" in out.stdout.split()
    status = run_cli(fresh_env, "db", "status")
    assert status.returncode == 0 and "TimescaleDB 2." in status.stdout
    assert run_cli(fresh_env, "db", "stop").stdout.strip() == "stopped"
    assert run_cli(fresh_env, "db", "stop").stdout.strip() == "not running"


def test_second_engine_on_same_data_dir_is_refused(fresh_env: dict[str, str]) -> None:
    settings = load_settings(fresh_env)
    engine.start(settings)
    other_port = str(int(fresh_env["GRID_DB_PORT"]) + 1)
    result = subprocess.run(
        [str(engine.node_binary()), str(engine.ENGINE_DIR / "server.mjs"),
         "--data-dir", str(settings.pgdata_dir),
         "--state-file", str(settings.run_dir / "other.json"), "--port", other_port],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 3
    assert "is locked by another engine" in result.stderr


def test_concurrent_starts_start_one_engine(fresh_env: dict[str, str]) -> None:
    procs = [
        subprocess.Popen([*CLI, "db", "start"], env=fresh_env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=180)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum("started in" in out for out in outputs) == 1
    assert sum("already running" in out for out in outputs) == 2


WORKER = """
import sys, time, psycopg
url, n = sys.argv[1], int(sys.argv[2])
for i in range(20):
    with psycopg.connect(url) as conn:
        with conn.transaction():
            conn.execute("CREATE TEMP TABLE scratch (x int)")
            conn.execute("INSERT INTO scratch SELECT generate_series(1, %s)", (n,))
            time.sleep(0.01)
            total = conn.execute("SELECT sum(x) FROM scratch").fetchone()[0]
            assert total == n * (n + 1) // 2, total
        conn.execute("PREPARE p AS SELECT 1")  # session state must not leak to the next client
print("ok")
"""


def test_concurrent_client_processes_wait_their_turn(database: Database) -> None:
    """Six processes hammer the single session with transactions; all complete."""
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, database.url, str(n)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(10, 16)
    ]  # fmt: skip
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, results
    assert all(out.strip() == "ok" for out, _ in results)


def test_waiting_past_the_bound_gets_a_clear_error(fresh_env: dict[str, str]) -> None:
    settings = load_settings({**fresh_env, "GRID_DB_QUEUE_TIMEOUT": "1"})
    status, _ = engine.start(settings)
    with psycopg.connect(status.url) as holder:
        holder.execute("SELECT 1")
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError, match="embedded TimescaleDB busy"):
            psycopg.connect(status.url, connect_timeout=30)
        assert time.monotonic() - started < 10
    with psycopg.connect(status.url) as conn:  # the session is free again
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_busy_port_is_a_one_line_error(fresh_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(fresh_env["GRID_DB_PORT"])))
        squatter.listen()
        result = run_cli(fresh_env, "db", "start")
    assert result.returncode == 1
    assert "already in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_bad_settings_are_a_one_line_error(fresh_env: dict[str, str]) -> None:
    result = run_cli({**fresh_env, "GRID_DB_PORT": "not-a-port"}, "db", "start")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "grid-pipeline: error: GRID_DB_PORT: 'not-a-port' is not a TCP port (1-65535)"
    ]


def test_missing_npm_packages_say_run_make_setup(
    fresh_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(engine, "ENGINE_DIR", tmp_path / "no-engine-here")
    with pytest.raises(ServiceError, match="run `make setup`"):
        engine.start(load_settings(fresh_env))


def test_a_crashed_engine_is_reported_with_its_log_and_restarted(fresh_env: dict[str, str]) -> None:
    settings = load_settings(fresh_env)
    status, _ = engine.start(settings)
    os.kill(status.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(status.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    report = run_cli(fresh_env, "db", "status")
    assert report.returncode == 3 and "crashed" in report.stdout and "READY" in report.stdout
    # Any entry point that needs the database starts it again.
    db = Database(engine.ensure_running(settings).url, embedded=True)
    with connect(db) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_free_port_never_hands_one_port_out_twice() -> None:
    """CI once gave the broker and Dagster one port: both picked before either bound."""
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
