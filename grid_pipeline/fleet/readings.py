"""Vectorised, window-independent generation of smart-meter readings.

A block of readings is computed as (timestamp x meter) numpy grids: the load
shape of the meter's class at the *local* clock time, scaled by the meter's
rating and slowly varying factors (meter size, day-to-day drift, weather), times
per-interval noise; minus rooftop PV for prosumers; then voltage and current
derived from the net power. Every random number is a keyed hash of (seed,
meter, timestamp) or (seed, meter, local day), never a sequential draw, so a
reading does not depend on which window it was generated in: the live simulator
(one interval at a time), daily partitions and a 14-day backfill agree exactly.

Work is streamed one UTC day at a time, split into meter blocks when a day
would exceed ``max_rows``, so 5,000 meters x 14 days never sits in memory at
once unless the caller concatenates it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from grid_pipeline.fleet import profiles as pr
from grid_pipeline.fleet.faults import (
    LABEL_SCHEMA,
    BoolArray,
    FaultConfig,
    apply_events,
    draw_events,
    labels_frame,
)
from grid_pipeline.fleet.meters import CUSTOMER_CLASSES, PHASE_FACTOR, POWER_FACTOR
from grid_pipeline.fleet.profiles import FloatArray, IntArray, Stream

READINGS_SCHEMA = pl.Schema(
    {
        "timestamp": pl.Datetime("us", "UTC"),
        "meter_id": pl.Int32(),
        "power": pl.Float64(),
        "energy": pl.Float64(),
        "voltage": pl.Float64(),
        "current": pl.Float64(),
    }
)

_DAY_US = 86_400_000_000
_HOUR_US = 3_600_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Energy is reported in whole Wh (3 decimals of kWh), like a meter's register.
_ENERGY_DECIMALS = 3
_ENERGY_HALF_UNIT = 5e-4

#: Lognormal sigma of each meter's static consumption level (household size).
METER_SCALE_SIGMA = 0.25
#: Lognormal sigma of the per-meter day-to-day drift (3-day moving average).
DAILY_DRIFT_SIGMA = 0.08
#: Max clock shift of a meter's routine (h), per class: households vary most.
ROUTINE_SHIFT_H = np.array([0.75, 0.4, 0.5])
#: Voltage model: static offset range along the feeder, interval noise, and the
#: relative drop per unit of power/rating (the feeder's impedance).
VOLTAGE_OFFSET = (-0.005, 0.015)
VOLTAGE_NOISE = 0.004
VOLTAGE_DROP_PER_LOAD = 0.03
#: Voltage regulation band kept by tap changers on a healthy network.
VOLTAGE_BAND = 0.07


@dataclass(frozen=True)
class _Fleet:
    """The fleet's columns as numpy arrays (one entry per meter)."""

    meter_id: IntArray
    class_code: IntArray
    rated_kw: FloatArray
    nominal_voltage: FloatArray
    solar_kwp: FloatArray

    @classmethod
    def from_frame(cls, fleet: pl.DataFrame) -> _Fleet:
        missing = {"meter_id", "customer_class", "rated_kw", "nominal_voltage", "solar_kwp"}
        missing -= set(fleet.columns)
        if missing:
            raise ValueError(f"fleet is missing columns: {sorted(missing)}")
        classes = fleet["customer_class"]
        unknown = classes.filter(~classes.is_in(CUSTOMER_CLASSES)).unique().to_list()
        if unknown:
            raise ValueError(f"unknown customer classes {unknown}; expected {CUSTOMER_CLASSES}")
        codes = classes.replace_strict(
            {name: i for i, name in enumerate(CUSTOMER_CLASSES)}, return_dtype=pl.Int64
        )
        return cls(
            meter_id=fleet["meter_id"].cast(pl.Int64).to_numpy(),
            class_code=codes.to_numpy(),
            rated_kw=fleet["rated_kw"].cast(pl.Float64).to_numpy(),
            nominal_voltage=fleet["nominal_voltage"].cast(pl.Float64).to_numpy(),
            solar_kwp=fleet["solar_kwp"].cast(pl.Float64).fill_null(0.0).to_numpy(),
        )

    def block(self, begin: int, end: int) -> _Fleet:
        """The meters ``begin:end`` (a view, no copy)."""
        return _Fleet(
            self.meter_id[begin:end],
            self.class_code[begin:end],
            self.rated_kw[begin:end],
            self.nominal_voltage[begin:end],
            self.solar_kwp[begin:end],
        )


