"""Readings are stored as integers in the meter's own units; people read kW, kWh, V, A.

A smart meter does not measure 1.2340000000000002 kW: it reports whole watts,
a cumulative energy register in whole watt-hours, voltage to 0.1 V and current
in milliamps. Storing exactly that (fixed point, ``integer`` columns) instead of
float8 keeps every value exact, makes daily energy a sum of integers (no
rounding drift, equal to the register's difference), and lets TimescaleDB's
integer compression (delta-of-delta + simple-8b) reach 90 % where float8's XOR
coding stops near 70 %.

The scale lives here and nowhere else in Python: the writer converts at the
database's door (`to_stored`), and SQL that shows values to people divides by
the same factors (``power / 1000.0`` is kW; see `sql/schema/009_fixed_point.sql`,
which documents each column's unit with ``COMMENT ON COLUMN``).
"""

from __future__ import annotations

from typing import Final

import polars as pl

#: Stored integer units per display unit, per readings column.
SCALE: Final[dict[str, int]] = {
    "power": 1000,  # kW -> W (net power; negative = export)
    "energy": 1000,  # kWh -> Wh (interval energy = difference of the register)
    "voltage": 10,  # V -> 0.1 V
    "current": 1000,  # A -> mA
}
#: The stored unit of each column, as documented in the database.
STORED_UNIT: Final[dict[str, str]] = {
    "power": "W",
    "energy": "Wh",
    "voltage": "0.1 V",
    "current": "mA",
}
#: The unit people read, as the payload, generator and dashboard show it.
DISPLAY_UNIT: Final[dict[str, str]] = {
    "power": "kW",
    "energy": "kWh",
    "voltage": "V",
    "current": "A",
}
#: The largest magnitude a stored value may take (PostgreSQL ``integer``).
INT4_MAX: Final = 2**31 - 1


def stored_expr(name: str) -> pl.Expr:
    """The column `name` in display units as its stored integer (rounded half to even)."""
    return (pl.col(name).cast(pl.Float64) * SCALE[name]).round(0).cast(pl.Int32).alias(name)


def to_stored(frame: pl.DataFrame) -> pl.DataFrame:
    """Readings in kW, kWh, V and A as the stored integers; other columns untouched.

    Raises ValueError naming the column if a value does not fit an ``integer``
    (the database would refuse the whole batch otherwise).
    """
    for name, scale in SCALE.items():
        if name not in frame.columns:
            continue
        largest = frame.get_column(name).cast(pl.Float64).abs().max()
        if isinstance(largest, float) and largest * scale > INT4_MAX:
            raise ValueError(
                f"{name} {largest:g} {DISPLAY_UNIT[name]} does not fit the stored "
                f"integer {STORED_UNIT[name]}"
            )
    return frame.with_columns(stored_expr(name) for name in SCALE if name in frame.columns)


def to_display(frame: pl.DataFrame) -> pl.DataFrame:
    """Stored readings back in kW, kWh, V and A; other columns untouched.

    Divided in numpy, not polars: polars turns division by a constant into
    multiplication by its reciprocal (284 * 0.001 = 0.28400000000000003), while
    a true division gives the float nearest the decimal (0.284), the value the
    generator and the payload carry, and what SQL's ``power / 1000.0`` returns.
    """
    return frame.with_columns(
        pl.Series(name, frame.get_column(name).cast(pl.Float64).to_numpy() / SCALE[name])
        for name in SCALE
        if name in frame.columns
    )


def stored_value(name: str, value: float) -> int:
    """One display value as its stored integer (the same rounding as `to_stored`)."""
    return round(value * SCALE[name])
