"""Dagster assets of the historic data set: the fleet, the readings, the chunk-interval variants.

`energy_readings` is daily-partitioned over the data set's fixed window
(`grid_pipeline.app.dataset`): each partition is one UTC day, replaced in one
transaction, so re-materialising any day at any time (also after compression)
is idempotent. Each further chunk interval (`GRID_CHUNK_INTERVALS`) is its own
asset, filled day by day from `energy_readings` server-side.

These definitions are thin: the work is `grid_pipeline.app.history`.
"""

import warnings
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import dagster as dg

from grid_pipeline.app.dataset import first_and_last_day, partition_window
from grid_pipeline.app.history import (
    EmptyFleet,
    WindowFacts,
    day_of,
    fill_variant,
    load_readings,
    store_fleet,
    window_facts,
)
from grid_pipeline.config import ChunkVariant, Settings, load_settings
from grid_pipeline.defs.resources import ENGINE_POOL, TimescaleResource
from grid_pipeline.storage.quality import markdown_table

READINGS_GROUP = "historic"
# Per-partition check results (the Checks tab shows each day) are a preview API in 1.13.
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)


def history_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """One partition per UTC day of the fixed window (first and last may be partial)."""
    first, last = first_and_last_day(settings)
    return dg.DailyPartitionsDefinition(
        start_date=first.isoformat(),
        end_date=(last + timedelta(days=1)).isoformat(),
        end_offset=1,  # the last day is a partition although it has not ended
        timezone="UTC",
    )


def readings_check_specs(
    asset_key: str, partitions: dg.DailyPartitionsDefinition
) -> list[dg.AssetCheckSpec]:
    """The data contract every readings table meets, checked on each loaded day.

    Partitioned like the asset, so the Checks tab shows a result per day.
    Duplicates are wrong data: that check blocks what is built downstream (NaN
    and Infinity cannot occur: the readings columns are integers). Bounds and
    completeness are warnings about the data itself.
    """
    return [
        dg.AssetCheckSpec("no_duplicate_readings", asset=asset_key, blocking=True,
                          partitions_def=partitions,
                          description="No (meter_id, timestamp) appears twice."),
        dg.AssetCheckSpec("physical_bounds", asset=asset_key, partitions_def=partitions,
                          description="Power, voltage, current within the meter's physical range."),
        dg.AssetCheckSpec("complete_window", asset=asset_key, partitions_def=partitions,
                          description="One reading per meter per interval in the loaded day."),
    ]  # fmt: skip


def facts_as_dagster(facts: WindowFacts) -> tuple[list[dg.AssetCheckResult], dict[str, Any]]:
    """The window's data contract as check results, its size facts as metadata."""
    quality = facts.quality
    checks = [
        dg.AssetCheckResult(check_name="no_duplicate_readings", passed=quality.duplicates == 0,
                            metadata={"duplicates": quality.duplicates}),
        dg.AssetCheckResult(check_name="physical_bounds", passed=quality.out_of_bounds == 0,
                            severity=dg.AssetCheckSeverity.WARN,
                            metadata={"out_of_bounds_rows": quality.out_of_bounds}),
        dg.AssetCheckResult(check_name="complete_window", passed=quality.complete,
                            severity=dg.AssetCheckSeverity.WARN,
                            metadata={"rows": quality.rows, "expected_rows": quality.expected_rows,
                                      "meters_reporting": quality.meters_reporting}),
    ]  # fmt: skip
    metadata: dict[str, Any] = {
        "window_start": facts.window[0].isoformat(),
        "window_end": facts.window[1].isoformat(),
        "window_rows": quality.rows,
        "table_rows_approx": facts.stats.rows,
        "chunks": facts.stats.chunks,
        "bytes": facts.stats.total_bytes,
        "chunk_interval": str(facts.stats.chunk_interval),
        "preview": dg.MetadataValue.md(markdown_table(facts.preview)),
    }
    return checks, metadata


def partition_day_window(context: dg.AssetExecutionContext, settings: Settings) -> tuple[Any, Any]:
    """The UTC window of the run's daily partition; a day outside the data set fails the
    run with the one-line reason instead of a traceback."""
    try:
        return partition_window(day_of(context.partition_key), settings)
    except ValueError as exc:
        raise dg.Failure(str(exc)) from None


