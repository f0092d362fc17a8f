"""The seed pipeline as Dagster runs: one asset backfill submitted to the running instance.

What `make run` does on an empty database, what `grid-pipeline up --once` and
`grid-pipeline materialize` submit and await: a backfill of every asset but the
live path's (`mqtt_ingestion`) over all partitions, exactly what "Materialize
all" does in the UI. The daemon executes it; it shows under Backfills, with one
run per partition, re-executable like any other run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from grid_pipeline.orchestration import dagster_api

Progress = Callable[[str], None]
LIVE_ASSETS = frozenset({"mqtt_ingestion"})
BOOTSTRAP_TAGS = {"grid_pipeline/purpose": "bootstrap"}


def bootstrap_selection() -> list[str]:
    """Every asset of the code location except the live path's, as user strings."""
    from grid_pipeline.definitions import defs  # the code location's own graph

    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    return sorted(keys - LIVE_ASSETS)


def submit_bootstrap(dagster_url: str) -> str:
    """Launch the backfill of every historic, storage and benchmark asset; its id."""
    return dagster_api.launch_asset_backfill(
        dagster_url,
        bootstrap_selection(),
        all_partitions=True,
        tags=BOOTSTRAP_TAGS,
        title="Seed data set",
        description="Fleet, every daily partition of the readings and variants, "
        "compression, continuous aggregates, benchmark.",
    )


@dataclass
class BootstrapOutcome:
    """What the backfill did, judged the way `up --once` exits."""

    backfill_id: str
    status: str
    runs: int = 0
    failed_runs: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.status == "COMPLETED_SUCCESS" and not self.failed_runs and not self.failed_checks
        )

    def summary(self) -> str:
        return (
            f"backfill {self.backfill_id}: {self.status.lower()}, {self.runs} runs, "
            f"failed runs: {', '.join(self.failed_runs) or 'none'}; "
            f"failed blocking checks: {', '.join(self.failed_checks) or 'none'}"
        )


def await_bootstrap(
    dagster_url: str, backfill_id: str, *, progress: Progress, timeout_s: float
) -> BootstrapOutcome:
    """Wait for the backfill, then judge it: every run succeeded, no blocking check failed."""
    state = dagster_api.wait_for_backfill(
        dagster_url, backfill_id, progress=progress, timeout_s=timeout_s
    )
    outcome = BootstrapOutcome(backfill_id, state.status, runs=len(state.runs))
    outcome.failed_runs = [
        f"{run.run_id[:8]} ({run.status.lower()})" for run in state.runs if run.status != "SUCCESS"
    ]
    outcome.failed_checks = [
        f"{check.asset_key}:{check.check_name}"
        + (f"[{check.partition}]" if check.partition else "")
        for check in dagster_api.latest_check_results(dagster_url)
        if check.blocking and check.status not in ("SUCCEEDED", "SKIPPED", "IN_PROGRESS")
    ]
    return outcome
