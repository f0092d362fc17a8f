"""The versioned JSON payload of a meter reading, and its validation.

Schema version 1 (documented in docs/mqtt.md):

* one reading per message, on ``<root>/<feeder>/<meter_id>/reading``::

    {"v": 1, "meter_id": 17, "ts": "2026-11-24T10:05:00Z",
     "power": 1.234, "energy": 0.1028, "voltage": 231.4, "current": 5.34}

* a gateway batch (a data concentrator forwarding many meters), on
  ``<root>/<feeder>/gw<k>/reading``::

    {"v": 1, "gateway": "F01-gw1", "readings": [{"meter_id": ..., "ts": ..., ...}, ...]}

`decode` validates one message; `decode_many` validates many at once, column
by column, with exactly `decode`'s outcome (the consumer's path: a gateway
batch's readings are checked as arrays, not one by one).

Every function here is pure: bytes in, readings and rejections out, so the
rules are unit-tested without a broker and the consumer's writer thread cannot
be stalled by a payload (every failure becomes a `Reject` with a precise reason;
nothing raises). A batch whose envelope is bad is rejected whole; a bad reading
inside a good batch is rejected alone and its neighbours are kept.

Who may write what (the topic binds the payload): a single reading only on its
own meter's topic; a batch only on a gateway topic (``gw<k>``); with the fleet
known (``feeders``: meter id -> feeder), every reading's meter must belong to
the topic's feeder segment. With an ``interval``, timestamps must lie on that
grid (epoch-aligned, as the historic loader and the simulator write them).
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl

from grid_pipeline.db.units import DISPLAY_UNIT, INT4_MAX, SCALE, STORED_UNIT
from grid_pipeline.db.writer import READING_SCHEMA

SCHEMA_VERSION = 1
READING_FIELDS = ("power", "energy", "voltage", "current")
_INT32_MAX = 2**31 - 1


class Reading(NamedTuple):
    """One valid reading, in the column order of `energy_readings`."""

    timestamp: datetime
    meter_id: int
    power: float
    energy: float
    voltage: float
    current: float


class Reject(NamedTuple):
    """A payload (or one element of a batch) that cannot be stored, and why."""

    topic: str
    payload: bytes
    reason: str


@dataclass(frozen=True)
class Limits:
    """What a plausible reading looks like; anything outside is quarantined.

    The physical bounds are generous (a 1 MW industrial connection with spikes
    fits) so that they catch broken encoders (units in W instead of kW, 1e308),
    not unusual but real load; and they are checked to fit the stored integer
    units (5,000 kW is 5,000,000 W, far below 2**31 - 1). Late readings hours
    old are legitimate (meters buffer during a communication outage), hence a
    wide past window; the future window allows the simulator's accelerated
    clock (``--speedup``).
    """

    max_bytes: int = 256 * 1024
    max_batch: int = 10_000
    power_kw: tuple[float, float] = (-5_000.0, 5_000.0)
    energy_kwh: tuple[float, float] = (-5_000.0, 5_000.0)
    voltage_v: tuple[float, float] = (0.0, 1_000.0)
    current_a: tuple[float, float] = (0.0, 20_000.0)
    max_future: timedelta = timedelta(days=1)
    max_past: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        """Every value inside the bounds must fit the stored ``integer`` (W, Wh, 0.1 V,
        mA): a reading that passes validation must never make the database refuse
        the batch it rides in (that would send the whole batch row by row)."""
        for name in READING_FIELDS:
            low, high = self.bounds(name)
            if not low <= high:
                raise ValueError(f"{name} bounds [{low:g}, {high:g}] are empty")
            largest = max(abs(low), abs(high)) * SCALE[name]
            if not largest < INT4_MAX:  # also refuses inf and NaN bounds
                raise ValueError(
                    f"{name} bounds [{low:g}, {high:g}] {DISPLAY_UNIT[name]} exceed the "
                    f"stored integer ({INT4_MAX:,} {STORED_UNIT[name]})"
                )

    def bounds(self, name: str) -> tuple[float, float]:
        return {
            "power": self.power_kw,
            "energy": self.energy_kwh,
            "voltage": self.voltage_v,
            "current": self.current_a,
        }[name]


@dataclass
class Decoded:
    """What one message yielded: valid readings and rejections (either may be empty)."""

    readings: list[Reading]
    rejects: list[Reject]


class _Invalid(ValueError):
    """Internal: a rule failed; the message is the reject reason."""


def format_ts(moment: datetime) -> str:
    """ISO 8601 in UTC with a 'Z' suffix and no more precision than needed."""
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def reading_object(reading: Reading) -> dict[str, Any]:
    """The JSON object of one reading (without the version: batches carry it once)."""
    return {
        "meter_id": reading.meter_id,
        "ts": format_ts(reading.timestamp),
        "power": reading.power,
        "energy": reading.energy,
        "voltage": reading.voltage,
        "current": reading.current,
    }


def encode_reading(reading: Reading) -> bytes:
    """A single-reading message (schema v1)."""
    obj = {"v": SCHEMA_VERSION, **reading_object(reading)}
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def encode_batch(gateway: str, readings: Iterable[Reading]) -> bytes:
    """A gateway batch message (schema v1)."""
    items = [reading_object(r) for r in readings]
    obj = {"v": SCHEMA_VERSION, "gateway": gateway, "readings": items}
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def _no_constants(literal: str) -> Any:
    """json.loads accepts NaN/Infinity literals by default; readings must not."""
    raise _Invalid(f"non-finite number literal {literal} is not allowed")


def _number(obj: Mapping[str, Any], name: str, limits: Limits) -> float:
    if name not in obj:
        raise _Invalid(f"missing field {name!r}")
    value = obj[name]
    # bool is an int subclass in Python; true/false are not numbers in a reading.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"field {name!r}: expected a number, got {type(value).__name__}")
    if isinstance(value, int) and abs(value) > 1e15:
        raise _Invalid(f"field {name!r}: number too large ({len(str(abs(value)))} digits)")
    number = float(value)
    if not math.isfinite(number):  # 1e400 parses to inf
        raise _Invalid(f"field {name!r}: not a finite number")
    low, high = limits.bounds(name)
    if not low <= number <= high:
        raise _Invalid(f"field {name!r}: {number:g} outside the physical range [{low:g}, {high:g}]")
    return number


def _meter_id(obj: Mapping[str, Any], known: frozenset[int] | None) -> int:
    if "meter_id" not in obj:
        raise _Invalid("missing field 'meter_id'")
    value = obj["meter_id"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"field 'meter_id': expected an integer, got {type(value).__name__}")
    if not 0 < value <= _INT32_MAX:
        raise _Invalid(f"field 'meter_id': {value} outside 1..{_INT32_MAX}")
    if known is not None and value not in known:
        raise _Invalid(f"unknown meter_id {value} (not in the meters table)")
    return value


def _timestamp(obj: Mapping[str, Any], limits: Limits, now: datetime) -> datetime:
    if "ts" not in obj:
        raise _Invalid("missing field 'ts'")
    value = obj["ts"]
    if not isinstance(value, str):
        raise _Invalid(f"field 'ts': expected an ISO 8601 string, got {type(value).__name__}")
    if len(value) > 40:
        raise _Invalid("field 'ts': longer than any ISO 8601 timestamp")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(f"field 'ts': {value!r} is not an ISO 8601 timestamp") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _Invalid(f"field 'ts': {value!r} has no UTC offset (use 'Z')")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise _Invalid(f"field 'ts': {value!r} is out of range") from None
    if moment > now + limits.max_future:
        raise _Invalid(f"field 'ts': {value} is more than {limits.max_future} in the future")
    if moment < now - limits.max_past:
        raise _Invalid(f"field 'ts': {value} is more than {limits.max_past} in the past")
    return moment


def parse_reading(obj: Any, limits: Limits, now: datetime, known: frozenset[int] | None) -> Reading:
    """Validate one reading object (already JSON-decoded); raises `ValueError` with the reason."""
    if not isinstance(obj, dict):
        raise _Invalid(f"expected a JSON object, got {type(obj).__name__}")
    meter_id = _meter_id(obj, known)
    moment = _timestamp(obj, limits, now)
    power, energy, voltage, current = (_number(obj, name, limits) for name in READING_FIELDS)
    return Reading(moment, meter_id, power, energy, voltage, current)


def topic_meter(topic: str) -> str | None:
    """The meter segment of ``<root>/<feeder>/<meter>/reading`` (None if the shape differs)."""
    parts = topic.split("/")
    return parts[-2] if len(parts) >= 4 and parts[-1] == "reading" else None


def topic_feeder(topic: str) -> str | None:
    """The feeder segment of ``<root>/<feeder>/<meter>/reading`` (None if the shape differs)."""
    parts = topic.split("/")
    return parts[-3] if len(parts) >= 4 and parts[-1] == "reading" else None


def is_gateway_segment(segment: str) -> bool:
    """``gw<k>``: the segment of a gateway (data concentrator) topic."""
    return segment.startswith("gw") and segment[2:].isdigit()


def interval_label(interval: timedelta) -> str:
    """'5 min', '1 h', '30 s': how reject reasons name the reading grid."""
    seconds = int(interval.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _on_grid(reading: Reading, interval: timedelta | None) -> None:
    if interval is not None and (reading.timestamp - _EPOCH) % interval:
        grid = interval_label(interval)
        raise _Invalid(f"timestamp not on the {grid} grid: {format_ts(reading.timestamp)}")


def _on_feeder(reading: Reading, feeder: str | None, feeders: Mapping[int, str] | None) -> None:
    """The topic's feeder segment must be the meter's feeder (when the fleet is known)."""
    if feeders is None or feeder is None:
        return
    actual = feeders.get(reading.meter_id)
    if actual is not None and actual != feeder:
        raise _Invalid(f"meter {reading.meter_id} is not on feeder {feeder} (it is on {actual})")


def _single_binding(topic: str, reading: Reading) -> None:
    """A single reading only on its own meter's topic."""
    segment = topic_meter(topic)
    if segment is None:
        return
    if is_gateway_segment(segment):
        raise _Invalid(
            f"single reading of meter {reading.meter_id} on gateway topic {segment} "
            "(a meter publishes on its own topic)"
        )
    if segment != str(reading.meter_id):
        raise _Invalid(
            f"meter {reading.meter_id} on meter {segment}'s topic "
            f"(topic meter {segment!r} != payload meter_id {reading.meter_id})"
        )