@dg.asset(
    group_name=READINGS_GROUP,
    kinds={"timescaledb", "polars"},
    deps=["database_schema"],
    pool=ENGINE_POOL,
)
def meters(timescale: TimescaleResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The smart-meter fleet (GRID_METERS meters, deterministic from GRID_SEED) and
    the grid it hangs on.

    Customer class, feeder and substation, solar, rated kW and nominal voltage;
    readings, the simulator and the dashboard all take the fleet from this table.
    Beside it, `transformers` and `feeders` with their kVA ratings (`fleet.grid`).
    """
    loaded = store_fleet(timescale.database(), timescale.settings())
    fleet = loaded.fleet
    grid = loaded.grid
    mix = fleet.group_by("customer_class").len().sort("customer_class")
    sizes = grid.transformers.group_by("rating_kva").len().sort("rating_kva")
    return dg.MaterializeResult(
        metadata={
            "rows": fleet.height,
            "classes": dg.MetadataValue.json(dict(mix.iter_rows())),
            "solar_meters": int(fleet.get_column("has_solar").sum()),
            "feeders": fleet.get_column("feeder").n_unique(),
            "transformers": grid.transformers.height,
            "transformer_kva": dg.MetadataValue.json({str(kva): n for kva, n in sizes.iter_rows()}),
            "seconds": round(loaded.seconds, 3),
            "preview": dg.MetadataValue.md(markdown_table(fleet.head(10).to_dicts())),
        }
    )


def build_readings_asset(
    settings: Settings, partitions: dg.DailyPartitionsDefinition
) -> dg.AssetsDefinition:
    """`energy_readings`: generated historic readings, one UTC day per partition."""
    primary = settings.chunk_variants[0]

    @dg.asset(
        name=primary.table,
        group_name=READINGS_GROUP,
        kinds={"timescaledb", "polars"},
        deps=[meters],
        partitions_def=partitions,
        check_specs=readings_check_specs(primary.table, partitions),
        pool=ENGINE_POOL,
    )
    def energy_readings(
        context: dg.AssetExecutionContext, timescale: TimescaleResource
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        """Historic smart-meter readings (the primary hypertable, 1-day chunks).

        One row per meter per interval, generated with polars from the fleet's load
        profiles; each partition replaces its UTC day in one transaction (compressed
        chunks are decompressed for it and compressed again). The live ingestion
        writes after the window's end and reports as `mqtt_ingestion`.
        """
        cfg = timescale.settings()
        window = partition_day_window(context, cfg)
        db = timescale.database()
        try:
            result = load_readings(db, cfg, window)
        except EmptyFleet as exc:
            raise dg.Failure(str(exc)) from None
        checks, metadata = facts_as_dagster(window_facts(db, primary.table, window, cfg))
        context.log.info(f"{result.rows:,} rows in {result.seconds:.1f} s")
        return dg.MaterializeResult(
            metadata={
                "rows": result.rows,
                "seconds": round(result.seconds, 3),
                "generate_seconds": round(result.generate_s, 3),
                "write_seconds": round(result.write_s, 3),
                "rows_per_second": round(result.rows_per_s),
                "chunks_recompressed": result.recompressed_chunks,
                **metadata,
            },
            check_results=checks,
        )

    return energy_readings


def build_variant_asset(
    variant: ChunkVariant, settings: Settings, partitions: dg.DailyPartitionsDefinition
) -> dg.AssetsDefinition:
    """A hypertable with another chunk interval, filled from `energy_readings` server-side."""
    primary = settings.chunk_variants[0].table

    @dg.asset(
        name=variant.table,
        group_name=READINGS_GROUP,
        kinds={"timescaledb", "sql"},
        deps=[primary],
        partitions_def=partitions,
        check_specs=readings_check_specs(variant.table, partitions),
        pool=ENGINE_POOL,
        description=(
            f"The readings in a hypertable with {variant.interval} chunks, a copy of "
            f"`{primary}` made with INSERT ... SELECT (server-side), for the chunk-interval "
            "study. Each partition replaces its UTC day."
        ),
    )
    def variant_asset(
        context: dg.AssetExecutionContext, timescale: TimescaleResource
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        cfg = timescale.settings()
        window = partition_day_window(context, cfg)
        db = timescale.database()
        filled = fill_variant(db, cfg, variant, window)
        checks, metadata = facts_as_dagster(window_facts(db, variant.table, window, cfg))
        return dg.MaterializeResult(
            metadata={
                "rows": filled.rows,
                "seconds": round(filled.seconds, 3),
                "rows_per_second": round(filled.rows / filled.seconds) if filled.seconds else 0,
                **metadata,
            },
            check_results=checks,
        )

    return variant_asset


def historic_assets(settings: Settings | None = None) -> Sequence[dg.AssetsDefinition]:
    """The fleet, the readings and one asset per further configured chunk interval."""
    settings = settings or load_settings()
    partitions = history_partitions(settings)
    return [
        meters,
        build_readings_asset(settings, partitions),
        *(build_variant_asset(v, settings, partitions) for v in settings.chunk_variants[1:]),
    ]
