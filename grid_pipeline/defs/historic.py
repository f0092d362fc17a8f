"""Dagster assets of the historic data set: the fleet, the readings, the chunk-interval variants.

`energy_readings` is daily-partitioned: each partition is one UTC day of
generated readings, written in one transaction that replaces the day, so
re-materialising a day is idempotent. The partitions cover the `GRID_DAYS`
days ending now (the first and last partitions are partial), so a backfill of
all of them is exactly the seed's two weeks ending at the current time.

Each further configured chunk interval (`GRID_CHUNK_INTERVALS`) is its own
asset, filled day by day from `energy_readings` with `INSERT ... SELECT`,
server-side.
"""

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg

from grid_pipeline.config import ChunkVariant, Settings, load_settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.defs.resources import TimescaleResource
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.historic import (
    day_window,
    default_window,
    load_window,
    read_fleet,
    replace_fleet,
)
from grid_pipeline.storage.hypertables import (
    ensure_variant,
    fill_variant_window,
    hypertable_stats,
)
from grid_pipeline.storage.quality import markdown_table, window_preview, window_quality

READINGS_GROUP = "historic"


def history_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """UTC days from GRID_DAYS days ago up to and including today."""
    first = (datetime.now(UTC) - timedelta(days=settings.days)).date()
    return dg.DailyPartitionsDefinition(start_date=first.isoformat(), end_offset=1, timezone="UTC")


def partition_window(partition_key: str, settings: Settings) -> tuple[datetime, datetime]:
    """The part of the partition's UTC day inside the data set's window (now - days, now)."""
    day = date.fromisoformat(partition_key)
    part = day_window(day, default_window(settings.days, settings.interval))
    if part is None:
        raise dg.Failure(
            f"partition {partition_key} lies outside the {settings.days}-day window ending now"
        )
    return part


def readings_check_specs(asset_key: str) -> list[dg.AssetCheckSpec]:
    """The data contract every readings table meets, checked on each loaded window."""
    return [
        dg.AssetCheckSpec("no_duplicate_readings", asset=asset_key,
                          description="No (meter_id, timestamp) appears twice."),
        dg.AssetCheckSpec("finite_values", asset=asset_key,
                          description="No NaN or Infinity in power, energy, voltage, current."),
        dg.AssetCheckSpec("physical_bounds", asset=asset_key,
                          description="Power, voltage, current within the meter's physical range."),
        dg.AssetCheckSpec("complete_window", asset=asset_key,
                          description="One reading per meter per interval in the loaded window."),
    ]  # fmt: skip


def window_checks_and_metadata(
    db: Database, table: str, window: tuple[datetime, datetime], settings: Settings
) -> tuple[list[dg.AssetCheckResult], dict[str, Any]]:
    """Evaluate the data contract on a window and collect the size facts for metadata."""
    with connect(db) as conn:
        quality = window_quality(conn, table, window[0], window[1], settings.interval)
        stats = hypertable_stats(conn, table, exact=False)
        preview = window_preview(conn, table, window[0], window[1])
    checks = [
        dg.AssetCheckResult(check_name="no_duplicate_readings", passed=quality.duplicates == 0,
                            metadata={"duplicates": quality.duplicates}),
        dg.AssetCheckResult(check_name="finite_values", passed=quality.non_finite == 0,
                            metadata={"non_finite_rows": quality.non_finite}),
        dg.AssetCheckResult(check_name="physical_bounds", passed=quality.out_of_bounds == 0,
                            severity=dg.AssetCheckSeverity.WARN,
                            metadata={"out_of_bounds_rows": quality.out_of_bounds}),
        dg.AssetCheckResult(check_name="complete_window", passed=quality.complete,
                            severity=dg.AssetCheckSeverity.WARN,
                            metadata={"rows": quality.rows, "expected_rows": quality.expected_rows,
                                      "meters_reporting": quality.meters_reporting}),
    ]  # fmt: skip
    metadata: dict[str, Any] = {
        "window_start": window[0].isoformat(),
        "window_end": window[1].isoformat(),
        "window_rows": quality.rows,
        "table_rows_approx": stats.rows,
        "chunks": stats.chunks,
        "bytes": stats.total_bytes,
        "chunk_interval": str(stats.chunk_interval),
        "preview": dg.MetadataValue.md(markdown_table(preview)),
    }
    return checks, metadata


