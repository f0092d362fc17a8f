"""The meter simulator: the historic profile model, published live over MQTT.

Each tick is one interval: every meter's reading for that interval comes from
`generate_readings` (window-independent, so the live stream equals what the
historic loader would have written for the same instants), encoded with the v1
payload and published with QoS 1, one message per meter or one per gateway
batch. Optional faults are injected on top, each counted as ground truth so a
test or soak run can reconcile what the consumer stored and quarantined:

* duplicates: a message published twice (the key absorbs the second copy);
* out-of-order: a message held back and published after the next tick's;
* late: a reading hours old that was never sent before (a meter catching up
  after an outage) - a genuine new row;
* malformed: a payload the consumer must quarantine (one reject each).

Physical faults (`PhysicalFaults`, ``simulate --physical-faults``) are the grid's, not
the transport's: the same outages, sags, swells, overloads, thefts, stuck and zero
reads and spikes as ``generate --physical-faults``, applied with
`grid_pipeline.events.inject.inject` to one whole UTC day at a time (cached: the
day's faults are planned from the whole day, a stuck meter repeats the reading of
its first stuck interval, reverse-flow truth needs whole runs), of which each tick
publishes its interval. What a real meter would send is what is published:

* outage: nothing. A meter without supply stops reporting (the historic generator
  keeps its rows at voltage 0, which a last-gasp meter reports once at most);
* stuck, zero, spike, theft: the wrong readings, as the meter registers them;
* voltage sag/swell, overload: the readings as measured (the physics changed).

Each tick also yields the feeder heads' readings at its interval and the ground
truth of the faults it touches (clipped to the published span, so a fault's end grows
tick by tick until it ends), for the caller to store.

Message planning (`Simulator.tick`) is pure and deterministic for a seed;
publishing (`Publisher`) and pacing (`run_simulation`) are separate.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

import paho.mqtt.client as mqtt
import polars as pl
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties

from grid_pipeline.events.inject import FAULT_SCHEMA, HEAD_SCHEMA, Scenario, inject, plan_day
from grid_pipeline.fleet.readings import generate_readings
from grid_pipeline.mqtt.broker_url import BrokerAddress, Protocol, apply_address, paho_protocol
from grid_pipeline.mqtt.payload import Reading, encode_batch, encode_reading, reading_object
from grid_pipeline.mqtt.topics import DEFAULT_ROOT, gateway_topic, meter_topic

logger = logging.getLogger(__name__)

Message = tuple[str, bytes]


@dataclass(frozen=True)
class FaultRates:
    """Per-message probabilities of each injected fault (0 disables it)."""

    duplicate: float = 0.0
    out_of_order: float = 0.0
    late: float = 0.0
    malformed: float = 0.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault rate {name} must be within [0, 1], got {value}")


@dataclass
class SimCounters:
    """Ground truth of what the simulator sent.

    ``expected_rows`` is the number of distinct (meter_id, timestamp) readings
    among the valid ones, i.e. what the readings table must gain; ``malformed``
    is the number of rejects the consumer must record.
    """

    intervals: int = 0
    messages: int = 0
    readings: int = 0
    expected_rows: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    late: int = 0
    malformed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


UNKNOWN_METER_ID = 2_000_000_000


def malformed_corpus(root: str, feeder: str, reading: Reading) -> list[Message]:
    """Messages the v1 validation must each reject exactly once (and store nothing)."""
    obj = {"v": 1, **reading_object(reading)}
    topic = meter_topic(root, feeder, reading.meter_id)
    valid = encode_reading(reading)

    def variant(**changes: Any) -> bytes:
        return json.dumps({**obj, **changes}, separators=(",", ":")).encode()

    unknown = {**obj, "meter_id": UNKNOWN_METER_ID}
    return [
        (topic, valid[: len(valid) // 2]),  # truncated JSON
        (topic, variant(power=float("nan"))),  # NaN literal (json.dumps writes NaN)
        (topic, variant(power="high")),  # wrong type
        (topic, b"\xff\xfe" + valid),  # invalid UTF-8
        (topic, variant(v=99)),  # unknown schema version
        (topic, variant(ts="2099-01-01T00:00:00Z")),  # far future
        (topic, valid.replace(b'"voltage":', b'"voltage":1e400,"x":', 1)),  # overflows to inf
        (meter_topic(root, feeder, UNKNOWN_METER_ID), json.dumps(unknown).encode()),
    ]


@dataclass(frozen=True)
class PhysicalTick:
    """What the physical faults did to one tick, for the caller to store."""

    timestamp: datetime
    head: pl.DataFrame  # HEAD_SCHEMA: the feeder heads' readings at `timestamp` (W, Wh)
    truth: pl.DataFrame  # FAULT_SCHEMA: the faults touching this tick, clipped to the span
    first: bool  # the run's first tick (truth from here on is the run's)
    silenced: int  # readings not published: their meters are in an outage


_TruthKey = tuple[str, str, str, datetime]


class PhysicalFaults:
    """The historic generator's physical faults on the live stream (wraps `inject`).

    One UTC day is generated and injected whole the first time one of its ticks is
    asked for, then sliced per tick: the costly parts (the day's readings, the fault
    plan, the stuck freeze, the feeder heads, reverse-flow truth) run once per day.
    """

    def __init__(self, fleet: pl.DataFrame, scenario: Scenario, timezone: str = "UTC") -> None:
        self.fleet = fleet
        self.scenario = scenario
        self.timezone = timezone
        self._day: date | None = None
        self._readings: dict[datetime, pl.DataFrame] = {}
        self._heads: dict[datetime, pl.DataFrame] = {}
        self._faults: dict[_TruthKey, tuple[date, datetime, float | None]] = {}
        self._first: datetime | None = None

    def _load(self, day: date) -> None:
        start = datetime.combine(day, clock(), UTC)
        window = (start, start + timedelta(days=1))
        interval = self.scenario.interval
        clean = generate_readings(self.fleet, *window, interval, self.scenario.seed, self.timezone)
        injected = inject(clean, self.fleet, window, self.scenario)
        self._readings = _by_timestamp(injected.readings)
        self._heads = _by_timestamp(injected.head)
        for f in plan_day(day, self.fleet, self.scenario) if self.scenario.rates.enabled else []:
            # thefts that began on an earlier day are planned on every day they run
            self._faults[(f.kind, f.asset_type, f.asset, f.start)] = (f.day, f.end, f.magnitude)
        for row in injected.truth.filter(pl.col("kind") == "reverse_flow").iter_rows(named=True):
            key = (row["kind"], row["asset_type"], row["asset"], row["start"])
            self._faults[key] = (row["day"], row["end"], None)
        self._day = day

    def readings(self, ts: datetime) -> tuple[pl.DataFrame, PhysicalTick]:
        """The readings to publish at `ts` (outages silenced) and what the tick records."""
        ts = ts.astimezone(UTC)
        if ts.date() != self._day:
            self._load(ts.date())
        first = self._first = self._first or ts
        end = ts + self.scenario.interval
        frame = self._readings.get(ts)
        if frame is None:  # off the interval grid of the day: nothing to inject into
            frame = generate_readings(self.fleet, ts, end, self.scenario.interval,
                                      self.scenario.seed, self.timezone)  # fmt: skip
        heard = frame.filter(pl.col("voltage") != 0)
        rows = []
        for key, (day, stop, magnitude) in list(self._faults.items()):
            kind, asset_type, asset, start = key
            if stop <= ts:  # ended: its last row was stored at its last tick
                del self._faults[key]
            elif start < end:
                rows.append((day, kind, asset_type, asset, max(start, first), min(stop, end),
                             magnitude))  # fmt: skip
        truth = pl.DataFrame(rows, schema=FAULT_SCHEMA, orient="row").sort("start", "kind", "asset")
        head = self._heads.get(ts, pl.DataFrame(schema=HEAD_SCHEMA))
        tick = PhysicalTick(ts, head, truth, ts == first, frame.height - heard.height)
        return heard, tick


def _by_timestamp(frame: pl.DataFrame) -> dict[datetime, pl.DataFrame]:
    return {
        key[0]: part
        for key, part in frame.partition_by("timestamp", as_dict=True, maintain_order=True).items()
    }


@dataclass
class Simulator:
    """Plans the messages of each interval for a fleet (pure, deterministic for a seed)."""

    fleet: pl.DataFrame
    interval: timedelta = timedelta(minutes=5)
    seed: int = 42
    timezone: str = "UTC"
    topic_root: str = DEFAULT_ROOT
    gateway_size: int = 0  # 0: one message per meter; N: batches of up to N readings
    faults: FaultRates = field(default_factory=FaultRates)
    counters: SimCounters = field(default_factory=SimCounters)
    physical: PhysicalFaults | None = None  # the grid's faults (simulate --physical-faults)
    on_physical: Callable[[PhysicalTick], None] | None = None  # stores heads and truth

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # noqa: S311 (reproducible faults, not crypto)
        self._held: list[Message] = []
        self._late_keys: set[tuple[int, datetime]] = set()
        self._first_tick: datetime | None = None
        self._feeder = dict(
            zip(self.fleet["meter_id"].to_list(), self.fleet["feeder"].to_list(), strict=True)
        )
        self.last_ts: datetime | None = None  # the interval of the latest tick

    def readings(self, ts: datetime) -> list[Reading]:
        """Every meter's reading for the interval starting at ``ts`` (with physical faults:
        as the meters report them, none from a meter without supply)."""
        if self.physical is not None:
            frame, tick = self.physical.readings(ts)
            if self.on_physical is not None:
                self.on_physical(tick)
        else:
            frame = generate_readings(
                self.fleet, ts, ts + self.interval, self.interval, self.seed, self.timezone
            )
        return [Reading(*row) for row in frame.iter_rows()]

    def _grouped(self, readings: list[Reading]) -> list[Message]:
        if self.gateway_size <= 0:
            return [
                (meter_topic(self.topic_root, self._feeder[r.meter_id], r.meter_id),
                 encode_reading(r))
                for r in readings
            ]  # fmt: skip
        by_feeder: dict[str, list[Reading]] = {}
        for r in readings:
            by_feeder.setdefault(self._feeder[r.meter_id], []).append(r)
        messages: list[Message] = []
        for feeder, group in sorted(by_feeder.items()):
            for k, start in enumerate(range(0, len(group), self.gateway_size), start=1):
                chunk = group[start : start + self.gateway_size]
                payload = encode_batch(f"{feeder}-gw{k}", chunk)
                messages.append((gateway_topic(self.topic_root, feeder, k), payload))
        return messages

    def _late(self, ts: datetime, count: int) -> list[Reading]:
        """Readings 1-6 hours old for random meters, each (meter, ts) at most once."""
        meters = self.fleet["meter_id"].to_list()
        result: list[Reading] = []
        for _ in range(count):
            meter = self._rng.choice(meters)
            per_hour = max(1, timedelta(hours=1) // self.interval)
            late_ts = ts - self.interval * self._rng.randint(per_hour, 6 * per_hour)
            if (meter, late_ts) in self._late_keys:
                continue
            self._late_keys.add((meter, late_ts))
            fleet = self.fleet.filter(pl.col("meter_id") == meter)
            frame = generate_readings(
                fleet, late_ts, late_ts + self.interval, self.interval, self.seed, self.timezone
            )
            result.extend(Reading(*row) for row in frame.iter_rows())
        return result

    def tick(self, ts: datetime, *, last: bool = False) -> list[Message]:
        """The messages to publish for the interval at ``ts``, faults applied, in send order."""
        readings = self.readings(ts)
        self.last_ts = ts
        messages = self._grouped(readings)
        c, f, rng = self.counters, self.faults, self._rng
        c.intervals += 1
        c.readings += len(readings)
        c.expected_rows += len(readings)
        late = self._late(ts, _draws(rng, len(readings), f.late))
        for r in late:
            messages.append((meter_topic(self.topic_root, self._feeder[r.meter_id], r.meter_id),
                             encode_reading(r)))  # fmt: skip
        # A late reading older than the first tick adds a row; one inside the span
        # already sent repeats that interval's reading (same values): a duplicate.
        first = self._first_tick = self._first_tick or ts
        new_rows = sum(1 for r in late if r.timestamp < first)
        c.late += len(late)
        c.readings += len(late)
        c.expected_rows += new_rows
        c.duplicates += len(late) - new_rows
        out: list[Message] = self._held
        self._held = []
        for message in messages:
            if not last and f.out_of_order and rng.random() < f.out_of_order:
                self._held.append(message)  # sent after the next tick's messages
                c.out_of_order += 1
            else:
                out.append(message)
            if f.duplicate and rng.random() < f.duplicate:
                out.insert(rng.randint(0, len(out)), message)
                c.duplicates += 1
                c.readings += message[1].count(b'"meter_id"')
        if self._held and last:
            out.extend(self._held)
            self._held = []
        for _ in range(_draws(rng, len(readings), f.malformed)):
            victim = rng.choice(readings)
            corpus = malformed_corpus(self.topic_root, self._feeder[victim.meter_id], victim)
            out.insert(rng.randint(0, len(out)), corpus[c.malformed % len(corpus)])
            c.malformed += 1
        c.messages += len(out)
        return out

    def flush(self) -> list[Message]:
        """Messages still held back for out-of-order delivery (call once at the end)."""
        out, self._held = self._held, []
        self.counters.messages += len(out)
        return out


def _draws(rng: random.Random, n: int, rate: float) -> int:
    """How many of n trials succeed at ``rate`` (expected value, randomised rounding)."""
    if rate <= 0.0:
        return 0
    expected = n * rate
    return int(expected) + (1 if rng.random() < expected - int(expected) else 0)


class Publisher:
    """A QoS 1 paho publisher that keeps every message until the broker acknowledged it.

    paho queues QoS 1 messages while disconnected and resends unacknowledged
    ones after reconnecting, so a broker restart loses nothing as long as the
    process lives; `flush` waits for every PUBACK. The inflight window is set
    from the broker's Receive Maximum (MQTT 5) because paho does not honour it
    itself and Mosquitto disconnects a client that exceeds it.
    """

    def __init__(
        self,
        url: str,
        *,
        protocol: Protocol = "5",
        client_id: str = "",
        max_inflight: int = 1000,
    ) -> None:
        self.address = BrokerAddress.parse(url)
        self.max_inflight = max_inflight
        self.server_receive_maximum: int | None = None
        self._connected = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho_protocol(protocol),
            clean_session=True if protocol != "5" else None,
        )
        apply_address(self._client, self.address)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(1, 2)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._lock = threading.Lock()
        self.published = 0
        self.acknowledged = 0

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: Any,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            logger.warning("publisher: broker refused the connection: %s", reason)
            return
        self.server_receive_maximum = getattr(properties, "ReceiveMaximum", None)
        self._connected.set()

    def _on_disconnect(self, *args: Any) -> None:
        self._connected.clear()

    def _on_publish(self, *args: Any) -> None:
        # Called once per QoS 1 message, when its PUBACK arrives (on whichever connection).
        with self._lock:
            self.acknowledged += 1

    def connect(self, timeout: float = 10.0) -> None:
        """Connect; if the broker's Receive Maximum is below our window, reconnect within it.

        paho cannot change the window on an open connection, hence the second
        connection when the first CONNACK announces a smaller Receive Maximum.
        """
        self._open(timeout)
        server_max = self.server_receive_maximum
        if server_max and int(server_max) < self._client.max_inflight_messages:
            self._client.disconnect()
            self._client.loop_stop()
            self._connected.clear()
            self._client.max_inflight_messages_set(int(server_max))
            self._open(timeout)
        self.max_inflight = self._client.max_inflight_messages

    def _open(self, timeout: float) -> None:
        self._client.connect_async(self.address.host, self.address.port, keepalive=30)
        self._client.loop_start()
        if not self._connected.wait(timeout):
            self._client.loop_stop()
            raise ConnectionError(f"publisher: no connection to {self.address} in {timeout:.0f} s")

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue a QoS 1 message (sent now, or after the reconnect if disconnected)."""
        info = self._client.publish(topic, payload, qos=1)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise RuntimeError(f"publisher: paho refused the message: {mqtt.error_string(info.rc)}")
        with self._lock:
            self.published += 1

    def flush(self, timeout: float = 120.0) -> None:
        """Wait until the broker acknowledged every message published so far."""
        deadline = time.monotonic() + timeout
        while self.acknowledged < self.published:
            if time.monotonic() > deadline:
                missing = self.published - self.acknowledged
                raise TimeoutError(f"publisher: {missing} messages not acknowledged by the broker")
            time.sleep(0.005)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def interval_starts(start: datetime, interval: timedelta) -> Iterator[datetime]:
    moment = start
    while True:
        yield moment
        moment += interval


