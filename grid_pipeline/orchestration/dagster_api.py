"""Launch and follow runs through a running Dagster instance, the way the UI does.

Why not `dagster.materialize()`: an in-process materialisation runs in the caller's
process under the hidden job `__ephemeral_asset_job__`, bypasses the run queue, the
concurrency pools and the daemon, and its runs cannot be re-executed from the UI
(that job does not exist in the code location). Going through the webserver's GraphQL
endpoint (the API the UI itself uses) means every run is queued, pooled, launched by
the daemon in its own run worker, recorded in the instance, and re-executable.

Stdlib only (urllib + json) so the CLI can drive an instance without importing
Dagster. Every failure - server unreachable, GraphQL error, a PythonError or other
error member in a result union, a timeout - raises `DagsterApiError` with a one-line
message.

`base_url` is the webserver's root (`http://127.0.0.1:3000`); `/graphql` is appended
(a URL already ending in `/graphql` is accepted too). Asset keys are strings with
path components joined by "/" (`AssetKey(["a", "b"])` is `"a/b"`), as the UI shows them.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

__all__ = [
    "BACKFILL_DONE_STATUSES",
    "RUN_DONE_STATUSES",
    "AssetProgress",
    "BackfillState",
    "CheckState",
    "DagsterApiError",
    "RunInfo",
    "backfill_status",
    "graphql",
    "graphql_url",
    "latest_check_results",
    "launch_asset_backfill",
    "launch_job_run",
    "materializable_asset_keys",
    "pool_limit",
    "reexecute_run",
    "run_info",
    "runs",
    "set_pool_limit",
    "wait_for_backfill",
    "wait_for_run",
    "wait_until_ready",
]

Json = dict[str, Any]

#: Run statuses after which a run does not change any more.
RUN_DONE_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
#: Backfill statuses after which the backfill daemon does nothing more for it.
BACKFILL_DONE_STATUSES = frozenset(
    {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
)

_REQUEST_TIMEOUT_S = 30.0


class DagsterApiError(RuntimeError):
    """The Dagster webserver could not do what was asked; the message is one line."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RunInfo:
    """One run as the Runs page shows it."""

    run_id: str
    job_name: str
    status: str
    tags: Mapping[str, str] = field(default_factory=dict)
    #: Unix times; None until the run started / ended.
    start_time: float | None = None
    end_time: float | None = None
    #: Concurrency pools used by the run's ops (what the run queue checks).
    pools: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        """True once the run reached SUCCESS, FAILURE or CANCELED."""
        return self.status in RUN_DONE_STATUSES


@dataclass(frozen=True)
class AssetProgress:
    """How far a backfill got with one asset (the backfill page's per-asset row)."""

    asset_key: str
    partitioned: bool
    #: For an unpartitioned asset each count is 0 or 1.
    targeted: int
    materialized: int
    failed: int
    in_progress: int


@dataclass(frozen=True)
class BackfillState:
    """A backfill's status, per-asset progress and runs."""

    backfill_id: str
    #: BulkActionStatus: REQUESTED, COMPLETED_SUCCESS, COMPLETED_FAILED, FAILED, CANCELED...
    status: str
    #: Partitions of the backfill's root assets (None when Dagster does not say).
    num_partitions: int | None
    assets: tuple[AssetProgress, ...]
    runs: tuple[RunInfo, ...]
    #: First line of the backfill's own error (e.g. the daemon failed to submit it).
    error: str | None = None
    title: str | None = None

    @property
    def done(self) -> bool:
        """True once the backfill daemon has finished with the backfill."""
        return self.status in BACKFILL_DONE_STATUSES

    @property
    def succeeded(self) -> bool:
        """Done, nothing failed and every run succeeded."""
        return (
            self.status in {"COMPLETED", "COMPLETED_SUCCESS"}
            and self.failed == 0
            and all(run.status == "SUCCESS" for run in self.runs)
        )

    @property
    def requested(self) -> int:
        """Asset partitions targeted (an unpartitioned asset counts as one)."""
        return sum(asset.targeted for asset in self.assets)

    @property
    def completed(self) -> int:
        """Asset partitions materialised so far."""
        return sum(asset.materialized for asset in self.assets)

    @property
    def failed(self) -> int:
        """Asset partitions that failed (or were not run because an upstream one failed)."""
        return sum(asset.failed for asset in self.assets)

    def summary(self) -> str:
        """One line for a progress display."""
        counts: dict[str, int] = {}
        for run in self.runs:
            counts[run.status] = counts.get(run.status, 0) + 1
        run_part = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
        line = (
            f"backfill {self.backfill_id} {self.status}: {self.completed}/{self.requested} "
            f"asset partitions done, {self.failed} failed; runs: {run_part}"
        )
        return f"{line}; error: {self.error}" if self.error else line


