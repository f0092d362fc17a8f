"""`grid-pipeline up`: the whole local stack in the foreground.

Starts (or reuses) the embedded TimescaleDB and MQTT broker, migrates, fixes the
historic window, then runs `dagster dev` (webserver and daemon; schedules and
the ingestion sensor on), the Streamlit dashboard, the meter simulator and the
live grid-event watcher (`events watch`) as child processes. On an empty
database it submits the seed pipeline to the running Dagster instance as one
backfill (visible under Backfills). It prints where to look; Ctrl-C (or SIGTERM)
stops everything it started, and a second Ctrl-C during shutdown does not
abandon it.

`up --once` starts the same services without the dashboard, simulator and watcher,
submits the backfill, waits for it and exits non-zero when a run or a blocking
check failed; it leaves nothing running that it started.

While `up` runs it watches the engine and the broker every few seconds and
restarts one that died (or stopped answering), saying so in one line. Only one
`up` runs per data dir: a second is refused at once (a lock held for up's
lifetime, released by the kernel however up ends).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from grid_pipeline.app.dataset import history_window
from grid_pipeline.app.history import history_is_built
from grid_pipeline.app.services import start_broker, start_database
from grid_pipeline.config import Settings
from grid_pipeline.embedded import broker, engine
from grid_pipeline.embedded.process import ServiceError, port_accepts
from grid_pipeline.orchestration import dagster_api
from grid_pipeline.orchestration.bootstrap import await_bootstrap, submit_bootstrap
from grid_pipeline.orchestration.instance_config import TIMESCALEDB_POOL, write_dagster_yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAP_TIMEOUT_S = 3 * 3600
HEALTH_CHECK_S = 3.0  # how often `up` checks that the engine and the broker are alive
UNANSWERED_CHECKS = 3  # a live process whose port refuses this many checks in a row is dead


def prepare_dagster_home(settings: Settings) -> Path:
    """The project-local DAGSTER_HOME with its dagster.yaml (pool, run queue, storage)."""
    write_dagster_yaml(settings.dagster_home)
    return settings.dagster_home


def child_environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment for child processes: same data dir (absolute) and DAGSTER_HOME."""
    env = dict(os.environ)
    env["GRID_DATA_DIR"] = str(settings.data_dir)
    env["DAGSTER_HOME"] = str(prepare_dagster_home(settings))
    env.update(extra)
    return env


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (local http URL)
            return bool(response.status < 500)
    except OSError:
        return False


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each child's process group, then SIGKILL what is left after 20 s."""
    for child in children:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        # The group may outlive its leader (run workers of dagster dev): kill what remains.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM both stop the stack cleanly. SIGINT is set explicitly: a
    process started in the background by a non-interactive shell inherits it ignored."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def _shield_shutdown() -> None:
    """From here on Ctrl-C and SIGTERM only say that shutdown is under way: an
    interrupted shutdown would leave the engine and broker running with no owner."""

    def still_stopping(signum: int, frame: FrameType | None) -> None:
        print("still stopping: Dagster, dashboard, then the engine and broker ...",
              file=sys.stderr, flush=True)  # fmt: skip

    signal.signal(signal.SIGINT, still_stopping)
    signal.signal(signal.SIGTERM, still_stopping)


@contextlib.contextmanager
def single_up(settings: Settings) -> Iterator[None]:
    """Hold GRID_DATA_DIR/run/up.lock for the block, or refuse at once (one line naming the
    holder): two `up` on one data dir would stop each other's engine and broker. The kernel
    releases the lock when its holder dies, so a crashed `up` never blocks the next one."""
    path = settings.run_dir / "up.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServiceError(
                f"another `grid-pipeline up` (pid {_lock_holder(fd)}) is running for "
                f"{settings.data_dir}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _lock_holder(fd: int) -> str:
    """The pid the holder wrote into the lock file (it may be a moment late writing it)."""
    deadline = time.monotonic() + 1.0
    while True:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if text.isdigit() or time.monotonic() > deadline:
            return text or "unknown"
        time.sleep(0.05)


@contextlib.contextmanager
def services(settings: Settings) -> Iterator[tuple[str, str]]:
    """Engine and broker up (and the schema migrated) for the block; on exit, stop what
    this started, whatever interrupts the block. Yields (database URL, MQTT URL)."""
    db_was_running = engine.status(settings) is not None
    broker_was_running = broker.status(settings) is not None
    try:
        database = start_database(settings)
        history_window(settings)  # fixed once, before any Dagster process reads it
        yield database.url + (" (embedded)" if database.embedded else ""), start_broker(settings)
    finally:
        _shield_shutdown()
        if not broker_was_running:
            broker.stop(settings)
        if not db_was_running and settings.embedded_db:
            engine.stop(settings)


