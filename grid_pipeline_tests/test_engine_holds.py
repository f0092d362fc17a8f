"""The embedded engine's single session: no client may hold it unboundedly.

Real engine (started per test in its own data dir, with short hold limits so the
tests stay fast): an idle-in-transaction or idle holder is terminated with a
PostgreSQL FATAL and the session goes to the next client; a suspended client
cannot freeze it; a large message is buffered in linear time; a disconnect after
ROLLBACK TO SAVEPOINT does not kill the engine; the queue timeout is validated.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import psycopg
import pytest

from grid_pipeline.config import ConfigError, load_settings
from grid_pipeline.embedded import engine
from grid_pipeline.embedded.process import pid_alive

pytestmark = pytest.mark.integration


@pytest.fixture
def short_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold limits of one second so the tests need not wait the defaults."""
    monkeypatch.setattr(engine, "IDLE_IN_TRANSACTION_TIMEOUT_S", 1.0)
    monkeypatch.setattr(engine, "IDLE_SESSION_TIMEOUT_S", 1.0)


def waited_for_session(url: str) -> float:
    """Seconds a new client waits until its first query answers."""
    started = time.monotonic()
    with psycopg.connect(url, connect_timeout=30) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    return time.monotonic() - started


def test_idle_in_transaction_holder_is_terminated(
    fresh_env: dict[str, str], short_holds: None
) -> None:
    status, _ = engine.start(load_settings(fresh_env))
    holder = psycopg.connect(status.url)
    holder.execute("SELECT 1")  # BEGIN; SELECT 1 -- then idle in the transaction
    assert waited_for_session(status.url) < 4  # was the 120 s queue timeout
    with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):  # FATAL 25P03
        holder.execute("SELECT 1")
    holder.close()
    # Without anyone waiting too: an open transaction is never held idle for long.
    lonely = psycopg.connect(status.url)
    lonely.execute("SELECT 1")
    time.sleep(2)
    with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
        lonely.execute("SELECT 1")
    lonely.close()


def test_idle_holder_is_terminated_only_when_others_wait(
    fresh_env: dict[str, str], short_holds: None
) -> None:
    status, _ = engine.start(load_settings(fresh_env))
    with psycopg.connect(status.url, autocommit=True) as holder:
        holder.execute("SELECT 1")
        time.sleep(1.5)  # idle past the limit, but nobody waits: kept
        assert holder.execute("SELECT 2").fetchone() == (2,)
        assert waited_for_session(status.url) < 4  # someone waits: the idle holder goes
        with pytest.raises(psycopg.errors.IdleSessionTimeout, match="other clients wait"):
            holder.execute("SELECT 1")