def _load(payload: bytes, limits: Limits) -> Any:
    if len(payload) > limits.max_bytes:
        raise _Invalid(f"payload too large: {len(payload)} bytes > {limits.max_bytes}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Invalid(f"payload is not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_no_constants)
    except _Invalid:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, int digit limit, nesting
        raise _Invalid(f"invalid JSON: {str(exc).splitlines()[0][:120]}") from None


def _version(obj: Any) -> None:
    if not isinstance(obj, dict):
        raise _Invalid(f"expected a JSON object, got {type(obj).__name__}")
    version = obj.get("v")
    if version is None:
        raise _Invalid("missing schema version 'v'")
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise _Invalid(f"unsupported schema version {version!r} (expected {SCHEMA_VERSION})")


def decode(
    topic: str,
    payload: bytes,
    *,
    limits: Limits,
    now: datetime,
    known_meters: frozenset[int] | None = None,
    feeders: Mapping[int, str] | None = None,
    interval: timedelta | None = None,
) -> Decoded:
    """Validate a message: every reading it carries, or a reject with the reason.

    ``known_meters`` None skips the unknown-meter rule (e.g. no fleet loaded yet);
    ``feeders`` None skips the feeder rule; ``interval`` None skips the grid rule.
    """
    try:
        obj = _load(payload, limits)
        _version(obj)
    except _Invalid as exc:
        return Decoded([], [Reject(topic, payload, str(exc))])
    feeder = topic_feeder(topic)
    if "readings" not in obj:
        try:
            reading = parse_reading(obj, limits, now, known_meters)
            _single_binding(topic, reading)
            _on_feeder(reading, feeder, feeders)
            _on_grid(reading, interval)
        except _Invalid as exc:
            return Decoded([], [Reject(topic, payload, str(exc))])
        return Decoded([reading], [])
    segment = topic_meter(topic)
    if segment is not None and not is_gateway_segment(segment):
        reason = f"batch on a meter topic (meter {segment}'s topic; batches go on gw<k> topics)"
        return Decoded([], [Reject(topic, payload, reason)])
    return _decode_batch(topic, payload, obj, limits, now, known_meters, feeders, interval)


