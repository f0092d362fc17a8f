"""grid_pipeline.orchestration: runs launched through a real `dagster dev`, as the UI does.

The slow tests start `dagster dev` (webserver + daemon + code server) in its own
process group, with a temporary DAGSTER_HOME holding the project's dagster.yaml
(instance_config) and the toy code location `grid_pipeline_tests.dagster_toy.defs`,
on a free port; the whole group is killed at the end.

Dagster's backfill daemon sleeps a hard-coded 30 s between iterations (Dagster 1.13,
`dagster._daemon.controller.DEFAULT_DAEMON_INTERVAL_SECONDS`; no config or env var
changes it), and an asset backfill advances one dependency level per iteration:
root -> daily partitions -> downstream -> "completed" takes 4 iterations, 90-120 s.
To keep this test near a minute, a `sitecustomize` on the processes' PYTHONPATH sets
that one constant to 2 s when the daemon imports it; nothing else is changed.
Run with GRID_DAGSTER_REAL_INTERVALS=1 to use the stock 30 s.

The fast tests validate every GraphQL document against the installed dagster-graphql
schema and the dagster.yaml against Dagster's instance config schema.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from grid_pipeline.embedded.process import free_port, log_tail
from grid_pipeline.orchestration import dagster_api as api
from grid_pipeline.orchestration.instance_config import (
    TIMESCALEDB_POOL,
    dagster_yaml,
    write_dagster_yaml,
)
from grid_pipeline_tests.dagster_support import (
    REAL_INTERVALS,
    fast_daemon_env,
    stop_group,
)

ROOT = Path(__file__).resolve().parents[1]
TOY_MODULE = "grid_pipeline_tests.dagster_toy.defs"
BACKFILL_TIMEOUT_S = 240.0 if REAL_INTERVALS else 90.0
PARTITION = "dagster/partition"


@dataclass(frozen=True)
class DagsterDev:
    """A running `dagster dev` on the toy code location."""

    url: str
    home: Path
    records: Path
    log: Path
    startup_s: float


@contextlib.contextmanager
def _dagster_dev(base: Path, module: str) -> Iterator[tuple[str, Path, Path]]:
    """Run `dagster dev -m module` with the project's instance config; (url, home, log).

    Its own process group, killed as a whole on exit.
    """
    home = base / "home"
    write_dagster_yaml(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "GRID_"))}
    fast = fast_daemon_env(base / "hooks")
    python_path = [fast["PYTHONPATH"]] if fast else []
    python_path += [str(ROOT)] + (
        [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") and not fast else []
    )
    env.update(fast)
    env.update(
        DAGSTER_HOME=str(home),
        TOY_RECORD_DIR=str(base / "records"),
        PYTHONPATH=os.pathsep.join(python_path),
    )
    (base / "records").mkdir()
    port = free_port()
    log = base / "dagster_dev.log"
    dagster = Path(sys.executable).with_name("dagster")
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(dagster), "dev", "-m", module, "-d", str(ROOT),
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=base,  # not ROOT: its workspace.yaml is the project's location
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}", home, log
    finally:
        stop_group(process)


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    """`dagster dev` on the toy code location, ready, with the pool limit pinned."""
    base = tmp_path_factory.mktemp("dagster_dev")
    started = time.monotonic()
    with _dagster_dev(base, TOY_MODULE) as (url, home, log):
        try:
            api.wait_until_ready(url, 90, require_daemon=True)
        except api.DagsterApiError as exc:
            pytest.fail(f"{exc}\n{log_tail(log, 30)}")
        startup_s = time.monotonic() - started
        print(f"\ndagster dev ready in {startup_s:.1f} s")
        # Name the pool explicitly (see instance_config): no first-dequeue race.
        api.set_pool_limit(url, TIMESCALEDB_POOL, 1)
        yield DagsterDev(url, home, base / "records", log, startup_s)


# --------------------------------------------------------------------------- slow


@pytest.mark.integration
def test_pool_queues_the_second_run(
    dagster_dev: DagsterDev, record_property: Callable[[str, object], None]
) -> None:
    """Two runs in the "timescaledb" pool: the second stays QUEUED, they never overlap."""
    url = dagster_dev.url
    assert api.pool_limit(url, TIMESCALEDB_POOL) == 1
    first = api.launch_job_run(url, "pool_a_job", tags={"grid/test": "pool"})
    second = api.launch_job_run(url, "pool_b_job", tags={"grid/test": "pool"})
    queued_while_other_ran = False
    deadline = time.monotonic() + 60
    while True:
        a, b = api.run_info(url, first), api.run_info(url, second)
        statuses = {a.status, b.status}
        if "QUEUED" in statuses and statuses & {"STARTING", "STARTED"}:
            queued_while_other_ran = True
        if a.done and b.done:
            break
        assert time.monotonic() < deadline, f"pool runs not done: {a.status}, {b.status}"
        time.sleep(0.3)
    assert (a.status, b.status) == ("SUCCESS", "SUCCESS")
    assert TIMESCALEDB_POOL in a.pools and TIMESCALEDB_POOL in b.pools
    assert queued_while_other_ran, "the second pooled run was never seen QUEUED"

    spans = {
        name: json.loads((dagster_dev.records / f"{name}.json").read_text())
        for name in ("pool_a", "pool_b")
    }
    earlier, later = sorted((span["start"], span["end"]) for span in spans.values())
    assert earlier[1] <= later[0], f"pooled assets overlapped: {spans}"
    record_property("pool_gap_s", round(later[0] - earlier[1], 2))
    listed = {run.run_id for run in api.runs(url, 20, tags={"grid/test": "pool"})}
    assert {first, second} <= listed


@pytest.mark.integration
def test_backfill_of_everything(
    dagster_dev: DagsterDev, record_property: Callable[[str, object], None]
) -> None:
    """The UI's "Materialize all" with all partitions: unpartitioned -> daily -> unpartitioned."""
    url = dagster_dev.url
    lines: list[tuple[float, str]] = []
    started = time.monotonic()

    def progress(line: str) -> None:
        lines.append((time.monotonic() - started, line))
        print(f"{time.monotonic() - started:6.1f} s  {line}")

    backfill_id = api.launch_asset_backfill(
        url, None, title="toy: everything", tags={"grid/test": "backfill"}
    )
    state = api.wait_for_backfill(
        url, backfill_id, progress=progress, timeout_s=BACKFILL_TIMEOUT_S, poll_s=0.5
    )
    elapsed = time.monotonic() - started
    record_property("backfill_s", round(elapsed, 1))
    print(f"backfill done in {elapsed:.1f} s ({dagster_dev.startup_s:.1f} s to start dagster dev)")

    assert state.status == "COMPLETED_SUCCESS", state.summary()
    assert state.succeeded
    assert state.title == "toy: everything"
    progress_by_asset = {asset.asset_key: asset for asset in state.assets}
    assert set(progress_by_asset) == {"toy_root", "toy_daily", "toy_summary", "pool_a", "pool_b"}
    assert progress_by_asset["toy_daily"].partitioned
    assert progress_by_asset["toy_daily"].targeted == 3
    assert state.completed == state.requested == 7
    assert state.failed == 0

    # Root run, one run per day, the downstream run: all of the implicit asset job.
    assert len(state.runs) == 5
    assert {run.status for run in state.runs} == {"SUCCESS"}
    assert {run.job_name for run in state.runs} == {"__ASSET_JOB"}
    days = sorted(run.tags[PARTITION] for run in state.runs if PARTITION in run.tags)
    assert days == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert all(run.tags.get("dagster/backfill") == backfill_id for run in state.runs)
    assert all(run.tags.get("grid/test") == "backfill" for run in state.runs)
    everything = api.runs(url, 100)
    assert "__ephemeral_asset_job__" not in {run.job_name for run in everything}

    checks = [c for c in api.latest_check_results(url) if c.check_name == "day_is_positive"]
    assert [c.partition for c in checks] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    for check in checks:
        assert check.asset_key == "toy_daily"
        assert check.status == "SUCCEEDED" and check.passed is True, check
        assert check.blocking
        assert check.severity == "ERROR"
        assert check.run_id in {run.run_id for run in state.runs}

    # A backfill run is an ordinary run of a job in the code location: re-executable.
    day_run = next(run for run in state.runs if run.tags.get(PARTITION) == "2024-01-02")
    again = api.reexecute_run(url, day_run.run_id, strategy="ALL_STEPS")
    rerun = api.wait_for_run(url, again, timeout_s=60, poll_s=0.5)
    assert (rerun.job_name, rerun.status) == ("__ASSET_JOB", "SUCCESS")
    assert rerun.tags.get(PARTITION) == "2024-01-02"
    assert rerun.tags.get("dagster/parent_run_id") == day_run.run_id


