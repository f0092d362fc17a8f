"""Fault injection with ground truth: gaps, spikes, voltage sags/swells, outages.

Faults are drawn per (meter, UTC day, kind) from the same counter-based hash as
the clean readings, so a day's faults do not depend on the generated window.
Each kind happens at most once per meter-day, with probability ``<kind>_rate``,
at a uniformly drawn interval of the day, and never crosses midnight UTC (the
generator works one UTC day at a time).

Semantics, applied on top of the clean readings in this order:

* ``sag`` / ``swell``: voltage x (1 - depth) / x (1 + rise) for a few intervals;
  power is unchanged, so current rises in a sag (constant-power loads);
* ``spike``: power (and thus energy and current) x factor for one interval, a
  glitch of the metrology or the transmission;
* ``outage``: the meter stays online on its backup supply and reports zeros:
  power, energy, voltage and current are 0 for the run, so an outage is
  distinguishable from a communication problem;
* ``gap``: the rows for a run of intervals are missing (lost messages).

Labels are clipped to the generated window and are half-open ``[start, end)``,
so a label's intervals are exactly the affected timestamps of the output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from grid_pipeline.fleet.profiles import FloatArray, IntArray, Stream, uniform

FAULT_KINDS = ("gap", "spike", "sag", "swell", "outage")

LABEL_SCHEMA = pl.Schema(
    {
        "meter_id": pl.Int32(),
        "start": pl.Datetime("us", "UTC"),
        "end": pl.Datetime("us", "UTC"),
        "kind": pl.Utf8(),
    }
)

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class FaultConfig:
    """Probability per meter-day of each fault kind, and the size of each fault.

    All rates default to 0: without an explicit configuration nothing is
    injected. Durations are in intervals (inclusive ranges), magnitudes are
    drawn uniformly from the given ranges.
    """

    gap_rate: float = 0.0
    spike_rate: float = 0.0
    sag_rate: float = 0.0
    swell_rate: float = 0.0
    outage_rate: float = 0.0
    gap_intervals: tuple[int, int] = (3, 36)
    spike_factor: tuple[float, float] = (5.0, 20.0)
    sag_intervals: tuple[int, int] = (1, 6)
    sag_depth: tuple[float, float] = (0.15, 0.30)
    swell_intervals: tuple[int, int] = (1, 6)
    swell_rise: tuple[float, float] = (0.10, 0.15)
    outage_intervals: tuple[int, int] = (6, 48)

    def __post_init__(self) -> None:
        for kind in FAULT_KINDS:
            rate = getattr(self, f"{kind}_rate")
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{kind}_rate must be within [0, 1], got {rate}")
        for name in ("gap_intervals", "sag_intervals", "swell_intervals", "outage_intervals"):
            low, high = getattr(self, name)
            if not 1 <= low <= high:
                raise ValueError(f"{name} must satisfy 1 <= low <= high, got {(low, high)}")

    @classmethod
    def typical(cls) -> FaultConfig:
        """A plausible mix for demos: a few percent of meter-days have an issue."""
        return cls(
            gap_rate=0.02, spike_rate=0.01, sag_rate=0.005, swell_rate=0.003, outage_rate=0.002
        )

    @property
    def enabled(self) -> bool:
        """True when at least one kind has a non-zero rate."""
        return any(getattr(self, f"{kind}_rate") > 0.0 for kind in FAULT_KINDS)

    def duration_range(self, kind: str) -> tuple[int, int]:
        """Inclusive range of the run length in intervals (spikes last one)."""
        return (1, 1) if kind == "spike" else tuple(getattr(self, f"{kind}_intervals"))

    def magnitude_range(self, kind: str) -> tuple[float, float]:
        """Multiplier range applied to power (spike) or voltage (sag, swell)."""
        if kind == "spike":
            return self.spike_factor
        if kind == "sag":
            return (1.0 - self.sag_depth[1], 1.0 - self.sag_depth[0])
        if kind == "swell":
            return (1.0 + self.swell_rise[0], 1.0 + self.swell_rise[1])
        return (0.0, 0.0)


@dataclass(frozen=True)
class Events:
    """Fault runs of one kind inside one block, as grid slots ``[start, end)``."""

    kind: str
    column: IntArray
    start: IntArray
    end: IntArray
    magnitude: FloatArray


def _draw(seed: int, kind_no: int, part: int, meter_ids: IntArray, day: int) -> FloatArray:
    """Uniforms keyed by (seed, fault stream, kind, part, meter, UTC day)."""
    return uniform(seed, Stream.FAULT, kind_no * 8 + part, meter_ids, np.int64(day))


def draw_events(
    seed: int, config: FaultConfig, meter_ids: IntArray, ts_us: IntArray, interval_us: int
) -> list[Events]:
    """Fault runs for the meters of a block on the UTC day of ``ts_us``.

    Runs are placed on the full day's interval grid (so they do not depend on
    the window) and then clipped to the block's timestamps ``ts_us``, which are
    consecutive grid points within one UTC day.
    """
    day_us = 86_400_000_000
    day = int(ts_us[0] // day_us)
    first = -(-(day * day_us) // interval_us) * interval_us
    n_slots = -(-((day + 1) * day_us - first) // interval_us)
    offset = (int(ts_us[0]) - first) // interval_us
    events = []
    for kind_no, kind in enumerate(FAULT_KINDS):
        rate = float(getattr(config, f"{kind}_rate"))
        if rate <= 0.0:
            continue
        occurs = _draw(seed, kind_no, 0, meter_ids, day) < rate
        low, high = config.duration_range(kind)
        slot = (_draw(seed, kind_no, 1, meter_ids, day) * n_slots).astype(np.int64)
        length = low + (_draw(seed, kind_no, 2, meter_ids, day) * (high - low + 1)).astype(np.int64)
        lo_mag, hi_mag = config.magnitude_range(kind)
        magnitude = lo_mag + _draw(seed, kind_no, 3, meter_ids, day) * (hi_mag - lo_mag)
        start = np.clip(slot - offset, 0, len(ts_us))
        end = np.clip(np.minimum(slot + length, n_slots) - offset, 0, len(ts_us))
        keep = occurs & (end > start)
        column = np.flatnonzero(keep)
        events.append(Events(kind, column, start[keep], end[keep], magnitude[keep]))
    return events


def _coverage(shape: tuple[int, int], events: Events, values: FloatArray) -> FloatArray:
    """Spread per-event values over their slots with a difference array + cumsum
    (vectorised; runs of one kind never overlap within a meter-day)."""
    delta = np.zeros((shape[0] + 1, shape[1]))
    np.add.at(delta, (events.start, events.column), values)
    np.add.at(delta, (events.end, events.column), -values)
    result: FloatArray = np.cumsum(delta, axis=0)[: shape[0]]
    return result


def apply_events(
    events: list[Events], power: FloatArray, voltage: FloatArray
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Apply fault runs to (time x meter) grids of rounded power and voltage.

    Returns the new power and voltage grids (re-rounded to meter resolution) and
    a mask of the rows to keep (False inside gaps).
    """
    power, voltage = power.copy(), voltage.copy()
    keep = np.ones(power.shape, dtype=bool)
    order = {"sag": 0, "swell": 1, "spike": 2, "outage": 3, "gap": 4}
    for ev in sorted(events, key=lambda e: order[e.kind]):
        if len(ev.column) == 0:
            continue
        inside = _coverage(power.shape, ev, np.ones(len(ev.column))) > 0.5
        factor = np.where(inside, _coverage(power.shape, ev, ev.magnitude), 1.0)
        if ev.kind in ("sag", "swell"):
            voltage = np.round(voltage * factor, 1)
        elif ev.kind == "spike":
            power = np.round(power * factor, 3) + 0.0
        elif ev.kind == "outage":
            power = np.where(inside, 0.0, power)
            voltage = np.where(inside, 0.0, voltage)
        else:
            keep &= ~inside
    return power, voltage, keep


def labels_frame(
    events: list[Events], meter_ids: IntArray, ts_us: IntArray, interval_us: int
) -> pl.DataFrame:
    """Ground-truth labels (meter_id, start, end exclusive, kind) for a block."""
    present = [ev for ev in events if len(ev.column)]
    if not present:
        return pl.DataFrame(schema=LABEL_SCHEMA)
    columns = np.concatenate([ev.column for ev in present])
    start = np.concatenate([ev.start for ev in present])
    end = np.concatenate([ev.end for ev in present])
    kinds = np.concatenate([np.full(len(ev.column), ev.kind) for ev in present])
    base = int(ts_us[0])
    return pl.DataFrame(
        {
            "meter_id": meter_ids[columns],
            "start": pl.Series(base + start * interval_us).cast(pl.Datetime("us", "UTC")),
            "end": pl.Series(base + end * interval_us).cast(pl.Datetime("us", "UTC")),
            "kind": kinds,
        },
        schema=LABEL_SCHEMA,
    )
