"""What a dashboard user and the live ingestion experience while "Materialize all" runs.

Starts a private `grid-pipeline up` (own data dir, free ports: the embedded engine,
the broker, `dagster dev`, the dashboard, the real-time simulator and, on the empty
database, the seed backfill submitted through Dagster) and samples the same probes
while the seed backfill runs and then for an idle baseline after it finished:

* **Live page, cold**: the dashboard's Live page rendered server-side by Streamlit's
  AppTest with the query cache cleared (as in `benchmarks/dashboard_render.py`), one
  render started every `--every` seconds. Renders that showed "database not
  reachable" (the engine's queue timeout, GRID_DB_QUEUE_TIMEOUT) are counted.
* **Session wait / SELECT 1**: what `psql $(grid-pipeline db url) -c 'SELECT 1'`
  waits: psycopg connect (the embedded engine hands its single session to one
  client at a time, so the connect *is* the wait) and connect + `SELECT 1`.
* **Publish -> visible**: a passive MQTT subscriber records when each 5-minute
  interval's readings were published; a poller (every ~0.5 s while an interval is
  pending) records when all of them became visible in `energy_readings`. The
  difference is the end-to-end ingestion lag a reader experiences (resolution:
  one poll cycle, printed as `+-`).
* **Consumer commit lag** per ingestion run (`ingest_runs.lag_s_p50/p95`, the same
  numbers as the `mqtt_ingestion` materialisation metadata): reading timestamp ->
  commit, which includes the simulator's constant publish offset within the
  interval (measured by the subscriber and subtracted in a second row); runs are
  split into "overlapped the backfill" and "started after it".

Also recorded every 10 s: CPU used by the stack, by this process and by anything
else on the machine (other work skews every number on 2 cores), and the steps of
every backfill run (Dagster's step stats), to name the step behind each stall.

Afterwards `up` gets SIGINT, the script waits for it to exit and checks that no
process whose environment names the private data dir is left. It prints Markdown
tables and writes the raw samples to `<data dir>/load_during_backfill.json`.

    .venv/bin/python benchmarks/load_during_backfill.py            # 500 meters x 14 days
    .venv/bin/python benchmarks/load_during_backfill.py --meters 50 --days 2 --idle 300
    .venv/bin/python benchmarks/load_during_backfill.py --snapshot head   # the last commit

`--snapshot` runs everything from a copy made at start (PYTHONPATH points every
child there), for a checkout that is being edited while the run takes its time.

With the default data set it took about 17 minutes on 2 cores (a 6-minute backfill,
then the idle baseline until a whole ingestion run and an interval were seen after
it). Printed, not asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT  # where the stack and the dashboard are run from (a snapshot with --snapshot)
sys.path.insert(0, str(ROOT))

from grid_pipeline.bench.queries import p95  # noqa: E402 (the project's, after the path)

LIVE_PAGE = "app_pages/live.py"
DOWN_TEXT = "The database is not reachable"
BACKFILL_LINE = re.compile(r"seed backfill (\S+) submitted")
INGESTION_JOB = "mqtt_ingestion_job"
PRIVATE_URL_VARS = ("GRID_DATABASE_URL", "GRID_READER_DATABASE_URL", "GRID_MQTT_URL")

STEPS_QUERY = """
query Steps($id: ID!) {
  runOrError(runId: $id) {
    __typename
    ... on Run {
      runId jobName status startTime endTime
      tags { key value }
      stepStats { stepKey status startTime endTime }
    }
    ... on PythonError { message }
    ... on RunNotFoundError { message }
  }
}
"""


# --------------------------------------------------------------------------- statistics


def stats_cell(values: list[float]) -> str:
    if not values:
        return "- | - | - | 0"
    return f"{median(values):.2f} | {p95(values):.2f} | {max(values):.2f} | {len(values)}"


def stamp(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


# --------------------------------------------------------------------------- samples


@dataclass
class Sample:
    """One probe measurement; `t` is the wall-clock start (Unix seconds)."""

    probe: str
    t: float
    seconds: float
    status: str = "ok"  # ok | db_unavailable | busy | timeout | exception | error
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    load1: float = field(default_factory=lambda: round(os.getloadavg()[0], 2))


class Recorder:
    """Thread-safe sample list plus the shared stop flag and log."""

    def __init__(self, log: IO[str]) -> None:
        self.samples: list[Sample] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._log = log

    def add(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)
        if sample.status != "ok" or sample.seconds > 5:
            self.say(
                f"{sample.probe}: {sample.seconds:.2f} s {sample.status} {sample.detail}".rstrip()
            )

    def say(self, text: str) -> None:
        line = f"[{datetime.now(UTC):%H:%M:%S}] {text}"
        print(line, file=sys.stderr, flush=True)
        with self._lock:
            self._log.write(line + "\n")
            self._log.flush()


def paced(recorder: Recorder, every_s: float, body: Callable[[], None]) -> None:
    """Call `body` every `every_s` seconds (start to start; at once when one overran)."""
    next_at = time.monotonic()
    while not recorder.stop.is_set():
        body()
        next_at += every_s
        delay = next_at - time.monotonic()
        if delay < 0:
            next_at = time.monotonic()
            delay = 0.0
        if recorder.stop.wait(delay):
            return


# --------------------------------------------------------------------------- probes


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def session_probe(url: str, recorder: Recorder) -> None:
    """psql-style: connect (= wait for the engine's single session), SELECT 1, close."""
    import psycopg

    t = time.time()
    started = time.perf_counter()
    try:
        conn = psycopg.connect(
            url, autocommit=True, prepare_threshold=None, application_name="load-during-backfill"
        )
    except psycopg.OperationalError as exc:
        elapsed = time.perf_counter() - started
        status = "busy" if "busy" in str(exc) else "error"
        recorder.add(Sample("session_wait", t, elapsed, status, first_line(exc)))
        recorder.add(Sample("select1", t, elapsed, status, first_line(exc)))
        return
    connected = time.perf_counter()
    try:
        conn.execute("SELECT 1").fetchone()
    finally:
        conn.close()
    done = time.perf_counter()
    recorder.add(Sample("session_wait", t, connected - started))
    recorder.add(Sample("select1", t, done - started))


@dataclass
class Interval:
    """One 5-minute interval of live readings as the subscriber and the poller saw it."""

    ts: float  # the readings' timestamp (interval start), Unix seconds
    first_seen: float
    last_seen: float
    meters: set[int] = field(default_factory=set)
    visible_at: float | None = None  # wall time of the query that first saw them all
    visible_rows: int = 0
    uncertainty_s: float | None = None  # since the previous poll that saw too few rows
    polls: int = 0


class Subscriber:
    """A passive MQTT subscriber (clean session, QoS 0) timing each interval's publication."""

    def __init__(self, host: str, port: int, topic: str, recorder: Recorder) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.recorder = recorder
        self.intervals: dict[float, Interval] = {}
        self.subscribed_at: float | None = None
        self.lock = threading.Lock()
        self.topic = topic
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"gp-load-measure-{os.getpid()}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 5)
        self.client.connect_async(host, port, keepalive=30)
        self.client.loop_start()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe(self.topic, qos=0)

    def _on_subscribe(self, *args: Any) -> None:
        if self.subscribed_at is None:
            self.subscribed_at = time.time()
            self.recorder.say(f"subscriber listening on {self.topic}")

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        now = time.time()
        try:
            body = json.loads(message.payload)
            items = body.get("readings", [body])
            pairs = [
                (
                    datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp(),
                    int(r["meter_id"]),
                )
                for r in items
            ]
        except (ValueError, KeyError, TypeError):
            return
        with self.lock:
            for ts, meter in pairs:
                interval = self.intervals.get(ts)
                if interval is None:
                    interval = self.intervals[ts] = Interval(ts, now, now)
                interval.last_seen = max(interval.last_seen, now)
                interval.meters.add(meter)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def visibility_poller(url: str, subscriber: Subscriber, recorder: Recorder) -> None:
    """Poll (every ~0.5 s while an interval is pending) until all its readings are visible.

    Only intervals whose publication began after the subscriber was listening (and
    that went quiet for 0.5 s) are tracked; an interval not visible after 20 min is
    given up and stays without `visible_at`.
    """
    import psycopg

    last_query: float | None = None  # when the previous poll (which saw too few) ran
    while not recorder.stop.wait(0.5):
        now = time.time()
        with subscriber.lock:
            subscribed = subscriber.subscribed_at
            pending = [
                iv
                for iv in subscriber.intervals.values()
                if subscribed is not None
                and iv.first_seen > subscribed + 1.0
                and iv.visible_at is None
                and now - iv.last_seen > 0.5
                and now - iv.last_seen < 1200
            ]
        if not pending:
            last_query = None
            continue
        stamps = [datetime.fromtimestamp(iv.ts, UTC) for iv in pending]
        try:
            with psycopg.connect(
                url,
                autocommit=True,
                prepare_threshold=None,
                application_name="load-during-backfill",
            ) as conn:
                queried_at = time.time()
                rows = conn.execute(
                    'SELECT "timestamp", count(*) FROM energy_readings '
                    'WHERE "timestamp" = ANY(%s) GROUP BY 1',
                    (stamps,),
                ).fetchall()
        except psycopg.OperationalError as exc:
            recorder.say(f"visibility poll failed: {first_line(exc)}")
            continue
        counts = {row[0].timestamp(): int(row[1]) for row in rows}
        with subscriber.lock:
            for iv in pending:
                iv.polls += 1
                seen = counts.get(iv.ts, 0)
                if seen >= len(iv.meters):
                    iv.visible_at = queried_at
                    iv.visible_rows = seen
                    previous = last_query if last_query is not None else iv.last_seen
                    iv.uncertainty_s = round(queried_at - max(previous, iv.last_seen), 3)
                    recorder.say(
                        f"interval {stamp(iv.ts)}: {seen} readings visible "
                        f"{queried_at - iv.last_seen:.1f} s after publication"
                    )
        last_query = queried_at


class LiveRenderer:
    """The Live page rendered by AppTest in this process, cold cache each time."""

    def __init__(self, timeout_s: float) -> None:
        from streamlit.testing.v1 import AppTest

        self.at = AppTest.from_file(str(SOURCE / "dashboard" / "app.py"), default_timeout=timeout_s)
        self.warmed = False

    def warm_up(self) -> str:
        """One untimed render (imports, first script run); its outcome as text."""
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self.at.run()
        except Exception as exc:
            return f"warm-up render failed: {first_line(exc)}"
        self.warmed = True
        return "warm-up render done"

    def render(self) -> Sample:
        import streamlit as st

        t = time.time()
        st.cache_data.clear()
        started = time.perf_counter()
        try:
            # a page exception is recorded below; Streamlit would also print it on stdout
            with contextlib.redirect_stdout(io.StringIO()):
                if self.warmed:
                    self.at.switch_page(LIVE_PAGE).run()
                else:
                    self.at.run()
                    self.warmed = True
        except Exception as exc:
            elapsed = time.perf_counter() - started
            status = "timeout" if "timed out" in str(exc).lower() else "exception"
            return Sample("live_page_cold", t, elapsed, status, first_line(exc))
        elapsed = time.perf_counter() - started
        charts = len(self.at.get("plotly_chart"))
        extra = {"charts": charts}
        if self.at.exception:
            return Sample(
                "live_page_cold",
                t,
                elapsed,
                "exception",
                first_line(Exception(self.at.exception[0].value)),
                extra,
            )
        warnings = [str(w.value) for w in self.at.warning]
        if any(DOWN_TEXT in w for w in warnings):
            details = [str(c.value) for c in self.at.code]
            return Sample(
                "live_page_cold",
                t,
                elapsed,
                "db_unavailable",
                details[0][:200] if details else "",
                extra,
            )
        return Sample("live_page_cold", t, elapsed, extra=extra)


# --------------------------------------------------------------------------- the stack


class Stack:
    """`grid-pipeline up` as a child in its own process group; its stdout teed to a file."""

    def __init__(self, env: dict[str, str], log_path: Path, recorder: Recorder) -> None:
        self.recorder = recorder
        self.lines: list[tuple[float, str]] = []
        self.backfill_id: str | None = None
        self.submitted_at: float | None = None
        self.ready = threading.Event()  # database + mqtt lines printed: engine migrated
        self.got_backfill = threading.Event()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grid_pipeline.cli", "up"],
            cwd=SOURCE,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        self._log = log_path.open("a")
        self._reader = threading.Thread(target=self._read, name="up-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.rstrip("\n")
            now = time.time()
            self.lines.append((now, line))
            self._log.write(f"{stamp(now)} {line}\n")
            self._log.flush()
            print(f"  up | {line}", file=sys.stderr, flush=True)
            if line.startswith("mqtt "):
                self.ready.set()
            match = BACKFILL_LINE.search(line)
            if match and self.backfill_id is None:
                self.backfill_id = match.group(1)
                self.submitted_at = now
                self.got_backfill.set()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 300.0) -> tuple[int | None, float]:
        """SIGINT (what Ctrl-C sends); (exit code or None if still running, seconds)."""
        started = time.monotonic()
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGINT)
        try:
            code: int | None = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            code = None
        self._reader.join(timeout=5)
        self._log.close()
        return code, time.monotonic() - started


