"""Test support for runs through a real `dagster dev`: faster daemon ticks, whole-group stops.

Dagster's backfill daemon sleeps a hard-coded 30 s between iterations (Dagster
1.13, `dagster._daemon.controller.DEFAULT_DAEMON_INTERVAL_SECONDS`; no config or
env var changes it), and an asset backfill advances one dependency level per
iteration. To keep the suite short, `fast_daemon_env()` puts a `sitecustomize` on
the test processes' PYTHONPATH that sets that one constant to a few seconds when
the daemon imports it; nothing else changes, and the product never uses it.
GRID_DAGSTER_REAL_INTERVALS=1 runs the tests with the stock 30 s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from grid_pipeline.embedded.process import pid_alive

REAL_INTERVALS = os.environ.get("GRID_DAGSTER_REAL_INTERVALS") == "1"
TEST_DAEMON_INTERVAL_S = 2

# Installed into every process of the `dagster dev` group; only the daemon imports
# dagster._daemon.controller's interval for its loops.
SITECUSTOMIZE = '''\
"""Test-only (test_dagster_api): shorten Dagster's hard-coded 30 s daemon interval."""
import importlib.abc
import importlib.machinery
import os
import sys

_INTERVAL = int(os.environ["GRID_TEST_DAEMON_INTERVAL_S"])
_TARGET = "dagster._daemon.controller"


class _Loader(importlib.abc.Loader):
    def __init__(self, inner):
        self._inner = inner

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        module.DEFAULT_DAEMON_INTERVAL_SECONDS = _INTERVAL


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != _TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


sys.meta_path.insert(0, _Finder())
'''


def fast_daemon_env(hooks: Path) -> dict[str, str]:
    """Variables that make every Python process started with them tick the daemon fast.

    Returns PYTHONPATH (the hook directory first, then any existing PYTHONPATH) and
    the interval; empty when GRID_DAGSTER_REAL_INTERVALS=1.
    """
    if REAL_INTERVALS:
        return {}
    hooks.mkdir(parents=True, exist_ok=True)
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    paths = [str(hooks)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    return {
        "PYTHONPATH": os.pathsep.join(paths),
        "GRID_TEST_DAEMON_INTERVAL_S": str(TEST_DAEMON_INTERVAL_S),
    }


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM `dagster dev` (it shuts its children down), then SIGKILL whatever is left."""
    pgid = process.pid
    if process.poll() is None:
        os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    # Run workers, code servers and their helpers share the group: none may survive.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and group_members(pgid):
        time.sleep(0.2)
    assert not group_members(pgid), f"processes left in group {pgid}: {group_members(pgid)}"


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z" and pid_alive(int(entry.name)):
            members.append(int(entry.name))
    return members