def _decode_batch(
    topic: str,
    payload: bytes,
    obj: dict[str, Any],
    limits: Limits,
    now: datetime,
    known: frozenset[int] | None,
    feeders: Mapping[int, str] | None = None,
    interval: timedelta | None = None,
) -> Decoded:
    items = obj["readings"]
    if not isinstance(items, list):
        return Decoded([], [Reject(topic, payload, "field 'readings': expected an array")])
    if not items:
        return Decoded([], [Reject(topic, payload, "batch has no readings")])
    if len(items) > limits.max_batch:
        reason = f"batch too large: {len(items)} readings > {limits.max_batch}"
        return Decoded([], [Reject(topic, payload, reason)])
    result = Decoded([], [])
    feeder = topic_feeder(topic)
    for index, item in enumerate(items):
        try:
            reading = parse_reading(item, limits, now, known)
            _on_feeder(reading, feeder, feeders)
            _on_grid(reading, interval)
            result.readings.append(reading)
        except _Invalid as exc:
            element = json.dumps(item, separators=(",", ":")).encode()
            result.rejects.append(Reject(topic, element, f"readings[{index}]: {exc}"))
    return result


# ----------------------------------------------------------------------------- columnar


#: The columns of `DecodedMany.frame`: the readings (kW, kWh, V, A, as
#: `READING_SCHEMA`, the writer's) and the index of the message each came in.
COLUMNS: dict[str, Any] = {**READING_SCHEMA, "message": pl.Int32}
#: The reading columns of that frame, in `Reading`'s order.
COLUMNS_READING = ("timestamp", "meter_id", *READING_FIELDS)
_FIELDS = ("meter_id", "ts", *READING_FIELDS)
_ROW = operator.itemgetter(*_FIELDS)
_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class Fleet:
    """Who may write what, as sorted arrays: built once per refresh of the meters table.

    ``known`` None skips the unknown-meter rule and ``feeders`` None the feeder
    rule, as in `decode` (the mappings are kept for the per-reading path).
    """

    known: frozenset[int] | None
    feeders: Mapping[int, str] | None
    known_ids: npt.NDArray[np.int64]
    feeder_ids: npt.NDArray[np.int64]  # sorted meter ids of ``feeders``
    feeder_codes: npt.NDArray[np.int32]  # the feeder of feeder_ids[i], as an index of names
    feeder_names: dict[str, int]

    @classmethod
    def of(cls, known: frozenset[int] | None, feeders: Mapping[int, str] | None) -> Fleet:
        known_ids = np.sort(np.fromiter(known or (), dtype=np.int64))
        pairs = sorted((feeders or {}).items())
        names: dict[str, int] = {}
        codes = [names.setdefault(feeder, len(names)) for _, feeder in pairs]
        return cls(
            known=known,
            feeders=feeders,
            known_ids=known_ids,
            feeder_ids=np.array([meter for meter, _ in pairs], dtype=np.int64),
            feeder_codes=np.array(codes, dtype=np.int32),
            feeder_names=names,
        )