@dataclass(frozen=True)
class CheckState:
    """The latest execution of one asset check (one partition of it, if partitioned)."""

    asset_key: str
    check_name: str
    #: SUCCEEDED, FAILED, EXECUTION_FAILED, SKIPPED, IN_PROGRESS, or NOT_EVALUATED
    #: (never executed).
    status: str
    #: The partition this result is for; None for an unpartitioned check.
    partition: str | None
    blocking: bool
    #: ERROR or WARN, from the evaluation; None if the check has not been evaluated.
    severity: str | None
    run_id: str | None = None
    #: When the execution was planned (run creation; for a backfill run, its submission).
    timestamp: float | None = None

    @property
    def passed(self) -> bool | None:
        """True/False for an evaluated check, None if it has no evaluation yet."""
        if self.status == "SUCCEEDED":
            return True
        if self.status in {"FAILED", "EXECUTION_FAILED"}:
            return False
        return None


# --------------------------------------------------------------------------- transport


def graphql_url(base_url: str) -> str:
    """The GraphQL endpoint of a webserver given by its root URL."""
    url = base_url.rstrip("/")
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in {"http", "https"}:
        raise DagsterApiError(f"not an http(s) URL for the Dagster webserver: {base_url!r}")
    return url if url.endswith("/graphql") else f"{url}/graphql"


def _one_line(text: str, limit: int = 300) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    first = lines[0] if lines else "(no message)"
    return first if len(first) <= limit else first[: limit - 3] + "..."


def graphql(
    base_url: str,
    query: str,
    variables: Mapping[str, Any] | None = None,
    *,
    timeout_s: float = _REQUEST_TIMEOUT_S,
) -> Json:
    """POST one GraphQL operation; its `data`. Transport and GraphQL errors raise."""
    url = graphql_url(base_url)
    body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
    request = urllib.request.Request(  # noqa: S310 (graphql_url allows http(s) only)
        url,
        data=body,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            raw = response.read()
    except urllib.error.HTTPError as exc:
        # GraphQL validation errors come back as HTTP 400 with a JSON body.
        raw = exc.read()
        if not raw:
            raise DagsterApiError(f"Dagster webserver at {url} answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DagsterApiError(
            f"Dagster webserver at {url} unreachable: {_one_line(str(reason))}"
        ) from exc
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        text = _one_line(raw.decode(errors="replace"))
        raise DagsterApiError(f"Dagster webserver at {url} answered non-JSON: {text}") from exc
    if not isinstance(payload, dict):
        raise DagsterApiError(f"Dagster webserver at {url} answered an unexpected JSON shape")
    errors = payload.get("errors")
    if errors:
        message = errors[0].get("message", errors[0]) if isinstance(errors[0], dict) else errors[0]
        raise DagsterApiError(f"GraphQL error from {url}: {_one_line(str(message))}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise DagsterApiError(f"Dagster webserver at {url} answered without data")
    return data


def _ok(result: Any, expected: str, what: str) -> Json:
    """`result` if its __typename is `expected`; otherwise raise its error as one line."""
    if not isinstance(result, dict):
        raise DagsterApiError(f"{what}: empty answer")
    typename = result.get("__typename")
    if typename == expected:
        return result
    detail = result.get("message")
    if not detail and result.get("errors"):
        detail = "; ".join(str(e.get("message", "")) for e in result["errors"][:3])
    if not detail and typename == "InvalidStepError":
        detail = f"invalid step {result.get('invalidStepKey')}"
    if not detail and typename == "InvalidOutputError":
        detail = f"invalid output {result.get('invalidOutputName')} of {result.get('stepKey')}"
    raise DagsterApiError(f"{what}: {typename}: {_one_line(str(detail or 'no details'))}")


def _key_string(asset_key: Json) -> str:
    return "/".join(str(part) for part in asset_key["path"])


def _key_input(asset_key: str) -> Json:
    return {"path": [part for part in asset_key.split("/") if part]}


def _tag_list(tags: Mapping[str, str] | None) -> list[Json]:
    return [{"key": str(k), "value": str(v)} for k, v in (tags or {}).items()]


# --------------------------------------------------------------------------- queries

_RUN_FIELDS = """
fragment RunFields on Run {
  runId
  jobName
  status
  startTime
  endTime
  allPools
  tags { key value }
}
"""

_ERROR_FIELDS = """
  ... on Error { message }
  ... on RunConfigValidationInvalid { errors { message } }
  ... on InvalidStepError { invalidStepKey }
  ... on InvalidOutputError { stepKey invalidOutputName }
"""

WORKSPACE_QUERY = """
query GridWorkspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { name repositories { name jobs { name } } }
          ... on PythonError { message causes { message } }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""

DAEMON_QUERY = """
query GridDaemons {
  instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } }
}
"""

ASSET_NODES_QUERY = """
query GridAssetNodes {
  assetNodes { assetKey { path } isMaterializable isPartitioned }
}
"""

LAUNCH_BACKFILL_MUTATION = (
    """
