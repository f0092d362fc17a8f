"""Physical faults injected into the historic readings, with their ground truth.

`grid-pipeline generate --physical-faults` (GRID_PHYSICAL_FAULTS=on) makes the grid
misbehave the way operators see it, and records what truly happened in
`injected_faults`, so detectors can be scored against it (`grid-pipeline events score`).

Faults are drawn per (asset, UTC day) from the same counter-based hash as the clean
readings, so a day holds the same faults whether it is generated alone (a Dagster
partition) or inside a 14-day run. Every fault but theft lies inside one UTC day.
Rates are probabilities per asset and day (`FaultRates`); what each does to the
readings (display units: kW, kWh, V, A; the writer stores integers):

* ``outage`` of a meter, of every meter of a transformer, or of every meter of a
  feeder, 15 min to 4 h: the rows are there and read zero (power, energy, voltage,
  current), as a meter on its last-gasp supply reports. Row counts stay exact.
* ``voltage_sag`` / ``voltage_swell`` on a transformer, 20 min to 2 h: every meter's
  voltage moves to 0.70-0.86 / 1.13-1.18 of nominal (keeping 30 % of its own
  deviation), outside EN 50160's +-10 % band for 10-minute means.
* ``overload`` of a household transformer, 45 min to 3 h: its meters draw 1.1-1.4
  times its rating between them (each in proportion to its own rating, so none
  exceeds 1.4 times its rating).
* ``theft`` of a household without solar, 3 to 7 days from its start: the meter
  registers 40-70 % less than flows through it. The feeder head still measures it.
* ``stuck``: the meter repeats one reading for 2 to 8 h. ``zero``: power, energy and
  current read zero with the voltage present, 2 to 8 h (a failed current sensor).
  ``spike``: one interval reads 2-6 times the meter's rating.
* ``clock_drift``: the meter's real-time clock runs fast or slow for 4 to 6 h until the
  head-end's time synchronisation sets it right, reaching an offset of 20-30 minutes
  (the truth's magnitude, in minutes: positive fast, negative slow). The meter labels
  its load-profile entries by its own clock and the head-end files each entry under its
  label, one per interval, so the reading stamped t holds what the meter measured at
  true time t - k(t) intervals, k(t) the offset in whole intervals (rounded) at t. A fast
  clock lags: each time the offset grows by another interval, one measured interval is
  filed twice in a row and, at the sync, the last k are never filed. A slow clock leads:
  an interval is skipped at each step, and after the sync the k intervals it had filed
  early are filed again under their true stamps, so they repeat the readings k intervals
  before them. Rows stay one per meter and interval; the truth is [start, sync). The
  drift is fast for a clock (a crystal drifts seconds a day, a failed one or a meter
  that lost its time source minutes an hour) so that each fault fits one UTC day.

Faults never overlap on a meter (nor come within 30 minutes of each other), and a
meter under theft gets no other fault on the same day, so each has one true label.

Reverse power flow is not injected: it is a condition of the clean physics (solar
export on a transformer), and its ground truth is that condition on the true flows
(`reverse_flow_truth`), with the thresholds the detector uses.

The feeder head (`feeder_head`) measures the true flow of its meters (outages and
overloads are real; theft, stuck, zero, spikes and clock drift are metering faults, so the
energy still flows) plus about 2 % technical losses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import polars as pl

from grid_pipeline.events.kinds import Thresholds
from grid_pipeline.events.runs import sustained_runs
from grid_pipeline.fleet import profiles as pr
from grid_pipeline.fleet.grid import Grid
from grid_pipeline.fleet.meters import CUSTOMER_CLASSES, POWER_FACTOR
from grid_pipeline.fleet.profiles import IntArray, Stream
from grid_pipeline.fleet.readings import current_amps, power_and_energy

FAULT_SCHEMA = pl.Schema(
    {
        "day": pl.Date(),
        "kind": pl.Utf8(),
        "asset_type": pl.Utf8(),
        "asset": pl.Utf8(),
        "start": pl.Datetime("us", "UTC"),
        "end": pl.Datetime("us", "UTC"),
        "magnitude": pl.Float64(),
    }
)
HEAD_SCHEMA = pl.Schema(
    {"timestamp": pl.Datetime("us", "UTC"), "feeder": pl.Utf8(), "power": pl.Int32(),
     "energy": pl.Int32()}
)  # fmt: skip

#: Technical losses between a feeder's head and its meters, as a share of the flow.
HEAD_LOSS_SHARE = 0.02
#: Faults on one meter keep at least this far apart.
MARGIN = timedelta(minutes=30)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class FaultRates:
    """Probability that a fault starts, per asset (meter, transformer, feeder) and UTC day.

    The defaults give the default fleet (500 meters, 153 transformers, 10 feeders) about
    10-25 faults of each kind over 14 days: enough to score each detector, few enough that
    the data still looks like a grid.
    """

    meter_outage: float = 0.002
    transformer_outage: float = 0.01
    feeder_outage: float = 0.03
    voltage_sag: float = 0.006
    voltage_swell: float = 0.006
    overload: float = 0.02
    theft: float = 0.002
    stuck: float = 0.002
    zero: float = 0.002
    spike: float = 0.003
    #: About 14 meters over the default 14 days: 500 x 14 x 0.002.
    clock_drift: float = 0.002

    @property
    def enabled(self) -> bool:
        return any(getattr(self, f.name) > 0.0 for f in fields(self))

    @classmethod
    def none(cls) -> FaultRates:
        """No fault at all: the clean grid (still with feeder heads and reverse flow)."""
        return cls(**{f.name: 0.0 for f in fields(cls)})


@dataclass(frozen=True)
class Scenario:
    """What injecting faults into one day needs besides the readings."""

    grid: Grid
    seed: int
    interval: timedelta
    data_start: datetime  # thefts start only inside the data set
    data_end: datetime  # and their truth ends with it
    rates: FaultRates = field(default_factory=FaultRates)
    thresholds: Thresholds = field(default_factory=Thresholds)


@dataclass(frozen=True)
class Fault:
    """One injected fault: what, where, when, how strong, which meters, whose day."""

    kind: str
    asset_type: str
    asset: str
    meters: tuple[int, ...]
    start: datetime
    end: datetime
    magnitude: float
    day: date  # the UTC day whose generation records it


# kind: (rate field, duration range in minutes, magnitude range); the order is the
# order of precedence when two faults would touch the same meter.
_KINDS: dict[str, tuple[str, tuple[int, int], tuple[float, float]]] = {
    "feeder_outage": ("feeder_outage", (15, 240), (0.0, 0.0)),
    "transformer_outage": ("transformer_outage", (15, 240), (0.0, 0.0)),
    "voltage_sag": ("voltage_sag", (20, 120), (0.70, 0.86)),
    "voltage_swell": ("voltage_swell", (20, 120), (1.13, 1.18)),
    "overload": ("overload", (45, 180), (1.1, 1.4)),
    "meter_outage": ("meter_outage", (15, 240), (0.0, 0.0)),
    "stuck": ("stuck", (120, 480), (0.0, 0.0)),
    "zero": ("zero", (120, 480), (0.0, 0.0)),
    "spike": ("spike", (0, 0), (2.0, 6.0)),
    # magnitude: the offset at the sync in minutes, fast or slow (the sign is drawn)
    "clock_drift": ("clock_drift", (240, 360), (20.0, 30.0)),
}
_THEFT_DAYS = (3, 7)
_THEFT_SHARE = (0.4, 0.7)
_THEFT_STREAM = 100


def _draws(seed: int, stream: int, keys: IntArray, day_no: int) -> list[np.ndarray]:
    """Four uniforms per key for one kind and day: occurs, start, length, magnitude."""
    return [pr.uniform(seed, Stream.PHYSICAL_FAULT, stream * 8 + part, keys, np.int64(day_no))
            for part in range(4)]  # fmt: skip


@dataclass(frozen=True)
class _Assets:
    """The populations faults are drawn from, with the meters each asset covers."""

    meters: dict[str, tuple[int, ...]]  # asset name -> meter ids
    kinds: dict[str, list[str]]  # kind -> asset names eligible, in a fixed order
    rated_kw: dict[int, float]
    theft_meters: IntArray
    sole: dict[str, str]  # meter id -> the transformer it alone hangs on


def _assets(fleet: pl.DataFrame, grid: Grid) -> _Assets:
    members = grid.meter_transformer.group_by("transformer").agg(pl.col("meter_id").sort())
    by_transformer = {t: tuple(ids) for t, ids in members.iter_rows()}
    by_feeder = {
        f: tuple(ids)
        for f, ids in fleet.group_by("feeder").agg(pl.col("meter_id").sort()).iter_rows()
    }
    classes = dict(zip(fleet["meter_id"].to_list(), fleet["customer_class"].to_list(), strict=True))
    transformers = sorted(by_transformer)
    rated = dict(zip(fleet["meter_id"].to_list(), fleet["rated_kw"].to_list(), strict=True))
    rating = dict(grid.transformers.select("transformer", "rating_kva").iter_rows())
    # Households that can overload their transformer without any drawing more than 1.4
    # times its own rating: a transformer sized up to a standard unit far above its few
    # houses (25 kVA for two) would need each of them to draw several times its rating.
    households = [t for t in transformers
                  if all(classes[m] == "residential" for m in by_transformer[t])
                  and rating[t] <= sum(rated[m] for m in by_transformer[t])]  # fmt: skip
    meter_names = [str(m) for m in sorted(classes)]
    meters = {name: (int(name),) for name in meter_names} | by_transformer | by_feeder
    thieves = fleet.filter((pl.col("customer_class") == "residential") & ~pl.col("has_solar"))
    return _Assets(
        meters=meters,
        kinds={
            "feeder_outage": sorted(by_feeder),
            "transformer_outage": transformers,
            "voltage_sag": transformers,
            "voltage_swell": transformers,
            "overload": households,
            "meter_outage": meter_names,
            "stuck": meter_names,
            "zero": meter_names,
            "spike": meter_names,
            "clock_drift": meter_names,
        },
        rated_kw=rated,
        theft_meters=thieves["meter_id"].cast(pl.Int64).sort().to_numpy(),
        sole={str(ids[0]): t for t, ids in by_transformer.items() if len(ids) == 1},
    )


def _asset_type(kind: str) -> str:
    if kind.startswith("feeder_"):
        return "feeder"
    if kind.startswith("transformer_") or kind in ("voltage_sag", "voltage_swell", "overload"):
        return "transformer"
    return "meter"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _thefts(day: date, assets: _Assets, scenario: Scenario) -> list[Fault]:
    """Thefts running on `day`: started on it or on one of the days before (one per meter)."""
    keys, rate = assets.theft_meters, scenario.rates.theft
    if rate <= 0.0 or len(keys) == 0:
        return []
    longest = _THEFT_DAYS[1]
    occurs = {
        d: _draws(scenario.seed, _THEFT_STREAM, keys, (d - date(1970, 1, 1)).days)
        for d in (day - timedelta(days=k) for k in range(2 * longest + 1))
    }
    running = []
    step_s = scenario.interval.total_seconds()
    slots = int(_DAY.total_seconds() // step_s)
    for k in range(longest + 1):
        began = day - timedelta(days=k)
        u = occurs[began]
        for i in np.flatnonzero(u[0] < rate):
            before = (began - timedelta(days=j) for j in range(1, longest + 1))
            if any(occurs[d][0][i] < rate for d in before):
                continue  # one theft per meter at a time: the earlier one holds it
            start = _midnight(began) + int(u[1][i] * slots) * scenario.interval
            days = _THEFT_DAYS[0] + int(u[2][i] * (_THEFT_DAYS[1] - _THEFT_DAYS[0] + 1))
            end = min(start + timedelta(days=days), scenario.data_end)
            if start < scenario.data_start or start >= end or end <= _midnight(day):
                continue
            share = _THEFT_SHARE[0] + u[3][i] * (_THEFT_SHARE[1] - _THEFT_SHARE[0])
            meter = int(keys[i])
            running.append(Fault("theft", "meter", str(meter), (meter,), start, end, share, began))
    return running


def plan_day(day: date, fleet: pl.DataFrame, scenario: Scenario) -> list[Fault]:
    """Every fault that touches UTC `day`, thefts first, none overlapping on a meter."""
    assets = _assets(fleet, scenario.grid)
    day_no = (day - date(1970, 1, 1)).days
    step_s = scenario.interval.total_seconds()
    slots = int(_DAY.total_seconds() // step_s)
    thefts = _thefts(day, assets, scenario)
    taken: dict[int, list[tuple[datetime, datetime]]] = {
        f.meters[0]: [(_midnight(day) - MARGIN, _midnight(day) + _DAY + MARGIN)] for f in thefts
    }
    planned = list(thefts)
    for stream, (kind, (rate_name, minutes, magnitudes)) in enumerate(_KINDS.items(), start=1):
        rate = float(getattr(scenario.rates, rate_name))
        names = assets.kinds[kind]
        if rate <= 0.0 or not names:
            continue
        u = _draws(scenario.seed, stream, np.arange(len(names), dtype=np.int64), day_no)
        lo = max(1, int(minutes[0] * 60 // step_s))
        hi = max(lo, int(minutes[1] * 60 // step_s))
        # A slow clock files readings up to its offset ahead: those must lie in the day.
        tail = int(timedelta(minutes=magnitudes[1]) // scenario.interval) + 1
        tail = tail if kind == "clock_drift" else 0
        for i in np.flatnonzero(u[0] < rate):
            length = lo + int(u[2][i] * (hi - lo + 1))
            place = slots - length - tail + 1
            start = _midnight(day) + int(u[1][i] * place) * scenario.interval
            end = start + length * scenario.interval
            meters = assets.meters[names[i]]
            if any(s < end + MARGIN and start - MARGIN < e
                   for m in meters for s, e in taken.get(m, ())):  # fmt: skip
                continue
            for m in meters:
                taken.setdefault(m, []).append((start, end))
            magnitude = magnitudes[0] + u[3][i] * (magnitudes[1] - magnitudes[0])
            if kind == "clock_drift":  # one uniform: the lower half slow, the upper fast
                fast = u[3][i] >= 0.5
                share = 2.0 * u[3][i] - (1.0 if fast else 0.0)
                offset = magnitudes[0] + share * (magnitudes[1] - magnitudes[0])
                magnitude = offset if fast else -offset
            event_kind = kind.removeprefix("feeder_").removeprefix("transformer_")
            event_kind = "outage" if event_kind == "meter_outage" else event_kind
            asset_type, asset = _asset_type(kind), names[i]
            if kind == "meter_outage" and asset in assets.sole:
                # A business alone on its transformer: the transformer is out, and that is
                # what an operator (and the detector, reporting the highest level) sees.
                asset_type, asset = "transformer", assets.sole[asset]
            planned.append(Fault(event_kind, asset_type, asset, meters, start, end,
                                 float(magnitude), day))  # fmt: skip
    return planned


def _affected(faults: list[Fault], scenario: Scenario, assets_rated: dict[int, float],
              grid: Grid) -> pl.DataFrame:  # fmt: skip
    """One row per (meter, interval) a fault touches, with what the fault sets there."""
    ratings = dict(grid.transformers.select("transformer", "rating_kva").iter_rows())
    step_us = scenario.interval // timedelta(microseconds=1)
    parts = []
    for f in faults:
        begin = int(f.start.timestamp() * 1_000_000)
        end = int(f.end.timestamp() * 1_000_000)
        stamps = np.arange(begin, end, step_us, dtype=np.int64)
        meters = np.array(f.meters, dtype=np.int64)
        rated = np.array([assets_rated[m] for m in f.meters])
        if f.kind == "overload":  # each meter's share of the transformer's target load
            target_kw = f.magnitude * ratings[f.asset] * POWER_FACTOR[0]
            param = target_kw * rated / rated.sum()
        elif f.kind == "spike":
            param = f.magnitude * rated
        elif f.kind == "clock_drift":  # offset gained per unit of elapsed time, signed
            param = np.full(len(meters), f.magnitude * 60.0 / (f.end - f.start).total_seconds())
        else:
            param = np.full(len(meters), f.magnitude)
        parts.append(pl.DataFrame({
            "meter_id": np.repeat(meters, len(stamps)).astype(np.int32),
            "timestamp": pl.Series(np.tile(stamps, len(meters))).cast(pl.Datetime("us", "UTC")),
            "kind": f.kind,
            "param": np.repeat(param, len(stamps)),
            "anchor": pl.Series([f.start] * (len(meters) * len(stamps)),
                                dtype=pl.Datetime("us", "UTC")),
        }))  # fmt: skip
    if not parts:
        return pl.DataFrame(schema={"meter_id": pl.Int32(), "timestamp": pl.Datetime("us", "UTC"),
                                    "kind": pl.Utf8(), "param": pl.Float64(),
                                    "anchor": pl.Datetime("us", "UTC")})  # fmt: skip
    return pl.concat(parts)


@dataclass(frozen=True)
class InjectedDay:
    """One day's readings with its faults, the true flows' consequences, and the truth."""

    readings: pl.DataFrame  # READINGS_SCHEMA, display units
    head: pl.DataFrame  # HEAD_SCHEMA, stored units (W, Wh)
    truth: pl.DataFrame  # FAULT_SCHEMA: faults recorded by this day (clipped to the window)


def inject(
    readings: pl.DataFrame,
    fleet: pl.DataFrame,
    window: tuple[datetime, datetime],
    scenario: Scenario,
) -> InjectedDay:
    """Apply the day's planned faults to `readings` (one UTC day at most, display units),
    and derive the feeder heads and the ground truth of the window.

    With `FaultRates.none()` the readings are returned as they are, with their feeder heads
    and the reverse-flow truth (a clean grid has heads and exports too).
    """
    day = window[0].date()
    planned = plan_day(day, fleet, scenario) if scenario.rates.enabled else []
    rated = dict(zip(fleet["meter_id"].to_list(), fleet["rated_kw"].to_list(), strict=True))
    meta = fleet.select(
        pl.col("meter_id"),
        pl.col("customer_class")
        .replace_strict({c: i for i, c in enumerate(CUSTOMER_CLASSES)}, return_dtype=pl.Int64)
        .alias("class_code"),
        pl.col("nominal_voltage"),
        pl.col("feeder"),
    )
    frame = (
        readings.join(_affected(planned, scenario, rated, scenario.grid),
                      on=["meter_id", "timestamp"], how="left")
        .join(meta, on="meter_id", how="left")
    )  # fmt: skip
    kind = frame["kind"].fill_null("").to_numpy()
    param = frame["param"].fill_null(0.0).to_numpy()
    power = frame["power"].to_numpy().copy()
    voltage = frame["voltage"].to_numpy().copy()
    nominal = frame["nominal_voltage"].to_numpy()
    outage, overload = kind == "outage", kind == "overload"
    true_power = np.where(outage, 0.0, np.where(overload, np.maximum(power, param), power))
    reported = true_power.copy()
    reported = np.where(kind == "theft", np.round(power * (1.0 - param), 3), reported)
    reported = np.where(kind == "zero", 0.0, reported)
    reported = np.where(kind == "spike", np.round(param, 3), reported)
    reported = np.round(reported, 3) + 0.0
    voltage_events = (kind == "voltage_sag") | (kind == "voltage_swell")
    moved = nominal * param * (1.0 + 0.3 * (voltage / nominal - 1.0))
    voltage = np.where(voltage_events, np.round(moved, 1), voltage)
    voltage = np.where(outage, 0.0, voltage)
    hours = scenario.interval / timedelta(hours=1)
    changed = kind != ""
    new_power, new_energy = power_and_energy(reported.astype(np.float64), hours)
    energy = np.where(changed, new_energy, frame["energy"].to_numpy())
    new_power = np.where(changed, new_power, frame["power"].to_numpy())
    current = np.where(
        changed,
        current_amps(new_power, voltage, frame["class_code"].to_numpy()),
        frame["current"].to_numpy(),
    )
    out = frame.with_columns(
        pl.Series("power", new_power), pl.Series("energy", energy),
        pl.Series("voltage", voltage), pl.Series("current", current),
        pl.Series("true_power", true_power),
    )  # fmt: skip
    out = _freeze_stuck(out)
    out = _drift_clocks(out, scenario.interval)
    result = out.select(readings.columns).cast(readings.schema)
    true_flows = out.select("timestamp", "meter_id", "feeder", "true_power")
    truth = [_truth(planned, day, window), reverse_flow_truth(true_flows, fleet, scenario, day)]
    return InjectedDay(
        readings=result,
        head=feeder_head(true_flows, scenario),
        truth=pl.concat([t for t in truth if t.height], how="vertical")
        if any(t.height for t in truth)
        else pl.DataFrame(schema=FAULT_SCHEMA),
    )


def _freeze_stuck(frame: pl.DataFrame) -> pl.DataFrame:
    """A stuck meter repeats the reading it had when it stuck (its first stuck interval)."""
    if not (frame["kind"] == "stuck").any():
        return frame
    values = ["power", "energy", "voltage", "current"]
    first = frame.select(
        "meter_id", pl.col("timestamp").alias("anchor"), *[pl.col(v).alias(f"_{v}") for v in values]
    )
    joined = frame.join(first, on=["meter_id", "anchor"], how="left")
    stuck = pl.col("kind") == "stuck"
    frozen = [
        pl.when(stuck).then(pl.col(f"_{v}").fill_null(pl.col(v))).otherwise(pl.col(v)).alias(v)
        for v in values
    ]
    return joined.with_columns(frozen).drop([f"_{v}" for v in values])


def _drift_clocks(frame: pl.DataFrame, interval: timedelta) -> pl.DataFrame:
    """A drifting clock's reading at t is the one measured k(t) intervals earlier (fast)
    or later (slow), k(t) the offset since the fault began in whole intervals."""
    if not (frame["kind"] == "clock_drift").any():
        return frame
    values = ["power", "energy", "voltage", "current"]
    step_us = interval // timedelta(microseconds=1)
    elapsed = (pl.col("timestamp") - pl.col("anchor")).dt.total_microseconds()
    offset = pl.col("param") * elapsed / step_us
    k = (offset.abs() + 0.5).floor() * offset.sign()
    source = pl.col("timestamp") - pl.duration(microseconds=k.cast(pl.Int64) * step_us)
    drifting = pl.col("kind") == "clock_drift"
    measured = frame.select(
        "meter_id",
        pl.col("timestamp").alias("_source"),
        *[pl.col(v).alias(f"_{v}") for v in values],
    )
    joined = frame.with_columns(
        pl.when(drifting).then(source).otherwise(None).alias("_source")
    ).join(measured, on=["meter_id", "_source"], how="left")
    filed = [
        pl.when(drifting).then(pl.col(f"_{v}").fill_null(pl.col(v))).otherwise(pl.col(v)).alias(v)
        for v in values
    ]
    return joined.with_columns(filed).drop("_source", *[f"_{v}" for v in values])


def _truth(faults: list[Fault], day: date, window: tuple[datetime, datetime]) -> pl.DataFrame:
    """The faults this day records (thefts by the day they began), clipped to the window."""
    rows = []
    for f in faults:
        if f.day != day:
            continue
        start = max(f.start, window[0])
        end = f.end if f.kind == "theft" else min(f.end, window[1])
        if end > start:
            rows.append((f.day, f.kind, f.asset_type, f.asset, start, end, f.magnitude))
    return pl.DataFrame(rows, schema=FAULT_SCHEMA, orient="row")


def feeder_head(true_flows: pl.DataFrame, scenario: Scenario) -> pl.DataFrame:
    """What each feeder-head meter measures: its meters' true flow plus technical losses
    (HEAD_LOSS_SHARE of the flow, +-10 % per interval), in W and Wh."""
    per_feeder = true_flows.group_by("timestamp", "feeder").agg(pl.col("true_power").sum())
    numbers = per_feeder["feeder"].str.strip_chars_start("F").cast(pl.Int64).to_numpy()
    stamps = per_feeder["timestamp"].dt.epoch("us").to_numpy()
    jitter = 1.0 + 0.1 * pr.normal(scenario.seed, Stream.HEAD_LOSS, numbers, stamps)
    flow = per_feeder["true_power"].to_numpy()
    watts = np.round((flow + HEAD_LOSS_SHARE * np.abs(flow) * jitter) * 1000.0)
    hours = scenario.interval / timedelta(hours=1)
    return pl.DataFrame(
        {"timestamp": per_feeder["timestamp"], "feeder": per_feeder["feeder"],
         "power": watts.astype(np.int32), "energy": np.round(watts * hours).astype(np.int32)},
        schema=HEAD_SCHEMA,
    ).sort("feeder", "timestamp")  # fmt: skip


def transformer_load(flows: pl.DataFrame, fleet: pl.DataFrame, grid: Grid) -> pl.DataFrame:
    """Apparent load per transformer and interval (kVA) from per-meter power (kW) in column
    ``power``: each meter's power over its class's power factor, summed."""
    pf = {c: POWER_FACTOR[i] for i, c in enumerate(CUSTOMER_CLASSES)}
    per_meter = fleet.select(
        "meter_id",
        pl.col("customer_class").replace_strict(pf, return_dtype=pl.Float64).alias("pf"),
    ).join(grid.meter_transformer, on="meter_id")
    return (
        flows.join(per_meter, on="meter_id")
        .group_by("transformer", "timestamp")
        .agg((pl.col("power") / pl.col("pf")).sum().alias("load_kva"))
        .join(grid.transformers.select("transformer", "rating_kva"), on="transformer")
    )


def reverse_flow_truth(
    true_flows: pl.DataFrame, fleet: pl.DataFrame, scenario: Scenario, day: date
) -> pl.DataFrame:
    """Reverse power flow as it truly happened: a transformer exporting more than
    `reverse_flow_ratio` of its rating for at least `reverse_flow_min`."""
    t = scenario.thresholds
    load = transformer_load(
        true_flows.select("timestamp", "meter_id", pl.col("true_power").alias("power")),
        fleet,
        scenario.grid,
    )
    flags = load.select(
        pl.col("transformer").alias("key"),
        "timestamp",
        (pl.col("load_kva") < -t.reverse_flow_ratio * pl.col("rating_kva")).alias("flag"),
    )
    runs = sustained_runs(flags, scenario.interval, t.reverse_flow_min)
    return runs.select(
        pl.lit(day).alias("day"),
        pl.lit("reverse_flow").alias("kind"),
        pl.lit("transformer").alias("asset_type"),
        pl.col("key").alias("asset"),
        "start",
        "end",
        pl.lit(None, dtype=pl.Float64).alias("magnitude"),
    ).cast(FAULT_SCHEMA)
