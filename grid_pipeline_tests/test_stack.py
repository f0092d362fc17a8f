"""`grid-pipeline up` (what `make run` does): everything answers, Ctrl-C stops everything."""

from __future__ import annotations

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
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    settings = load_settings(env)
    assert engine.status(settings) is None
    assert broker.status(settings) is None


def test_up_once_materialises_every_asset_with_checks_passing(fresh_env: dict[str, str]) -> None:
    import re

    from grid_pipeline.definitions import defs

    env = {**fresh_env, "GRID_METERS": "3", "GRID_DAYS": "2"}
    result = subprocess.run(
        [sys.executable, "-m", "grid_pipeline.cli", "up", "--once", "--bench-repeat", "1"],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = re.search(r"(\d+) assets materialised .* failed checks: (.*)", result.stdout)
    assert summary is not None, result.stdout[-2000:]
    graph_assets = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert int(summary.group(1)) == len(graph_assets)
    assert summary.group(2).strip() == "none"
    settings = load_settings(env)
    assert engine.status(settings) is None and broker.status(settings) is None  # left as found