@dataclass(frozen=True)
class LocalCalendar:
    """Local-clock features of each timestamp (all arrays of length T)."""

    hour: FloatArray
    weekday: IntArray
    local_day: IntArray
    day_of_year: IntArray
    dst_hours: FloatArray


def local_calendar(ts_us: IntArray, timezone: str) -> LocalCalendar:
    """Convert UTC epoch microseconds to the local wall clock of ``timezone``.

    Only the T distinct timestamps of a block are converted (via polars'
    time-zone database), then broadcast over meters.
    """
    utc = pl.Series("t", ts_us).cast(pl.Datetime("us", "UTC"))
    local = utc.dt.convert_time_zone(timezone)
    hour = (
        local.dt.hour().cast(pl.Float64)
        + local.dt.minute().cast(pl.Float64) / 60.0
        + local.dt.second().cast(pl.Float64) / 3600.0
    )
    return LocalCalendar(
        hour=hour.to_numpy(),
        weekday=local.dt.weekday().cast(pl.Int64).to_numpy(),
        local_day=local.dt.date().cast(pl.Int32).cast(pl.Int64).to_numpy(),
        day_of_year=local.dt.ordinal_day().cast(pl.Int64).to_numpy(),
        dst_hours=(local.dt.dst_offset().dt.total_seconds() / 3600.0).cast(pl.Float64).to_numpy(),
    )


# --------------------------------------------------------------------------
# Physics of one block: (T timestamps) x (M meters) grids
# --------------------------------------------------------------------------


def _per_day(cal: LocalCalendar, daily: FloatArray, days: IntArray) -> FloatArray:
    """Expand per-(unique local day) values (rows of ``daily``) to timestamps."""
    result: FloatArray = daily[np.searchsorted(days, cal.local_day)]
    return result


def _class_shape(fleet: _Fleet, cal: LocalCalendar, seed: int) -> FloatArray:
    """Load shape (fraction of rating) per timestamp and meter, with each meter's
    routine shifted by a fixed amount so the fleet does not switch in lockstep."""
    shift = (2.0 * pr.uniform(seed, Stream.METER_SHIFT, fleet.meter_id) - 1.0) * ROUTINE_SHIFT_H[
        fleet.class_code
    ]
    hour = cal.hour[:, None] + shift[None, :]
    weekday = cal.weekday[:, None]
    shape = np.empty(hour.shape)
    for code, shape_fn in enumerate(pr.CLASS_SHAPES):
        cols = np.flatnonzero(fleet.class_code == code)
        if len(cols):
            shape[:, cols] = shape_fn(hour[:, cols], weekday)
    return shape


def _daily_factor(fleet: _Fleet, cal: LocalCalendar, seed: int) -> FloatArray:
    """Slow multiplicative factors: static meter size, per-meter drift over days
    and the fleet-wide temperature's heating/cooling effect per class."""
    days, first = np.unique(cal.local_day, return_index=True)
    day_of_year = cal.day_of_year[first]
    scale_n = pr.normal(seed, Stream.METER_SCALE, fleet.meter_id)
    scale = np.exp(METER_SCALE_SIGMA * scale_n - 0.5 * METER_SCALE_SIGMA**2)
    drift_n = pr.smoothed_daily_normal(
        seed, Stream.DAILY_DRIFT, days[:, None], 3, fleet.meter_id[None, :]
    )
    drift = np.exp(DAILY_DRIFT_SIGMA * drift_n - 0.5 * DAILY_DRIFT_SIGMA**2)
    temperature = pr.daily_temperature(seed, days, day_of_year)
    weather = pr.weather_load_factor(temperature[:, None], fleet.class_code[None, :])
    return _per_day(cal, drift * weather, days) * scale[None, :]


