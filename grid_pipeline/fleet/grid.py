"""The network the meters hang on: distribution transformers and feeders, with ratings.

Grid events are about assets, not only meters: a transformer is overloaded, a
feeder loses supply, energy goes missing between a feeder's head and its
meters. So the fleet gets the assets it is connected through, deterministic
from the fleet itself (and so from the seed that built it):

* Households share a transformer: on each feeder, residential meters in meter_id
  order (ids are spread over feeders by hash, so neighbours in this order are
  not neighbours in id) are grouped ``HOUSES_PER_TRANSFORMER`` to a transformer.
* Commercial and industrial connections have a dedicated transformer each.
* A transformer's rating is the smallest standard size (IEC 60076 preferred kVA
  ratings) that carries its diversified peak: the sum of its meters' rated kW
  times the diversity factor (households rarely peak together; a business is
  its own peak), divided by the power factor.
* A feeder's rating is the smallest standard feeder capacity that carries the
  sum of its transformers' ratings times the feeder diversity factor.
* Each feeder has a feeder-head meter measuring the feeder's total, numbered
  ``FEEDER_HEAD_BASE + feeder number`` so it never collides with a customer meter.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from grid_pipeline.fleet.meters import POWER_FACTOR

#: Households per shared distribution transformer (a pole or pad-mount unit).
HOUSES_PER_TRANSFORMER = 8
#: Share of the summed household ratings that a shared transformer must carry.
HOUSEHOLD_DIVERSITY = 0.5
#: Share of the summed transformer ratings that the feeder must carry.
FEEDER_DIVERSITY = 0.6
#: Standard distribution transformer sizes (kVA, IEC 60076 preferred ratings).
TRANSFORMER_KVA = (25, 50, 100, 160, 250, 400, 630, 1000, 1600, 2500)
#: Standard feeder capacities (kVA): 11 kV feeders of 2-16 MVA.
FEEDER_KVA = (2_000, 4_000, 6_000, 8_000, 10_000, 12_000, 16_000)
#: Feeder-head meters are numbered above every customer meter.
FEEDER_HEAD_BASE = 1_000_000

TRANSFORMER_SCHEMA = pl.Schema(
    {"transformer": pl.Utf8(), "feeder": pl.Utf8(), "rating_kva": pl.Int32(),
     "meters": pl.Int32()}
)  # fmt: skip
FEEDER_SCHEMA = pl.Schema(
    {"feeder": pl.Utf8(), "substation": pl.Utf8(), "rating_kva": pl.Int32(),
     "head_meter_id": pl.Int32(), "transformers": pl.Int32()}
)  # fmt: skip


@dataclass(frozen=True)
class Grid:
    """The fleet's assets: which transformer serves each meter, transformers, feeders."""

    meter_transformer: pl.DataFrame  # meter_id, transformer
    transformers: pl.DataFrame  # TRANSFORMER_SCHEMA
    feeders: pl.DataFrame  # FEEDER_SCHEMA


def standard_size(needed_kva: pl.Expr, sizes: tuple[int, ...]) -> pl.Expr:
    """The smallest of `sizes` at or above `needed_kva` (the largest if none is)."""
    chosen = pl.lit(sizes[-1])
    for size in reversed(sizes):
        chosen = pl.when(needed_kva <= size).then(pl.lit(size)).otherwise(chosen)
    return chosen.cast(pl.Int32)


def _feeder_number(feeder: pl.Expr) -> pl.Expr:
    """ "F07" -> 7."""
    return feeder.str.strip_chars_start("F").cast(pl.Int32)


def build_grid(fleet: pl.DataFrame) -> Grid:
    """Transformers and feeders for `fleet` (columns as `FLEET_SCHEMA`)."""
    pf_of_class = {"residential": POWER_FACTOR[0], "commercial": POWER_FACTOR[1],
                   "industrial": POWER_FACTOR[2]}  # fmt: skip
    meters = fleet.select("meter_id", "customer_class", "feeder", "rated_kw").sort("meter_id")
    households = meters.filter(pl.col("customer_class") == "residential").with_columns(
        ((pl.col("meter_id").rank("ordinal").over("feeder") - 1) // HOUSES_PER_TRANSFORMER)
        .cast(pl.Int32)
        .alias("group")
    )
    household_groups = households.group_by("feeder").agg(
        (pl.col("group").max() + 1).cast(pl.Int32).alias("household_transformers")
    )
    businesses = (
        meters.filter(pl.col("customer_class") != "residential")
        .join(household_groups, on="feeder", how="left")
        .with_columns(
            (
                pl.col("household_transformers").fill_null(0)
                + pl.col("meter_id").rank("ordinal").over("feeder")
                - 1
            )
            .cast(pl.Int32)
            .alias("group")
        )
        .drop("household_transformers")
    )
    assigned = pl.concat([households, businesses]).with_columns(
        (pl.col("feeder") + "-T" + (pl.col("group") + 1).cast(pl.Utf8).str.zfill(3)).alias(
            "transformer"
        ),
        pl.col("customer_class").replace_strict(pf_of_class, return_dtype=pl.Float64).alias("pf"),
    )
    transformers = (
        assigned.group_by("transformer", "feeder")
        .agg(
            pl.col("meter_id").count().cast(pl.Int32).alias("meters"),
            (pl.col("rated_kw") / pl.col("pf")).sum().alias("kva_sum"),
            (pl.col("customer_class") == "residential").all().alias("households_only"),
        )
        .with_columns(
            standard_size(
                pl.when(pl.col("households_only"))
                .then(pl.col("kva_sum") * HOUSEHOLD_DIVERSITY)
                .otherwise(pl.col("kva_sum")),
                TRANSFORMER_KVA,
            ).alias("rating_kva")
        )
        .select(TRANSFORMER_SCHEMA.names())
        .cast(TRANSFORMER_SCHEMA)
        .sort("transformer")
    )
    substations = fleet.select("feeder", "substation").unique()
    feeders = (
        transformers.group_by("feeder")
        .agg(
            pl.col("rating_kva").sum().alias("kva_sum"),
            pl.len().cast(pl.Int32).alias("transformers"),
        )
        .join(substations, on="feeder")
        .with_columns(
            standard_size(pl.col("kva_sum") * FEEDER_DIVERSITY, FEEDER_KVA).alias("rating_kva"),
            (FEEDER_HEAD_BASE + _feeder_number(pl.col("feeder")))
            .cast(pl.Int32)
            .alias("head_meter_id"),
        )
        .select(FEEDER_SCHEMA.names())
        .cast(FEEDER_SCHEMA)
        .sort("feeder")
    )
    return Grid(
        meter_transformer=assigned.select("meter_id", "transformer").sort("meter_id"),
        transformers=transformers,
        feeders=feeders,
    )
