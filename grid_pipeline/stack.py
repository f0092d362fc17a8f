"""`grid-pipeline up`: the whole local stack in the foreground.

Starts (or reuses) the embedded TimescaleDB and MQTT broker, then `dagster dev`
(schedules and the ingestion sensor on), the Streamlit dashboard and the meter
simulator as child processes; on an empty database it materialises the seed
pipeline in the background. It prints where to look, and on Ctrl-C stops
everything it started (services that were already running are left running).
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


def materialize_with_instance(settings: Settings, benchmark_repeat: int = 3) -> int:
    """Materialise the pipeline with the project's Dagster instance (runs show in the UI)."""
    import dagster as dg

    from grid_pipeline.pipeline import materialize_pipeline

    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(settings))
    with dg.DagsterInstance.get() as instance:
        result = materialize_pipeline(
            settings, instance=instance, benchmark_repeat=benchmark_repeat,
            progress=lambda text: print(text, flush=True),
        )  # fmt: skip
    print(f"pipeline: {result.runs} runs, {len(result.assets)} assets materialised in "
          f"{result.seconds:.0f} s; failed checks: {result.failed_checks or 'none'}")  # fmt: skip
    return 1 if result.failed_checks else 0


def run_once(settings: Settings, benchmark_repeat: int = 3) -> int:
    """`up --once`: services up, the whole pipeline materialised, services back as they were."""
    db_was_running = engine.status(settings) is not None
    broker_was_running = broker.status(settings) is not None
    try:
        ready_database(settings)
        broker.ensure_running(settings)
        return materialize_with_instance(settings, benchmark_repeat)
    finally:
        if not broker_was_running:
            broker.stop(settings)
        if not db_was_running and settings.embedded_db:
            engine.stop(settings)


def _bootstrap_if_empty(settings: Settings, env: dict[str, str]) -> subprocess.Popen[bytes] | None:
    """On an empty database, build the seed data set in the background through Dagster."""
    from grid_pipeline.pipeline import database_is_empty

    if not database_is_empty(settings):
        return None
    print("database is empty: materialising the seed pipeline in the background "
          f"(runs appear in the Dagster UI; log: {settings.log_dir / 'pipeline.log'})")  # fmt: skip
    with (settings.log_dir / "pipeline.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "grid_pipeline.cli", "materialize"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM both stop the stack cleanly. SIGINT is set explicitly: a
    process started in the background by a non-interactive shell inherits it ignored."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def run_stack(settings: Settings) -> int:
    """Run everything until Ctrl-C or until a child process dies; returns the exit code."""
    _stop_on_signals()
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
        # The live fleet, in real time; the Dagster ingestion sensor consumes it.
        "simulator": [sys.executable, "-m", "grid_pipeline.cli", "simulate", "--load-fleet",
                      "--quiet"],
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
        bootstrap = _bootstrap_if_empty(settings, env)
        if bootstrap is not None:
            children.append(bootstrap)
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
            if bootstrap is not None and bootstrap.poll() is not None:
                outcome = "done" if bootstrap.returncode == 0 else "FAILED"
                print(f"seed pipeline {outcome}; see {log_dir / 'pipeline.log'}", flush=True)
                bootstrap = None
            for name, child in zip(commands, children, strict=False):
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
