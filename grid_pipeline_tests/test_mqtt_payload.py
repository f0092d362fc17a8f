"""The v1 payload and its validation rules (pure functions, no broker, no database)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grid_pipeline.db.units import INT4_MAX, stored_value
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.mqtt.payload import (
    READING_FIELDS,
    Decoded,
    Limits,
    Reading,
    decode,
    encode_batch,
    encode_reading,
)
from grid_pipeline.mqtt.simulator import FaultRates, Simulator, malformed_corpus
from grid_pipeline.mqtt.topics import reading_filter

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KNOWN = frozenset(range(1, 101))
LIMITS = Limits()
TOPIC = "grid/F01/7/reading"
GOOD = Reading(NOW - timedelta(minutes=5), 7, 1.234, 0.1028, 231.4, 5.34)


def _decode(payload: bytes, topic: str = TOPIC, known: frozenset[int] | None = KNOWN) -> Decoded:
    return decode(topic, payload, limits=LIMITS, now=NOW, known_meters=known)


def _reason(payload: bytes, topic: str = TOPIC) -> str:
    result = _decode(payload, topic)
    assert not result.readings and len(result.rejects) == 1, result
    assert result.rejects[0].payload == payload
    return result.rejects[0].reason


def _variant(**changes: object) -> bytes:
    obj = json.loads(encode_reading(GOOD))
    obj.update(changes)
    return json.dumps(obj).encode()


def test_round_trip() -> None:
    assert encode_reading(GOOD).startswith(b'{"v":1,"meter_id":7,"ts":"2026-11-24T11:55:00Z"')
    assert _decode(encode_reading(GOOD)).readings == [GOOD]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (encode_reading(GOOD)[:20], "invalid JSON"),
        (b"", "invalid JSON"),
        (_variant(power=float("nan")), "non-finite number literal NaN"),
        (_variant(power=float("inf")), "non-finite number literal Infinity"),
        (_variant(current=float("-inf")), "non-finite number literal -Infinity"),
        (encode_reading(GOOD).replace(b'"energy":0.1028', b'"energy":1e400'), "not a finite"),
        (_variant(power="1.2"), "field 'power': expected a number, got str"),
        (_variant(power=True), "field 'power': expected a number, got bool"),
        (_variant(power=None), "field 'power': expected a number, got NoneType"),
        (_variant(power=10**20), "number too large"),
        (_variant(voltage=-3.0), "'voltage': -3 outside the physical range"),
        (_variant(power=1e6), "'power': 1e+06 outside the physical range"),
        (_variant(meter_id=7.0), "'meter_id': expected an integer, got float"),
        (_variant(meter_id=-7), "'meter_id': -7 outside"),
        (_variant(meter_id=2**40), "outside 1..2147483647"),
        (_variant(v=2), "unsupported schema version 2"),
        (_variant(v=True), "unsupported schema version True"),
        (json.dumps({"meter_id": 7}).encode(), "missing schema version"),
        (_variant(ts="2099-01-01T00:00:00Z"), "in the future"),
        (_variant(ts="1999-01-01T00:00:00Z"), "in the past"),
        (_variant(ts="2026-11-24T11:55:00"), "has no UTC offset"),
        (_variant(ts="yesterday"), "is not an ISO 8601 timestamp"),
        (_variant(ts=1764000000), "expected an ISO 8601 string, got int"),
        (b"\xff\xfe{}", "not valid UTF-8 (byte 0)"),
        (b"[" * 100_000, "invalid JSON"),
        (b" " * (LIMITS.max_bytes + 1), "payload too large"),
        (b"42", "expected a JSON object, got int"),
        (b'"text"', "expected a JSON object, got str"),
    ],
)
def test_each_rule_rejects_with_a_precise_reason(payload: bytes, fragment: str) -> None:
    assert fragment in _reason(payload)


def test_missing_field_named() -> None:
    obj = json.loads(encode_reading(GOOD))
    del obj["energy"]
    assert _reason(json.dumps(obj).encode()) == "missing field 'energy'"


def test_unknown_meter_and_topic_mismatch() -> None:
    assert _reason(encode_reading(GOOD), "grid/F01/8/reading").startswith(
        "meter 7 on meter 8's topic"
    )
    unknown = GOOD._replace(meter_id=500)
    assert _reason(encode_reading(unknown), "grid/F01/500/reading").startswith("unknown meter_id")
    assert _decode(encode_reading(unknown), "grid/F01/500/reading", known=None).readings


# ------------------------------------------------------- who may write what (topic binding)

FEEDERS = {m: ("F01" if m <= 50 else "F02") for m in KNOWN}  # meters 7, 8: F01; 60: F02
FIVE_MIN = timedelta(minutes=5)


def _bound(payload: bytes, topic: str) -> Decoded:
    return decode(topic, payload, limits=LIMITS, now=NOW, known_meters=KNOWN, feeders=FEEDERS,
                  interval=FIVE_MIN)  # fmt: skip


def _only_reject(payload: bytes, topic: str) -> str:
    result = _bound(payload, topic)
    assert not result.readings and len(result.rejects) == 1, result
    return result.rejects[0].reason


def test_batch_on_a_meter_topic_is_rejected_whole() -> None:
    """Meter 7 cannot write meter 8's reading by wrapping it in a batch on its own topic."""
    payload = encode_batch("F01-gw1", [GOOD._replace(meter_id=8)])
    reason = _only_reject(payload, "grid/F01/7/reading")
    assert reason.startswith("batch on a meter topic"), reason
    assert _bound(payload, "grid/F01/gw1/reading").readings  # the same batch from a gateway