@pytest.mark.integration
def test_errors_are_one_line(dagster_dev: DagsterDev) -> None:
    """GraphQL errors, error members of result unions and bad input: DagsterApiError."""
    url = dagster_dev.url
    cases: list[Callable[[], object]] = [
        lambda: api.launch_job_run(url, "no_such_job"),
        lambda: api.launch_asset_backfill(url, ["no_such_asset"]),
        lambda: api.backfill_status(url, "nosuchid"),
        lambda: api.run_info(url, "no-such-run"),
        lambda: api.graphql(url, "{ noSuchField }"),
        lambda: api.launch_job_run(url, "pool_a_job", run_config={"ops": {"nope": {}}}),
    ]
    for case in cases:
        with pytest.raises(api.DagsterApiError) as raised:
            case()
        assert "\n" not in str(raised.value) and str(raised.value)


@pytest.mark.integration
def test_broken_code_location_fails_fast(tmp_path: Path) -> None:
    """A code location that raises on import: a one-line error with its exception, at once."""
    with _dagster_dev(tmp_path, "grid_pipeline_tests.dagster_toy.broken") as (url, _, log):
        started = time.monotonic()
        with pytest.raises(api.DagsterApiError) as raised:
            api.wait_until_ready(url, 60)
        message = str(raised.value)
        assert "failed to load" in message, f"{message}\n{log_tail(log)}"
        assert "RuntimeError: toy location broken on purpose" in message
        assert "\n" not in message
        assert time.monotonic() - started < 30