def _spawn(
    name: str, command: list[str], env: dict[str, str], log_dir: Path
) -> subprocess.Popen[bytes]:
    with (log_dir / f"{name}.log").open("ab") as log:
        return subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def _dagster_dev(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "dagster", "dev", "-w", str(REPO_ROOT / "workspace.yaml"),
            "-h", "127.0.0.1", "-p", str(settings.dagster_port)]  # fmt: skip


def _redacted(url: str, settings: Settings) -> str:
    """`url` with a real secret replaced by *** (the console and logs never show one).

    Secrets are GRID_LOCAL_PASSWORD and whatever a configured URL carries; the
    embedded engine's fixed local password is shown, so the line can be pasted into psql.
    """
    parts = urllib.parse.urlsplit(url)
    configured = url in (settings.database_url, settings.mqtt_url)
    if parts.password is None or not (settings.local_password or configured):
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _addresses(database_url: str, mqtt_url: str, settings: Settings) -> str:
    return (
        f"database   {_redacted(database_url, settings)}\n"
        f"mqtt       {_redacted(mqtt_url, settings)}"
    )


def _say(text: str) -> None:
    print(text, flush=True)


def _instance_ready(dagster_url: str) -> None:
    """The code location is loaded; the engine's pool is pinned to one run at a time."""
    dagster_api.wait_until_ready(dagster_url, timeout_s=180)
    dagster_api.set_pool_limit(dagster_url, TIMESCALEDB_POOL, 1)


def run_once(settings: Settings) -> int:
    """`up --once`: services up, the seed backfill submitted through Dagster and awaited."""
    _stop_on_signals()
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    dagster_url = f"http://127.0.0.1:{settings.dagster_port}"
    children: list[subprocess.Popen[bytes]] = []
    try:
        with single_up(settings), services(settings) as (database_url, mqtt_url):
            _say(_addresses(database_url, mqtt_url, settings))
            # No live ingestion here: this run builds the data set and exits.
            env = child_environment(settings, GRID_INGEST_SENSOR="off")
            children.append(_spawn("dagster", _dagster_dev(settings), env, settings.log_dir))
            try:
                _instance_ready(dagster_url)
                backfill_id = submit_bootstrap(dagster_url)
                _say(f"backfill {backfill_id} submitted: {dagster_url}/runs/b/{backfill_id}")
                outcome = await_bootstrap(
                    dagster_url, backfill_id, progress=_say, timeout_s=BOOTSTRAP_TIMEOUT_S
                )
                dagster_api.wait_for_idle(dagster_url, timeout_s=600)
            finally:
                _shield_shutdown()
                _stop_children(children)
    except KeyboardInterrupt:
        print("\ninterrupted; stopped what this started", file=sys.stderr)
        return 130
    _say(outcome.summary())
    return 0 if outcome.ok else 1


def materialize(settings: Settings) -> int:
    """`grid-pipeline materialize`: the seed backfill submitted to the running `up`, awaited."""
    dagster_url = f"http://127.0.0.1:{settings.dagster_port}"
    try:
        dagster_api.wait_until_ready(dagster_url, timeout_s=10)
    except dagster_api.DagsterApiError as exc:
        raise dagster_api.DagsterApiError(
            f"{exc}; start the stack first (`grid-pipeline up` or `make run`)"
        ) from None
    backfill_id = submit_bootstrap(dagster_url)
    _say(f"backfill {backfill_id} submitted: {dagster_url}/runs/b/{backfill_id}")
    outcome = await_bootstrap(
        dagster_url, backfill_id, progress=_say, timeout_s=BOOTSTRAP_TIMEOUT_S
    )
    _say(outcome.summary())
    return 0 if outcome.ok else 1