def test_single_reading_of_another_meter_names_both() -> None:
    payload = encode_reading(GOOD._replace(meter_id=8))
    assert _only_reject(payload, "grid/F01/7/reading").startswith("meter 8 on meter 7's topic")


def test_single_reading_on_a_gateway_topic_is_rejected() -> None:
    reason = _only_reject(encode_reading(GOOD), "grid/F01/gw1/reading")
    assert reason.startswith("single reading of meter 7 on gateway topic gw1"), reason


def test_meter_on_a_foreign_feeder_segment_is_rejected() -> None:
    reason = _only_reject(encode_reading(GOOD), "grid/F02/7/reading")
    assert reason.startswith("meter 7 is not on feeder F02"), reason
    assert _bound(encode_reading(GOOD), "grid/F01/7/reading").readings == [GOOD]


def test_gateway_batch_keeps_only_the_meters_of_its_feeder() -> None:
    batch = [GOOD, GOOD._replace(meter_id=60), GOOD._replace(meter_id=8)]
    result = _bound(encode_batch("F01-gw1", batch), "grid/F01/gw1/reading")
    assert [r.meter_id for r in result.readings] == [7, 8]
    assert [r.reason for r in result.rejects] == [
        "readings[1]: meter 60 is not on feeder F01 (it is on F02)"
    ]
    assert json.loads(result.rejects[0].payload)["meter_id"] == 60


def test_without_a_fleet_the_feeder_rule_is_skipped() -> None:
    payload = encode_reading(GOOD)
    assert decode("grid/F02/7/reading", payload, limits=LIMITS, now=NOW).readings == [GOOD]


@pytest.mark.parametrize("late", [timedelta(seconds=30), timedelta(minutes=1),
                                  timedelta(microseconds=1)])  # fmt: skip
def test_timestamp_off_the_interval_grid_is_rejected(late: timedelta) -> None:
    """A re-send 30 s late would otherwise be a second row for the same interval."""
    resend = GOOD._replace(timestamp=GOOD.timestamp + late)
    reason = _only_reject(encode_reading(resend), TOPIC)
    assert reason.startswith("timestamp not on the 5 min grid"), reason
    batch = _bound(encode_batch("F01-gw1", [GOOD, resend]), "grid/F01/gw1/reading")
    assert batch.readings == [GOOD]
    assert batch.rejects[0].reason.startswith("readings[1]: timestamp not on the 5 min grid")


def test_grid_follows_the_interval() -> None:
    quarter = GOOD._replace(timestamp=datetime(2026, 11, 24, 11, 45, tzinfo=UTC))
    off = GOOD._replace(timestamp=datetime(2026, 11, 24, 11, 50, tzinfo=UTC))
    hour = timedelta(minutes=15)
    assert decode(TOPIC, encode_reading(quarter), limits=LIMITS, now=NOW, interval=hour).readings
    reason = decode(TOPIC, encode_reading(off), limits=LIMITS, now=NOW, interval=hour).rejects
    assert reason[0].reason.startswith("timestamp not on the 15 min grid")


def test_batch_keeps_good_neighbours_of_a_bad_reading() -> None:
    others = [GOOD._replace(meter_id=m) for m in (1, 2, 3)]
    payload = encode_batch("F01-gw1", others)
    obj = json.loads(payload)
    obj["readings"][1]["voltage"] = "high"
    result = _decode(json.dumps(obj).encode(), "grid/F01/gw1/reading")
    assert [r.meter_id for r in result.readings] == [1, 3]
    assert len(result.rejects) == 1
    assert result.rejects[0].reason.startswith("readings[1]: field 'voltage'")
    assert json.loads(result.rejects[0].payload)["meter_id"] == 2


def test_batch_envelope_errors_reject_the_whole_message() -> None:
    assert _reason(b'{"v":1,"readings":{}}', "grid/F01/gw1/reading").endswith("expected an array")
    too_many = encode_batch("g", [GOOD] * (LIMITS.max_batch + 1))
    assert (
        "batch too large"
        in decode("grid/F01/gw1/reading", too_many, limits=Limits(max_bytes=10**8), now=NOW)
        .rejects[0]
        .reason
    )


def test_simulator_malformed_corpus_each_rejected_once() -> None:
    for topic, payload in malformed_corpus("grid", "F01", GOOD):
        result = _decode(payload, topic)
        assert not result.readings and len(result.rejects) == 1, (payload, result)


