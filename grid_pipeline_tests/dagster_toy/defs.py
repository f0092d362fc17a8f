"""Toy code location served by a real `dagster dev` in test_dagster_api.

Shaped like the project's graph, without a database: an unpartitioned root,
a daily-partitioned asset (3 days) with a blocking, partitioned asset check,
and an unpartitioned asset downstream of it; plus two assets in the
"timescaledb" pool that sleep and record when they ran, to show that the
instance serialises them.

Where the pool assets record their start/end times: $TOY_RECORD_DIR
(one JSON file per asset), set by the test in the `dagster dev` environment.
"""

import json
import os
import time
import warnings
from pathlib import Path

import dagster as dg

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")
POOL = "timescaledb"
POOL_SLEEP_S = 3.0


@dg.asset
def toy_root() -> dg.MaterializeResult[None]:
    """Unpartitioned root (stands in for `database_schema` / `meters`)."""
    return dg.MaterializeResult(metadata={"rows": 1})


with warnings.catch_warnings():
    # partitions_def on the spec makes the check partitioned (one result per day
    # in the Checks tab instead of only the last evaluated day); a preview feature.
    warnings.simplefilter("ignore", dg.PreviewWarning)
    DAY_CHECK = dg.AssetCheckSpec(
        "day_is_positive", asset="toy_daily", blocking=True, partitions_def=DAYS
    )


@dg.asset(deps=[toy_root], partitions_def=DAYS, check_specs=[DAY_CHECK])
def toy_daily(context: dg.AssetExecutionContext) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """One row per day (stands in for `energy_readings`)."""
    day = int(context.partition_key[-2:])
    return dg.MaterializeResult(
        metadata={"day": day},
        check_results=[dg.AssetCheckResult(check_name="day_is_positive", passed=day > 0)],
    )


@dg.asset(deps=[toy_daily])
def toy_summary() -> dg.MaterializeResult[None]:
    """Unpartitioned, downstream of every day (stands in for a rollup)."""
    return dg.MaterializeResult(metadata={"days": len(DAYS.get_partition_keys())})


def _record(name: str, started: float, ended: float) -> None:
    folder = os.environ.get("TOY_RECORD_DIR")
    if folder:
        target = Path(folder) / f"{name}.json"
        target.write_text(json.dumps({"start": started, "end": ended}))


def _pooled(name: str) -> dg.AssetsDefinition:
    @dg.asset(name=name, pool=POOL, group_name="pooled")
    def pooled_asset() -> dg.MaterializeResult[None]:
        started = time.time()
        time.sleep(POOL_SLEEP_S)
        ended = time.time()
        _record(name, started, ended)
        return dg.MaterializeResult(metadata={"start": started, "end": ended})

    return pooled_asset


pool_a = _pooled("pool_a")
pool_b = _pooled("pool_b")

defs = dg.Definitions(
    assets=[toy_root, toy_daily, toy_summary, pool_a, pool_b],
    jobs=[
        dg.define_asset_job("pool_a_job", selection=[pool_a]),
        dg.define_asset_job("pool_b_job", selection=[pool_b]),
    ],
)
