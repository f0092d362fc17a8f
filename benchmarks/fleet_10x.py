"""Benchmark: the 10x fleet through the whole pipeline, step by step, with memory and disk.

Issue 15 asks for 5,000 meters x 14 days through generation, load, the
chunk-interval variants, compression, the continuous aggregates and the
benchmark, with time and peak memory per step, and for the embedded engine's
disk (WAL) after it. Each step runs in its own Python process, as the product
runs it (the `grid-pipeline` CLI, or the application layer in `grid_pipeline.app`
that the Dagster assets call), so the peak RSS of one step is not hidden by
another's. After each step the table records:

* wall seconds and rows/s (rows the step wrote or read);
* the step process's peak RSS (`ru_maxrss` of that child, from `wait4`);
* the engine's RSS: at the end of the step, the highest seen while sampling
  during it, and its VmHWM (high-water mark since the engine started);
* the data dir's size on disk, split into `pgdata/pg_wal` and the rest.

At the end the engine is killed with SIGKILL and `grid-pipeline db start` is
timed: the restart replays the WAL the engine kept.

Everything uses the environment as the product does, so run it against a
private data dir with its own ports and a fixed end of history, e.g.:

    GRID_DATA_DIR=/tmp/fleet10x GRID_DB_PORT=55990 GRID_MQTT_PORT=11990 \\
    GRID_HISTORY_END=2026-11-30T00:00:00Z \\
    .venv/bin/python benchmarks/fleet_10x.py --meters 5000 --days 14

The engine is left running at the end (for `benchmarks/dashboard_render.py`);
stop it with `grid-pipeline db stop` under the same environment.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from grid_pipeline.config import ConfigError, Settings, load_settings

PER_DAY = 288  # readings per meter per day at the default 5-minute interval
SAMPLE_S = 0.5  # how often the engine's RSS is sampled during a step
MB = 1024 * 1024


@dataclass
class StepResult:
    """One row of the table."""

    name: str
    seconds: float
    rows: int | None
    py_peak_mb: float | None
    engine_end_mb: float | None
    engine_peak_mb: float | None
    engine_hwm_mb: float | None
    wal_mb: float
    rest_mb: float
    exit_code: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def rows_per_s(self) -> str:
        if not self.rows or self.seconds <= 0:
            return "-"
        return f"{self.rows / self.seconds:,.0f}"


def engine_pid(settings: Settings) -> int | None:
    """The engine's pid from its state file, or None when it is not recorded."""
    try:
        raw = json.loads((settings.run_dir / "db.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return int(raw["pid"])


def proc_status_mb(pid: int | None, key: str) -> float | None:
    """A `/proc/<pid>/status` memory field (VmRSS, VmHWM) in MB; None when gone."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def disk_mb(directory: Path) -> tuple[float, float]:
    """(pg_wal, everything else) of the data dir in MB, as `du` counts (allocated blocks)."""
    wal_dir = directory / "pgdata" / "pg_wal"
    wal = rest = 0
    for root, _dirs, files in os.walk(directory):
        in_wal = Path(root) == wal_dir or wal_dir in Path(root).parents
        for name in files:
            try:
                size = os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                continue
            if in_wal:
                wal += size
            else:
                rest += size
    return wal / MB, rest / MB


class EngineSampler:
    """Samples the engine's VmRSS in a thread while a step runs: the step's engine peak."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.peak: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = proc_status_mb(engine_pid(self.settings), "VmRSS")
            if rss is not None:
                self.peak = max(self.peak or 0.0, rss)
            self._stop.wait(SAMPLE_S)

    def __enter__(self) -> EngineSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_child(command: list[str], env: dict[str, str]) -> tuple[int, float, float]:
    """Run a step process; (exit code, wall seconds, its peak RSS in MB).

    Its output goes to our stderr (progress), so stdout holds only the table.
    """
    started = time.monotonic()
    child = subprocess.Popen(command, env=env, stdout=sys.stderr, stderr=sys.stderr)
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, time.monotonic() - started, usage.ru_maxrss / 1024


def measure(
    name: str, command: list[str], env: dict[str, str], settings: Settings, rows: int | None
) -> StepResult:
    """Run one step and collect its row of the table."""
    print(f"== {name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    with EngineSampler(settings) as sampler:
        code, seconds, py_peak = run_child(command, env)
    pid = engine_pid(settings)
    wal, rest = disk_mb(settings.data_dir)
    result = StepResult(
        name, seconds, rows, py_peak, proc_status_mb(pid, "VmRSS"), sampler.peak,
        proc_status_mb(pid, "VmHWM"), wal, rest, code,
    )  # fmt: skip
    print(f"== {name}: {seconds:.1f} s, exit {code}, pg_wal {wal:,.0f} MB, rest {rest:,.0f} MB",
          file=sys.stderr, flush=True)  # fmt: skip
    return result


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "grid_pipeline.cli", *args]


def step(*args: str) -> list[str]:
    return [sys.executable, os.path.abspath(__file__), "--step", *args]


def process_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def restart_after_kill(env: dict[str, str], settings: Settings) -> StepResult:
    """SIGKILL the engine, then time `grid-pipeline db start` (WAL replay included)."""
    pid = engine_pid(settings)
    if pid is None:
        raise SystemExit("fleet_10x: the engine is not running: nothing to kill")
    hwm = proc_status_mb(pid, "VmHWM")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    wal, _rest = disk_mb(settings.data_dir)
    print(f"== engine {pid} killed (VmHWM {hwm} MB); pg_wal {wal:,.0f} MB before restart",
          file=sys.stderr, flush=True)  # fmt: skip
    result = measure("db start after SIGKILL", cli("db", "start"), env, settings, None)
    result.notes.append(f"pg_wal before restart {wal:,.0f} MB")
    return result


def pipeline(meters: int, days: int) -> list[StepResult]:
    """Every step in order; stops at the first that fails."""
    env = {**os.environ, "GRID_METERS": str(meters), "GRID_DAYS": str(days)}
    settings = load_settings(env)
    rows = meters * days * PER_DAY
    plan: list[tuple[str, list[str], int | None]] = [
        ("db start", cli("db", "start"), None),
        ("generate + load " + settings.chunk_variants[0].table,
         cli("generate", "--meters", str(meters), "--days", str(days), "--no-variants"), rows),
    ]  # fmt: skip
    plan += [(f"fill {v.table}", step("fill", v.table), rows) for v in settings.chunk_variants[1:]]
    plan += [(f"compress {v.table}", step("compress", v.table), rows)
             for v in settings.chunk_variants]  # fmt: skip
    plan.append(("refresh aggregates", step("refresh"), rows))
    out = str(settings.data_dir / "bench-out")
    plan.append(("bench (--repeat 1)", cli("bench", "--repeat", "1", "--out", out), None))
    results: list[StepResult] = []
    for name, command, step_rows in plan:
        results.append(measure(name, command, env, settings, step_rows))
        if results[-1].exit_code != 0:
            print(f"fleet_10x: {name} failed (exit {results[-1].exit_code}); stopping",
                  file=sys.stderr)  # fmt: skip
            return results
    results.append(restart_after_kill(env, settings))
    return results


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def table(results: list[StepResult], meters: int, days: int) -> str:
    head = (f"{'step':<34} {'s':>8} {'rows/s':>10} {'py peak':>8} {'eng end':>8} "
            f"{'eng peak':>8} {'eng HWM':>8} {'pg_wal':>8} {'rest':>8}")  # fmt: skip
    lines = [
        f"10x fleet: {meters} meters x {days} days = {meters * days * PER_DAY:,} rows per variant",
        "(memory and disk in MB; eng = engine RSS at step end / sampled peak / VmHWM)",
        head,
        "-" * len(head),
    ]
    for r in results:
        failed = "" if r.exit_code == 0 else f"  FAILED exit {r.exit_code}"
        notes = ("  " + "; ".join(r.notes)) if r.notes else ""
        lines.append(
            f"{r.name:<34} {r.seconds:>8.1f} {r.rows_per_s:>10} {_mb(r.py_peak_mb):>8} "
            f"{_mb(r.engine_end_mb):>8} {_mb(r.engine_peak_mb):>8} {_mb(r.engine_hwm_mb):>8} "
            f"{r.wal_mb:>8,.0f} {r.rest_mb:>8,.0f}{failed}{notes}"
        )
    steps = [r for r in results if r.name not in ("db start", "db start after SIGKILL")]
    lines.append(f"pipeline total: {sum(r.seconds for r in steps):,.1f} s")
    return "\n".join(lines)


# --- one step, run in its own process (`--step ...`) -------------------------------------


def _progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def run_step(args: list[str]) -> int:
    """Run one application-layer step in this process, as the Dagster assets do."""
    from grid_pipeline.app.dataset import history_window
    from grid_pipeline.app.history import fill_variant
    from grid_pipeline.app.services import start_database
    from grid_pipeline.app.upkeep import compress_variant, refresh_continuous_aggregates
    from grid_pipeline.storage.historic import days_in

    settings = load_settings()
    db = start_database(settings)
    kind, *rest = args
    if kind == "fill":
        variant = next(v for v in settings.chunk_variants if v.table == rest[0])
        for part in days_in(history_window(settings)):
            filled = fill_variant(db, settings, variant, part)
            _progress(f"{variant.table} {part[0]:%Y-%m-%d}: {filled.rows:,} rows "
                      f"in {filled.seconds:.1f} s")  # fmt: skip
    elif kind == "compress":
        study = compress_variant(db, settings, rest[0], None, progress=_progress)
        _progress(f"{rest[0]}: {study.chunks_compressed} chunks, rows {study.rows_before:,} -> "
                  f"{study.rows_after:,}, {study.seconds:.1f} s")  # fmt: skip
    elif kind == "refresh":
        report = refresh_continuous_aggregates(db, settings, None, progress=_progress)
        _progress(f"aggregates: {report.rows} rows, {report.seconds}")
    else:
        raise SystemExit(f"fleet_10x: unknown step {kind!r}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=5000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        if args.step:
            return run_step(args.step)
        if args.meters < 1 or args.days < 1:
            parser.error("--meters and --days must be at least 1")
        if "GRID_DATA_DIR" not in os.environ or "GRID_HISTORY_END" not in os.environ:
            parser.error("set GRID_DATA_DIR (a private data dir) and GRID_HISTORY_END")
        results = pipeline(args.meters, args.days)
    except ConfigError as exc:
        print(f"fleet_10x: {exc}", file=sys.stderr)
        return 2
    print(table(results, args.meters, args.days))
    return 0 if all(r.exit_code == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