mutation GridLaunchBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
"""
    + _ERROR_FIELDS
    + """
  }
}
"""
)

BACKFILL_QUERY = (
    """
query GridBackfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      id
      status
      title
      numPartitions
      error { message }
      assetBackfillData {
        assetBackfillStatuses {
          __typename
          ... on AssetPartitionsStatusCounts {
            assetKey { path }
            numPartitionsTargeted
            numPartitionsInProgress
            numPartitionsMaterialized
            numPartitionsFailed
          }
          ... on UnpartitionedAssetStatus {
            assetKey { path }
            inProgress
            materialized
            failed
          }
        }
      }
      runs { ...RunFields }
    }
    ... on Error { message }
  }
}
"""
    + _RUN_FIELDS
)

LAUNCH_RUN_MUTATION = (
    """
mutation GridLaunchRun($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
"""
    + _ERROR_FIELDS
    + """
  }
}
"""
)

REEXECUTE_MUTATION = (
    """
mutation GridReexecute($params: ReexecutionParams!) {
  launchRunReexecution(reexecutionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
"""
    + _ERROR_FIELDS
    + """
  }
}
"""
)

RUN_QUERY = (
    """
query GridRun($id: ID!) {
  runOrError(runId: $id) {
    __typename
    ... on Run { ...RunFields }
    ... on Error { message }
  }
}
"""
    + _RUN_FIELDS
)

RUNS_QUERY = (
    """
query GridRuns($filter: RunsFilter, $limit: Int) {
  runsOrError(filter: $filter, limit: $limit) {
    __typename
    ... on Runs { results { ...RunFields } }
    ... on Error { message }
  }
}
"""
    + _RUN_FIELDS
)

CHECKS_QUERY = """
query GridAssetChecks {
  assetNodes {
    assetKey { path }
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name blocking partitionDefinition { description } } }
      ... on Error { message }
    }
  }
}
"""

SET_POOL_LIMIT_MUTATION = """
mutation GridSetPoolLimit($pool: String!, $limit: Int!) {
  setConcurrencyLimit(concurrencyKey: $pool, limit: $limit)
}
"""

POOL_QUERY = """
query GridPool($pool: String!) {
  instance { concurrencyLimit(concurrencyKey: $pool) { concurrencyKey limit slotCount } }
}
"""


def check_executions_query(limits: Sequence[int]) -> str:
    """One query fetching the newest executions of several checks (aliases c0, c1, ...).

    Check i is given by variables $k<i> (asset key) and $n<i> (check name); at most
    limits[i] of its executions are fetched.
    """
    params = ", ".join(f"$k{i}: AssetKeyInput!, $n{i}: String!" for i in range(len(limits)))
    fields = "\n".join(
        f"  c{i}: assetCheckExecutions(assetKey: $k{i}, checkName: $n{i}, limit: {int(limit)}) "
        "{ runId status partition timestamp evaluation { severity } }"
        for i, limit in enumerate(limits)
    )
    return f"query GridCheckExecutions({params}) {{\n{fields}\n}}\n"


# --------------------------------------------------------------------------- readiness


class _LocationLoadError(DagsterApiError):
    """A code location failed to load: waiting longer will not help."""


def _load_error_line(error: Json) -> str:
    """The first line of a load error's root cause (the user's exception, not Dagster's wrapper)."""
    causes = error.get("causes") or []
    return _one_line(str((causes[-1] if causes else error).get("message", "")))