def test_suspended_client_does_not_freeze_the_engine(
    fresh_env: dict[str, str], short_holds: None
) -> None:
    status, _ = engine.start(load_settings(fresh_env))
    script = (
        "import sys, time, psycopg\n"
        "conn = psycopg.connect(sys.argv[1])\n"
        "conn.execute('SELECT 1')\n"
        "print('holding', flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, status.url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        os.kill(proc.pid, signal.SIGSTOP)  # Ctrl-Z: the socket stops reading and writing
        assert waited_for_session(status.url) < 4
        # A raw socket that never even sends its startup message is bounded as well.
        with socket.create_connection(("127.0.0.1", status.port)):
            time.sleep(0.2)
            assert waited_for_session(status.url) < 4
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_large_parameter_round_trips_quickly(fresh_env: dict[str, str]) -> None:
    # Receive buffering used to be quadratic: 20 MB took 1.5 s, 32 MB 5.8 s, 64 MB 20 s
    # (now 0.2, 0.3 and 0.6 s).
    status, _ = engine.start(load_settings(fresh_env))
    big = "x" * (32 * 1024 * 1024)
    with psycopg.connect(status.url) as conn:
        started = time.monotonic()
        row = conn.execute("SELECT length(%s::text)", (big,)).fetchone()
        elapsed = time.monotonic() - started
    assert row == (len(big),)
    assert elapsed < 2, f"a 32 MB parameter took {elapsed:.1f} s"


def test_disconnect_after_rollback_to_savepoint_keeps_the_engine(
    fresh_env: dict[str, str],
) -> None:
    status, _ = engine.start(load_settings(fresh_env))
    conn = psycopg.connect(status.url)
    conn.execute("CREATE TABLE uncommitted (x int)")  # inside the BEGIN psycopg sent
    conn.execute("SAVEPOINT s")
    with pytest.raises(psycopg.errors.DivisionByZero):
        conn.execute("SELECT 1 / 0")
    conn.execute("ROLLBACK TO SAVEPOINT s")  # its command tag is ROLLBACK, yet still in BEGIN
    with socket.socket(fileno=os.dup(conn.fileno())) as raw:
        raw.shutdown(socket.SHUT_RDWR)  # abrupt: no Terminate message
    conn.close()
    with psycopg.connect(status.url, connect_timeout=30) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.execute("SELECT to_regclass('uncommitted')").fetchone() == (None,)
    assert pid_alive(status.pid)


def test_queue_timeout_is_range_checked(fresh_env: dict[str, str]) -> None:
    # Node clamps setTimeout delays above 2^31-1 ms to 1 ms: refuse them up front.
    for bad in ("0", "86401", "3000000"):
        with pytest.raises(ConfigError, match=r"GRID_DB_QUEUE_TIMEOUT: .*\(1-86400\)"):
            load_settings({**fresh_env, "GRID_DB_QUEUE_TIMEOUT": bad})
    day = load_settings({**fresh_env, "GRID_DB_QUEUE_TIMEOUT": "86400"})
    assert day.db_queue_timeout_s == 86400
    settings = load_settings(fresh_env)
    result = subprocess.run(
        [str(engine.node_binary()), str(engine.ENGINE_DIR / "server.mjs"),
         "--data-dir", str(settings.pgdata_dir), "--state-file", str(settings.run_dir / "x.json"),
         "--queue-timeout-ms", "3000000000"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "--queue-timeout-ms" in result.stderr and "2147483647" in result.stderr


WAL_SINCE_CHECKPOINT = (
    "SELECT (pg_current_wal_insert_lsn() - redo_lsn)::float8 FROM pg_control_checkpoint()"
)


def test_wal_is_checkpointed_between_clients(
    fresh_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # PGlite never checkpoints by itself: pg_wal grew to 1.6 GB after `generate` (16 GB
    # after a 10x load) and a crash would replay all of it. Now the server checkpoints
    # between clients once CHECKPOINT_WAL_MB of WAL was written since the last one.
    monkeypatch.setattr(engine, "CHECKPOINT_WAL_MB", 1)
    status, _ = engine.start(load_settings(fresh_env))
    with psycopg.connect(status.url) as conn:
        conn.execute(
            "CREATE TABLE wal_filler AS SELECT g, md5(g::text) FROM generate_series(1, 50000) g"
        )
        written = conn.execute(WAL_SINCE_CHECKPOINT).fetchone()
    assert written is not None and written[0] > 2**20
    with psycopg.connect(status.url) as conn:  # the session was handed on via a CHECKPOINT
        left = conn.execute(WAL_SINCE_CHECKPOINT).fetchone()
        assert conn.execute("SELECT count(*) FROM wal_filler").fetchone() == (50000,)
    assert left is not None and left[0] < 2**20


def test_wal_is_checkpointed_after_the_interval_when_little_was_written(
    fresh_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Live ingestion writes a trickle (a day of 500 meters: about 60 MB of WAL), so the
    # size trigger never fired and a crash replayed the whole day (restart 6.1 s). The
    # time trigger checkpoints once CHECKPOINT_INTERVAL_S passed and anything was written.
    monkeypatch.setattr(engine, "CHECKPOINT_WAL_MB", 0)
    monkeypatch.setattr(engine, "CHECKPOINT_INTERVAL_S", 2)
    status, _ = engine.start(load_settings(fresh_env))
    with psycopg.connect(status.url) as conn:
        conn.execute("CREATE TABLE trickle AS SELECT g FROM generate_series(1, 2000) g")
        written = conn.execute(WAL_SINCE_CHECKPOINT).fetchone()
    assert written is not None and written[0] > 8192
    time.sleep(2.5)
    with psycopg.connect(status.url):
        pass  # handed back after the interval: checkpointed before the next client
    with psycopg.connect(status.url) as conn:
        left = conn.execute(WAL_SINCE_CHECKPOINT).fetchone()
        assert conn.execute("SELECT count(*) FROM trickle").fetchone() == (2000,)
    assert left is not None and left[0] < written[0]
    log = load_settings(fresh_env).log_dir / "db.log"
    assert "checkpoint (time)" in log.read_text()
