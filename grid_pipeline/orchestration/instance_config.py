"""The project-local Dagster instance (`dagster dev` with DAGSTER_HOME inside the project).

`dagster_yaml()` returns the text of `$DAGSTER_HOME/dagster.yaml`; `write_dagster_yaml()`
puts it there. Why each block is what it is (Dagster 1.13):

Storage: SQLite under `$DAGSTER_HOME/storage`, Dagster's own default layout spelled out,
so a home created earlier by a bare `dagster dev` keeps its run history. One writer
machine, no server to run: SQLite is enough for a local instance.

Concurrency pool "timescaledb", limit 1: every asset/op that talks to the database
declares `pool="timescaledb"`, and only one such run may be in progress at a time.
A dagster.yaml cannot name a pool (the `concurrency > pools` block has only
`default_limit`, `granularity` and `op_granularity_run_buffer`; named limits live in
the instance's storage, set from the UI, `dagster instance concurrency set`, or the
`setConcurrencyLimit` mutation). So the limit is declared as `default_limit: 1`, which
applies to every pool without an explicit limit - in this project, "timescaledb" is
the only pool. `dagster_api.set_pool_limit(url, "timescaledb", 1)` pins it by name as
well (recommended right after start-up: on the very first dequeue that sees a new pool
Dagster 1.13 initialises the default limit but does not yet apply it, so two runs
queued at that instant could both start).

`granularity: run`: the run queue (daemon) counts one slot per in-progress run that
contains any op of the pool, and leaves a run QUEUED while the pool is full; in the UI
the run shows as queued, blocked by the pool. With `granularity: op` (the default) a
run is only held back if all its *root* steps are in a full pool; otherwise it starts a
run worker that then waits inside for a slot (a Python process idling on a 2-core
machine, shown as "started"). The price of `run`: the pool is *not* enforced between
steps of the same run (Dagster skips op-level slot claims at run granularity), so two
pooled assets in one run can execute at the same time under the multiprocess executor.
Code locations that put several pooled assets in one run should limit in-run
parallelism (e.g. `multiprocess_executor` with `max_concurrent: 1`, or
`tag_concurrency_limits` on an op tag).

Blocking runs on pools needs the run queue's `block_op_concurrency_limited_runs`,
which is on by default; it must not be set here because Dagster rejects the
`run_queue`/`run_coordinator` spelling of it next to a `concurrency` block.

`concurrency > runs > max_concurrent_runs: 2`: a 2-core machine runs the webserver,
the daemon, the code server and TimescaleDB besides the run workers; each run worker is
a Python process (plus a subprocess per step under the multiprocess executor). Only one
pooled (database) run proceeds at a time anyway; the second slot lets a run that needs
no database (or a short sensor run) go through meanwhile instead of queueing behind a
long historic load.

`run_queue > dequeue_interval_seconds: 2` (default 5): the daemon looks at the queue
every 2 s, so a run launched from the UI/API starts within ~2 s; the cost is a few
SQLite queries per tick. The backfill daemon's own interval (30 s) is hard-coded in
Dagster 1.13 (`dagster._daemon.controller.DEFAULT_DAEMON_INTERVAL_SECONDS`) and cannot be
configured here: each dependency level of an asset backfill costs up to 30 s.

Telemetry off and the new-user tour (`nux`) off: a project tool, not a first visit.
Sensor tick history is bounded (the ingestion sensor ticks often).
"""

from __future__ import annotations

import json
from pathlib import Path

#: The pool every database-touching asset/op declares (`pool="timescaledb"`).
TIMESCALEDB_POOL = "timescaledb"


def dagster_yaml(
    home: Path,
    *,
    max_concurrent_runs: int = 2,
    pool_limit: int = 1,
    dequeue_interval_s: int = 2,
) -> str:
    """The dagster.yaml text for a project-local instance whose DAGSTER_HOME is `home`.

    `home` is written as an absolute path (JSON-quoted, which is valid YAML) so the
    file does not depend on the working directory of whichever process reads it.
    """
    if max_concurrent_runs < 1:
        raise ValueError(f"max_concurrent_runs must be >= 1, got {max_concurrent_runs}")
    if pool_limit < 1:
        raise ValueError(f"pool_limit must be >= 1, got {pool_limit}")
    if dequeue_interval_s < 1:
        raise ValueError(f"dequeue_interval_s must be >= 1, got {dequeue_interval_s}")
    storage_dir = json.dumps(str(home.resolve() / "storage"))
    return f"""\
# Project-local Dagster instance (written by grid_pipeline.orchestration.instance_config;
# the reasons for each setting are in that module's docstring).

# Runs, event logs, schedules in SQLite under $DAGSTER_HOME/storage (Dagster's default layout).
storage:
  sqlite:
    base_dir: {storage_dir}

# The daemon checks the run queue every {dequeue_interval_s} s (default 5).
run_queue:
  dequeue_interval_seconds: {dequeue_interval_s}

concurrency:
  runs:
    # A 2-core machine: at most this many run workers at once, the rest stay QUEUED.
    max_concurrent_runs: {max_concurrent_runs}
  pools:
    # Every pool without an explicit limit - here "{TIMESCALEDB_POOL}" - gets this limit.
    default_limit: {pool_limit}
    # Hold a whole run in the queue while a pool it uses is full (visible as queued in
    # the UI) instead of starting it and letting its steps wait inside the run worker.
    granularity: run

telemetry:
  enabled: false

nux:
  enabled: false

retention:
  sensor:
    purge_after_days:
      skipped: 7
      failure: 30
      success: -1
"""


def write_dagster_yaml(home: Path, **settings: int) -> Path:
    """Create `home` if needed and write its dagster.yaml; the file's path.

    Keyword settings are those of `dagster_yaml` (max_concurrent_runs, pool_limit,
    dequeue_interval_s).
    """
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    target.write_text(dagster_yaml(home, **settings))
    return target