def _workspace_state(data: Json) -> tuple[list[str], int]:
    """(locations still loading, repositories loaded); raises if a location failed to load."""
    workspace = data["workspaceOrError"]
    if workspace.get("__typename") != "Workspace":
        raise DagsterApiError(f"workspace: {_one_line(str(workspace.get('message')))}")
    loading: list[str] = []
    repositories = 0
    for entry in workspace["locationEntries"]:
        location = entry.get("locationOrLoadError")
        if location is None or entry.get("loadStatus") == "LOADING":
            loading.append(entry["name"])
        elif location.get("__typename") == "PythonError":
            raise _LocationLoadError(
                f"code location {entry['name']!r} failed to load: {_load_error_line(location)}"
            )
        else:
            repositories += len(location.get("repositories", []))
    return loading, repositories


def wait_until_ready(
    base_url: str, timeout_s: float, *, require_daemon: bool = False, poll_s: float = 0.5
) -> None:
    """Return once the webserver answers and every code location is loaded.

    Raises DagsterApiError at once if a code location failed to load, with the first
    line of the underlying exception (retrying will not fix an import error), and after
    `timeout_s` if the server never answered or a location is still loading. With
    `require_daemon`, also waits for the backfill and run-queue daemons' heartbeats:
    without the daemon, backfills and queued runs never start.
    """
    url = graphql_url(base_url)
    deadline = time.monotonic() + timeout_s
    request_timeout = max(1.0, min(10.0, timeout_s))
    last = "no answer yet"
    while True:
        try:
            data = graphql(base_url, WORKSPACE_QUERY, timeout_s=request_timeout)
            loading, repositories = _workspace_state(data)
            if loading:
                last = f"code location {loading[0]!r} still loading"
            elif repositories == 0:
                last = "no code location in the workspace"
            elif require_daemon and (down := _unhealthy_daemons(base_url)):
                last = f"daemon not running ({', '.join(down)} without heartbeat)"
            else:
                return
        except _LocationLoadError:
            raise
        except DagsterApiError as exc:
            last = str(exc)
        if time.monotonic() >= deadline:
            raise DagsterApiError(f"Dagster at {url} not ready after {timeout_s:g} s: {last}")
        time.sleep(poll_s)


def _unhealthy_daemons(base_url: str) -> list[str]:
    statuses = graphql(base_url, DAEMON_QUERY)["instance"]["daemonHealth"]["allDaemonStatuses"]
    wanted = {"BACKFILL", "QUEUED_RUN_COORDINATOR"}
    return sorted(
        s["daemonType"] for s in statuses if s["daemonType"] in wanted and not s.get("healthy")
    )


# --------------------------------------------------------------------------- backfills


def materializable_asset_keys(base_url: str) -> list[str]:
    """Every materialisable asset of the workspace (not external/observable-only ones)."""
    nodes = graphql(base_url, ASSET_NODES_QUERY)["assetNodes"]
    return sorted(_key_string(node["assetKey"]) for node in nodes if node["isMaterializable"])


