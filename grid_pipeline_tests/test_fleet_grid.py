"""The grid model: every meter on one transformer of its own feeder, ratings that carry the load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from grid_pipeline.db.connection import Database, connect
from grid_pipeline.fleet.grid import (
    FEEDER_HEAD_BASE,
    FEEDER_KVA,
    HOUSES_PER_TRANSFORMER,
    TRANSFORMER_KVA,
    build_grid,
)
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.fleet.readings import generate_readings
from grid_pipeline.storage.historic import read_grid, replace_fleet


@pytest.fixture(scope="module")
def fleet() -> pl.DataFrame:
    return build_fleet(300, 7)


def test_every_meter_has_one_transformer_on_its_own_feeder(fleet: pl.DataFrame) -> None:
    grid = build_grid(fleet)
    served = grid.meter_transformer.join(fleet, on="meter_id").join(
        grid.transformers.rename({"feeder": "transformer_feeder"}), on="transformer"
    )
    assert served.height == fleet.height
    assert served["meter_id"].n_unique() == fleet.height
    assert (served["feeder"] == served["transformer_feeder"]).all()
    assert grid.transformers["meters"].sum() == fleet.height


def test_households_share_and_businesses_have_their_own(fleet: pl.DataFrame) -> None:
    grid = build_grid(fleet)
    classes = (
        grid.meter_transformer.join(fleet, on="meter_id")
        .group_by("transformer")
        .agg(pl.col("customer_class").unique().alias("classes"), pl.len().alias("n"))
    )
    for classes_on, n in classes.select("classes", "n").rows():
        if classes_on == ["residential"]:
            assert 1 <= n <= HOUSES_PER_TRANSFORMER
        else:
            assert n == 1 and len(classes_on) == 1


def test_ratings_are_standard_sizes_and_feeder_heads_never_collide(fleet: pl.DataFrame) -> None:
    grid = build_grid(fleet)
    assert set(grid.transformers["rating_kva"].to_list()) <= set(TRANSFORMER_KVA)
    assert set(grid.feeders["rating_kva"].to_list()) <= set(FEEDER_KVA)
    assert grid.feeders["feeder"].to_list() == sorted(fleet["feeder"].unique().to_list())
    heads = grid.feeders["head_meter_id"].to_list()
    assert len(set(heads)) == grid.feeders.height and min(heads) > FEEDER_HEAD_BASE
    assert min(heads) > max(fleet["meter_id"].to_list())


def test_the_grid_is_deterministic_from_the_fleet(fleet: pl.DataFrame) -> None:
    first, second = build_grid(fleet), build_grid(fleet.sample(fraction=1.0, shuffle=True, seed=1))
    assert first.meter_transformer.equals(second.meter_transformer)
    assert first.transformers.equals(second.transformers)
    assert first.feeders.equals(second.feeders)


def test_a_clean_fleet_never_loads_a_transformer_beyond_its_rating(fleet: pl.DataFrame) -> None:
    """Overload detection needs a clean fleet below rating: apparent power (kW / pf)
    of every transformer stays within its kVA over a winter and a summer week."""
    grid = build_grid(fleet)
    pf = {"residential": 1.0, "commercial": 0.95, "industrial": 0.95}
    for start in (datetime(2026, 1, 12, tzinfo=UTC), datetime(2026, 7, 13, tzinfo=UTC)):
        readings = generate_readings(fleet, start, start + timedelta(days=7), seed=7)
        load = (
            readings.join(fleet.select("meter_id", "customer_class"), on="meter_id")
            .join(grid.meter_transformer, on="meter_id")
            .with_columns(
                (
                    pl.col("power").abs()
                    / pl.col("customer_class").replace_strict(pf, return_dtype=pl.Float64)
                ).alias("kva")
            )
            .group_by("transformer", "timestamp")
            .agg(pl.col("kva").sum())
            .group_by("transformer")
            .agg(pl.col("kva").max().alias("peak_kva"))
            .join(grid.transformers, on="transformer")
        )
        assert (load["peak_kva"] <= load["rating_kva"]).all(), load.sort("peak_kva").tail(3)


@pytest.mark.integration
def test_storing_the_fleet_stores_its_grid(database: Database) -> None:
    fleet = build_fleet(120, 5)
    replace_fleet(database, fleet)
    replace_fleet(database, fleet)  # again: replaced, not duplicated
    with connect(database) as conn:
        stored = read_grid(conn)
        unserved = conn.execute("SELECT count(*) FROM meters WHERE transformer IS NULL").fetchone()
    built = build_grid(fleet)
    assert stored.meter_transformer.equals(built.meter_transformer)
    assert stored.transformers.equals(built.transformers)
    assert stored.feeders.equals(built.feeders)
    assert unserved == (0,)