@pytest.mark.parametrize("gateway_size", [0, 7])
def test_simulator_ground_truth_reconciles_with_validation(gateway_size: int) -> None:
    """Valid simulator traffic (single or gateway) passes every binding and grid rule."""
    fleet = build_fleet(30, 3)
    faults = FaultRates(duplicate=0.1, out_of_order=0.1, late=0.05, malformed=0.05)
    sim = Simulator(fleet, faults=faults, seed=3, gateway_size=gateway_size)
    feeders = dict(zip(fleet["meter_id"].to_list(), fleet["feeder"].to_list(), strict=True))
    keys: set[tuple[int, datetime]] = set()
    rejects = 0
    messages = []
    ticks = 48  # 4 hours: late readings (1-6 h old) also land inside the span already sent
    for i in range(ticks):
        messages += sim.tick(NOW - timedelta(hours=4) + i * sim.interval, last=i == ticks - 1)
    messages += sim.flush()
    for topic, payload in messages:
        result = decode(
            topic, payload, limits=LIMITS, now=NOW, known_meters=frozenset(range(1, 31)),
            feeders=feeders, interval=sim.interval,
        )  # fmt: skip
        keys |= {(r.meter_id, r.timestamp) for r in result.readings}
        rejects += len(result.rejects)
    c = sim.counters
    assert len(messages) == c.messages
    assert len(keys) == c.expected_rows and rejects == c.malformed
    assert c.duplicates and c.out_of_order and c.late and c.malformed


def test_gateway_batches_carry_every_reading() -> None:
    sim = Simulator(build_fleet(120, 1), gateway_size=25)
    messages = sim.tick(NOW - timedelta(minutes=10))
    readings = [r for t, p in messages for r in _decode(p, t, known=None).readings]
    assert len(readings) == 120 and len(messages) < 120
    assert all(t.endswith("/reading") and "/gw" in t for t, _ in messages)


def test_default_bounds_fit_the_stored_integers() -> None:
    """The widest accepted value, in W, Wh, 0.1 V or mA, fits a PostgreSQL integer."""
    for name in READING_FIELDS:
        low, high = LIMITS.bounds(name)
        for edge in (low, high):
            assert abs(stored_value(name, edge)) <= INT4_MAX


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"power_kw": (-3e6, 3e6)}, "power bounds [-3e+06, 3e+06] kW exceed the stored integer"),
        ({"current_a": (0.0, float("inf"))}, "current bounds [0, inf] A exceed"),
        ({"voltage_v": (10.0, 0.0)}, "voltage bounds [10, 0] are empty"),
    ],
)
def test_bounds_beyond_the_stored_integer_are_refused(
    changes: dict[str, tuple[float, float]], fragment: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        Limits(**changes)  # type: ignore[arg-type]


def test_shared_subscription_filter() -> None:
    assert reading_filter("grid") == "grid/+/+/reading"
    assert reading_filter("grid", "ingest") == "$share/ingest/grid/+/+/reading"


# ----------------------------------------------------------------------------- hypothesis

finite = st.floats(min_value=-4_000, max_value=4_000, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=0, max_value=900, allow_nan=False, allow_infinity=False)
readings = st.builds(
    Reading,
    timestamp=st.datetimes(
        min_value=datetime(2026, 11, 1), max_value=datetime(2026, 11, 24, 12),
        timezones=st.just(UTC),
    ),
    meter_id=st.integers(1, 100),
    power=finite, energy=finite, voltage=positive, current=positive,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(readings)
def test_any_valid_reading_round_trips_exactly(reading: Reading) -> None:
    topic = f"grid/F01/{reading.meter_id}/reading"
    assert _decode(encode_reading(reading), topic).readings == [reading]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2_000))
def test_arbitrary_bytes_never_raise_and_yield_one_outcome(payload: bytes) -> None:
    result = _decode(payload)
    assert len(result.readings) + len(result.rejects) == 1
    assert all(r.reason for r in result.rejects)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "v": st.one_of(st.just(1), json_values), "meter_id": st.one_of(st.integers(), json_values),
        "ts": st.one_of(st.just("2026-11-24T11:00:00Z"), json_values),
        "power": json_values, "energy": json_values, "voltage": json_values,
        "current": json_values, "readings": st.lists(json_values, max_size=5),
    },
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(fields)
def test_arbitrary_json_objects_never_raise(obj: dict[str, object]) -> None:
    payload = json.dumps(obj).encode()  # may contain NaN/Infinity literals: must be rejected
    result = _decode(payload, "grid/F01/gw1/reading")
    for reading in result.readings:
        assert all(abs(x) < float("inf") for x in reading[2:])
        assert all(
            abs(stored_value(name, getattr(reading, name))) <= INT4_MAX for name in READING_FIELDS
        )
    assert result.readings or result.rejects  # every message has an outcome
