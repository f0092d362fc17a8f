"""Background processes the project starts itself (the engine, the broker).

Each one records a JSON state file (pid, host, port) under GRID_DATA_DIR/run so
that every process on the machine (CLI, Dagster run workers, dashboard, tests)
finds the same instance. Starting happens under an exclusive file lock, so two
processes racing to start the same service start only one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ServiceError(RuntimeError):
    """A managed service failed to start, stop or answer; the message is one line (+ log tail)."""


@dataclass(frozen=True)
class ServiceState:
    """What a running service recorded about itself."""

    pid: int
    host: str
    port: int
    extra: Mapping[str, Any]


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists and is not a zombie.

    A zombie (exited, not yet reaped by its parent) is dead: it holds no port and
    does no work. Our own zombie children are reaped here as a side effect.
    """
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return process_state(pid) not in ("Z", "X", None)


def process_state(pid: int) -> str | None:
    """The state letter of /proc/<pid>/stat ('R', 'S', 'Z', ...); None if the process is gone,
    '?' where there is no /proc to ask (then only kill(pid, 0) decides)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None if Path("/proc/self/stat").exists() else "?"
    except OSError:
        return "?"
    # The command name (field 2) is in parentheses and may itself contain ") ".
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[0] if fields else "?"


def read_state(path: Path) -> ServiceState | None:
    """The service's state if its file exists and its process is alive; stale files are removed."""
    try:
        raw = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    state = ServiceState(int(raw["pid"]), str(raw["host"]), int(raw["port"]), raw)
    if not pid_alive(state.pid):
        path.unlink(missing_ok=True)
        return None
    return state


def write_state(path: Path, pid: int, host: str, port: int, **extra: Any) -> None:
    """Atomically record a service's state (used by Python-run services)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": pid, "host": host, "port": port, **extra}))
    tmp.replace(path)


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path` (blocking) for the duration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def port_in_use(host: str, port: int) -> bool:
    """True if something already listens on host:port (checked by trying to bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def port_accepts(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1, never one this process handed out before.

    The kernel may hand the same ephemeral port to two probes in a row once the first
    is closed; a caller that picks ports for the engine, the broker and Dagster before
    any of them binds would then give two services one port (seen in CI).
    """
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages about a crashed service."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log written)"


# Run as an intermediate process that returns at once: it forks a keeper (adopted by
# init) that starts the service, reports its pid, and stays only to reap it. So the
# service is never a child of the caller (a long-running `grid-pipeline up` would keep a
# crashed one as an unreaped zombie that still looks alive and still "owns" its data
# dir), and it is reaped the moment it dies, whatever init does with orphans.
_DETACH = """\
import os, subprocess, sys
if os.fork():
    os._exit(0)
with open(sys.argv[1], "ab") as log:
    try:
        child = subprocess.Popen(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
    except OSError as exc:
        sys.exit(f"cannot run {sys.argv[2]}: {exc}")
print(child.pid, flush=True)
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 1)
os.dup2(null, 2)
child.wait()
os._exit(0)
"""


def spawn(cmd: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None) -> int:
    """Start `cmd` fully detached (own session, not our child), output appended to a log.

    Returns its pid. It outlives the caller, and when it dies its keeper reaps it at
    once: it is never left as a zombie of whoever started it.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    launcher = subprocess.run(
        [sys.executable, "-S", "-c", _DETACH, str(log_path), *cmd],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,
        env=dict(env) if env is not None else None,
        timeout=60,
        check=False,
    )
    if launcher.returncode != 0 or not launcher.stdout.strip().isdigit():
        detail = (launcher.stderr.strip().splitlines() or ["no output"])[-1]
        raise ServiceError(f"could not start {cmd[0]}: {detail}")
    return int(launcher.stdout.strip())


def terminate(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM, wait for a clean exit, SIGKILL past the timeout."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one background service and where it keeps its files."""

    name: str
    command: Sequence[str]
    state_file: Path
    log_file: Path
    host: str
    port: int
    port_hint: str  # how the user picks another port, for the "port in use" error
    start_timeout_s: float

    @property
    def lock_file(self) -> Path:
        return self.state_file.with_suffix(".lock")


def fatal_line(log: Path) -> str | None:
    """The last 'FATAL ...' line a service wrote before exiting, without the prefix."""
    lines = [
        ln[len("FATAL ") :] for ln in log_tail(log, 40).splitlines() if ln.startswith("FATAL ")
    ]
    return lines[-1] if lines else None


def start_service(
    spec: ServiceSpec, ready: Callable[[ServiceState], bool]
) -> tuple[ServiceState, bool]:
    """Start `spec` unless it runs; wait until `ready`; returns (state, started_now).

    Under an exclusive lock, so concurrent callers start one instance. A process
    that dies during start-up is reported with its FATAL line or its log tail.
    """
    with exclusive_lock(spec.lock_file):
        current = read_state(spec.state_file)
        if current is not None:
            return current, False
        if port_in_use(spec.host, spec.port):
            raise ServiceError(
                f"{spec.name}: port {spec.port} on {spec.host} is already in use: {spec.port_hint}"
            )
        pid = spawn(spec.command, spec.log_file)
        deadline = time.monotonic() + spec.start_timeout_s
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                reason = fatal_line(spec.log_file)
                if reason:
                    raise ServiceError(f"{spec.name} failed to start: {reason}")
                raise ServiceError(
                    f"{spec.name} exited during start-up; last lines of {spec.log_file}:\n"
                    + log_tail(spec.log_file)
                )
            current = read_state(spec.state_file)
            if current is not None and current.pid == pid and ready(current):
                return current, True
            time.sleep(0.1)
        terminate(pid)
        raise ServiceError(
            f"{spec.name} did not become ready within {spec.start_timeout_s:.0f} s; log:\n"
            + log_tail(spec.log_file)
        )


def stop_service(spec: ServiceSpec, timeout: float = 30.0) -> bool:
    """SIGTERM the service and wait; False if it was not running."""
    with exclusive_lock(spec.lock_file):
        current = read_state(spec.state_file)
        if current is None:
            return False
        terminate(current.pid, timeout)
        spec.state_file.unlink(missing_ok=True)
        return True