def launch_asset_backfill(
    base_url: str,
    asset_keys: Sequence[str] | None,
    *,
    all_partitions: bool = True,
    partition_names: Sequence[str] | None = None,
    title: str | None = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Launch an asset backfill the way the UI's "Materialize all" does; its id.

    This is the `launchPartitionBackfill` mutation with an `assetSelection` - a "pure
    asset backfill", which may mix unpartitioned and partitioned assets (any
    partitions definitions) upstream and downstream of each other. The backfill daemon
    then launches runs of the implicit asset job (`__ASSET_JOB`) level by level: the
    unpartitioned roots first, each partition (or range, per the asset's backfill
    policy) once its parents are materialised, downstream unpartitioned assets after
    all their parent partitions. Checks of the selected assets run with them.

    `asset_keys=None` selects every materialisable asset of the workspace (what
    "Materialize all" on the global asset graph selects). `all_partitions=True` targets
    every partition of every partitioned asset (the dialog's `pureAll` case);
    `partition_names` instead targets those partitions (the anchor-asset case: they
    must exist in the partitioned assets' definitions - Dagster 1.13 answers an unknown
    key with the cryptic "Multiple initial assets not yet supported") and turns
    `all_partitions` off.

    Assets at the same level with the same partitioning go into one run (all the
    unpartitioned roots together, one run per partition of a daily asset): at pool
    granularity "run" the pool does not serialise steps inside that run. The daemon
    advances a backfill once per iteration, every 30 s (hard-coded in Dagster 1.13), so
    a root -> daily -> rollup backfill takes about 4 iterations (~2 min) end to end.
    """
    keys = list(asset_keys) if asset_keys is not None else materializable_asset_keys(base_url)
    if not keys:
        raise DagsterApiError("backfill: no asset selected (the workspace has no assets)")
    if asset_keys is not None:
        known = set(materializable_asset_keys(base_url))
        unknown = [key for key in keys if key not in known]
        if unknown:
            raise DagsterApiError(f"backfill: unknown or not materialisable asset(s): {unknown}")
    params: Json = {"assetSelection": [_key_input(key) for key in keys], "tags": _tag_list(tags)}
    if partition_names is not None:
        if not partition_names:
            raise DagsterApiError("backfill: partition_names is empty")
        params["partitionNames"] = list(partition_names)
    elif all_partitions:
        params["allPartitions"] = True
    else:
        raise DagsterApiError("backfill: give partition_names or all_partitions=True")
    if title is not None:
        params["title"] = title
    if description is not None:
        params["description"] = description
    result = graphql(base_url, LAUNCH_BACKFILL_MUTATION, {"params": params})
    launched = _ok(result["launchPartitionBackfill"], "LaunchBackfillSuccess", "backfill launch")
    return str(launched["backfillId"])


def _run_info(run: Json) -> RunInfo:
    return RunInfo(
        run_id=run["runId"],
        job_name=run["jobName"],
        status=run["status"],
        tags={tag["key"]: tag["value"] for tag in run.get("tags") or []},
        start_time=run.get("startTime"),
        end_time=run.get("endTime"),
        pools=tuple(run.get("allPools") or ()),
    )


def backfill_status(base_url: str, backfill_id: str) -> BackfillState:
    """The backfill's status, per-asset progress and runs (oldest run first)."""
    result = graphql(base_url, BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]
    backfill = _ok(result, "PartitionBackfill", f"backfill {backfill_id}")
    assets: list[AssetProgress] = []
    data = backfill.get("assetBackfillData") or {}
    for entry in data.get("assetBackfillStatuses") or []:
        key = _key_string(entry["assetKey"])
        if entry["__typename"] == "AssetPartitionsStatusCounts":
            assets.append(
                AssetProgress(
                    key,
                    True,
                    entry["numPartitionsTargeted"],
                    entry["numPartitionsMaterialized"],
                    entry["numPartitionsFailed"],
                    entry["numPartitionsInProgress"],
                )
            )
        else:
            assets.append(
                AssetProgress(
                    key,
                    False,
                    1,
                    int(entry["materialized"]),
                    int(entry["failed"]),
                    int(entry["inProgress"]),
                )
            )
    error = backfill.get("error")
    run_list = [_run_info(run) for run in backfill.get("runs") or []]
    run_list.sort(key=lambda run: (run.start_time or float("inf"), run.run_id))
    return BackfillState(
        backfill_id=str(backfill["id"]),
        status=backfill["status"],
        num_partitions=backfill.get("numPartitions"),
        assets=tuple(assets),
        runs=tuple(run_list),
        error=_one_line(error["message"]) if error else None,
        title=backfill.get("title"),
    )


def wait_for_backfill(
    base_url: str,
    backfill_id: str,
    *,
    progress: Callable[[str], None],
    timeout_s: float,
    poll_s: float = 1.0,
) -> BackfillState:
    """Poll until the backfill is done; its final state (success or not: check `.succeeded`).

    `progress` gets a one-line summary whenever the status, the per-asset counts or a
    run's status changed. Raises DagsterApiError after `timeout_s` (the message ends
    with the last summary). Expect up to 30 s per dependency level of the backfill:
    Dagster's backfill daemon wakes every 30 s (not configurable in 1.13); run
    statuses change live, the per-asset counts only at those iterations.
    """
    deadline = time.monotonic() + timeout_s
    shown = ""
    while True:
        state = backfill_status(base_url, backfill_id)
        line = state.summary()
        if line != shown:
            progress(line)
            shown = line
        if state.done:
            return state
        if time.monotonic() >= deadline:
            raise DagsterApiError(f"backfill not done after {timeout_s:g} s: {line}")
        time.sleep(poll_s)


# --------------------------------------------------------------------------- runs


def _repository_of_job(base_url: str, job_name: str, location: str | None) -> tuple[str, str]:
    workspace = graphql(base_url, WORKSPACE_QUERY)["workspaceOrError"]
    if workspace.get("__typename") != "Workspace":
        raise DagsterApiError(f"workspace: {_one_line(str(workspace.get('message')))}")
    matches: list[tuple[str, str]] = []
    for entry in workspace["locationEntries"]:
        loaded = entry.get("locationOrLoadError") or {}
        if loaded.get("__typename") != "RepositoryLocation":
            continue
        if location is not None and entry["name"] != location:
            continue
        for repo in loaded["repositories"]:
            if any(job["name"] == job_name for job in repo["jobs"]):
                matches.append((entry["name"], repo["name"]))
    if not matches:
        where = f" in code location {location!r}" if location else ""
        raise DagsterApiError(f"no job named {job_name!r}{where}")
    if len(matches) > 1:
        raise DagsterApiError(f"job {job_name!r} exists in several code locations: {matches}")
    return matches[0]


def launch_job_run(
    base_url: str,
    job_name: str,
    *,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    location: str | None = None,
) -> str:
    """Submit a run of a job to the instance's run queue (the Launchpad's "Launch run"); its id.

    The run starts QUEUED; the daemon launches it when the run queue and the
    concurrency pools allow. `location` is needed only if several code locations
    define a job of that name.
    """
    location_name, repository_name = _repository_of_job(base_url, job_name, location)
    params: Json = {
        "selector": {
            "repositoryLocationName": location_name,
            "repositoryName": repository_name,
            "jobName": job_name,
        },
        "runConfigData": dict(run_config or {}),
        "executionMetadata": {"tags": _tag_list(tags)},
    }
    result = graphql(base_url, LAUNCH_RUN_MUTATION, {"params": params})["launchRun"]
    launched = _ok(result, "LaunchRunSuccess", f"launch of job {job_name!r}")
    return str(launched["run"]["runId"])


def reexecute_run(base_url: str, run_id: str, *, strategy: str = "FROM_FAILURE") -> str:
    """Re-execute a run like the run page's "Re-execute" menu; the new run's id.

    `strategy` is FROM_FAILURE, FROM_ASSET_FAILURE or ALL_STEPS. Works for runs of
    jobs that exist in a loaded code location - including backfill runs of the
    implicit `__ASSET_JOB` - but not for in-process `materialize()` runs.
    """
    params = {"parentRunId": run_id, "strategy": strategy}
    result = graphql(base_url, REEXECUTE_MUTATION, {"params": params})["launchRunReexecution"]
    launched = _ok(result, "LaunchRunSuccess", f"re-execution of run {run_id}")
    return str(launched["run"]["runId"])


def run_info(base_url: str, run_id: str) -> RunInfo:
    """One run's job, status, tags, times and pools."""
    result = graphql(base_url, RUN_QUERY, {"id": run_id})["runOrError"]
    return _run_info(_ok(result, "Run", f"run {run_id}"))


def wait_for_run(
    base_url: str,
    run_id: str,
    *,
    timeout_s: float,
    progress: Callable[[str], None] | None = None,
    poll_s: float = 1.0,
) -> RunInfo:
    """Poll until the run is SUCCESS, FAILURE or CANCELED; its final info.

    `progress` (optional) gets "run <id> <job>: <STATUS>" whenever the status
    changes. Raises DagsterApiError after `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    shown = ""
    while True:
        info = run_info(base_url, run_id)
        line = f"run {info.run_id} {info.job_name}: {info.status}"
        if progress is not None and line != shown:
            progress(line)
            shown = line
        if info.done:
            return info
        if time.monotonic() >= deadline:
            raise DagsterApiError(f"run not done after {timeout_s:g} s: {line}")
        time.sleep(poll_s)


def runs(
    base_url: str,
    limit: int = 50,
    *,
    statuses: Iterable[str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> list[RunInfo]:
    """The most recent runs (newest first), optionally filtered by status and tags."""
    run_filter: Json = {}
    if statuses is not None:
        run_filter["statuses"] = sorted(statuses)
    if tags:
        run_filter["tags"] = _tag_list(tags)
    result = graphql(base_url, RUNS_QUERY, {"filter": run_filter or None, "limit": limit})
    found = _ok(result["runsOrError"], "Runs", "runs")
    return [_run_info(run) for run in found["results"]]


ACTIVE_RUN_STATUSES = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")


def wait_for_idle(base_url: str, *, timeout_s: float, poll_s: float = 1.0) -> None:
    """Wait until no run is queued or in progress (before stopping the instance, so no run
    is left STARTED forever by a stop in the middle of it)."""
    deadline = time.monotonic() + timeout_s
    while active := runs(base_url, limit=10, statuses=ACTIVE_RUN_STATUSES):
        if time.monotonic() >= deadline:
            busy = ", ".join(f"{r.run_id[:8]} {r.job_name} {r.status}" for r in active)
            raise DagsterApiError(f"runs still active after {timeout_s:g} s: {busy}")
        time.sleep(poll_s)


# --------------------------------------------------------------------------- pools


def set_pool_limit(base_url: str, pool: str, limit: int) -> None:
    """Set a concurrency pool's limit by name (the UI's Concurrency page, "Edit limit").

    dagster.yaml can only give a default limit for all pools; pinning the project's
    pool by name also avoids Dagster 1.13 letting two runs through on the very first
    dequeue that sees a pool (before its default limit is initialised).
    """
    data = graphql(base_url, SET_POOL_LIMIT_MUTATION, {"pool": pool, "limit": limit})
    if data.get("setConcurrencyLimit") is not True:
        raise DagsterApiError(f"setting the limit of pool {pool!r} to {limit} was refused")


def pool_limit(base_url: str, pool: str) -> int | None:
    """A pool's limit as the instance applies it (explicit or default); None if unlimited."""
    info = graphql(base_url, POOL_QUERY, {"pool": pool})["instance"]["concurrencyLimit"]
    value = info.get("limit") if info else None
    return int(value) if value is not None else None