def _load_kw(fleet: _Fleet, cal: LocalCalendar, ts_us: IntArray, seed: int) -> FloatArray:
    """Consumption in kW: rating x shape x slow factors x lognormal interval noise,
    plus occasional appliance bursts (kettle, oven) for households."""
    rated = fleet.rated_kw[None, :]
    shape = _class_shape(fleet, cal, seed)
    sigma = pr.CLASS_NOISE_SIGMA[fleet.class_code][None, :]
    noise_n = pr.normal(seed, Stream.LOAD_NOISE, fleet.meter_id[None, :], ts_us[:, None])
    noise = np.exp(sigma * noise_n - 0.5 * sigma**2)
    load = rated * shape * _daily_factor(fleet, cal, seed) * noise
    residential = (fleet.class_code == 0)[None, :]
    burst_p = np.where(residential, 0.25 * np.minimum(shape, 0.2), 0.0)
    bursts = pr.uniform(seed, Stream.BURST_OCCURS, fleet.meter_id[None, :], ts_us[:, None])
    size = pr.uniform(seed, Stream.BURST_SIZE, fleet.meter_id[None, :], ts_us[:, None])
    load = load + np.where(bursts < burst_p, rated * (0.05 + 0.15 * size), 0.0)
    result: FloatArray = np.clip(load, 0.0, rated)
    return result


def _solar_kw(fleet: _Fleet, cal: LocalCalendar, ts_us: IntArray, seed: int) -> FloatArray:
    """PV generation in kW for prosumers (zero elsewhere): clear-sky bell around
    local solar noon (12 h standard time, i.e. 13 h under DST) scaled by kWp, a
    per-meter efficiency and roof orientation, the day's cloudiness, a fleet-wide
    passing-cloud flicker per interval and a little per-meter noise."""
    pv = np.zeros((len(ts_us), len(fleet.meter_id)))
    cols = np.flatnonzero(fleet.solar_kwp > 0.0)
    if len(cols) == 0:
        return pv
    ids = fleet.meter_id[cols]
    kwp = fleet.solar_kwp[cols][None, :]
    efficiency = 0.80 + 0.20 * pr.uniform(seed, Stream.PV_EFFICIENCY, ids)
    orientation = 1.5 * pr.uniform(seed, Stream.PV_ORIENTATION, ids) - 0.75
    hour = cal.hour[:, None] - orientation[None, :]
    clear = pr.clear_sky_fraction(hour, (12.0 + cal.dst_hours)[:, None], cal.day_of_year[:, None])
    days, first = np.unique(cal.local_day, return_index=True)
    cloudiness = pr.daily_cloudiness(seed, days, cal.day_of_year[first])
    cloud_day = _per_day(cal, cloudiness, days)
    flicker = pr.uniform(seed, Stream.CLOUD_FLICKER, ts_us)
    cloud = np.clip(cloud_day * (0.6 + 0.8 * flicker), 0.0, 1.0)[:, None]
    noise = 1.0 + 0.03 * pr.normal(seed, Stream.PV_NOISE, ids[None, :], ts_us[:, None])
    pv[:, cols] = np.clip(kwp * efficiency * clear * (1.0 - 0.75 * cloud) * noise, 0.0, kwp)
    return pv


def _voltage(fleet: _Fleet, power: FloatArray, ts_us: IntArray, seed: int) -> FloatArray:
    """Voltage in V: nominal, plus the meter's fixed position on its feeder
    (-0.5..+1.5 %, transformers are set slightly high), interval noise (0.4 %),
    a drop proportional to the meter's load relative to its rating (a rise when
    exporting), kept within the +/-7 % regulation band; rounded to 0.1 V."""
    low, high = VOLTAGE_OFFSET
    offset = low + (high - low) * pr.uniform(seed, Stream.VOLTAGE_OFFSET, fleet.meter_id)
    noise = VOLTAGE_NOISE * pr.normal(
        seed, Stream.VOLTAGE_NOISE, fleet.meter_id[None, :], ts_us[:, None]
    )
    drop = VOLTAGE_DROP_PER_LOAD * power / fleet.rated_kw[None, :]
    relative = np.clip(offset[None, :] + noise - drop, -VOLTAGE_BAND, VOLTAGE_BAND)
    result: FloatArray = np.round(fleet.nominal_voltage[None, :] * (1.0 + relative), 1)
    return result