def processes_with(marker: str) -> list[tuple[int, str]]:
    """(pid, command line) of every process whose environment contains `marker`."""
    found: list[tuple[int, str]] = []
    needle = marker.encode() + b"\0"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes() + b"\0"
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if b"\0" + needle in b"\0" + environ:
            found.append((int(entry.name), cmdline.strip()[:160]))
    return found


class CpuWatcher:
    """CPU used, per sampling period, by the stack (processes whose environment names
    the data dir), by this measuring process, and by everything else ("foreign": other
    work on the machine, which would skew the numbers on 2 cores)."""

    def __init__(self, marker: str) -> None:
        self.marker = b"\0" + marker.encode() + b"\0"
        self.hz = os.sysconf("SC_CLK_TCK")
        self.owner: dict[tuple[int, str], str] = {}
        self.last: dict[tuple[int, str], int] = {}
        self.last_t: float | None = None
        self.rows: list[dict[str, Any]] = []

    def _kind(self, key: tuple[int, str], entry: Path) -> str:
        kind = self.owner.get(key)
        if kind is None:
            if key[0] == os.getpid():
                kind = "self"
            else:
                try:
                    environ = b"\0" + (entry / "environ").read_bytes() + b"\0"
                except OSError:
                    environ = b""
                kind = "stack" if self.marker in environ else "foreign"
            self.owner[key] = kind
        return kind

    def sample(self) -> None:
        now = time.time()
        used = {"stack": 0.0, "self": 0.0, "foreign": 0.0}
        top: dict[str, float] = {}
        current: dict[tuple[int, str], int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                head, tail = (entry / "stat").read_text().rsplit(")", 1)
            except (OSError, ValueError):
                continue
            fields = tail.split()
            # utime + stime (not cutime: it would count a finished child a second time; the
            # last slice of a process that ended between two samples is not counted)
            ticks = int(fields[11]) + int(fields[12])
            key = (int(entry.name), fields[19])  # pid + start time: pids are reused
            current[key] = ticks
            if self.last_t is None:
                continue
            delta = (ticks - self.last.get(key, 0)) / self.hz
            if delta <= 0:
                continue
            kind = self._kind(key, entry)
            used[kind] += delta
            if kind == "foreign":
                name = head.split("(", 1)[1]
                top[name] = top.get(name, 0.0) + delta
        if self.last_t is not None:
            span = now - self.last_t
            row: dict[str, Any] = {"t": self.last_t, "span_s": round(span, 2)}
            row.update({f"{kind}_cores": round(v / span, 3) for kind, v in used.items()})
            row["foreign_top"] = {
                k: round(v, 2) for k, v in sorted(top.items(), key=lambda kv: -kv[1])[:5]
            }
            row["load1"] = round(os.getloadavg()[0], 2)
            self.rows.append(row)
        self.last, self.last_t = current, now


def describe_source(data_dir: Path, snapshot: str | None) -> str:
    """Point SOURCE (and PYTHONPATH, for every child) at a snapshot if asked; a label."""
    global SOURCE
    commit = (
        subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        or "?"
    )
    if snapshot is None:
        return f"checkout {ROOT} (HEAD {commit} plus any uncommitted edits, read when imported)"
    target = data_dir / "src"
    if snapshot == "head":
        target.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "HEAD"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        label = f"snapshot of HEAD {commit} in {target}"
    else:
        shutil.copytree(
            ROOT,
            target,
            ignore=shutil.ignore_patterns(
                ".venv", ".git", ".grid", "__pycache__", ".*_cache", "bench-out", "node_modules"
            ),
        )
        label = f"snapshot of the working tree (HEAD {commit} + edits) in {target}"
    modules = Path("grid_pipeline/embedded/engine/node_modules")  # not in git: npm installs it
    (target / modules).parent.mkdir(parents=True, exist_ok=True)
    (target / modules).symlink_to(ROOT / modules)
    SOURCE = target
    sys.path.insert(0, str(target))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(target), os.environ.get("PYTHONPATH")])
    )
    return label


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"({path}: {exc})"


