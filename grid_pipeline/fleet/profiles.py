"""Counter-based randomness and the per-class load, weather and solar shapes.

Everything random in the fleet and the readings is a pure function of a *key*
(seed, stream, meter, timestamp or day) rather than the next draw of a
sequential generator. That is what makes a reading for (seed, meter, instant)
identical whether it is produced in a 14-day backfill, a one-day partition or
by the live simulator one interval at a time. The hash is splitmix64's
finaliser in wrapping ``uint64`` numpy arithmetic, so it is vectorised and
costs a handful of integer operations per value.

The shapes are fractions of a meter's ``rated_kw`` as a function of the *local*
clock (fractional hour, ISO weekday): people and offices live by the wall
clock, so daylight saving time shifts the curves in UTC, as it does in reality.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
UIntArray = npt.NDArray[np.uint64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TWO_PI = 2.0 * np.pi


class Stream(IntEnum):
    """Independent random streams: one per quantity, so adding a new random
    quantity never changes the values of existing ones."""

    CLASS = 1
    SOLAR = 2
    RATED = 3
    SOLAR_KWP = 4
    FEEDER = 5
    METER_SCALE = 10
    METER_SHIFT = 11
    DAILY_DRIFT = 12
    LOAD_NOISE = 13
    BURST_OCCURS = 14
    BURST_SIZE = 15
    PV_EFFICIENCY = 16
    PV_ORIENTATION = 17
    PV_NOISE = 18
    VOLTAGE_OFFSET = 19
    VOLTAGE_NOISE = 20
    TEMPERATURE = 30
    CLOUD = 31
    CLOUD_FLICKER = 32
    FAULT = 40
    PHYSICAL_FAULT = 41
    HEAD_LOSS = 42


# --------------------------------------------------------------------------
# Counter-based randomness
# --------------------------------------------------------------------------


def _as_u64(values: npt.ArrayLike) -> UIntArray:
    """Reinterpret integers as uint64 bit patterns (negative epochs wrap)."""
    arr = np.atleast_1d(np.asarray(values))
    if arr.dtype == np.uint64:
        return arr
    return arr.astype(np.int64).view(np.uint64)


def splitmix64(x: npt.ArrayLike) -> UIntArray:
    """splitmix64 finaliser: a bijective avalanche mix of 64-bit words."""
    z = _as_u64(x)
    with np.errstate(over="ignore"):
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def hash_key(seed: int, stream: int, *parts: npt.ArrayLike) -> UIntArray:
    """Hash (seed, stream, *parts) into uint64 words; parts broadcast together.

    Chaining ``mix(previous ^ part)`` keeps the order of parts significant, so
    (meter 1, day 2) and (meter 2, day 1) are unrelated.
    """
    h = splitmix64(splitmix64(seed & 0xFFFFFFFFFFFFFFFF) ^ _as_u64(int(stream)))
    for part in parts:
        h = splitmix64(h ^ _as_u64(part))
    return h


def to_uniform(h: UIntArray) -> FloatArray:
    """Map hash words to floats in [0, 1) using the top 53 bits."""
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def to_normal(h: UIntArray) -> FloatArray:
    """Map hash words to standard normals (Box-Muller on the two 32-bit halves)."""
    hi = (h >> np.uint64(32)).astype(np.float64)
    lo = (h & np.uint64(0xFFFFFFFF)).astype(np.float64)
    u1 = (hi + 0.5) * (1.0 / 4294967296.0)
    u2 = lo * (1.0 / 4294967296.0)
    result: FloatArray = np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2)
    return result


def uniform(seed: int, stream: int, *parts: npt.ArrayLike) -> FloatArray:
    """Uniform [0, 1) values keyed by (seed, stream, *parts)."""
    return to_uniform(hash_key(seed, stream, *parts))


def normal(seed: int, stream: int, *parts: npt.ArrayLike) -> FloatArray:
    """Standard normal values keyed by (seed, stream, *parts)."""
    return to_normal(hash_key(seed, stream, *parts))


def smoothed_daily_normal(
    seed: int, stream: int, days: IntArray, window: int, *parts: npt.ArrayLike
) -> FloatArray:
    """Unit-variance normals per day, averaged over the ``window`` previous days.

    A moving average of keyed i.i.d. values gives day-to-day persistence (a warm
    spell, a meter's slowly changing habits) while staying a pure function of
    the day, unlike a random walk that would depend on where the window began.
    Broadcasting: ``days`` is combined with ``parts`` as the *last* key part.
    """
    total = np.zeros(np.broadcast_shapes(days.shape, *(np.shape(p) for p in parts)))
    for lag in range(window):
        total = total + normal(seed, stream, *parts, days - lag)
    result: FloatArray = total / np.sqrt(window)
    return result


# --------------------------------------------------------------------------
# Shape primitives (periodic in the 24 h clock)
# --------------------------------------------------------------------------


def _bump(hour: FloatArray, centre: float, width: float) -> FloatArray:
    """Gaussian bump on the 24 h circle, so the curve is continuous at midnight."""
    d = np.mod(hour - centre + 12.0, 24.0) - 12.0
    result: FloatArray = np.exp(-0.5 * (d / width) ** 2)
    return result


def _plateau(hour: FloatArray, begin: float, end: float, edge: float) -> FloatArray:
    """Smooth 0..1 window between ``begin`` and ``end`` (logistic ramps)."""
    rise = 1.0 / (1.0 + np.exp(-(hour - begin) / edge))
    fall = 1.0 / (1.0 + np.exp(-(end - hour) / edge))
    result: FloatArray = rise * fall
    return result


def _by_day_type(
    weekday: IntArray, weekday_curve: FloatArray, saturday: FloatArray, sunday: FloatArray
) -> FloatArray:
    """Pick the curve for Monday-Friday, Saturday or Sunday (ISO weekday 1..7)."""
    result: FloatArray = np.where(
        weekday <= 5, weekday_curve, np.where(weekday == 6, saturday, sunday)
    )
    return result


# --------------------------------------------------------------------------
# Per-class load shapes, as a fraction of rated_kw
# --------------------------------------------------------------------------


def residential_shape(hour: FloatArray, weekday: IntArray) -> FloatArray:
    """Households: low night base (fridge, standby), a short breakfast peak around
    7-8 h and a broad cooking/TV evening peak around 19-20 h; at weekends people
    get up later and stay home, so the morning peak is later and midday is fuller.
    Average draw is ~6 % of the connection rating, i.e. 3-6 MWh a year."""
    base = 0.025 + 0.01 * _plateau(hour, 6.5, 23.0, 0.5)
    workday = base + 0.08 * _bump(hour, 7.4, 0.8) + 0.16 * _bump(hour, 19.6, 1.5)
    weekend = (
        base
        + 0.07 * _bump(hour, 9.5, 1.3)
        + 0.035 * _plateau(hour, 10.5, 16.0, 0.8)
        + 0.15 * _bump(hour, 19.2, 1.6)
    )
    return _by_day_type(weekday, workday, weekend, weekend)


def commercial_shape(hour: FloatArray, weekday: IntArray) -> FloatArray:
    """Offices and shops: HVAC and lighting switch on for business hours 8-18 on
    weekdays with a slight lunchtime high; Saturdays a short retail morning;
    Sundays only the base load (servers, refrigeration, emergency lighting)."""
    base = 0.12
    workday = base + 0.50 * _plateau(hour, 8.0, 18.0, 0.4) + 0.06 * _bump(hour, 12.5, 1.5)
    saturday = base + 0.18 * _plateau(hour, 9.0, 14.0, 0.4)
    sunday = np.full_like(hour, base)
    return _by_day_type(weekday, workday, saturday, sunday)


def industrial_shape(hour: FloatArray, weekday: IntArray) -> FloatArray:
    """Plants: two shifts 6-22 on weekdays with a dip at the 14 h shift change, a
    single reduced morning shift on Saturdays, and a continuous-process base
    load (compressors, furnaces kept warm) through nights and Sundays."""
    base = 0.30
    workday = base + 0.55 * _plateau(hour, 6.0, 22.0, 0.3) - 0.08 * _bump(hour, 14.0, 0.35)
    saturday = base + 0.30 * _plateau(hour, 6.0, 14.0, 0.3)
    sunday = np.full_like(hour, base)
    return _by_day_type(weekday, workday, saturday, sunday)


ShapeFunction = Callable[[FloatArray, IntArray], FloatArray]

#: Load shape per customer class, indexed like ``meters.CUSTOMER_CLASSES``.
CLASS_SHAPES: tuple[ShapeFunction, ...] = (residential_shape, commercial_shape, industrial_shape)

#: Lognormal sigma of the per-interval load noise per class: a household is a
#: few appliances switching on and off, a plant is thousands averaged together.
CLASS_NOISE_SIGMA = np.array([0.30, 0.07, 0.05])

#: Load increase per kelvin below 15 degC (heating) and above 22 degC (cooling).
CLASS_HEATING_PER_K = np.array([0.020, 0.010, 0.002])
CLASS_COOLING_PER_K = np.array([0.015, 0.025, 0.004])


# --------------------------------------------------------------------------
# Weather and sun (fleet-wide, per local day)
# --------------------------------------------------------------------------


def seasonal_phase(day_of_year: IntArray) -> FloatArray:
    """+1 at the June solstice, -1 at the December solstice (northern mid-latitudes)."""
    result: FloatArray = np.sin(_TWO_PI * (day_of_year - 80) / 365.25)
    return result


def daily_temperature(seed: int, local_day: IntArray, day_of_year: IntArray) -> FloatArray:
    """Daily mean temperature in degC: a Central-European seasonal cycle (~1 degC in
    January, ~19 degC in July) plus a persistent anomaly (4-day moving average)."""
    season = 10.0 + 9.0 * seasonal_phase(day_of_year)
    anomaly = 3.0 * smoothed_daily_normal(seed, Stream.TEMPERATURE, local_day, 4)
    return season + anomaly


def daily_cloudiness(seed: int, local_day: IntArray, day_of_year: IntArray) -> FloatArray:
    """Daily cloud cover in [0, 1], correlated with the previous day (weather
    systems last more than a day); mostly clear in summer (mean ~0.3), mostly
    overcast in winter (mean ~0.6), as in Central Europe."""
    today = uniform(seed, Stream.CLOUD, local_day)
    yesterday = uniform(seed, Stream.CLOUD, local_day - 1)
    exponent = 1.4 + 0.8 * seasonal_phase(day_of_year)
    result: FloatArray = (0.7 * today + 0.3 * yesterday) ** exponent
    return result


def weather_load_factor(temperature: FloatArray, class_code: IntArray) -> FloatArray:
    """Multiplicative load factor from heating and cooling degrees per class."""
    heating = np.maximum(0.0, 15.0 - temperature) * CLASS_HEATING_PER_K[class_code]
    cooling = np.maximum(0.0, temperature - 22.0) * CLASS_COOLING_PER_K[class_code]
    result: FloatArray = 1.0 + heating + cooling
    return result


def clear_sky_fraction(
    hour: FloatArray, solar_noon: FloatArray, day_of_year: IntArray
) -> FloatArray:
    """Clear-sky PV output as a fraction of kWp: a bell (cosine^1.3) over the
    daylight hours around solar noon, with day length (8-16 h) and peak
    (0.45-0.85 kWp) varying with the season as at ~50 degN."""
    phase = seasonal_phase(day_of_year)
    day_length = 12.0 + 4.0 * phase
    peak = 0.65 + 0.20 * phase
    angle = np.pi * (hour - solar_noon) / day_length
    bell = np.where(np.abs(angle) < 0.5 * np.pi, np.cos(np.clip(angle, -1.6, 1.6)), 0.0)
    result: FloatArray = peak * np.maximum(bell, 0.0) ** 1.3
    return result
