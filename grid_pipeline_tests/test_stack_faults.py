"""`grid-pipeline up` under faults: a killed engine comes back, a second `up` is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from grid_pipeline.config import load_settings
from grid_pipeline.embedded import broker, engine
from grid_pipeline.embedded.process import (
    ServiceError,
    free_port,
    pid_alive,
    port_accepts,
    spawn,
)
from grid_pipeline.stack import single_up
from grid_pipeline_tests.test_stack import _pids_in_data_dir

pytestmark = pytest.mark.integration


class _Up:
    """`grid-pipeline up` in a subprocess, its output collected line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grid_pipeline.cli", "up"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines if text in line]
            if found:
                return found[0]
            if self.proc.poll() is not None and not any(text in ln for ln in self.lines):
                time.sleep(0.2)  # let the reader drain the pipe
                return next((line for line in self.lines if text in line), None)
            time.sleep(0.1)
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=90)

    def output(self) -> str:
        return "".join(self.lines)


def _up_env(fresh_env: dict[str, str]) -> dict[str, str]:
    return {
        **fresh_env,
        "GRID_DAGSTER_PORT": str(free_port()),
        "GRID_DASHBOARD_PORT": str(free_port()),
        "GRID_METERS": "2",
        "GRID_DAYS": "1",
    }


def _query_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3, prepare_threshold=None) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def _assert_nothing_left(env: dict[str, str]) -> None:
    settings = load_settings(env)
    assert engine.status(settings) is None
    assert broker.status(settings) is None
    assert not _pids_in_data_dir(env["GRID_DATA_DIR"]), "orphans left"


def test_pid_alive_takes_a_zombie_for_dead() -> None:
    # A child of another process that exits and is never reaped: a zombie, not ours.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, time\n"
         "p = subprocess.Popen(['true']); print(p.pid, flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        zombie = int(holder.stdout.readline())
        deadline = time.monotonic() + 5
        while _state(zombie) != "Z" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _state(zombie) == "Z"
        assert not pid_alive(zombie)
    finally:
        holder.kill()
        holder.wait()


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def test_spawned_services_are_not_our_children_and_are_reaped_at_once(tmp_path: Path) -> None:
    pid = spawn(["sleep", "30"], tmp_path / "sleep.log")
    try:
        assert pid_alive(pid)
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # detached: its keeper reaps it, not us
    finally:
        os.kill(pid, signal.SIGKILL)
    # Gone from the process table (not a zombie) within a second, whatever init does.
    deadline = time.monotonic() + 1
    while _state(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _state(pid) is None
    assert not pid_alive(pid)


def test_up_lock_names_its_holder_and_dies_with_it(fresh_env: dict[str, str]) -> None:
    settings = load_settings(fresh_env)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from grid_pipeline.config import load_settings\n"
         "from grid_pipeline.stack import single_up\n"
         "with single_up(load_settings()):\n"
         "    print('held', flush=True); time.sleep(60)"],
        env=fresh_env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ServiceError) as refused, single_up(settings):
            pass
        assert str(refused.value) == (
            f"another `grid-pipeline up` (pid {holder.pid}) is running for {settings.data_dir}"
        )
    finally:
        holder.kill()  # a crashed `up`: the kernel releases its lock
        holder.wait()
    with single_up(settings):
        pass


def test_up_restarts_a_killed_engine_and_broker(fresh_env: dict[str, str]) -> None:
    env = _up_env(fresh_env)
    settings = load_settings(env)
    up = _Up(env)
    try:
        assert up.wait_for("ready", 150), up.output()
        before = engine.status(settings)
        assert before is not None
        killed_at = time.monotonic()
        os.kill(before.pid, signal.SIGKILL)
        line = up.wait_for(f"embedded TimescaleDB died (pid {before.pid}); restarted in", 30)
        assert line is not None, up.output()
        answered = None
        while time.monotonic() - killed_at < 30:
            after = engine.status(settings)
            if after is not None and _query_answers(after.url):
                answered = time.monotonic() - killed_at
                break
            time.sleep(0.2)
        assert answered is not None, up.output()
        print(f"\nquery answers {answered:.1f} s after the kill; up said: {line.strip()}")
        # The broker too (its wrapper killed: the Mosquitto it ran must not keep the port).
        broker_before = broker.status(settings)
        assert broker_before is not None
        os.kill(broker_before.pid, signal.SIGKILL)
        line = up.wait_for(f"embedded MQTT broker died (pid {broker_before.pid}); restarted", 30)
        assert line is not None, up.output()
        broker_after = broker.status(settings)
        assert broker_after is not None and port_accepts(broker.HOST, broker_after.port)
        assert up.proc.poll() is None, up.output()
    finally:
        up.stop()
    _assert_nothing_left(env)


def test_second_up_on_the_same_data_dir_is_refused(fresh_env: dict[str, str]) -> None:
    env = _up_env(fresh_env)
    settings = load_settings(env)
    first = _Up(env)
    try:
        assert first.wait_for("ready", 150), first.output()
        engine_pid = engine.status(settings).pid  # type: ignore[union-attr]
        broker_pid = broker.status(settings).pid  # type: ignore[union-attr]
        started = time.monotonic()
        second = subprocess.run(
            [sys.executable, "-m", "grid_pipeline.cli", "up"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        took = time.monotonic() - started
        assert second.returncode == 1, second.stdout + second.stderr
        assert second.stderr.count("\n") == 1, second.stderr
        assert (
            f"another `grid-pipeline up` (pid {first.proc.pid}) is running for {settings.data_dir}"
        ) in second.stderr
        assert took < 10, f"refused only after {took:.1f} s"
        # The first is untouched.
        assert first.proc.poll() is None, first.output()
        now_engine, now_broker = engine.status(settings), broker.status(settings)
        assert now_engine is not None and now_engine.pid == engine_pid
        assert now_broker is not None and now_broker.pid == broker_pid
        assert _query_answers(now_engine.url)
        dagster_url = f"http://127.0.0.1:{env['GRID_DAGSTER_PORT']}"
        with urllib.request.urlopen(f"{dagster_url}/server_info", timeout=10) as response:
            assert b"dagster_version" in response.read()
    finally:
        first.stop()
    _assert_nothing_left(env)


def test_a_service_that_stops_answering_is_restarted(capsys: pytest.CaptureFixture[str]) -> None:
    from grid_pipeline.stack import UNANSWERED_CHECKS, _revive, _Watched

    calls: list[str] = []
    deaf_port = free_port()  # nothing listens there
    service = _Watched(
        "embedded MQTT broker", "127.0.0.1", lambda: (4242, deaf_port),
        start=lambda: calls.append("start") or 4343, stop=lambda: calls.append("stop"),
    )  # fmt: skip
    pids: dict[str, int] = {}
    for _ in range(UNANSWERED_CHECKS - 1):
        _revive([service], pids)
    assert calls == []  # a moment of silence is not death
    _revive([service], pids)
    assert calls == ["stop", "start"]
    out = capsys.readouterr().out
    assert out.startswith(
        f"embedded MQTT broker stopped answering on port {deaf_port} (pid 4242); restarted in "
    )
    assert out.count("\n") == 1
