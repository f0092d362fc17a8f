"""What can happen on the grid, to which asset, and the thresholds that decide it.

An event is a kind on an asset over ``[start, end)``: a meter (its id), a
transformer or a feeder (their names). Injected faults (the ground truth) and
detected events use the same kinds and assets, so scoring can match them one to
one. The thresholds are the product's defaults; each detector's docstring says
why its numbers are what they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal

AssetType = Literal["meter", "transformer", "feeder"]
Severity = Literal["info", "warning", "critical"]

#: Every event kind and the asset types it concerns.
EVENT_KINDS: Final[dict[str, tuple[AssetType, ...]]] = {
    "outage": ("meter", "transformer", "feeder"),
    "voltage_sag": ("meter", "transformer"),
    "voltage_swell": ("meter", "transformer"),
    "overload": ("transformer",),
    "reverse_flow": ("transformer",),
    "theft": ("meter",),
    "stuck": ("meter",),
    "zero": ("meter",),
    "spike": ("meter",),
    "clock_drift": ("meter",),
}


@dataclass(frozen=True)
class Thresholds:
    """When a condition becomes an event. Defaults follow the standards cited per field."""

    #: EN 50160: supply voltage judged on 10-minute mean r.m.s. values.
    voltage_window: timedelta = timedelta(minutes=10)
    #: EN 50160: 10-minute means within +-10 % of nominal; beyond is a sag or swell.
    voltage_band: float = 0.10
    #: A transformer's voltage event when at least this share of its meters see it at once.
    voltage_rollup_share: float = 0.5
    #: Overload: apparent power above the transformer's rating for at least this long.
    overload_ratio: float = 1.0
    overload_min: timedelta = timedelta(minutes=30)
    #: Reverse power flow: export above this share of the rating for at least this long.
    reverse_flow_ratio: float = 0.05
    reverse_flow_min: timedelta = timedelta(minutes=30)
    #: Stuck register: the same non-zero power for at least this long.
    stuck_min: timedelta = timedelta(hours=1)
    #: Zero reads: zero power with the voltage present (a failed current sensor) this long.
    zero_min: timedelta = timedelta(hours=1)
    #: Spike: power above this multiple of the meter's rating (its load cannot draw that).
    spike_rating_multiple: float = 1.5
    #: Theft: a meter's daily energy down by at least this share against its own baseline
    #: while its feeder's unaccounted energy (head minus meters) rises by about as much.
    theft_min_drop: float = 0.3
    theft_min_days: int = 2
    #: Theft, hourly feeder balance: the energy the balance attributes to the meter's hidden
    #: share must stand this many standard errors above zero ...
    theft_balance_z: float = 2.0
    #: ... and be at least this share of what the meter's own drop says was taken.
    theft_balance_share: float = 0.5
