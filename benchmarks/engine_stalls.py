"""How long can one client stall everyone else on the embedded engine's single session?

The embedded TimescaleDB serves one client at a time, so every way a client can hold
the session is a way to stall the dashboard, Dagster runs and ingestion. For each
kind of holder, a second client asks for `SELECT 1` and we time how long it waits,
against the ceiling the design promises: the longest single statement running at
that moment plus 1 s (the idle-session limit is 2 s while others wait, the
idle-in-transaction limit 10 s). Medians and maxima over a few repeats, one run, on a
private engine in a temporary data dir (default hold limits, nothing shortened).

    .venv/bin/python benchmarks/engine_stalls.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grid_pipeline.config import load_settings
from grid_pipeline.embedded import engine
from grid_pipeline.embedded.process import free_port

LONG_STATEMENT = "SELECT count(*) FROM generate_series(1, 3000000)"


def waited(url: str) -> float:
    """Seconds a new client waits until its `SELECT 1` answers."""
    started = time.monotonic()
    with psycopg.connect(url, connect_timeout=200) as conn:
        conn.execute("SELECT 1")
    return time.monotonic() - started


def idle_in_transaction(url: str) -> float:
    holder = psycopg.connect(url)
    holder.execute("SELECT 1")  # psycopg opened BEGIN; the holder now sits in it
    try:
        return waited(url)
    finally:
        holder.close()


def idle_session(url: str) -> float:
    holder = psycopg.connect(url, autocommit=True)
    holder.execute("SELECT 1")
    try:
        return waited(url)
    finally:
        holder.close()


def suspended_client(url: str) -> float:
    """A psql-like process that holds the session and is then stopped (Ctrl-Z)."""
    script = (
        "import sys, time, psycopg\n"
        "conn = psycopg.connect(sys.argv[1])\nconn.execute('SELECT 1')\n"
        "print('holding', flush=True)\ntime.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, url], stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        os.kill(proc.pid, signal.SIGSTOP)
        return waited(url)
    finally:
        proc.kill()
        proc.wait(10)


def silent_socket(url: str, port: int) -> float:
    """A TCP client that connects and never sends its startup message."""
    with socket.create_connection(("127.0.0.1", port)):
        time.sleep(0.1)
        return waited(url)


def behind(url: str, holder_work: Callable[[psycopg.Connection[object]], object]) -> float:
    """Wait of a client that arrives while another runs `holder_work` in one statement."""
    started = threading.Event()

    def hold() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            started.set()
            holder_work(conn)

    thread = threading.Thread(target=hold)
    thread.start()
    started.wait(30)
    time.sleep(0.05)
    try:
        return waited(url)
    finally:
        thread.join(300)


def statement_seconds(url: str, statement: str) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.monotonic()
        conn.execute(statement)
        return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grid-stalls-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRID_")}
        env.update(GRID_DATA_DIR=tmp, GRID_DB_PORT=str(free_port()))
        settings = load_settings(env)
        status, _ = engine.start(settings)
        url, port = status.url, status.port
        try:
            long_s = statistics.median(statement_seconds(url, LONG_STATEMENT) for _ in range(3))
            big = "x" * (64 * 1024 * 1024)
            cases: list[tuple[str, Callable[[], float], float]] = [
                ("idle in transaction (BEGIN; SELECT 1)", lambda: idle_in_transaction(url), 0),
                ("idle session, no transaction", lambda: idle_session(url), 0),
                ("suspended client (SIGSTOP)", lambda: suspended_client(url), 0),
                ("silent socket (no startup message)", lambda: silent_socket(url, port), 0),
                ("behind a 64 MB parameter", lambda: behind(
                    url, lambda c: c.execute("SELECT length(%s::text)", (big,))), 0),
                (f"behind the longest statement ({long_s:.2f} s)", lambda: behind(
                    url, lambda c: c.execute(LONG_STATEMENT)), long_s),
            ]  # fmt: skip
            print(f"{'holder':44} {'median s':>9} {'max s':>7} {'ceiling s':>10}")
            for name, case, statement_s in cases:
                waits = [case() for _ in range(args.repeat)]
                ceiling = max(statement_s, 2.0) + 1.0  # idle-session limit while others wait
                print(f"{name:44} {statistics.median(waits):9.2f} {max(waits):7.2f} "
                      f"{ceiling:10.2f}")  # fmt: skip
        finally:
            engine.stop(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