# --------------------------------------------------------------------------- checks


def latest_check_results(base_url: str, *, per_check_limit: int = 1000) -> list[CheckState]:
    """The latest execution of every asset check - per partition for partitioned checks.

    What the asset's Checks tab shows: for an unpartitioned check, its most recent
    execution; for a partitioned check (a check spec with `partitions_def`), the most
    recent execution of each partition that has one (found among the check's newest
    `per_check_limit` executions). A check never executed gives one NOT_EVALUATED
    entry. Two requests whatever the number of checks.
    """
    nodes = graphql(base_url, CHECKS_QUERY)["assetNodes"]
    checks: list[tuple[str, str, bool, bool]] = []
    for node in nodes:
        key = _key_string(node["assetKey"])
        found = node.get("assetChecksOrError") or {}
        if found.get("__typename") != "AssetChecks":
            raise DagsterApiError(
                f"checks of {key}: {found.get('__typename')}: "
                f"{_one_line(str(found.get('message')))}"
            )
        for check in found["checks"]:
            partitioned = check.get("partitionDefinition") is not None
            checks.append((key, check["name"], bool(check["blocking"]), partitioned))
    if not checks:
        return []
    variables: Json = {}
    for i, (key, name, _, _) in enumerate(checks):
        variables[f"k{i}"] = _key_input(key)
        variables[f"n{i}"] = name
    limits = [max(1, per_check_limit) if partitioned else 1 for *_, partitioned in checks]
    data = graphql(base_url, check_executions_query(limits), variables)
    states: list[CheckState] = []
    for i, (key, name, blocking, partitioned) in enumerate(checks):
        executions = cast("list[Json]", data[f"c{i}"])
        if not executions:
            states.append(CheckState(key, name, "NOT_EVALUATED", None, blocking, None))
            continue
        # Newest first: keep the first execution seen for each partition.
        latest: dict[str | None, Json] = {}
        for execution in executions:
            partition = execution.get("partition") if partitioned else None
            latest.setdefault(partition, execution)
            if not partitioned:
                break
        for partition, execution in sorted(latest.items(), key=lambda item: item[0] or ""):
            evaluation = execution.get("evaluation") or {}
            states.append(
                CheckState(
                    asset_key=key,
                    check_name=name,
                    status=execution["status"],
                    partition=partition,
                    blocking=blocking,
                    severity=evaluation.get("severity"),
                    run_id=execution.get("runId"),
                    timestamp=execution.get("timestamp"),
                )
            )
    return states