@dataclass
class DecodedMany:
    """What many messages yielded: the valid readings as columns, and the rejections.

    ``frame`` has `COLUMNS`, in message order (and, within a batch, reading
    order), so the first of two readings with the same key is the first written;
    ``rejects`` are in the same order.
    """

    frame: pl.DataFrame
    rejects: list[Reject]

    def readings(self) -> list[Reading]:
        """The frame as `Reading` tuples (tests, and the rare row-by-row path)."""
        return [Reading(*row) for row in self.frame.select(COLUMNS_READING).iter_rows()]


def _canonical_id(segment: str) -> int:
    """The meter id a topic segment names (0 if it is not a plain decimal meter id)."""
    if segment.isascii() and segment.isdigit() and str(int(segment)) == segment:
        return int(segment)
    return 0


class _Rows:
    """Reading objects gathered from many messages, with where each came from."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.message: list[int] = []
        self.position: list[int] = []  # index in its batch (-1: a single reading)
        self.expect: list[int] = []  # a single reading's topic meter (0: a batch element)
        self.feeder: list[int] = []  # the topic's feeder as a fleet code (-2: not in the fleet)


def _ids(column: tuple[Any, ...]) -> npt.NDArray[np.int64]:
    """Meter ids as int64; anything that is not a plain int in range becomes 0 (invalid)."""
    if set(map(type, column)) == {int}:
        try:
            return np.array(column, dtype=np.int64)
        except OverflowError:
            pass
    return np.array(
        [x if type(x) is int and 0 < x <= _INT32_MAX else 0 for x in column], dtype=np.int64
    )


def _numbers(column: tuple[Any, ...]) -> npt.NDArray[np.float64]:
    """Values as float64; anything `_number` would refuse for its type becomes NaN."""
    if set(map(type, column)) == {float}:
        return np.array(column, dtype=np.float64)
    nan = math.nan
    return np.array(
        [
            x if type(x) is float else float(x) if type(x) is int and abs(x) <= 10**15 else nan
            for x in column
        ],
        dtype=np.float64,
    )


def _timestamps(
    column: tuple[Any, ...], limits: Limits, now: datetime, interval: timedelta | None
) -> npt.NDArray[np.int64]:
    """Epoch microseconds; -1 where `_timestamp` or the grid rule would refuse.

    Each distinct string is checked once by the per-reading rules themselves (a
    gateway batch carries one or a few timestamps), so the rules cannot drift.
    """
    seen: dict[str, int] = {}

    def check(text: str) -> int:
        try:
            moment = _timestamp({"ts": text}, limits, now)
        except _Invalid:
            return -1
        micros = (moment - _EPOCH) // _US
        if interval is not None and (moment - _EPOCH) % interval:
            return -1
        return micros

    if set(map(type, column)) == {str}:
        checked = {text: check(text) for text in set(column)}
        return np.array(list(map(checked.__getitem__, column)), dtype=np.int64)
    for text in column:
        if type(text) is str and text not in seen:
            seen[text] = check(text)
    return np.array([seen[text] if type(text) is str else -1 for text in column], dtype=np.int64)


def _owned(
    ids: npt.NDArray[np.int64], sorted_ids: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.intp]]:
    """Which ids are in ``sorted_ids``, and where."""
    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=np.bool_), np.zeros(len(ids), dtype=np.intp)
    where = np.searchsorted(sorted_ids, ids).clip(0, len(sorted_ids) - 1)
    return sorted_ids[where] == ids, where


def decode_many(
    messages: Sequence[tuple[str, bytes]],
    *,
    limits: Limits,
    now: datetime,
    fleet: Fleet,
    interval: timedelta | None = None,
) -> DecodedMany:
    """`decode` for many messages at once, validated column by column.

    Each message is parsed once (``json.loads``); the readings of all of them are
    then checked as arrays: types, finiteness, physical bounds, meter ids and
    ownership (known meter, the topic's feeder, a single reading's own topic),
    the time window and the grid. Only what fails a check goes through the
    per-reading rules of `decode`, which name the reason, so the reasons are
    exactly `decode`'s; so is every message whose envelope or topic is anything
    but the plain shape (a single reading on its meter's topic, a batch on a
    gateway topic). The readings and rejects are `decode`'s, in the same order.
    """
    rows = _Rows()
    outcomes: list[Decoded | None] = []  # per message: whole outcome via `decode`, or rows
    for index, (topic, payload) in enumerate(messages):
        outcomes.append(_gather(index, topic, payload, rows, limits, now, fleet, interval))
    ok, columns = _check(rows, limits, now, fleet, interval)
    # The rows that failed a check, and every message that took `decode`, by the old rules.
    extra: dict[int, list[tuple[int, Reading]]] = {}  # message -> (position, reading)
    refused: dict[int, list[tuple[int, Reject]]] = {}
    for row in np.flatnonzero(~ok).tolist():
        message, position = rows.message[row], rows.position[row]
        topic, payload = messages[message]
        if position < 0:  # a single reading: the message is the reading
            outcomes[message] = _decode_one(topic, payload, limits, now, fleet, interval)
            continue
        item = rows.items[row]
        try:
            reading = parse_reading(item, limits, now, fleet.known)
            _on_feeder(reading, topic_feeder(topic), fleet.feeders)
            _on_grid(reading, interval)
            extra.setdefault(message, []).append((position, reading))
        except _Invalid as exc:
            element = json.dumps(item, separators=(",", ":")).encode()
            reject = Reject(topic, element, f"readings[{position}]: {exc}")
            refused.setdefault(message, []).append((position, reject))
    message_of = np.array(rows.message, dtype=np.int32)
    decided = np.array([outcome is not None for outcome in outcomes], dtype=np.bool_)
    keep = ok & ~decided[message_of]  # a single re-decoded whole is no longer a row here
    frame = pl.DataFrame(
        {
            "timestamp": columns["ts"][keep],
            "meter_id": columns["meter_id"][keep].astype(np.int32),
            **{name: columns[name][keep] for name in READING_FIELDS},
            "message": message_of[keep],
            "_position": np.array(rows.position, dtype=np.int32)[keep],
        }
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"))
    rejects: list[Reject] = []
    more: list[tuple[Any, ...]] = []
    for index, outcome in enumerate(outcomes):
        if outcome is not None:
            rejects.extend(outcome.rejects)
            more.extend((*r, index, i) for i, r in enumerate(outcome.readings))
        rejects.extend(reject for _, reject in sorted(refused.get(index, ()), key=_first))
        more.extend((*r, index, position) for position, r in extra.get(index, ()))
    if more:
        added = pl.DataFrame(more, schema={**COLUMNS, "_position": pl.Int32}, orient="row")
        frame = pl.concat([frame, added]).sort("message", "_position", maintain_order=True)
    return DecodedMany(frame.drop("_position"), rejects)


def _first(pair: tuple[int, Reject]) -> int:
    return pair[0]


def _decode_one(
    topic: str,
    payload: bytes,
    limits: Limits,
    now: datetime,
    fleet: Fleet,
    interval: timedelta | None,
) -> Decoded:
    return decode(topic, payload, limits=limits, now=now, known_meters=fleet.known,
                  feeders=fleet.feeders, interval=interval)  # fmt: skip


def _gather(
    index: int,
    topic: str,
    payload: bytes,
    rows: _Rows,
    limits: Limits,
    now: datetime,
    fleet: Fleet,
    interval: timedelta | None,
) -> Decoded | None:
    """Parse one message: its readings join ``rows`` (None), or its outcome is decided.

    Anything but the plain shape is decided by `decode` itself (it parses again;
    such messages are rare and their reasons must be exactly `decode`'s).
    """
    try:
        obj = _load(payload, limits)
        _version(obj)
    except _Invalid as exc:
        return Decoded([], [Reject(topic, payload, str(exc))])
    segment, feeder = topic_meter(topic), topic_feeder(topic)
    if segment is None or feeder is None:
        return _decode_one(topic, payload, limits, now, fleet, interval)
    code = fleet.feeder_names.get(feeder, -2)
    if "readings" not in obj:
        expect = _canonical_id(segment)
        if not expect:
            return _decode_one(topic, payload, limits, now, fleet, interval)
        rows.items.append(obj)
        rows.message.append(index)
        rows.position.append(-1)
        rows.expect.append(expect)
        rows.feeder.append(code)
        return None
    items = obj["readings"]
    if (
        not is_gateway_segment(segment)
        or not isinstance(items, list)
        or not 0 < len(items) <= limits.max_batch
    ):
        return _decode_one(topic, payload, limits, now, fleet, interval)
    count = len(items)
    rows.items.extend(items)
    rows.message.extend([index] * count)
    rows.position.extend(range(count))
    rows.expect.extend([0] * count)
    rows.feeder.extend([code] * count)
    return None


def _check(
    rows: _Rows, limits: Limits, now: datetime, fleet: Fleet, interval: timedelta | None
) -> tuple[npt.NDArray[np.bool_], dict[str, npt.NDArray[Any]]]:
    """Every rule of `parse_reading`, `_on_feeder`, `_on_grid` and the single
    binding, as arrays: True where a row passes them all (a row may fail here and
    still pass the per-reading rules, e.g. an integer beyond 1e15 checks; never
    the reverse)."""
    items = rows.items
    count = len(items)
    if set(map(type, items)) == {dict}:
        try:
            table = list(map(_ROW, items))
        except KeyError:
            table = [tuple(o.get(k) for k in _FIELDS) for o in items]
    else:
        table = [
            tuple(o.get(k) for k in _FIELDS) if type(o) is dict else (None,) * len(_FIELDS)
            for o in items
        ]
    fields = list(zip(*table, strict=True)) if count else [()] * len(_FIELDS)
    ids = _ids(fields[0])
    ok = (ids > 0) & (ids <= _INT32_MAX)
    if fleet.known is not None:
        known, _ = _owned(ids, fleet.known_ids)
        ok &= known
    if fleet.feeders is not None:
        found, where = _owned(ids, fleet.feeder_ids)
        codes = fleet.feeder_codes[where] if len(fleet.feeder_ids) else -1
        meter_feeder = np.where(found, codes, -1)
        topic_feeder_code = np.array(rows.feeder, dtype=np.int32)
        ok &= (meter_feeder < 0) | (meter_feeder == topic_feeder_code)
    expect = np.array(rows.expect, dtype=np.int64)
    ok &= (expect == 0) | (expect == ids)
    micros = _timestamps(fields[1], limits, now, interval)
    ok &= micros >= 0
    columns: dict[str, npt.NDArray[Any]] = {"meter_id": ids, "ts": micros}
    with np.errstate(invalid="ignore"):
        for name, column in zip(READING_FIELDS, fields[2:], strict=True):
            values = _numbers(column)
            low, high = limits.bounds(name)
            ok &= np.isfinite(values) & (values >= low) & (values <= high)
            columns[name] = values
    return ok, columns
