"""The simulated meter fleet: who is connected where, and how big they are.

Each meter's attributes are keyed hashes of (seed, meter_id), not draws from a
sequential generator, so meter 17 is the same household whether the fleet has
50 or 5,000 meters; only the feeder assignment depends on the number of feeders.

Electrical conventions (used by the reading generator and by anyone validating
readings):

* residential meters are single-phase: ``nominal_voltage`` 230 V is the
  phase-to-neutral voltage and ``current = |P| / V`` (unity power factor: the
  meter reports active power and households are close to resistive);
* commercial and industrial meters are three-phase: ``nominal_voltage`` 400 V is
  the line-to-line voltage and ``current = |P| / (sqrt(3) * V * pf)`` with
  ``pf = 0.95`` (motors and drives draw reactive power).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from grid_pipeline.fleet.profiles import FloatArray, Stream, uniform

CUSTOMER_CLASSES = ("residential", "commercial", "industrial")

#: Share of meters per class, in ``CUSTOMER_CLASSES`` order.
CLASS_MIX = (0.80, 0.15, 0.05)

#: Probability that a meter has rooftop PV, per class.
SOLAR_SHARE = (0.30, 0.12, 0.03)

#: Nominal voltage per class (V): phase-to-neutral for single-phase residential,
#: line-to-line for three-phase commercial/industrial connections.
NOMINAL_VOLTAGE = (230.0, 400.0, 400.0)

#: Divisor factor in ``I = |P| / (k * V * pf)``: 1 single-phase, sqrt(3) three-phase.
PHASE_FACTOR = (1.0, math.sqrt(3.0), math.sqrt(3.0))

#: Power factor per class (see the module docstring).
POWER_FACTOR = (1.0, 0.95, 0.95)

#: Connection rating range (kW) per class.
RATED_KW_RANGE = ((5.0, 15.0), (30.0, 150.0), (200.0, 1000.0))

#: Meters per feeder used when ``n_feeders`` is not given, and feeders per substation.
METERS_PER_FEEDER = 50
FEEDERS_PER_SUBSTATION = 4

FLEET_SCHEMA = pl.Schema(
    {
        "meter_id": pl.Int32(),
        "customer_class": pl.Utf8(),
        "feeder": pl.Utf8(),
        "substation": pl.Utf8(),
        "has_solar": pl.Boolean(),
        "rated_kw": pl.Float64(),
        "nominal_voltage": pl.Float64(),
        "solar_kwp": pl.Float64(),
    }
)


def _class_codes(seed: int, meter_ids: np.ndarray) -> np.ndarray:
    """Class index per meter drawn from ``CLASS_MIX`` (0 residential ... 2 industrial)."""
    u = uniform(seed, Stream.CLASS, meter_ids)
    return np.searchsorted(np.cumsum(CLASS_MIX)[:-1], u, side="right")


def _rated_kw(seed: int, meter_ids: np.ndarray, codes: np.ndarray) -> FloatArray:
    """Rating per meter: uniform for households (5-15 kW), log-uniform for
    businesses, where small shops and plants are more common than large ones."""
    u = uniform(seed, Stream.RATED, meter_ids)
    bounds = np.array(RATED_KW_RANGE)
    low, high = bounds[codes, 0], bounds[codes, 1]
    linear = low + u * (high - low)
    logarithmic = low * (high / low) ** u
    result: FloatArray = np.round(np.where(codes == 0, linear, logarithmic), 1)
    return result


def _solar_kwp(
    seed: int, meter_ids: np.ndarray, codes: np.ndarray, rated_kw: FloatArray, has_solar: np.ndarray
) -> FloatArray:
    """PV size: 3-10 kWp on a house roof; 20-50 % (commercial) or 10-30 %
    (industrial) of the connection rating on a business roof; 0 without PV."""
    u = uniform(seed, Stream.SOLAR_KWP, meter_ids)
    residential = 3.0 + 7.0 * u
    commercial = rated_kw * (0.20 + 0.30 * u)
    industrial = rated_kw * (0.10 + 0.20 * u)
    size = np.select([codes == 0, codes == 1], [residential, commercial], industrial)
    return np.where(has_solar, np.round(size, 1), 0.0)


def _feeder_numbers(seed: int, meter_ids: np.ndarray, n_feeders: int) -> np.ndarray:
    """Feeder per meter (1-based), assigned by hash so feeders are interleaved
    along meter_id rather than contiguous blocks."""
    u = uniform(seed, Stream.FEEDER, meter_ids)
    return np.minimum((u * n_feeders).astype(np.int64), n_feeders - 1) + 1


def _labels(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """Zero-padded names such as "F01" or "S1", built without a Python row loop."""
    digits = pl.Series(numbers).cast(pl.Utf8).str.zfill(width)
    return (prefix + digits).rename("label")


def build_fleet(n_meters: int = 500, seed: int = 42, n_feeders: int | None = None) -> pl.DataFrame:
    """Build a deterministic fleet of ``n_meters`` meters (ids 1..N) for ``seed``.

    ``n_feeders`` defaults to one feeder per ~50 meters; feeders are grouped four
    to a substation (F01-F04 on S1, F05-F08 on S2, ...). Columns and dtypes are
    ``FLEET_SCHEMA``, the shape of the ``meters`` table.
    """
    if n_meters < 1:
        raise ValueError(f"n_meters must be at least 1, got {n_meters}")
    if n_meters > np.iinfo(np.int32).max:
        raise ValueError(f"n_meters must fit in Int32, got {n_meters}")
    feeders = (
        n_feeders if n_feeders is not None else max(1, math.ceil(n_meters / METERS_PER_FEEDER))
    )
    if feeders < 1:
        raise ValueError(f"n_feeders must be at least 1, got {n_feeders}")

    meter_ids = np.arange(1, n_meters + 1, dtype=np.int64)
    codes = _class_codes(seed, meter_ids)
    has_solar = uniform(seed, Stream.SOLAR, meter_ids) < np.array(SOLAR_SHARE)[codes]
    rated_kw = _rated_kw(seed, meter_ids, codes)
    feeder_no = _feeder_numbers(seed, meter_ids, feeders)
    substation_no = (feeder_no - 1) // FEEDERS_PER_SUBSTATION + 1
    n_substations = (feeders - 1) // FEEDERS_PER_SUBSTATION + 1

    return pl.DataFrame(
        {
            "meter_id": meter_ids,
            "customer_class": np.array(CUSTOMER_CLASSES)[codes],
            "feeder": _labels("F", feeder_no, max(2, len(str(feeders)))),
            "substation": _labels("S", substation_no, len(str(n_substations))),
            "has_solar": has_solar,
            "rated_kw": rated_kw,
            "nominal_voltage": np.array(NOMINAL_VOLTAGE)[codes],
            "solar_kwp": _solar_kwp(seed, meter_ids, codes, rated_kw, has_solar),
        },
        schema=FLEET_SCHEMA,
    )