def current_amps(power_kw: FloatArray, voltage_v: FloatArray, class_code: IntArray) -> FloatArray:
    """Current in A from net power and voltage, rounded to 10 mA.

    Single-phase (residential): ``|P| * 1000 / V``; three-phase: ``|P| * 1000 /
    (sqrt(3) * V_LL * 0.95)``. Zero when the voltage is zero (outage).
    """
    k = np.array(PHASE_FACTOR)[class_code] * np.array(POWER_FACTOR)[class_code]
    denominator = k * voltage_v
    safe = np.where(denominator > 0.0, denominator, 1.0)
    amps = np.where(denominator > 0.0, np.abs(power_kw) * 1000.0 / safe, 0.0)
    return np.asarray(np.round(amps, 2) + 0.0, dtype=np.float64)


def _clean_block(
    fleet: _Fleet, cal: LocalCalendar, ts_us: IntArray, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Net power (kW, 1 W resolution) and voltage grids without faults."""
    net = _load_kw(fleet, cal, ts_us, seed) - _solar_kw(fleet, cal, ts_us, seed)
    power = np.round(net, 3) + 0.0
    return power, _voltage(fleet, power, ts_us, seed)


def power_and_energy(power: FloatArray, interval_hours: float) -> tuple[FloatArray, FloatArray]:
    """Interval energy (kWh, whole Wh as a register reports it) from the reported power.

    ``energy = round(power * hours, 3)`` is within half a unit (5e-4 kWh) of
    ``power * hours``, except that an exact tie lands on 5e-4 plus float error.
    Real meters never report such a pair (their registers count, they do not
    round twice), so a tying power is moved by one watt, its last digit, until
    the pair is unambiguous; a consumer can then check ``|e - p*h| <= 5e-4``.
    Whole Wh also make the stored integers (`db.units`) exact: the daily total
    is a sum of integers, equal to the register's difference over the day.
    """
    for _ in range(4):
        energy = np.round(power * interval_hours, _ENERGY_DECIMALS) + 0.0
        tie = np.abs(energy - power * interval_hours) > _ENERGY_HALF_UNIT - 1e-12
        if not tie.any():
            return power, energy
        power = np.where(tie, np.round(power + np.copysign(0.001, power), 3), power)
    return power, np.round(power * interval_hours, _ENERGY_DECIMALS) + 0.0


def _frame(
    fleet: _Fleet,
    ts_us: IntArray,
    power: FloatArray,
    voltage: FloatArray,
    interval_hours: float,
    keep: BoolArray | None = None,
) -> pl.DataFrame:
    """Flatten (T x M) grids into rows ordered by (timestamp, fleet order)."""
    power, energy = power_and_energy(power, interval_hours)
    current = current_amps(power, voltage, fleet.class_code[None, :])
    n_meters = len(fleet.meter_id)
    frame = pl.DataFrame(
        {
            "timestamp": pl.Series(np.repeat(ts_us, n_meters)).cast(pl.Datetime("us", "UTC")),
            "meter_id": np.tile(fleet.meter_id, len(ts_us)),
            "power": power.ravel(),
            "energy": energy.ravel(),
            "voltage": voltage.ravel(),
            "current": current.ravel(),
        },
        schema=READINGS_SCHEMA,
    )
    return frame if keep is None else frame.filter(pl.Series(keep.ravel()))


# --------------------------------------------------------------------------
# Windows, days and blocks
# --------------------------------------------------------------------------


def _epoch_us(moment: datetime, name: str) -> int:
    """Epoch microseconds of a timezone-aware datetime (naive ones are rejected:
    guessing their zone would silently shift every profile)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime(..., tzinfo=UTC))")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _day_grids(start_us: int, end_us: int, interval_us: int) -> Iterator[IntArray]:
    """Interval timestamps in [start aligned down, end), one array per UTC day."""
    first = start_us - start_us % interval_us
    day = first // _DAY_US
    while True:
        low = max(first, day * _DAY_US)
        low = -(-low // interval_us) * interval_us
        high = min(end_us, (day + 1) * _DAY_US)
        if low >= end_us:
            return
        if low < high:
            yield np.arange(low, high, interval_us, dtype=np.int64)
        day += 1


def _iter_pairs(
    fleet: pl.DataFrame,
    start: datetime,
    end: datetime,
    interval: timedelta,
    seed: int,
    timezone: str,
    max_rows: int,
    faults: FaultConfig | None,
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Yield (readings, labels) per UTC day and meter block."""
    interval_us = interval // timedelta(microseconds=1)
    if interval_us <= 0:
        raise ValueError(f"interval must be positive, got {interval}")
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    arrays = _Fleet.from_frame(fleet)
    hours = interval_us / _HOUR_US
    n_meters = len(arrays.meter_id)
    for ts_us in _day_grids(_epoch_us(start, "start"), _epoch_us(end, "end"), interval_us):
        cal = local_calendar(ts_us, timezone)
        per_block = max(1, max_rows // len(ts_us))
        for begin in range(0, n_meters, per_block):
            block = arrays.block(begin, min(begin + per_block, n_meters))
            power, voltage = _clean_block(block, cal, ts_us, seed)
            if faults is None or not faults.enabled:
                yield _frame(block, ts_us, power, voltage, hours), pl.DataFrame(schema=LABEL_SCHEMA)
                continue
            events = draw_events(seed, faults, block.meter_id, ts_us, interval_us)
            power, voltage, keep = apply_events(events, power, voltage)
            readings = _frame(block, ts_us, power, voltage, hours, keep)
            yield readings, labels_frame(events, block.meter_id, ts_us, interval_us)


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def iter_readings(
    fleet: pl.DataFrame,
    start: datetime,
    end: datetime,
    interval: timedelta = timedelta(minutes=5),
    seed: int = 42,
    timezone: str = "UTC",
    max_rows: int = 2_000_000,
) -> Iterator[pl.DataFrame]:
    """Yield clean readings one UTC day at a time (``READINGS_SCHEMA``).

    Within a day, meters are split into blocks of at most ``max_rows`` rows;
    each frame is ordered by timestamp, then fleet order. ``start`` is aligned
    down to the interval grid (multiples of ``interval`` since the epoch) and
    ``end`` is exclusive; both must be timezone-aware. ``timezone`` is the local
    clock that drives the load profiles.
    """
    for readings, _ in _iter_pairs(fleet, start, end, interval, seed, timezone, max_rows, None):
        yield readings


def iter_readings_with_faults(
    fleet: pl.DataFrame,
    start: datetime,
    end: datetime,
    interval: timedelta = timedelta(minutes=5),
    seed: int = 42,
    timezone: str = "UTC",
    faults: FaultConfig | None = None,
    max_rows: int = 2_000_000,
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Like ``iter_readings`` but with injected faults: yields (readings, labels)."""
    yield from _iter_pairs(fleet, start, end, interval, seed, timezone, max_rows, faults)


def _concat(frames: list[pl.DataFrame], schema: pl.Schema) -> pl.DataFrame:
    """Concatenate frames, keeping the schema when there are none."""
    return pl.concat(frames, rechunk=True) if frames else pl.DataFrame(schema=schema)


def generate_readings(
    fleet: pl.DataFrame,
    start: datetime,
    end: datetime,
    interval: timedelta = timedelta(minutes=5),
    seed: int = 42,
    timezone: str = "UTC",
) -> pl.DataFrame:
    """All clean readings in ``[start, end)`` as one frame, sorted by
    (timestamp, meter_id): one row per meter per interval."""
    frames = list(iter_readings(fleet, start, end, interval, seed, timezone))
    return _concat(frames, READINGS_SCHEMA).sort("timestamp", "meter_id")


def generate_readings_with_faults(
    fleet: pl.DataFrame,
    start: datetime,
    end: datetime,
    interval: timedelta = timedelta(minutes=5),
    seed: int = 42,
    timezone: str = "UTC",
    faults: FaultConfig | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Readings with injected faults and their ground-truth labels
    (``meter_id``, ``start``, ``end`` exclusive, ``kind``), see ``faults``.

    Outside the labelled runs the readings equal ``generate_readings``; with
    ``faults=None`` (or all rates 0) nothing is injected and labels are empty.
    """
    pairs = list(iter_readings_with_faults(fleet, start, end, interval, seed, timezone, faults))
    readings = _concat([r for r, _ in pairs], READINGS_SCHEMA).sort("timestamp", "meter_id")
    labels = _concat([lab for _, lab in pairs], LABEL_SCHEMA).sort("start", "meter_id", "kind")
    return readings, labels
