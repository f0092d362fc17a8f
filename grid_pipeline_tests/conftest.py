"""Shared fixtures: a private data dir, free ports, and the real embedded engine.

The whole session shares one embedded TimescaleDB in a temporary GRID_DATA_DIR
(starting one costs ~2.5 s); tests that need a fresh engine start their own in
their own directory. Nothing here mocks the database or the broker.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from psycopg import sql

from grid_pipeline.app.services import start_database
from grid_pipeline.config import Settings, load_settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.embedded import broker, engine
from grid_pipeline.embedded.process import free_port
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.historic import (
    days_in,
    default_window,
    load_history,
    read_fleet,
    replace_fleet,
)
from grid_pipeline.storage.hypertables import ensure_variant, fill_variant_window


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    """A process environment pointing the project at `data_dir` with free ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRID_")}
    env.update(
        GRID_DATA_DIR=str(data_dir),
        GRID_DB_PORT=str(free_port()),
        GRID_MQTT_PORT=str(free_port()),
    )
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def session_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """GRID_* variables of the session's engine, also exported to os.environ."""
    env = env_for(tmp_path_factory.mktemp("grid"))
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    yield env
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def settings(session_env: dict[str, str]) -> Settings:
    return load_settings(session_env)


@pytest.fixture(scope="module")
def amqtt_url(settings: Settings) -> Iterator[str]:
    """The session's embedded MQTT broker, started for one test module and stopped after."""
    broker.start(settings)
    yield settings.broker_url
    broker.stop(settings)


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Database]:
    """The session's embedded TimescaleDB, started and migrated; stopped at the end."""
    db = start_database(settings)
    yield db
    engine.stop(settings)


def load_dataset(
    db: Database, settings: Settings, *, meters: int, days: int, seed: int = 7
) -> tuple[datetime, datetime]:
    """Empty every variant, then load `meters` x `days` ending now into all of them."""
    interval = timedelta(minutes=5)
    with connect(db) as conn:
        for variant in settings.chunk_variants:
            ensure_variant(conn, variant)
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(variant.table)))
        conn.execute("TRUNCATE ingest_rejects")
    replace_fleet(db, build_fleet(meters, seed))
    with connect(db) as conn:
        fleet = read_fleet(conn)
    window = default_window(days, interval)
    load_history(db, fleet, window, interval=interval, seed=seed, timezone="UTC")
    with connect(db) as conn:
        for variant in settings.chunk_variants[1:]:
            for part in days_in(window):
                fill_variant_window(conn, variant, *part)
    return window


@pytest.fixture
def fresh_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings for a private, not yet started engine; stopped and removed afterwards."""
    env = env_for(tmp_path / "grid")
    yield env
    engine.stop(load_settings(env))
    shutil.rmtree(tmp_path / "grid", ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say in one line when the real-browser test could not run, and how to make it run.

    A skip in the middle of 300 dots is easy to miss; what the dashboard looks like
    in a browser is exactly what a user sees, so its absence is named at the end.
    """
    for report in terminalreporter.stats.get("skipped", []):
        if "test_dashboard_browser" in getattr(report, "nodeid", ""):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else "skipped"
            reason = reason.removeprefix("Skipped: ")
            terminalreporter.write_line(
                f"NOTE: the real-browser dashboard test did not run ({reason}); "
                "install Debian's Chromium with `sudo apt-get install chromium` "
                "(CI's .ci/run installs it)",
                yellow=True,
                bold=True,
            )
            return