@dg.asset(group_name=READINGS_GROUP, kinds={"timescaledb", "polars"}, deps=["database_schema"])
def meters(timescale: TimescaleResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The smart-meter fleet (GRID_METERS meters, deterministic from GRID_SEED).

    Customer class, feeder and substation, solar, rated kW and nominal voltage;
    readings, the simulator and the dashboard all take the fleet from this table.
    """
    settings = timescale.settings()
    started = time.monotonic()
    fleet = build_fleet(settings.meters, settings.seed)
    db = timescale.database()
    replace_fleet(db, fleet)
    mix = fleet.group_by("customer_class").len().sort("customer_class")
    return dg.MaterializeResult(
        metadata={
            "rows": fleet.height,
            "classes": dg.MetadataValue.json(dict(mix.iter_rows())),
            "solar_meters": int(fleet.get_column("has_solar").sum()),
            "feeders": fleet.get_column("feeder").n_unique(),
            "seconds": round(time.monotonic() - started, 3),
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
        check_specs=readings_check_specs(primary.table),
    )
    def energy_readings(
        context: dg.AssetExecutionContext, timescale: TimescaleResource
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        """Historic smart-meter readings (the primary hypertable, 1-day chunks).

        One row per meter per interval, generated with polars from the fleet's load
        profiles and written with the engine's bulk writer; each partition replaces
        its UTC day in one transaction. The live ingestion writes here too.
        """
        cfg = timescale.settings()
        window = partition_window(context.partition_key, cfg)
        db = timescale.database()
        with connect(db) as conn:
            ensure_variant(conn, primary)
            fleet = read_fleet(conn)
        if fleet.is_empty():
            raise dg.Failure("the meters table is empty: materialise `meters` first")
        result = load_window(
            db, fleet, window, interval=cfg.interval, seed=cfg.seed, timezone=cfg.timezone
        )
        checks, metadata = window_checks_and_metadata(db, primary.table, window, cfg)
        context.log.info(f"{result.rows:,} rows in {result.seconds:.1f} s")
        return dg.MaterializeResult(
            metadata={
                "rows": result.rows,
                "seconds": round(result.seconds, 3),
                "generate_seconds": round(result.generate_s, 3),
                "write_seconds": round(result.write_s, 3),
                "rows_per_second": round(result.rows_per_s),
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
        check_specs=readings_check_specs(variant.table),
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
        window = partition_window(context.partition_key, cfg)
        db = timescale.database()
        started = time.monotonic()
        with connect(db) as conn:
            ensure_variant(conn, variant)
            rows = fill_variant_window(conn, variant, *window)
        seconds = time.monotonic() - started
        checks, metadata = window_checks_and_metadata(db, variant.table, window, cfg)
        return dg.MaterializeResult(
            metadata={
                "rows": rows,
                "seconds": round(seconds, 3),
                "rows_per_second": round(rows / seconds) if seconds else 0,
                **metadata,
            },
            check_results=checks,
        )

    return variant_asset


def historic_assets(settings: Settings | None = None) -> Sequence[dg.AssetsDefinition]:
    """The fleet, the readings and one asset per further configured chunk interval."""
    settings = settings or load_settings()
    # One partitions definition shared by all: it is computed from "now", and the
    # readings and their variants must agree on it (even across midnight).
    partitions = history_partitions(settings)
    return [
        meters,
        build_readings_asset(settings, partitions),
        *(build_variant_asset(v, settings, partitions) for v in settings.chunk_variants[1:]),
    ]
