"""Columnar validation (`payload.decode_many`) is `payload.decode`, message for message.

The consumer validates a whole batch of deliveries as arrays; the per-message
`decode` stays the reference. Every test here feeds both the same messages and
demands the same readings in the same order (first write wins within a batch)
and the same rejects with the same reasons, in the same order. No broker, no
database: pure functions.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.mqtt.payload import (
    COLUMNS,
    Decoded,
    DecodedMany,
    Fleet,
    Limits,
    Reading,
    Reject,
    decode,
    decode_many,
    encode_reading,
    reading_object,
)
from grid_pipeline.mqtt.simulator import FaultRates, Simulator, malformed_corpus
from grid_pipeline.mqtt.topics import gateway_topic, meter_topic

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
FIVE = timedelta(minutes=5)
LIMITS = Limits()
FLEET = build_fleet(120, 42)  # three feeders
FEEDERS = {int(m): str(f) for m, f in FLEET.select("meter_id", "feeder").iter_rows()}
KNOWN = frozenset(FEEDERS)
F1, F2 = sorted(set(FEEDERS.values()))[:2]
A = min(m for m, f in FEEDERS.items() if f == F1)  # a meter on F1
B = min(m for m, f in FEEDERS.items() if f == F2)  # a meter on F2
TS = NOW - 2 * FIVE
GOOD_A = Reading(TS, A, 1.234, 0.1028, 231.4, 5.34)
GOOD_B = Reading(TS, B, -0.5, 0.02, 229.9, 2.0)

Message = tuple[str, bytes]


def _reference(
    messages: list[Message],
    known: frozenset[int] | None = KNOWN,
    feeders: dict[int, str] | None = FEEDERS,
    interval: timedelta | None = FIVE,
) -> tuple[list[Reading], list[int], list[Reject]]:
    readings: list[Reading] = []
    origin: list[int] = []
    rejects: list[Reject] = []
    for index, (topic, payload) in enumerate(messages):
        result: Decoded = decode(topic, payload, limits=LIMITS, now=NOW, known_meters=known,
                                 feeders=feeders, interval=interval)  # fmt: skip
        readings += result.readings
        origin += [index] * len(result.readings)
        rejects += result.rejects
    return readings, origin, rejects


def _same_as_decode(
    messages: list[Message],
    known: frozenset[int] | None = KNOWN,
    feeders: dict[int, str] | None = FEEDERS,
    interval: timedelta | None = FIVE,
) -> DecodedMany:
    fleet = Fleet.of(known, feeders)
    many = decode_many(messages, limits=LIMITS, now=NOW, fleet=fleet, interval=interval)
    readings, origin, rejects = _reference(messages, known, feeders, interval)
    assert many.frame.schema == pl.Schema(COLUMNS)
    assert many.readings() == readings
    assert many.frame.get_column("message").to_list() == origin
    assert many.rejects == rejects
    return many


def _batch(feeder: str, items: list[Any], gateway: int = 1) -> Message:
    obj = {"v": 1, "gateway": f"{feeder}-gw{gateway}", "readings": items}
    return gateway_topic("grid", feeder, gateway), json.dumps(obj).encode()


def _single(reading: Reading, topic_meter: int | None = None, feeder: str = F1) -> Message:
    meter = reading.meter_id if topic_meter is None else topic_meter
    return meter_topic("grid", feeder, meter), encode_reading(reading)


def _item(reading: Reading = GOOD_A, **changes: Any) -> dict[str, Any]:
    return {**reading_object(reading), **changes}


def test_valid_gateway_batches_and_singles_are_all_kept_in_order() -> None:
    sim = Simulator(FLEET, topic_root="grid", gateway_size=25)
    messages = [m for i in range(4) for m in sim.tick(NOW - (6 - i) * FIVE)]
    messages += [_single(GOOD_A), _single(GOOD_B, feeder=F2)]
    many = _same_as_decode(messages)
    assert many.frame.height == 4 * len(FLEET) + 2
    assert not many.rejects


def test_each_bad_element_is_quarantined_alone_with_decodes_reason() -> None:
    late = GOOD_A._replace(timestamp=TS + timedelta(seconds=7))
    items = [
        _item(),
        _item(power="1.2"),  # wrong type
        _item(power=True),  # bool is no number
        _item(voltage=-3.0),  # out of range
        _item(energy=10**20),  # integer too large
        _item(current=7),  # an integer within range: valid
        _item(meter_id=999_999),  # unknown meter
        _item(meter_id=B),  # a meter of another feeder
        _item(meter_id=2**40),  # beyond int4
        _item(meter_id=False),
        reading_object(late),  # off the grid
        _item(ts="2099-01-01T00:00:00Z"),  # far future
        _item(ts="2026-11-24T11:50:00+00:00"),  # another spelling of a valid time
        _item(ts="yesterday"),
        _item(ts=17),
        {k: v for k, v in _item().items() if k != "energy"},  # missing field
        [1, 2, 3],  # not an object
        None,
        _item(GOOD_A._replace(meter_id=A + 3 if FEEDERS.get(A + 3) == F1 else A)),
    ]
    many = _same_as_decode([_batch(F1, items)])
    reasons = [r.reason for r in many.rejects]
    assert len(reasons) == 15, reasons
    assert reasons[0].startswith("readings[1]: field 'power': expected a number, got str")
    assert any(r.startswith("readings[7]: meter ") and "is not on feeder" in r for r in reasons)
    assert "readings[10]: timestamp not on the 5 min grid" in reasons[8]


def test_whole_message_rules_and_odd_shapes_match_decode() -> None:
    good = _batch(F1, [_item()])
    messages = [
        good,
        (good[0], good[1][:20]),  # truncated
        (good[0], b"\xff" + good[1]),  # not UTF-8
        (good[0], json.dumps({"v": 2, "readings": [_item()]}).encode()),
        (good[0], json.dumps({"v": 1, "readings": []}).encode()),
        (good[0], json.dumps({"v": 1, "readings": {"a": 1}}).encode()),
        (good[0], json.dumps({"v": 1, "readings": [_item()] * 10_001}).encode()),
        (meter_topic("grid", F1, A), good[1]),  # a batch on a meter topic
        (gateway_topic("grid", F1, 1), encode_reading(GOOD_A)),  # a single on a gateway
        _single(GOOD_A, topic_meter=A + 1),  # meter A on another meter's topic
        (f"grid/{F1}/0{A}/reading", encode_reading(GOOD_A)),  # not a canonical meter id
        _single(GOOD_A, feeder=F2),  # meter A on a foreign feeder
        ("odd-topic", encode_reading(GOOD_A)),  # no binding from the topic
        ("odd-topic", good[1]),
        _single(GOOD_A._replace(power=1e9)),
        _single(GOOD_B, feeder=F2),
    ]
    many = _same_as_decode(messages)
    assert many.frame.height == 4  # good, both odd-topic messages, and meter B's reading


def test_the_simulators_faults_and_malformed_corpus() -> None:
    faults = FaultRates(duplicate=0.1, out_of_order=0.2, late=0.05)
    sim = Simulator(FLEET, topic_root="grid", gateway_size=40, faults=faults, seed=3)
    messages = [m for i in range(5) for m in sim.tick(NOW - (7 - i) * FIVE)]
    messages[3:3] = malformed_corpus("grid", F1, GOOD_A)
    _same_as_decode(messages)


@pytest.mark.parametrize(
    ("known", "feeders", "interval"),
    [(None, None, None), (KNOWN, None, FIVE), (None, FEEDERS, None), (frozenset(), {}, FIVE)],
)
def test_rules_switched_off_as_in_decode(
    known: frozenset[int] | None, feeders: dict[int, str] | None, interval: timedelta | None
) -> None:
    late = GOOD_A._replace(timestamp=TS + timedelta(seconds=7))
    items = [_item(), _item(meter_id=B), reading_object(late), _item(meter_id=999_999)]
    _same_as_decode([_batch(F1, items), _single(late)], known, feeders, interval)


def test_no_messages_and_only_rejects_give_an_empty_frame() -> None:
    assert _same_as_decode([]).frame.height == 0
    assert _same_as_decode([("grid/F01/1/reading", b"nope")]).frame.height == 0


# ----------------------------------------------------------------------------- hypothesis

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-6_000, max_value=6_000),
    st.integers(min_value=-(10**16), max_value=10**16),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
)
timestamps = st.one_of(
    st.sampled_from(["2026-11-24T11:50:00Z", "2026-11-24T11:50:07Z", "2026-11-24T11:50:00",
                     "2026-11-24T13:50:00+02:00", "2099-01-01T00:00:00Z", ""]),
    st.integers(), st.none(),
)  # fmt: skip
meter_ids = st.one_of(st.sampled_from([A, B, 0, -1, 999_999, 2**31, 2**63]), st.integers(),
                      st.booleans(), st.floats(), st.text(max_size=3))  # fmt: skip
fields = st.fixed_dictionaries(
    {},
    optional={"meter_id": meter_ids, "ts": timestamps, "power": values, "energy": values,
              "voltage": values, "current": values, "extra": values},
)  # fmt: skip
elements = st.one_of(
    st.builds(lambda changes: {**_item(), **changes}, fields),
    st.just(_item()),
    st.just(_item(GOOD_B)),
    values,
)


def _on_meter_a(obj: dict[str, Any]) -> Message:
    return meter_topic("grid", F1, A), json.dumps({"v": 1, **obj}).encode()


messages = st.lists(
    st.one_of(
        st.builds(_batch, st.sampled_from([F1, F2, "X9"]), st.lists(elements, max_size=6)),
        st.builds(_on_meter_a, fields),
        st.builds(
            _single,
            st.sampled_from([GOOD_A, GOOD_B]),
            st.sampled_from([None, A, B, 7]),
            st.sampled_from([F1, F2]),
        ),
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_any_mix_of_messages_decodes_as_decode_does(batch: list[Message]) -> None:
    _same_as_decode(batch)