def run_stack(settings: Settings) -> int:
    """Run everything until Ctrl-C or until a child process dies; returns the exit code."""
    _stop_on_signals()
    log_dir = settings.log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    commands = {
        "dagster": _dagster_dev(settings),
        "dashboard": [sys.executable, "-m", "streamlit", "run",
                      str(REPO_ROOT / "dashboard" / "app.py"),
                      "--server.port", str(settings.dashboard_port),
                      "--server.address", "127.0.0.1",
                      "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        # The live fleet, in real time; the Dagster ingestion sensor consumes it.
        "simulator": [sys.executable, "-m", "grid_pipeline.cli", "simulate", "--load-fleet",
                      "--quiet"],
        # Grid events within seconds of the reading that shows them (the Dagster asset
        # live_grid_events runs the same pass once a minute, for its freshness policy).
        "watcher": [sys.executable, "-m", "grid_pipeline.cli", "events", "watch", "--every",
                    "10"],
    }  # fmt: skip
    children: list[subprocess.Popen[bytes]] = []
    try:
        with single_up(settings), services(settings) as (database_url, mqtt_url):
            try:
                return _supervise(settings, commands, children, database_url, mqtt_url)
            finally:
                _shield_shutdown()
                _stop_children(children)
    except KeyboardInterrupt:
        return 0


@dataclass
class _Watched:
    """One service `up` keeps alive: how to see it, start it and stop it."""

    label: str
    host: str
    status: Callable[[], tuple[int, int] | None]  # (pid, port) of the running one
    start: Callable[[], int]  # starts it, returns the new pid
    stop: Callable[[], object]
    unanswered: int = 0


def _watched_services(settings: Settings) -> list[_Watched]:
    def engine_status() -> tuple[int, int] | None:
        state = engine.status(settings)
        return (state.pid, state.port) if state else None

    def broker_status() -> tuple[int, int] | None:
        state = broker.status(settings)
        return (state.pid, state.port) if state else None

    watched = []
    if settings.embedded_db:
        watched.append(_Watched(
            "embedded TimescaleDB", engine.HOST, engine_status,
            lambda: engine.start(settings)[0].pid, lambda: engine.stop(settings, timeout=10),
        ))  # fmt: skip
    if settings.embedded_broker:
        watched.append(_Watched(
            "embedded MQTT broker", broker.HOST, broker_status,
            lambda: broker.start(settings)[0].pid, lambda: broker.stop(settings),
        ))  # fmt: skip
    return watched


def _revive(watched: list[_Watched], last_pids: dict[str, int]) -> None:
    """Restart each watched service that died (or stopped answering); one line each.

    Raises ServiceError when one cannot be started again."""
    for service in watched:
        current = service.status()  # a dead or zombie process reads as None
        if current is not None:
            pid, port = current
            last_pids[service.label] = pid
            if port_accepts(service.host, port):
                service.unanswered = 0
                continue
            service.unanswered += 1
            if service.unanswered < UNANSWERED_CHECKS:
                continue
            what = f"stopped answering on port {port} (pid {pid})"
            service.stop()
        else:
            pid_text = last_pids.get(service.label)
            what = f"died (pid {pid_text})" if pid_text else "is not running"
        service.unanswered = 0
        began = time.monotonic()
        try:
            new_pid = service.start()
        except ServiceError as exc:
            raise ServiceError(f"{service.label} {what}; restarting it failed: {exc}") from None
        last_pids[service.label] = new_pid
        _say(f"{service.label} {what}; restarted in {time.monotonic() - began:.1f} s "
             f"(pid {new_pid})")  # fmt: skip


def _supervise(
    settings: Settings,
    commands: dict[str, list[str]],
    children: list[subprocess.Popen[bytes]],
    database_url: str,
    mqtt_url: str,
) -> int:
    """Start the children, say where to look, submit the bootstrap when due, watch them."""
    bootstrap_due = not history_is_built(settings)  # before the simulator writes anything
    env = child_environment(settings)
    for name, command in commands.items():
        children.append(_spawn(name, command, env, settings.log_dir))
    dagster_url = f"http://127.0.0.1:{settings.dagster_port}"
    _say(f"{_addresses(database_url, mqtt_url, settings)}\nlogs       {settings.log_dir}")
    _say("waiting for the Dagster UI and the dashboard to answer ...")
    pending = {"Dagster UI": dagster_url,
               "dashboard": f"http://127.0.0.1:{settings.dashboard_port}"}  # fmt: skip
    backfill: str | None = None
    pinned = False
    watched = _watched_services(settings)
    last_pids: dict[str, int] = {}
    next_check = time.monotonic()
    try:
        while True:
            if time.monotonic() >= next_check:
                try:
                    _revive(watched, last_pids)
                except ServiceError as exc:
                    print(f"grid-pipeline: error: {exc}", file=sys.stderr, flush=True)
                    return 1
                next_check = time.monotonic() + HEALTH_CHECK_S
            for label, url in list(pending.items()):
                if _answers(url):
                    _say(f"{label:<10} {url}")
                    del pending[label]
                    if not pending:
                        _say("ready; Ctrl-C stops everything")
            if not pinned and "Dagster UI" not in pending:
                _instance_ready(dagster_url)
                pinned = True
            if bootstrap_due and pinned:
                backfill = submit_bootstrap(dagster_url)
                bootstrap_due = False
                _say(f"historic data set incomplete: seed backfill {backfill} submitted "
                     f"({dagster_url}/runs/b/{backfill})")  # fmt: skip
            if backfill is not None:
                state = dagster_api.backfill_status(dagster_url, backfill)
                if state.done:
                    _say(f"seed backfill {state.status.lower()}: {dagster_url}/runs/b/{backfill}")
                    backfill = None
            for name, child in zip(commands, children, strict=False):
                if child.poll() is not None:
                    print(f"{name} exited with code {child.returncode}; see "
                          f"{settings.log_dir / name}.log", file=sys.stderr)  # fmt: skip
                    return 1
            time.sleep(1.0)
    except KeyboardInterrupt:
        _say("\nstopping ...")
        return 0
