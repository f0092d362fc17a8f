"""The meter fleet: deterministic from the seed, realistic mix, table-shaped."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from grid_pipeline.fleet import CUSTOMER_CLASSES, FLEET_SCHEMA, build_fleet


@pytest.fixture(scope="module")
def large_fleet() -> pl.DataFrame:
    return build_fleet(5000, seed=11)


def test_same_seed_same_fleet() -> None:
    assert_frame_equal(build_fleet(300, seed=5), build_fleet(300, seed=5))


def test_different_seeds_differ() -> None:
    a, b = build_fleet(300, seed=5), build_fleet(300, seed=6)
    assert not a.equals(b)
    assert (a["customer_class"] != b["customer_class"]).any()


def test_meter_is_stable_when_the_fleet_grows() -> None:
    """Meter attributes are keyed by meter_id: a small fleet is a prefix of a big one."""
    small = build_fleet(100, seed=3, n_feeders=5)
    big = build_fleet(400, seed=3, n_feeders=5)
    assert_frame_equal(small, big.head(100))


def test_schema_and_ids() -> None:
    fleet = build_fleet(123)
    assert fleet.schema == FLEET_SCHEMA
    assert fleet.columns == [
        "meter_id",
        "customer_class",
        "feeder",
        "substation",
        "has_solar",
        "rated_kw",
        "nominal_voltage",
        "solar_kwp",
    ]
    assert fleet["meter_id"].to_list() == list(range(1, 124))
    assert fleet.null_count().sum_horizontal().item() == 0


def test_class_mix(large_fleet: pl.DataFrame) -> None:
    share = large_fleet["customer_class"].value_counts(normalize=True)
    shares = dict(zip(share["customer_class"], share["proportion"], strict=True))
    assert set(shares) == set(CUSTOMER_CLASSES)
    assert 0.76 < shares["residential"] < 0.84
    assert 0.12 < shares["commercial"] < 0.18
    assert 0.03 < shares["industrial"] < 0.07


def test_solar_share_and_size(large_fleet: pl.DataFrame) -> None:
    by_class = large_fleet.group_by("customer_class").agg(pl.col("has_solar").mean())
    solar = dict(zip(by_class["customer_class"], by_class["has_solar"], strict=True))
    assert 0.25 < solar["residential"] < 0.35
    assert 0.05 < solar["commercial"] < 0.2
    assert solar["industrial"] < 0.08
    assert ((large_fleet["solar_kwp"] > 0) == large_fleet["has_solar"]).all()
    prosumers = large_fleet.filter(pl.col("customer_class") == "residential", "has_solar")
    assert prosumers["solar_kwp"].is_between(3.0, 10.0).all()


@pytest.mark.parametrize(
    ("customer_class", "low", "high", "volts"),
    [
        ("residential", 5.0, 15.0, 230.0),
        ("commercial", 30.0, 150.0, 400.0),
        ("industrial", 200.0, 1000.0, 400.0),
    ],
)
def test_ratings_and_voltage_per_class(
    large_fleet: pl.DataFrame, customer_class: str, low: float, high: float, volts: float
) -> None:
    meters = large_fleet.filter(pl.col("customer_class") == customer_class)
    assert meters["rated_kw"].is_between(low, high).all()
    assert (meters["rated_kw"] == meters["rated_kw"].round(1)).all()
    assert (meters["nominal_voltage"] == volts).all()


def test_feeders_belong_to_one_substation(large_fleet: pl.DataFrame) -> None:
    assert large_fleet["feeder"].str.contains(r"^F\d{2,}$").all()
    assert large_fleet["substation"].str.contains(r"^S\d+$").all()
    per_feeder = large_fleet.group_by("feeder").agg(pl.col("substation").n_unique())
    assert (per_feeder["substation"] == 1).all()
    assert large_fleet["feeder"].n_unique() == 100


def test_explicit_feeder_count() -> None:
    fleet = build_fleet(200, n_feeders=8)
    assert sorted(fleet["feeder"].unique()) == [f"F{i:02d}" for i in range(1, 9)]
    assert sorted(fleet["substation"].unique()) == ["S1", "S2"]


@pytest.mark.parametrize("n_meters", [0, -1])
def test_invalid_size_raises(n_meters: int) -> None:
    with pytest.raises(ValueError, match="n_meters must be at least 1"):
        build_fleet(n_meters)


def test_invalid_feeder_count_raises() -> None:
    with pytest.raises(ValueError, match="n_feeders"):
        build_fleet(10, n_feeders=0)