def run_simulation(
    simulator: Simulator,
    publisher: Publisher,
    *,
    start: datetime | None = None,
    intervals: int | None = None,
    duration_s: float | None = None,
    speedup: float = 1.0,
    stop: threading.Event | None = None,
    progress: Callable[[SimCounters], None] | None = None,
) -> SimCounters:
    """Publish interval after interval; paced at ``interval / speedup`` (0 = no pacing).

    Stops after ``intervals`` ticks, after ``duration_s`` of wall time, or when
    ``stop`` is set, whichever comes first; always waits for every PUBACK.
    """
    start = start or _floor(datetime.now(UTC), simulator.interval)
    stop = stop or threading.Event()
    began = time.monotonic()
    tick_s = simulator.interval.total_seconds() / speedup if speedup > 0 else 0.0
    for i, ts in enumerate(interval_starts(start, simulator.interval)):
        last = intervals is not None and i == intervals - 1
        for topic, payload in simulator.tick(ts, last=last):
            publisher.publish(topic, payload)
        if progress:
            progress(simulator.counters)
        if last:
            break
        next_at = began + (i + 1) * tick_s
        if duration_s is not None and next_at - began >= duration_s:
            break
        if stop.wait(max(0.0, next_at - time.monotonic())):
            break
    for topic, payload in simulator.flush():
        publisher.publish(topic, payload)
    publisher.flush()
    return simulator.counters


def _floor(moment: datetime, interval: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return moment - (moment - epoch) % interval
