"""Validation rules: which stored readings cannot be what the meter truly measured.

Each rule flags (meter, interval) pairs with a reason. The readings are in stored
units (W, Wh, 0.1 V, mA; `db.units`). Rules that make a reading unusable for billing
are in `INVALIDATING`: estimation replaces those intervals. The others describe the
supply or the metrology and leave the energy as it is.

1. ``missing``: no reading for an ended interval inside the data set.
2. ``spike``: power above `SPIKE_RATING_MULTIPLE` times the meter's rating; its
   load cannot draw that, so the register glitched.
3. ``zero``: zero power and energy with the voltage present for at least an hour:
   a failed current sensor, not an empty house (a house always draws something).
4. ``stuck``: the same power, voltage and current for at least an hour; real loads
   and voltages move every interval.
5. ``negative_without_solar``: energy below zero on a meter without generation.
6. ``register_mismatch``: the interval's energy differs from power times the interval
   by more than a watt-hour (the register and the power reading disagree).
7. ``voltage_range``: a voltage present but outside 50-130 % of nominal, beyond what
   a supply can deliver and the meter keep measuring.
8. ``current_mismatch``: current inconsistent with power and voltage (by more than
   5 % and 50 mA) for the meter's phases and power factor.
9. ``future``: a timestamp after the current interval.
10. ``outage``: voltage zero: no supply. The zeros are true (nothing was consumed),
    so the interval is flagged for the operator and kept.
11. ``clock_drift``: the reading repeats one filed up to 30 minutes earlier, among at
    least three such echoes of one meter (`events.detectors.clock`): a drifting clock
    filed one measured interval under two stamps, so the later one is not what the
    interval consumed.
12. ``duplicate_conflict``: the meter sent the interval again with other values
    (`reading_conflicts`, recorded by ingestion). The first version is stored and kept;
    the flag tells the operator that the meter contradicted itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from grid_pipeline.events.detectors.clock import drift_clusters, echo_pairs
from grid_pipeline.events.runs import sustained_runs
from grid_pipeline.fleet.meters import CUSTOMER_CLASSES, PHASE_FACTOR, POWER_FACTOR

RULES = (
    "missing", "spike", "zero", "stuck", "negative_without_solar", "register_mismatch",
    "voltage_range", "current_mismatch", "future", "outage", "clock_drift",
    "duplicate_conflict",
)  # fmt: skip
#: Rules whose readings cannot be billed: estimation replaces them.
INVALIDATING = frozenset(
    {"missing", "spike", "zero", "stuck", "negative_without_solar", "register_mismatch",
     "clock_drift"}
)  # fmt: skip
SPIKE_RATING_MULTIPLE = 1.5
SUSTAINED = timedelta(hours=1)
VOLTAGE_RANGE = (0.5, 1.3)
CURRENT_TOLERANCE = (0.05, 50)  # relative, mA
#: What `duplicate_conflict` reads: per stored reading received again with other values,
#: the number of other versions and the last one beside the stored values.
CONFLICT_SCHEMA = pl.Schema(
    {"timestamp": pl.Datetime("us", "UTC"), "meter_id": pl.Int32(), "versions": pl.Int64(),
     "power": pl.Int64(), "energy": pl.Int64(), "voltage": pl.Int64(), "current": pl.Int64(),
     "stored_power": pl.Int64(), "stored_energy": pl.Int64(), "stored_voltage": pl.Int64(),
     "stored_current": pl.Int64()}
)  # fmt: skip
FLAG_SCHEMA = pl.Schema(
    {"timestamp": pl.Datetime("us", "UTC"), "meter_id": pl.Int32(), "rule": pl.Utf8(),
     "detail": pl.Utf8()}
)  # fmt: skip


def meter_facts(fleet: pl.DataFrame) -> pl.DataFrame:
    """Per meter what the rules compare with: rating (W), nominal voltage (0.1 V), solar,
    and the factor that turns power and voltage into current."""
    k = {c: PHASE_FACTOR[i] * POWER_FACTOR[i] for i, c in enumerate(CUSTOMER_CLASSES)}
    return fleet.select(
        pl.col("meter_id").cast(pl.Int32),
        (pl.col("rated_kw") * 1000.0).alias("rated_w"),
        (pl.col("nominal_voltage") * 10.0).alias("nominal_dv"),
        pl.col("has_solar"),
        pl.col("customer_class").replace_strict(k, return_dtype=pl.Float64).alias("k"),
    )


def _flag(frame: pl.DataFrame, rule: str, detail: pl.Expr) -> pl.DataFrame:
    return frame.select("timestamp", "meter_id", pl.lit(rule).alias("rule"),
                        detail.cast(pl.Utf8).alias("detail"))  # fmt: skip


def _sustained(
    frame: pl.DataFrame, condition: pl.Expr, rule: str, interval: timedelta
) -> pl.DataFrame:
    """Flag every interval of runs where `condition` holds for at least an hour."""
    flags = frame.select(pl.col("meter_id").alias("key"), "timestamp", condition.alias("flag"))
    runs = sustained_runs(flags, interval, SUSTAINED)
    if runs.is_empty():
        return pl.DataFrame(schema=FLAG_SCHEMA)
    inside = (
        frame.select("timestamp", "meter_id")
        .join(runs.with_columns(pl.col("key").cast(pl.Int32).alias("meter_id")), on="meter_id")
        .filter((pl.col("timestamp") >= pl.col("start")) & (pl.col("timestamp") < pl.col("end")))
    )
    return _flag(inside, rule, pl.format("{} intervals", pl.col("intervals")))


def _clock_echoes(readings: pl.DataFrame, interval: timedelta) -> pl.DataFrame:
    """The later reading of each echo inside a clock-drift cluster, with its original."""
    pairs = echo_pairs(readings)
    clusters = drift_clusters(pairs, interval)
    echoes = pairs.join(clusters.select("meter_id", "start", "end"), on="meter_id").filter(
        (pl.col("second") >= pl.col("start")) & (pl.col("second") < pl.col("end"))
    )
    return echoes.select(
        pl.col("second").alias("timestamp"),
        "meter_id",
        pl.format("repeats {}", pl.col("first").dt.strftime("%Y-%m-%d %H:%M")).alias("detail"),
    )


def validate(
    readings: pl.DataFrame,
    facts: pl.DataFrame,
    expected: pl.DataFrame,
    interval: timedelta,
    now: datetime,
    conflicts: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Flags (FLAG_SCHEMA) for `readings` (stored units) against every rule.

    `conflicts` (CONFLICT_SCHEMA) are the readings received again with other values.

    `expected` holds the (timestamp, meter_id) pairs that should have a reading (ended
    intervals inside the data set); `readings` should include an hour around them so
    sustained rules see runs that began earlier.
    """
    hours = interval / timedelta(hours=1)
    r = readings.join(facts, on="meter_id", how="left")
    voltage_on = pl.col("voltage") > 0
    changed = (
        (pl.col("power").diff() != 0)
        | (pl.col("voltage").diff() != 0)
        | (pl.col("current").diff() != 0)
    )
    r = r.sort("meter_id", "timestamp").with_columns(
        changed.over("meter_id").fill_null(True).alias("_changed")
    )
    same_as_before = ~pl.col("_changed") & (pl.col("power") != 0)
    # A stuck run starts at the reading that the next ones repeat: flag it too.
    stuck = same_as_before | (
        same_as_before.shift(-1).over("meter_id").fill_null(False) & (pl.col("power") != 0)
    )
    expected_current = pl.col("power").abs() * 1e6 / (pl.col("k") * pl.col("voltage") * 100.0)
    current_off = (pl.col("current") - expected_current).abs()
    too_high = pl.col("power") > SPIKE_RATING_MULTIPLE * pl.col("rated_w")
    dead_sensor = (pl.col("power") == 0) & (pl.col("energy") == 0) & voltage_on
    register_off = (pl.col("energy") - pl.col("power") * hours).abs() > 1.0
    nominal = pl.col("nominal_dv")
    outside_range = (pl.col("voltage") < VOLTAGE_RANGE[0] * nominal) | (
        pl.col("voltage") > VOLTAGE_RANGE[1] * nominal
    )
    parts = [
        _flag(expected.join(readings, on=["timestamp", "meter_id"], how="anti"), "missing",
              pl.lit("no reading")),
        _flag(r.filter(too_high), "spike",
              pl.format("{} W > {} x rating", pl.col("power"), pl.lit(SPIKE_RATING_MULTIPLE))),
        _sustained(r, dead_sensor, "zero", interval),
        _sustained(r, stuck, "stuck", interval),
        _flag(r.filter((pl.col("energy") < 0) & ~pl.col("has_solar")), "negative_without_solar",
              pl.format("{} Wh", pl.col("energy"))),
        _flag(r.filter(register_off), "register_mismatch",
              pl.format("{} Wh, {} W", pl.col("energy"), pl.col("power"))),
        _flag(r.filter(voltage_on & outside_range), "voltage_range",
              pl.format("{} dV", pl.col("voltage"))),
        _flag(r.filter(voltage_on & (current_off > CURRENT_TOLERANCE[1])
                       & (current_off > CURRENT_TOLERANCE[0] * expected_current)),
              "current_mismatch", pl.format("{} mA", pl.col("current"))),
        _flag(r.filter(pl.col("timestamp") > now), "future", pl.lit("after now")),
        _flag(r.filter(pl.col("voltage") == 0), "outage", pl.lit("no supply")),
        _flag(_clock_echoes(readings, interval), "clock_drift", pl.col("detail")),
        _flag(conflicts if conflicts is not None else pl.DataFrame(schema=CONFLICT_SCHEMA),
              "duplicate_conflict",
              pl.format("{} other version(s); last {} W {} Wh {} dV, stored {} W {} Wh {} dV",
                        "versions", "power", "energy", "voltage", "stored_power",
                        "stored_energy", "stored_voltage")),
    ]  # fmt: skip
    flags = (
        pl.concat([p.cast(FLAG_SCHEMA) for p in parts if p.height], how="vertical")
        if any(p.height for p in parts)
        else pl.DataFrame(schema=FLAG_SCHEMA)
    )
    # Only the intervals asked about (the context around them is for the sustained rules).
    return flags.join(expected.select("timestamp", "meter_id"), on=["timestamp", "meter_id"],
                      how="semi").unique(["timestamp", "meter_id", "rule"]).sort(
        "meter_id", "timestamp", "rule")  # fmt: skip
