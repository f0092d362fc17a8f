"""`grid-pipeline up`: the whole local stack in the foreground.

Starts (or reuses) the embedded TimescaleDB and MQTT broker, then `dagster dev`
and the Streamlit dashboard as child processes, prints where to look, and on
Ctrl-C stops everything it started (services that were already running before
are left running).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from grid_pipeline.config import Settings
from grid_pipeline.db.migrate import ready_database
from grid_pipeline.embedded import broker, engine

REPO_ROOT = Path(__file__).resolve().parents[1]

DAGSTER_YAML = """\
# Written by grid-pipeline up: local instance in GRID_DATA_DIR (SQLite storage).
telemetry:
  enabled: false
run_queue:
  # The embedded engine serves one session at a time; runs queue for it anyway,
  # so a few concurrent runs are enough.
  max_concurrent_runs: 4
"""


def prepare_dagster_home(settings: Settings) -> Path:
    """Create the project-local DAGSTER_HOME with its dagster.yaml (kept if edited)."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home


def child_environment(settings: Settings) -> dict[str, str]:
    """The environment for child processes: same data dir (absolute) and DAGSTER_HOME."""
    env = dict(os.environ)
    env["GRID_DATA_DIR"] = str(settings.data_dir)
    env["DAGSTER_HOME"] = str(prepare_dagster_home(settings))
    return env


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (local http URL)
            return bool(response.status < 500)
    except OSError:
        return False


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)


def run_stack(settings: Settings) -> int:
    """Run everything until Ctrl-C or until a child process dies; returns the exit code."""
    db_was_running = engine.status(settings) is not None
    broker_was_running = broker.status(settings) is not None
    database = ready_database(settings)
    mqtt_url = broker.ensure_running(settings)
    env = child_environment(settings)
    dagster_url = f"http://127.0.0.1:{settings.dagster_port}"
    dashboard_url = f"http://127.0.0.1:{settings.dashboard_port}"
    log_dir = settings.log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    commands = {
        "dagster": [sys.executable, "-m", "dagster", "dev",
                    "-w", str(REPO_ROOT / "workspace.yaml"),
                    "-h", "127.0.0.1", "-p", str(settings.dagster_port)],
        "dashboard": [sys.executable, "-m", "streamlit", "run",
                      str(REPO_ROOT / "dashboard" / "app.py"),
                      "--server.port", str(settings.dashboard_port),
                      "--server.address", "127.0.0.1",
                      "--server.headless", "true", "--browser.gatherUsageStats", "false"],
    }  # fmt: skip
    children: list[subprocess.Popen[bytes]] = []
    try:
        for name, command in commands.items():
            with (log_dir / f"{name}.log").open("ab") as log:
                children.append(
                    subprocess.Popen(
                        command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )  # fmt: skip
        print(f"database   {database.url}" + (" (embedded)" if database.embedded else ""))
        print(f"mqtt       {mqtt_url}")
        print(f"logs       {log_dir}")
        print("waiting for the Dagster UI and the dashboard to answer ...", flush=True)
        pending = {"Dagster UI": dagster_url, "dashboard": dashboard_url}
        while True:
            for label, url in list(pending.items()):
                if _answers(url):
                    print(f"{label:<10} {url}", flush=True)
                    del pending[label]
                    if not pending:
                        print("ready; Ctrl-C stops everything", flush=True)
            for name, child in zip(commands, children, strict=True):
                if child.poll() is not None:
                    print(f"{name} exited with code {child.returncode}; see {log_dir / name}.log",
                          file=sys.stderr)  # fmt: skip
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        return 0
    finally:
        _stop_children(children)
        if not broker_was_running:
            broker.stop(settings)
        if not db_was_running and database.embedded:
            engine.stop(settings)