# --------------------------------------------------------------------------- fast


def test_unreachable_server_names_the_url() -> None:
    """Nothing listens: a one-line error naming the GraphQL URL, after the timeout."""
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(api.DagsterApiError) as raised:
        api.wait_until_ready(url, 1.0, poll_s=0.2)
    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert f"{url}/graphql" in message and "not ready" in message and "\n" not in message
    with pytest.raises(api.DagsterApiError, match="not an http"):
        api.graphql("file:///etc/passwd", "{ version }")


def test_graphql_documents_match_the_installed_schema() -> None:
    """Every query/mutation the client sends validates against dagster-graphql's schema."""
    graphql_core = pytest.importorskip("graphql")
    schema_module = pytest.importorskip("dagster_graphql.schema")
    schema = schema_module.create_schema().graphql_schema
    documents = {
        name: getattr(api, name)
        for name in dir(api)
        if name.endswith(("_QUERY", "_MUTATION")) and isinstance(getattr(api, name), str)
    }
    documents["check_executions_query"] = api.check_executions_query([1, 1000])
    assert len(documents) >= 12
    for name, document in documents.items():
        errors = graphql_core.validate(schema, graphql_core.parse(document))
        assert not errors, f"{name}: {errors[0].message}"


def test_dagster_yaml_is_a_valid_instance_config(tmp_path: Path) -> None:
    """The instance loads it: SQLite in DAGSTER_HOME, run-granular pools, 2 runs at a time."""
    dagster = pytest.importorskip("dagster")
    from dagster._core.instance.config import PoolGranularity

    home = tmp_path / "home"
    path = write_dagster_yaml(home)
    assert path.read_text() == dagster_yaml(home)
    instance = dagster.DagsterInstance.from_config(str(home))
    try:
        config = instance.get_concurrency_config()
        assert config.pool_config.pool_granularity is PoolGranularity.RUN
        assert config.pool_config.default_pool_limit == 1
        assert config.run_queue_config is not None
        assert config.run_queue_config.max_concurrent_runs == 2
        assert config.run_queue_config.should_block_op_concurrency_limited_runs
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_coordinator.dequeue_interval_seconds == 2
        assert not instance.telemetry_enabled
        instance.get_runs()  # creates the SQLite storage
        assert (home / "storage" / "history" / "runs.db").exists()
    finally:
        instance.dispose()
    with pytest.raises(ValueError, match="max_concurrent_runs"):
        dagster_yaml(home, max_concurrent_runs=0)
