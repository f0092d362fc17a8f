"""`grid-pipeline up` (what `make run` does): everything answers, Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from grid_pipeline.config import load_settings
from grid_pipeline.embedded import broker, engine
from grid_pipeline.embedded.process import free_port

pytestmark = pytest.mark.integration


def test_up_serves_dagster_and_dashboard_then_stops_on_ctrl_c(fresh_env: dict[str, str]) -> None:
    env = {
        **fresh_env,
        "GRID_DAGSTER_PORT": str(free_port()),
        "GRID_DASHBOARD_PORT": str(free_port()),
        "GRID_METERS": "2",  # the background seed pipeline of an empty database stays small
        "GRID_DAYS": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "grid_pipeline.cli", "up"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("ready"):
            break
    try:
        assert any(line.startswith("ready") for line in lines), "".join(lines)
        dagster_url = f"http://127.0.0.1:{env['GRID_DAGSTER_PORT']}"
        assert any(dagster_url in line for line in lines)
        with urllib.request.urlopen(f"{dagster_url}/server_info", timeout=10) as response:
            assert b"dagster_version" in response.read()
        settings = load_settings(env)
        assert engine.status(settings) is not None and broker.status(settings) is not None
    finally:
        # Ctrl-C twice, as an impatient user does: the second must not abandon the stop.
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)
    settings = load_settings(env)
    assert engine.status(settings) is None
    assert broker.status(settings) is None
    assert not [pid for pid in _pids_in_data_dir(env["GRID_DATA_DIR"])], "orphans left"


def _pids_in_data_dir(data_dir: str) -> list[int]:
    """Live processes whose command line or environment names the data dir (none may survive)."""
    from pathlib import Path

    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and f"GRID_DATA_DIR={data_dir}".encode() in environ:
            found.append(int(entry.name))
    return found


def test_materialize_without_a_running_stack_is_one_line(fresh_env: dict[str, str]) -> None:
    env = {**fresh_env, "GRID_DAGSTER_PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, "-m", "grid_pipeline.cli", "materialize"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "start the stack first (`grid-pipeline up` or `make run`)" in result.stderr
