"""GRID_LOCAL_PASSWORD: the embedded engine then refuses clients without it.

Real engine, started per test in its own data dir. Without the setting the
engine trusts every client on 127.0.0.1 (any password), as before; with it,
clients prove the password by SCRAM-SHA-256 and a wrong one gets PostgreSQL's
FATAL 28P01, while the project's own URL (every CLI, Dagster and dashboard
client uses it) carries the password and works.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import psycopg
import pytest

from grid_pipeline.config import load_settings
from grid_pipeline.db.connection import resolve_database
from grid_pipeline.embedded import engine

pytestmark = pytest.mark.integration

SECRET = "correct-horse-42"


def _with_password(url: str, password: str) -> str:
    return url.replace(f":{SECRET}@", f":{password}@")


def _startup_only(port: int) -> socket.socket:
    """A client that sends its StartupMessage and then nothing (never authenticates)."""
    params = b"user\0postgres\0database\0postgres\0\0"
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
    return sock


def test_password_required_when_set(fresh_env: dict[str, str]) -> None:
    settings = load_settings({**fresh_env, "GRID_LOCAL_PASSWORD": SECRET})
    status, _ = engine.start(settings)
    assert SECRET in status.url and SECRET not in repr(status)

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(_with_password(status.url, "wrong-password"), connect_timeout=10)
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(status.url.replace(f":{SECRET}@", "@"), connect_timeout=10)

    with psycopg.connect(resolve_database(settings).url, connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)

    # A client stuck before authenticating holds nothing: the next one is served.
    with _startup_only(status.port), psycopg.connect(status.url, connect_timeout=10) as conn:
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_password_never_on_command_line_nor_left_on_disk(fresh_env: dict[str, str]) -> None:
    settings = load_settings({**fresh_env, "GRID_LOCAL_PASSWORD": SECRET})
    status, _ = engine.start(settings)
    assert SECRET.encode() not in Path(f"/proc/{status.pid}/cmdline").read_bytes()
    assert not list(settings.run_dir.glob("*.password"))


def test_any_password_works_when_unset(fresh_env: dict[str, str]) -> None:
    settings = load_settings(fresh_env)
    status, _ = engine.start(settings)
    assert settings.local_password is None
    any_password = status.url.replace(f":{engine.PASSWORD}@", ":anything-at-all@")
    with psycopg.connect(any_password, connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