# --------------------------------------------------------------------------- collection


def backfill_monitor(
    dagster_url: str, stack: Stack, recorder: Recorder, out: dict[str, Any]
) -> None:
    """Poll the backfill every 5 s; record its status changes and when it was done."""
    from grid_pipeline.orchestration import dagster_api

    shown = ""
    while not recorder.stop.wait(5.0):
        if stack.backfill_id is None or out.get("done_at") is not None:
            continue
        try:
            state = dagster_api.backfill_status(dagster_url, stack.backfill_id)
        except dagster_api.DagsterApiError as exc:
            recorder.say(f"backfill status: {exc}")
            continue
        line = state.summary()
        if line != shown:
            recorder.say(line)
            shown = line
        out["status"] = state.status
        out["summary"] = line
        if state.done:
            out["done_at"] = time.time()
            out["state"] = state


def ingestion_runs_after(dagster_url: str, since: float) -> list[Any]:
    """Finished `mqtt_ingestion_job` runs that started after `since` (Dagster API only)."""
    from grid_pipeline.orchestration import dagster_api

    return [
        run
        for run in dagster_api.runs(dagster_url, limit=30)
        if run.job_name == INGESTION_JOB
        and run.done
        and run.start_time is not None
        and run.start_time >= since
    ]


def run_steps(dagster_url: str, run_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Every step of the given runs with its times (Dagster's step stats)."""
    from grid_pipeline.orchestration import dagster_api

    steps: list[dict[str, Any]] = []
    for run_id in run_ids:
        try:
            found = dagster_api.graphql(dagster_url, STEPS_QUERY, {"id": run_id})["runOrError"]
        except dagster_api.DagsterApiError as exc:
            steps.append({"run_id": run_id, "error": str(exc)})
            continue
        if found.get("__typename") != "Run":
            steps.append({"run_id": run_id, "error": found.get("message")})
            continue
        tags = {tag["key"]: tag["value"] for tag in found.get("tags") or []}
        for step in found["stepStats"]:
            start, end = step.get("startTime"), step.get("endTime")
            steps.append(
                {
                    "run_id": run_id,
                    "job": found["jobName"],
                    "step": step["stepKey"],
                    "partition": tags.get("dagster/partition"),
                    "status": step.get("status"),
                    "start": start,
                    "end": end,
                    "seconds": round(end - start, 3) if start and end else None,
                }
            )
    return steps


def ingest_run_rows(url: str) -> list[dict[str, Any]]:
    import psycopg

    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        cur = conn.execute(
            "SELECT run_id, status, started_at, ended_at, received, inserted, duplicates, "
            "rejected, batches, lag_s_p50, lag_s_p95, commit_ms_p50, commit_ms_p95 "
            "FROM ingest_runs ORDER BY started_at"
        )
        names = [c.name for c in cur.description or []]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    for row in rows:
        for key in ("started_at", "ended_at"):
            row[key] = row[key].timestamp() if row[key] is not None else None
    return rows


# --------------------------------------------------------------------------- report


def phase_of(t: float, start: float, end: float | None) -> str:
    if t < start:
        return "startup"
    if end is None or t < end:
        return "backfill"
    return "idle"


def step_at(steps: list[dict[str, Any]], t: float) -> str:
    """The backfill step(s) running at wall time `t`."""
    names = [
        f"{s['step']}" + (f"[{s['partition']}]" if s.get("partition") else "")
        for s in steps
        if s.get("start") and s["start"] <= t and (s.get("end") or math.inf) > t
    ]
    return ", ".join(names) or "(between steps)"


def report(result: dict[str, Any]) -> None:
    start, end = result["backfill"]["submitted_at"], result["backfill"].get("done_at")
    samples = [Sample(**s) for s in result["samples"]]
    steps: list[dict[str, Any]] = result["steps"]

    def values(probe: str, phase: str, only_ok: bool = False) -> list[float]:
        return [
            s.seconds
            for s in samples
            if s.probe == probe
            and phase_of(s.t, start, end) == phase
            and (s.status == "ok" or not only_ok)
        ]

    def failures(probe: str, phase: str) -> str:
        bad = [
            s.status
            for s in samples
            if s.probe == probe and phase_of(s.t, start, end) == phase and s.status != "ok"
        ]
        counts = {status: bad.count(status) for status in sorted(set(bad))}
        return ", ".join(f"{n} {status}" for status, n in counts.items()) or "none"

    bf = result["backfill"]
    duration = (end - start) if end else None
    print('\n## Load during the seed backfill ("Materialize all") vs idle\n')
    print(
        f"data set: {result['meters']} meters x {result['days']} days; data dir "
        f"{result['data_dir']}; machine: {os.cpu_count()} cores"
    )
    print(f"code: {result.get('source', '?')}")
    took = f"{duration:.0f} s ({duration / 60:.1f} min)" if duration else "not finished"
    print(
        f"backfill {bf.get('id')}: {str(bf.get('status', '?')).lower()}, "
        f"{bf.get('runs', '?')} runs, submitted {stamp(start)} UTC, done {stamp(end)} UTC, "
        f"duration {took}"
    )
    if bf.get("failed_runs"):
        print(f"failed backfill runs: {bf['failed_runs']}")
    print(f"idle baseline: {stamp(end)} .. {stamp(result['finished_at'])} UTC")
    print("\nTimes in seconds; 'during' = samples started between submission and completion.\n")
    print(
        "| probe | during median | p95 | max | n | idle median | p95 | max | n | "
        "not ok (during / idle) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    rows = [
        ("Live page render, cold cache (AppTest)", "live_page_cold"),
        ("Engine session wait (psycopg connect)", "session_wait"),
        ("psql-style SELECT 1 (connect + query)", "select1"),
    ]
    for label, probe in rows:
        print(
            f"| {label} | {stats_cell(values(probe, 'backfill'))} | "
            f"{stats_cell(values(probe, 'idle'))} | "
            f"{failures(probe, 'backfill')} / {failures(probe, 'idle')} |"
        )
    print(
        f"| Live page render, successful renders only | "
        f"{stats_cell(values('live_page_cold', 'backfill', True))} | "
        f"{stats_cell(values('live_page_cold', 'idle', True))} | - |"
    )

    intervals = result["intervals"]
    offsets = [iv["last_seen"] - iv["ts"] for iv in intervals]
    offset = median(offsets) if offsets else 0.0

    def vis(phase: str) -> list[float]:
        return [
            iv["visible_at"] - iv["last_seen"]
            for iv in intervals
            if iv["visible_at"] is not None and phase_of(iv["last_seen"], start, end) == phase
        ]

    never = [stamp(iv["ts"]) for iv in intervals if iv["visible_at"] is None]
    print(
        f"| Publish -> all readings visible, per 5-min interval | {stats_cell(vis('backfill'))} "
        f"| {stats_cell(vis('idle'))} | never visible: {', '.join(never) or 'none'} |"
    )

    runs = result["ingest_runs"]

    def run_phase(row: dict[str, Any]) -> str:
        began, ended = row["started_at"], row["ended_at"] or math.inf
        if end is not None and began >= end:
            return "idle"
        if ended > start and (end is None or began < end):
            return "backfill"
        return "startup"

    def lags(phase: str, key: str, minus: float = 0.0) -> list[float]:
        return [r[key] - minus for r in runs if run_phase(r) == phase and r[key] is not None]

    for key in ("lag_s_p50", "lag_s_p95"):
        print(
            f"| Consumer commit lag {key[-3:]} per run (ingest_runs), raw | "
            f"{stats_cell(lags('backfill', key))} | {stats_cell(lags('idle', key))} | - |"
        )
        print(
            f"| Consumer commit lag {key[-3:]} per run minus publish offset | "
            f"{stats_cell(lags('backfill', key, offset))} | "
            f"{stats_cell(lags('idle', key, offset))} | - |"
        )
    gaps = result["ingestion_gaps"]

    def gap_values(phase: str) -> list[float]:
        return [g["gap_s"] for g in gaps if phase_of(g["at"], start, end) == phase]

    def ingestion_statuses(phase: str) -> str:
        found = [
            r["status"]
            for r in result["dagster_runs"]
            if r["job"] == INGESTION_JOB
            and r["start"]
            and phase_of(r["start"], start, end) == phase
        ]
        return ", ".join(f"{found.count(x)} {x}" for x in sorted(set(found))) or "none"

    print(
        f"| Gap between an ingestion run's end and the next one's start (Dagster) | "
        f"{stats_cell(gap_values('backfill'))} | {stats_cell(gap_values('idle'))} | "
        f"runs started: {ingestion_statuses('backfill')} / {ingestion_statuses('idle')} |"
    )

    cpu_rows = result.get("cpu", [])

    def cores(phase: str, kind: str) -> list[float]:
        return [r[f"{kind}_cores"] for r in cpu_rows if phase_of(r["t"], start, end) == phase]

    print("\nMachine load per 10 s period (CPU cores in use; load1 = 1-min load average):\n")
    print("| measure | during median | p95 | max | n | idle median | p95 | max | n |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, label in (
        ("stack", "the stack (engine, Dagster, runs, dashboard, simulator, broker)"),
        ("self", "this measuring process"),
        ("foreign", "anything else on the machine"),
    ):
        print(
            f"| {label} | {stats_cell(cores('backfill', kind))} | "
            f"{stats_cell(cores('idle', kind))} |"
        )
    load = {
        phase: [r["load1"] for r in cpu_rows if phase_of(r["t"], start, end) == phase]
        for phase in ("backfill", "idle")
    }
    print(f"| load1 | {stats_cell(load['backfill'])} | {stats_cell(load['idle'])} |")
    foreign: dict[str, float] = {}
    for r in cpu_rows:
        for name, secs in r["foreign_top"].items():
            foreign[name] = foreign.get(name, 0.0) + secs
    heavy = sorted(foreign.items(), key=lambda kv: -kv[1])[:6]
    print(
        "foreign CPU seconds by command: "
        + (", ".join(f"{name} {secs:.0f} s" for name, secs in heavy) or "none")
    )

    print(
        f"\nPublish offset: the simulator publishes interval T's readings {offset:.1f} s "
        f"after T (median over {len(offsets)} intervals; paced from its own start, not at "
        "the boundary), and the consumer's lag counts from T, so its raw lag includes this "
        "constant; 'minus publish offset' removes it. The publish -> visible row is the "
        "honest end-to-end measure: from the last reading of an interval arriving at a "
        "subscriber to the first query that saw all of them (resolution: one poll cycle; "
        "each cycle also waits for the engine's session)."
    )

    print("\nPer ingestion run (ingest_runs):\n")
    print("| run | phase | started | ended | inserted | lag p50 | lag p95 | commit ms p95 |")
    print("|---|---|---|---|---:|---:|---:|---:|")
    for r in runs:
        print(
            f"| {str(r['run_id'])[:8]} | {run_phase(r)} | {stamp(r['started_at'])} | "
            f"{stamp(r['ended_at'])} | {r['inserted']} | {r['lag_s_p50']} | {r['lag_s_p95']} | "
            f"{r['commit_ms_p95']} |"
        )

    print("\nPer interval (publish -> visible):\n")
    print("| interval | phase | published (last) | visible | lag s | +- s | readings | polls |")
    print("|---|---|---|---|---:|---:|---:|---:|")
    for iv in intervals:
        lag = f"{iv['visible_at'] - iv['last_seen']:.1f}" if iv["visible_at"] else "-"
        print(
            f"| {stamp(iv['ts'])} | {phase_of(iv['last_seen'], start, end)} | "
            f"{stamp(iv['last_seen'])} | {stamp(iv['visible_at'])} | {lag} | "
            f"{iv['uncertainty_s']} | {iv['visible_rows']}/{iv['meters']} | {iv['polls']} |"
        )

    timed = sorted((s for s in steps if s.get("seconds")), key=lambda s: -s["seconds"])
    if timed:
        total = sum(s["seconds"] for s in timed)
        print(f"\nLongest backfill steps ({len(timed)} steps, {total:.0f} s of step time):\n")
        print("| step | partition | seconds | start | end |")
        print("|---|---|---:|---|---|")
        for s in timed[:12]:
            print(
                f"| {s['step']} | {s['partition'] or '-'} | {s['seconds']:.1f} | "
                f"{stamp(s['start'])} | {stamp(s['end'])} |"
            )
        by_step: dict[str, list[float]] = {}
        for s in timed:
            by_step.setdefault(s["step"], []).append(s["seconds"])
        print("\n| step (all partitions) | count | total s | max s |")
        print("|---|---:|---:|---:|")
        for name, secs in sorted(by_step.items(), key=lambda kv: -sum(kv[1])):
            print(f"| {name} | {len(secs)} | {sum(secs):.1f} | {max(secs):.1f} |")

    for probe in ("live_page_cold", "session_wait"):
        worst = sorted((x for x in samples if x.probe == probe), key=lambda x: -x.seconds)[:5]
        print(f"\nWorst {probe} samples and the backfill step(s) running when they started:\n")
        for bad in worst:
            print(
                f"- {stamp(bad.t)} {bad.seconds:.1f} s {bad.status} "
                f"({phase_of(bad.t, start, end)}): {step_at(steps, bad.t)}"
            )
    other = [
        r
        for r in result["dagster_runs"]
        if r["job"] != INGESTION_JOB and r["start"] and end and r["start"] >= end
    ]
    if other:
        print("\nNon-ingestion runs during the idle baseline (not idle in the strict sense):")
        for r in other:
            print(f"- {r['job']} {r['status']} {stamp(r['start'])}..{stamp(r['end'])}")
    shutdown = result["shutdown"]
    print(
        f"\n`up` stopped by SIGINT: exit code {shutdown['exit_code']} after "
        f"{shutdown['seconds']:.1f} s; processes left with the data dir in their "
        f"environment: {shutdown['leftover'] or 'none'}"
    )
    print(f"raw samples: {result['json_path']}")


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        default="/tmp/gp-backfill-measure",  # noqa: S108 (a private, named dir)
        help="private data dir, removed at start (default %(default)s)",
    )
    parser.add_argument("--meters", type=int, default=None, help="GRID_METERS (default 500)")
    parser.add_argument("--days", type=int, default=None, help="GRID_DAYS (default 14)")
    parser.add_argument(
        "--every",
        type=float,
        default=10.0,
        help="seconds between probe starts (default %(default)s)",
    )
    parser.add_argument(
        "--idle",
        type=float,
        default=300.0,
        help="minimum idle baseline after the backfill, s (default %(default)s)",
    )
    parser.add_argument(
        "--idle-max",
        type=float,
        default=900.0,
        help="idle baseline cap while waiting for a whole ingestion run and a "
        "visible interval after the backfill, s (default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3 * 3600.0,
        help="give up on the backfill after this many s (default %(default)s)",
    )
    parser.add_argument(
        "--snapshot",
        choices=("head", "tree"),
        default=None,
        help="run the stack and the dashboard from a copy of the repository made at start "
        "(head: the last commit, via git archive; tree: the working tree as it is), so "
        "edits to the checkout during the run do not reach the running processes",
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    data_dir = Path(args.data_dir).resolve()
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    source = describe_source(data_dir, args.snapshot)

    from grid_pipeline.embedded.process import free_port

    for name in (*PRIVATE_URL_VARS, "GRID_INGEST_SENSOR", "GRID_HISTORY_END"):
        os.environ.pop(name, None)
    ports = {
        name: str(free_port())
        for name in ("GRID_DB_PORT", "GRID_MQTT_PORT", "GRID_DAGSTER_PORT", "GRID_DASHBOARD_PORT")
    }
    os.environ.update(ports, GRID_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    if args.meters is not None:
        os.environ["GRID_METERS"] = str(args.meters)
    if args.days is not None:
        os.environ["GRID_DAYS"] = str(args.days)

    from grid_pipeline.config import load_settings
    from grid_pipeline.db.connection import resolve_database
    from grid_pipeline.mqtt.topics import DEFAULT_ROOT, reading_filter

    settings = load_settings()
    dagster_url = f"http://127.0.0.1:{settings.dagster_port}"
    log = (data_dir / "load_during_backfill.log").open("a")
    recorder = Recorder(log)
    recorder.say(f"data dir {data_dir}, ports {ports}; code: {source}")
    cpu = CpuWatcher(f"GRID_DATA_DIR={data_dir}")
    stack = Stack(dict(os.environ), data_dir / "up.stdout.log", recorder)
    backfill: dict[str, Any] = {}
    threads: list[threading.Thread] = []
    subscriber: Subscriber | None = None
    result: dict[str, Any] = {
        "source": source,
        "data_dir": str(data_dir),
        "meters": settings.meters,
        "days": settings.days,
        "ports": ports,
        "every_s": args.every,
    }
    error: str | None = None
    try:
        if not stack.ready.wait(300) or not stack.alive():
            raise RuntimeError("`up` did not bring up the engine and broker within 300 s")
        url = resolve_database(settings).url
        subscriber = Subscriber(
            "127.0.0.1", settings.mqtt_port, reading_filter(DEFAULT_ROOT), recorder
        )
        renderer = LiveRenderer(timeout_s=1800)
        recorder.say(renderer.warm_up())
        if not stack.got_backfill.wait(600):
            raise RuntimeError("no 'seed backfill <id> submitted' line from `up` within 600 s")
        assert stack.submitted_at is not None
        recorder.say(f"backfill {stack.backfill_id} submitted; measuring")
        threads = [
            threading.Thread(
                target=paced,
                args=(recorder, args.every, lambda: session_probe(url, recorder)),
                daemon=True,
            ),
            threading.Thread(
                target=visibility_poller, args=(url, subscriber, recorder), daemon=True
            ),
            threading.Thread(target=paced, args=(recorder, args.every, cpu.sample), daemon=True),
            threading.Thread(
                target=backfill_monitor, args=(dagster_url, stack, recorder, backfill), daemon=True
            ),
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + args.timeout
        next_at = time.monotonic()
        while True:
            if not stack.alive():
                raise RuntimeError(f"`up` exited with code {stack.proc.returncode}")
            done_at = backfill.get("done_at")
            if done_at is None and time.monotonic() > deadline:
                raise RuntimeError(f"backfill not done after {args.timeout:g} s")
            if done_at is not None:
                idle_for = time.time() - done_at
                if idle_for >= args.idle_max:
                    recorder.say("idle cap reached")
                    break
                if idle_for >= args.idle:
                    with subscriber.lock:
                        seen = any(
                            iv.visible_at is not None and iv.last_seen >= done_at
                            for iv in subscriber.intervals.values()
                        )
                    try:
                        whole_run = bool(ingestion_runs_after(dagster_url, done_at))
                    except Exception:
                        whole_run = False
                    if seen and whole_run:
                        break
            recorder.add(renderer.render())
            next_at += args.every
            delay = next_at - time.monotonic()
            if delay < 0:
                next_at, delay = time.monotonic(), 0.0
            time.sleep(delay)
    except (RuntimeError, OSError) as exc:
        error = str(exc)
        recorder.say(f"ERROR: {error}")
    finally:
        recorder.stop.set()
        for thread in threads:
            thread.join(timeout=180)
    result["finished_at"] = time.time()

    # Collect before stopping: Dagster's runs and steps, the engine's ingest_runs.
    from grid_pipeline.orchestration import dagster_api

    state = backfill.get("state")
    bf_runs = list(state.runs) if state is not None else []
    result["backfill"] = {
        "id": stack.backfill_id,
        "submitted_at": stack.submitted_at or time.time(),
        "done_at": backfill.get("done_at"),
        "status": backfill.get("status"),
        "summary": backfill.get("summary"),
        "runs": len(bf_runs),
        "failed_runs": [f"{r.run_id[:8]} {r.status}" for r in bf_runs if r.status != "SUCCESS"],
    }
    try:
        all_runs = dagster_api.runs(dagster_url, limit=500)
        result["dagster_runs"] = [
            {
                "run_id": r.run_id,
                "job": r.job_name,
                "status": r.status,
                "start": r.start_time,
                "end": r.end_time,
                "tags": dict(r.tags),
            }
            for r in all_runs
        ]
        result["steps"] = run_steps(dagster_url, [r.run_id for r in bf_runs])
    except dagster_api.DagsterApiError as exc:
        recorder.say(f"collecting Dagster runs failed: {exc}")
        result.setdefault("dagster_runs", [])
        result.setdefault("steps", [])
    ingestion = sorted(
        (r for r in result["dagster_runs"] if r["job"] == INGESTION_JOB and r["start"]),
        key=lambda r: r["start"],
    )
    result["ingestion_gaps"] = [
        {"at": later["start"], "gap_s": round(later["start"] - earlier["end"], 3)}
        for earlier, later in itertools.pairwise(ingestion)
        if earlier["end"]
    ]
    try:
        result["ingest_runs"] = ingest_run_rows(resolve_database(settings).url)
    except Exception as exc:
        recorder.say(f"reading ingest_runs failed: {exc}")
        result["ingest_runs"] = []
    intervals: list[dict[str, Any]] = []
    if subscriber is not None:
        subscriber.close()
        with subscriber.lock:
            for iv in sorted(subscriber.intervals.values(), key=lambda iv: iv.ts):
                if (
                    subscriber.subscribed_at is None
                    or iv.first_seen <= subscriber.subscribed_at + 1
                ):
                    continue  # publication began before the subscriber listened
                row = asdict(iv)
                row["meters"] = len(iv.meters)
                intervals.append(row)
    result["intervals"] = intervals

    recorder.say("stopping `up` with SIGINT ...")
    code, seconds = stack.stop()
    time.sleep(3)
    leftover = processes_with(f"GRID_DATA_DIR={data_dir}")
    result["shutdown"] = {
        "exit_code": code,
        "seconds": seconds,
        "leftover": [f"{pid} {cmd}" for pid, cmd in leftover],
    }
    result["samples"] = [asdict(s) for s in recorder.samples]
    result["cpu"] = cpu.rows
    result["error"] = error
    json_path = data_dir / "load_during_backfill.json"
    result["json_path"] = str(json_path)
    json_path.write_text(json.dumps(result, indent=1, default=str))
    if error:
        print(f"\nERROR: {error}")
        for name in ("dagster", "dashboard", "simulator", "db", "broker"):
            path = settings.log_dir / f"{name}.log"
            print(f"\n--- tail of {path}\n{log_tail(path)}")
    if stack.submitted_at is not None:
        report(result)
    log.close()
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
