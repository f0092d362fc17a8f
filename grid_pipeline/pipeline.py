"""The seed pipeline, materialised end to end (what `make run` does on an empty database
and what `grid-pipeline up --once` does non-interactively).

Runs go through Dagster's own machinery (`dagster.materialize` against the
project's instance), so every run, materialisation and check result appears in
the Dagster UI exactly as if launched from it: schema and fleet, one run per
daily partition of the readings and their variants, then compression, the
continuous aggregates with their checks, and the benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from grid_pipeline.config import Settings
from grid_pipeline.db.connection import connect
from grid_pipeline.db.migrate import ready_database
from grid_pipeline.defs.bench import build_benchmark_asset
from grid_pipeline.defs.historic import historic_assets
from grid_pipeline.defs.resources import TimescaleResource
from grid_pipeline.defs.schema import database_schema
from grid_pipeline.defs.storage import (
    aggregates_match_raw,
    build_compression_asset,
    continuous_aggregates,
    meter_day_completeness,
)

Progress = Callable[[str], None]


@dataclass
class PipelineResult:
    """What the end-to-end materialisation did."""

    runs: int = 0
    seconds: float = 0.0
    failed_checks: list[str] = field(default_factory=list)
    assets: set[str] = field(default_factory=set)


def database_is_empty(settings: Settings) -> bool:
    """True when there are no readings yet (the demo then builds the data set)."""
    db = ready_database(settings)
    with connect(db) as conn:
        row = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM energy_readings)").fetchone()
    return bool(row and row[0])


def materialize_pipeline(
    settings: Settings,
    *,
    instance: dg.DagsterInstance | None = None,
    benchmark_repeat: int = 3,
    progress: Progress = print,
) -> PipelineResult:
    """Materialise every asset of the graph (all partitions) and evaluate every check."""
    started = time.monotonic()
    result = PipelineResult()
    resources = {"timescale": TimescaleResource(data_dir=str(settings.data_dir))}
    history = historic_assets(settings)
    fleet, partitioned = history[0], list(history[1:])
    storage = [
        continuous_aggregates,
        *(build_compression_asset(v) for v in settings.chunk_variants),
    ]
    benchmark = build_benchmark_asset(settings)

    def run(assets: list[dg.AssetsDefinition], label: str, **kwargs: object) -> None:
        progress(f"dagster: materialising {label}")
        outcome = dg.materialize(
            assets,
            instance=instance,
            resources=resources,
            raise_on_error=False,
            **kwargs,  # type: ignore[arg-type]
        )
        result.runs += 1
        if not outcome.success:
            raise RuntimeError(f"materialising {label} failed (run {outcome.run_id})")
        for event in outcome.get_asset_materialization_events():
            key = event.asset_key
            if key is not None:
                result.assets.add(key.to_user_string())
        result.failed_checks += [
            f"{c.asset_key.to_user_string()}:{c.check_name}"
            for c in outcome.get_asset_check_evaluations()
            if not c.passed
        ]

    run([database_schema, fleet], "database_schema, meters")
    partitions = partitioned[0].partitions_def
    assert partitions is not None
    keys = partitions.get_partition_keys()
    for i, key in enumerate(keys, start=1):
        run(partitioned, f"readings partition {key} ({i}/{len(keys)})", partition_key=key)
    run([*storage, aggregates_match_raw, meter_day_completeness], "compression and aggregates")
    run(
        [benchmark],
        "query_benchmark",
        run_config={"ops": {"query_benchmark": {"config": {"repeat": benchmark_repeat}}}},
    )
    result.seconds = time.monotonic() - started
    return result
