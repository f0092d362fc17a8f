"""The ingestion consumer: MQTT in, idempotent batches out, acknowledged after commit.

Threads and their single jobs:

* paho's **network thread** only enqueues deliveries (``on_message`` never
  touches the database, never blocks: ``put_nowait`` on a bounded queue);
* the **validator thread** takes batches (bounded by size or time) and
  validates them column by column (`payload.decode_many`: one JSON parse per
  message, then every rule on arrays; only offending readings take the
  per-reading rules, which name the reason), handing each batch on in order;
* the **writer thread** writes a batch's readings and rejects in ONE
  transaction (``INSERT ... ON CONFLICT DO NOTHING`` on ``(meter_id,
  timestamp)``), and only after the commit sends the PUBACKs (paho
  ``manual_ack``). While it waits for the database, the validator prepares the
  next batch: the two overlap instead of taking turns.

Why nothing is lost: the session is persistent (fixed client id; MQTT 3.1.1
``clean_session=False``, MQTT 5 ``clean_start=False`` + session expiry), so a
message that was delivered but not acknowledged stays with the broker and is
redelivered after a crash, a broker restart or the end of a run; redelivered
copies of rows already committed are absorbed by the key (counted as
``duplicates``). A delivery that finds the queue full is left unacknowledged and
the client reconnects once the queue is drained, which makes the broker
redeliver it. Acknowledgements are only sent on the connection that delivered
the message (a packet id means nothing on a later connection).

The number of unacknowledged messages a broker lets a client hold is capped by
its inflight window (Mosquitto ``max_inflight_messages``; the client's Receive
Maximum in MQTT 5), and with ack-after-commit every batch can be at most that
large: see docs/mqtt.md for the measurements.

The run's row in ``ingest_runs`` tells the truth while it runs and after: the
writer thread rewrites its counters every ``heartbeat_s`` (one UPDATE by key, in
the transaction of the batch being committed, or alone when idle) with a
heartbeat timestamp; a clean end (duration, SIGTERM/SIGINT, a cancelled Dagster
run, even interrupted again while draining) closes it 'finished' (or 'failed');
a consumer that dies without closing it (SIGKILL, crash) leaves it 'running' with
a heartbeat that stops, and the next consumer to start marks it 'abandoned'.

Who may write what is checked against the fleet (``meters``: id and feeder,
refreshed every ``meters_refresh_s`` and on a miss): see `payload.decode`.
Readings off the ``interval`` grid are quarantined; a reading whose key is
already stored with different values is a "conflicting duplicate": the stored
row is kept (first write wins) and the newcomer is quarantined with that reason
(``conflicts``). Deliveries with the retain flag (the broker replaying a retained
message on (re)subscribe) are acknowledged and ignored (``retained_ignored``):
the live copy of that publication already went through the session once.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

import paho.mqtt.client as mqtt
import polars as pl
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from psycopg import sql

from grid_pipeline.config import parse_duration
from grid_pipeline.db.binary import BinaryArray, BinaryArrayDumper, binary_array
from grid_pipeline.db.conflicts import record_conflicts
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.db.units import DISPLAY_UNIT, SCALE, stored_expr
from grid_pipeline.db.writer import READING_COLUMNS, writer_for
from grid_pipeline.mqtt.broker_url import BrokerAddress, Protocol, apply_address, paho_protocol
from grid_pipeline.mqtt.counters import (
    HEARTBEAT_S,
    PendingBatch,
    RunCounters,
    reconcile_runs,
    record_end,
    record_progress,
    record_start,
)
from grid_pipeline.mqtt.payload import (
    COLUMNS,
    READING_FIELDS,
    Fleet,
    Limits,
    Reading,
    Reject,
    decode,
    decode_many,
    encode_reading,
    format_ts,
)
from grid_pipeline.mqtt.topics import (
    DEFAULT_ROOT,
    check_client_id,
    check_share_group,
    check_topic_root,
    reading_filter,
)

logger = logging.getLogger(__name__)

_UNKNOWN_METER = "unknown meter_id"
CONFLICTING_DUPLICATE = "conflicting duplicate"


def settings_interval() -> timedelta:
    """The reading grid: GRID_INTERVAL (default 5m), as in `config.load_settings`."""
    return parse_duration(os.environ.get("GRID_INTERVAL", "5m"), "GRID_INTERVAL")


@dataclass(frozen=True)
class ConsumerConfig:
    """Knobs of one consumer (CLI options and Dagster run config map onto these)."""

    broker_url: str
    client_id: str = "grid-ingest-1"
    protocol: Protocol = "5"
    topic_root: str = DEFAULT_ROOT
    share_group: str | None = None
    queue_size: int = 50_000
    batch_size: int = 5_000
    batch_ms: int = 50
    batch_bytes: int = 2 * 1024 * 1024  # gateway batches: ~18,000 readings per transaction
    receive_maximum: int = 10_000
    session_expiry_s: int = 7 * 86_400
    keepalive_s: int = 30
    meters_refresh_s: float = 60.0
    heartbeat_s: float = HEARTBEAT_S  # counters + heartbeat written to ingest_runs this often
    check_meters: bool = True
    table: str = "energy_readings"
    limits: Limits = field(default_factory=Limits)
    interval: timedelta = field(default_factory=settings_interval)  # readings must be on it

    def __post_init__(self) -> None:
        check_topic_root(self.topic_root)  # TopicNameError (a ValueError) names the problem
        check_client_id(self.client_id)
        if self.share_group is not None:
            check_share_group(self.share_group)
        if self.share_group and self.protocol != "5":
            raise ValueError("shared subscriptions ($share/...) need MQTT 5 (--mqtt-version 5)")
        for name in ("queue_size", "batch_size", "batch_ms", "batch_bytes", "receive_maximum"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.receive_maximum > 65_535:
            raise ValueError("receive_maximum must be at most 65535 (MQTT 5)")
        if not self.heartbeat_s > 0:
            raise ValueError("heartbeat_s must be positive")
        if self.interval <= timedelta(0):
            raise ValueError("interval must be positive")

    @property
    def subscription(self) -> str:
        return reading_filter(self.topic_root, self.share_group)


class Delivery(NamedTuple):
    """One message as the network thread saw it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int  # connection it arrived on (acks are only valid there)
    retained: bool = False  # a retained message replayed by the broker: ignored


class Validated(NamedTuple):
    """A batch of deliveries as the validator hands it to the writer."""

    batch: list[Delivery]
    readings: pl.DataFrame  # `payload.COLUMNS`
    rejects: list[Reject]
    topics: list[str]  # the topic of each live delivery (``readings["message"]`` indexes it)


#: What the writer gets from its queue when nothing arrived (not a batch, not the end).
_IDLE: Final = Validated([], pl.DataFrame(schema=COLUMNS), [], [])


class IngestConsumer:
    """One ingestion run: `start()`, then `stop()` (or `run(duration)`), returns counters."""

    def __init__(self, db: Database, config: ConsumerConfig, run_id: str | None = None) -> None:
        self.db = db
        self.config = config
        self.address = BrokerAddress.parse(config.broker_url)
        self.counters = RunCounters(
            run_id=run_id or f"{config.client_id}-{uuid.uuid4().hex[:12]}",
            client_id=config.client_id,
        )
        self._queue: queue.Queue[Delivery] = queue.Queue(maxsize=config.queue_size)
        self._writer = writer_for(db, config.table)
        self._generation = 0
        self._ack_lock = threading.Lock()
        self._subscribed = threading.Event()
        self._draining = threading.Event()
        self._stopping = threading.Event()
        self._resync = threading.Event()
        self._failure: BaseException | None = None
        self._known: frozenset[int] | None = None
        self._feeders: dict[int, str] | None = None
        self._fleet = Fleet.of(None, None)  # the same, as arrays for columnar validation
        self.conflicts = 0  # conflicting duplicates quarantined (also counted in `rejected`)
        self.retained_ignored = 0  # retained deliveries acknowledged and not processed
        self._known_at = 0.0
        self._started_at = 0.0
        self._processed = 0  # deliveries committed (or left for redelivery while stopping)
        self._taken = 0  # deliveries the validator took off the queue
        self._next_heartbeat = 0.0  # monotonic time the run's row is due for its counters
        self._ended = False  # the run's row is closed
        # Two stages, so validating a batch (Python) overlaps committing the one before it
        # (the database): at most two batches wait between them. One writer keeps the
        # commits in delivery order (the first write of a key wins).
        self._validated: queue.Queue[Validated | None] = queue.Queue(maxsize=2)
        self._validator = threading.Thread(
            target=self._validate_loop, name="ingest-validator", daemon=True
        )
        self._thread = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._client = self._make_client()

    # ------------------------------------------------------------------ MQTT side

    def _make_client(self) -> mqtt.Client:
        c = self.config
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=c.client_id,
            protocol=paho_protocol(c.protocol),
            clean_session=None if c.protocol == "5" else False,
            manual_ack=True,
        )
        apply_address(client, self.address)
        client.reconnect_delay_set(1, 5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _connect_properties(self) -> Properties | None:
        if self.config.protocol != "5":
            return None
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.config.session_expiry_s
        props.ReceiveMaximum = self.config.receive_maximum
        return props

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: Any,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            logger.warning("broker refused the connection: %s", reason)
            return
        with self._ack_lock:
            self._generation += 1
        self.counters.connects += 1
        logger.info(
            "connected to %s (session present: %s); subscribing %s",
            self.address, flags.session_present, self.config.subscription,
        )  # fmt: skip
        # Always (re)subscribe: harmless with a stored session, essential without one.
        if self.config.protocol == "5":
            client.subscribe(self.config.subscription, options=SubscribeOptions(qos=1))
        else:
            client.subscribe(self.config.subscription, qos=1)

    def _on_disconnect(self, *args: Any) -> None:
        with self._ack_lock:
            self._generation += 1
        self._subscribed.clear()

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        failed = [r for r in reasons if getattr(r, "is_failure", False)]
        if failed:
            logger.error("subscription %s refused: %s", self.config.subscription, failed)
            return
        # From here on the broker keeps every reading for us (persistent session): what
        # was published before this line reached nobody. Tests and operators wait for it.
        logger.info("subscribed to %s", self.config.subscription)
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        """Network thread: enqueue and return; never raises, never blocks."""
        if self._draining.is_set():
            return  # left unacknowledged: the persistent session redelivers it next run
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = "<topic is not valid UTF-8>"
        delivery = Delivery(topic, bytes(message.payload), message.mid, message.qos,
                            self._generation, bool(message.retain))  # fmt: skip
        self.counters.received += 1
        try:
            self._queue.put_nowait(delivery)
        except queue.Full:
            self.counters.received -= 1
            self.counters.overflows += 1
            self._resync.set()

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 15.0) -> None:
        """Record the run, connect, subscribe; raises ConnectionError if that fails in time."""
        self._started_at = time.monotonic()
        with connect(self.db) as conn:
            ended = reconcile_runs(
                conn, run_id=self.counters.run_id, client_id=self.config.client_id
            )
            record_start(
                conn, self.counters, broker=str(self.address),
                subscription=self.config.subscription, protocol=self.config.protocol,
                heartbeat_s=self.config.heartbeat_s,
            )  # fmt: skip
        if ended:
            logger.warning("ingestion runs that ended without closing their row, now "
                           "'abandoned': %s", ", ".join(ended))  # fmt: skip
        self._next_heartbeat = time.monotonic() + self.config.heartbeat_s
        self._refresh_meters()
        self._thread.start()
        self._validator.start()
        self._client.connect_async(
            self.address.host,
            self.address.port,
            keepalive=self.config.keepalive_s,
            clean_start=False if self.config.protocol == "5" else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=self._connect_properties(),
        )
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            self._client.loop_stop()
            self._stopping.set()
            self._validator.join()
            self._thread.join()
            self._finish(f"no subscription on {self.address} within {timeout:.0f} s")
            raise ConnectionError(
                f"ingest: could not connect and subscribe to {self.address} within {timeout:.0f} s"
            )

    def run(
        self, duration_s: float | None = None, stop: threading.Event | None = None
    ) -> RunCounters:
        """Consume until ``duration_s`` elapsed or ``stop`` is set, then end cleanly."""
        stop = stop or threading.Event()
        try:
            self.start()
            deadline = None if duration_s is None else time.monotonic() + duration_s
            while not stop.wait(0.2):
                if self._failure is not None:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
        except BaseException:
            # Interrupted (Ctrl-C, Dagster run cancelled): still commit, acknowledge, record.
            self._stop_despite_interrupts()
            raise
        return self.stop()

    def stop(self) -> RunCounters:
        """Stop taking messages, commit and acknowledge what is queued, disconnect, record.

        May be called again after an interruption (it resumes where it was): the
        run's row is closed once.
        """
        self._draining.set()
        self._stopping.set()
        self._validator.join()
        self._thread.join()
        self._client.disconnect()
        self._client.loop_stop()
        error = None if self._failure is None else repr(self._failure)
        self._finish(error)
        if self._failure is not None:
            raise RuntimeError(f"ingest writer failed: {self._failure!r}") from self._failure
        return self.counters

    def _stop_despite_interrupts(self, attempts: int = 5) -> None:
        """`stop()`, resumed when a further interrupt lands in it (Dagster raises on each
        SIGTERM/SIGINT, and a stopping run worker often gets more than one)."""
        for attempt in range(attempts):
            try:
                self.stop()
                return
            except Exception:
                return  # the writer's failure: re-raised by the caller's own exception
            except BaseException:
                if attempt == attempts - 1:
                    raise
                logger.warning("interrupted while stopping; finishing the stop first")

    def _finish(self, error: str | None) -> None:
        """Close the run's row; if the database stays away, the next start abandons it."""
        if self._ended:
            return
        self.counters.seconds = round(time.monotonic() - self._started_at, 3)
        for delay in (0.2, 0.5, 1.0, 2.0, None):
            try:
                with connect(self.db) as conn:
                    record_end(conn, self.counters, ended_at=datetime.now(UTC), error=error)
                self._ended = True
                return
            except psycopg.OperationalError as exc:
                if delay is None:
                    logger.error(
                        "could not record the end of run %s (%s); the next consumer to start "
                        "marks it abandoned", self.counters.run_id, exc,
                    )  # fmt: skip
                    return
                time.sleep(delay)

    def wait_idle(self, quiet_s: float = 1.0, timeout: float = 60.0) -> bool:
        """True once nothing arrived for ``quiet_s`` and the queue is empty (tests, benchmark)."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            seen = self.counters.received + self.counters.overflows
            busy = seen != last or self._processed < self.counters.received
            if busy:
                last, since = seen, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return True
            time.sleep(0.05)
        return False

    # ------------------------------------------------------------------ writer side

    def _validate_loop(self) -> None:
        """Validator thread: batches off the queue, validated, handed to the writer in order.

        It ends once stopping and the queue is drained (or the writer failed), and
        always tells the writer so (``None``), which then ends after what it holds.
        """
        try:
            while self._failure is None:
                batch = self._next_batch()
                if batch:
                    self._handoff(self._prepare(batch))
                elif self._stopping.is_set():
                    return
        except BaseException as exc:  # surfaced by run()/stop(); never silently dies
            logger.exception("ingest validator failed")
            self._failure = exc
        finally:
            self._handoff(None)

    def _handoff(self, item: Validated | None) -> None:
        """Put on the writer's queue; give up only if the writer is gone."""
        while True:
            try:
                self._validated.put(item, timeout=0.1)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    return  # the writer failed: what is not committed stays unacknowledged

    def _write_loop(self) -> None:
        """Writer thread: commits validated batches in the order they were taken, then acks."""
        try:
            while True:
                try:
                    item = self._validated.get(timeout=0.1)
                except queue.Empty:
                    item = _IDLE
                if item is None:
                    return  # the validator ended (stopping, or it failed)
                if item is not _IDLE:
                    self._process(item)
                # Nothing queued and every delivery taken is acknowledged: reconnecting now
                # loses no acknowledgement (they are only valid on their connection).
                idle = self._queue.empty() and self._processed >= self._taken
                if self._resync.is_set() and idle and not self._stopping.is_set():
                    self._reconnect_for_redelivery()
                if time.monotonic() >= self._next_heartbeat and not self._stopping.is_set():
                    self._heartbeat()  # idle (or the batch went row by row): a row of its own
        except BaseException as exc:  # surfaced by run()/stop(); never silently dies
            logger.exception("ingest writer failed")
            self._failure = exc

    def _next_batch(self) -> list[Delivery]:
        """Up to batch_size deliveries or batch_bytes of payload, waiting at most batch_ms.

        The byte bound keeps gateway batches (hundreds of readings per message)
        to transactions of a predictable size.
        """
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        self._taken += 1
        batch = [first]
        size = len(first.payload)
        deadline = time.monotonic() + self.config.batch_ms / 1000
        while len(batch) < self.config.batch_size and size < self.config.batch_bytes:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            self._taken += 1
            batch.append(item)
            size += len(item.payload)
        return batch

    def _refresh_meters(self) -> None:
        if not self.config.check_meters:
            return
        with connect(self.db) as conn:
            rows = conn.execute("SELECT meter_id, feeder FROM meters").fetchall()
        self._feeders = {int(row[0]): str(row[1]) for row in rows}
        self._known = frozenset(self._feeders)
        self._fleet = Fleet.of(self._known, self._feeders)
        self._known_at = time.monotonic()

    def _validate(self, batch: list[Delivery]) -> tuple[pl.DataFrame, list[Reject], list[str]]:
        """Valid readings (`payload.COLUMNS`), rejects, and the topic of each message.

        The whole batch is validated column by column (`payload.decode_many`): one
        JSON parse per message, then every rule on arrays; the frame's ``message``
        column indexes the returned topics. Retained replays are skipped.
        """
        now = datetime.now(UTC)
        live = [d for d in batch if not d.retained]  # retained replays: acked, not processed
        topics = [d.topic for d in live]
        try:
            result = decode_many(
                [(d.topic, d.payload) for d in live], limits=self.config.limits, now=now,
                fleet=self._fleet, interval=self.config.interval,
            )  # fmt: skip
        except Exception as exc:  # a validation bug must not stall the stream: one at a time
            logger.error("columnar validation failed (%r); validating message by message", exc)
            return (*self._validate_each(live, now), topics)
        return result.frame, result.rejects, topics

    def _validate_each(
        self, live: list[Delivery], now: datetime
    ) -> tuple[pl.DataFrame, list[Reject]]:
        """`payload.decode` message by message: the fallback if columnar validation fails."""
        rows: list[tuple[Any, ...]] = []
        rejects: list[Reject] = []
        for index, d in enumerate(live):
            try:
                result = decode(
                    d.topic, d.payload, limits=self.config.limits, now=now,
                    known_meters=self._known, feeders=self._feeders,
                    interval=self.config.interval,
                )  # fmt: skip
            except Exception as exc:
                rejects.append(Reject(d.topic, d.payload, f"internal validation error: {exc!r}"))
                continue
            rows.extend((*r, index) for r in result.readings)
            rejects.extend(result.rejects)
        return pl.DataFrame(rows, schema=COLUMNS, orient="row"), rejects

    def _prepare(self, batch: list[Delivery]) -> Validated:
        """Validator thread: one batch's readings and rejects, against a fresh fleet."""
        if time.monotonic() - self._known_at > self.config.meters_refresh_s:
            self._refresh_meters()
        began = time.perf_counter()
        readings, rejects, topics = self._validate(batch)
        # `in`, not `startswith`: a gateway batch's reason is "readings[i]: unknown ...".
        if any(_UNKNOWN_METER in r.reason or " is not on feeder " in r.reason
               for r in rejects) and time.monotonic() - self._known_at > 5.0:  # fmt: skip
            self._refresh_meters()  # a meter added (or moved) since the last refresh
            readings, rejects, topics = self._validate(batch)
        self.counters.validate_s += time.perf_counter() - began
        return Validated(batch, readings, rejects, topics)

    def _process(self, item: Validated) -> None:
        """Writer thread: commit one validated batch, then acknowledge its deliveries."""
        batch, readings, rejects, topics = item
        retained = sum(1 for d in batch if d.retained)
        started = time.perf_counter()
        committed_counts = self._commit(readings, rejects, topics)
        self.counters.write_s += time.perf_counter() - started
        if committed_counts is None:
            self._processed += len(batch)
            return  # stopping while the database is unavailable: leave unacknowledged
        inserted, conflicts = committed_counts
        if retained:
            self.retained_ignored += retained
            logger.warning("ignored %d retained message(s) replayed by the broker", retained)
        self.conflicts += conflicts
        committed = datetime.now(UTC)
        c = self.counters
        c.commit_ms.add((time.perf_counter() - started) * 1000)
        c.batches += 1
        c.max_batch = max(c.max_batch, len(batch))
        c.readings += readings.height
        c.inserted += inserted
        c.duplicates += readings.height - inserted
        c.rejected += len(rejects) + conflicts
        for moment in readings.get_column("timestamp").gather_every(max(1, readings.height // 200)):
            c.lag_s.add((committed - moment).total_seconds())
        self._acknowledge(batch)

    def _acknowledge(self, batch: list[Delivery]) -> None:
        """PUBACK in delivery order, only on the connection that delivered the message."""
        with self._ack_lock:
            for d in batch:
                if d.qos > 0 and d.generation == self._generation:
                    self._client.ack(d.mid, d.qos)
                    self.counters.acked += 1
                # else: an earlier connection's packet id; the broker redelivers it on this one
        self._processed += len(batch)

    def _heartbeat(self) -> None:
        """The run's counters so far and a heartbeat, in a transaction of their own."""
        report = self.counters.report()
        self._next_heartbeat = time.monotonic() + self.config.heartbeat_s
        try:
            with connect(self.db) as conn:
                record_progress(conn, report, run_id=self.counters.run_id,
                                heartbeat_s=self.config.heartbeat_s)  # fmt: skip
        except psycopg.Error as exc:  # progress is best effort; the batches are what matter
            logger.warning("could not record the run's progress: %s", exc)

    def _commit(
        self, readings: pl.DataFrame, rejects: list[Reject], topics: list[str]
    ) -> tuple[int, int] | None:
        """Write one batch in one transaction; retry while the database is away.

        Returns (rows inserted, conflicting duplicates quarantined). When the
        heartbeat is due, the run's counters (this batch included) ride in the same
        transaction: no extra turn on the engine, never ahead of the data.
        """
        delay = 0.2
        while True:
            beat = time.monotonic() >= self._next_heartbeat
            report = self.counters.report() if beat else None
            try:
                with connect(self.db) as conn:
                    inserted = self._write(conn, readings)
                    conflicts = (
                        self._conflicts(conn, readings, topics)
                        if inserted < readings.height else []
                    )  # fmt: skip
                    _write_rejects(conn, rejects + conflicts)
                    if report is not None:
                        record_progress(
                            conn, report, run_id=self.counters.run_id,
                            heartbeat_s=self.config.heartbeat_s,
                            batch=PendingBatch(readings.height, inserted,
                                               len(rejects) + len(conflicts)),
                        )  # fmt: skip
                if report is not None:
                    self._next_heartbeat = time.monotonic() + self.config.heartbeat_s
                if conflicts:
                    logger.warning("%d conflicting duplicate(s) quarantined (first write wins)",
                                   len(conflicts))  # fmt: skip
                return inserted, len(conflicts)
            except psycopg.OperationalError as exc:
                if self._stopping.is_set() and delay > 2:
                    logger.error("database unavailable while stopping; batch left unacknowledged")
                    return None
                logger.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
            except psycopg.Error as exc:
                logger.warning("batch refused by the database (%s); writing row by row", exc)
                return self._commit_one_by_one(readings, rejects), 0

    def _conflicts(
        self, conn: psycopg.Connection[Any], readings: pl.DataFrame, topics: list[str]
    ) -> list[Reject]:
        """Readings whose key is stored with other values (in this transaction's view).

        A reading inserted by this very batch matches itself; an exact re-send is a
        plain duplicate; anything else is a conflicting duplicate, quarantined with
        its payload while the stored row stays (first write wins), and both versions
        go to `reading_conflicts` for VEE (`db.conflicts`). The comparison is
        in stored units (W, Wh, 0.1 V, mA; `units.stored_expr`, the writer's own
        rounding): a re-send of 1.234 kW is the stored 1234 W, and a difference
        below the meter's resolution is no conflict because the database could not
        have kept it anyway.
        """
        query = sql.SQL(
            'SELECT meter_id, "timestamp", power, energy, voltage, current FROM {} '
            'WHERE (meter_id, "timestamp") IN (SELECT * FROM unnest(%s, %s))'
        ).format(sql.Identifier(self.config.table))
        with conn.cursor() as cur:
            cur.adapters.register_dumper(BinaryArray, BinaryArrayDumper)
            keys = [binary_array(readings.get_column(c)) for c in ("meter_id", "timestamp")]
            rows = cur.execute(query, keys).fetchall()
        if not rows:
            return []
        stored = pl.DataFrame(
            rows, schema={"meter_id": pl.Int32, "timestamp": pl.Datetime("us", "UTC"),
                          **{f"stored_{n}": pl.Int64 for n in READING_FIELDS}},
            orient="row",
        )  # fmt: skip
        incoming = readings.with_row_index("row").with_columns(
            stored_expr(name).cast(pl.Int64).alias(f"incoming_{name}") for name in READING_FIELDS
        )
        differs = pl.any_horizontal(
            pl.col(f"stored_{n}") != pl.col(f"incoming_{n}") for n in READING_FIELDS
        )
        clashes = (
            incoming.join(stored, on=["meter_id", "timestamp"], how="inner")
            .filter(differs)
            .sort("row")
        )
        # Both versions, kept beside each other for VEE (rule duplicate_conflict).
        record_conflicts(conn, clashes, self.counters.run_id, self.config.table)
        found: list[Reject] = []
        for row in clashes.iter_rows(named=True):
            reading = Reading(*(row[name] for name in Reading._fields))
            shown = ", ".join(
                f"{name} {row[f'stored_{name}'] / SCALE[name]:g} {DISPLAY_UNIT[name]}"
                for name in READING_FIELDS
            )
            reason = (
                f"{CONFLICTING_DUPLICATE}: meter {reading.meter_id} at "
                f"{format_ts(reading.timestamp)} is stored with {shown}; "
                "this payload differs (first write wins)"
            )
            found.append(Reject(topics[row["message"]], encode_reading(reading), reason))
        return found

    def _write(self, conn: psycopg.Connection[Any], readings: pl.DataFrame) -> int:
        if not readings.height:
            return 0
        return self._writer.write(conn, readings.select(READING_COLUMNS))

    def _commit_one_by_one(self, readings: pl.DataFrame, rejects: list[Reject]) -> int:
        """Poison isolation: each reading alone; one the database refuses becomes a reject."""
        inserted = 0
        refused: list[Reject] = []
        for index in range(readings.height):
            reading = readings.slice(index, 1)
            try:
                with connect(self.db) as conn:
                    inserted += self._write(conn, reading)
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                payload = repr(Reading(*reading.select(Reading._fields).row(0))).encode()
                refused.append(Reject("<database>", payload, f"database refused: {exc}"))
        with connect(self.db) as conn:
            _write_rejects(conn, rejects + refused)
        return inserted

    def _reconnect_for_redelivery(self) -> None:
        """After a queue overflow: reconnect so the broker redelivers what we could not take."""
        logger.warning("queue overflowed (%d deliveries); reconnecting for redelivery",
                       self.counters.overflows)  # fmt: skip
        self._resync.clear()
        self._client.disconnect()
        self._client.loop_stop()
        self._client.reconnect()
        self._client.loop_start()


def _write_rejects(conn: psycopg.Connection[Any], rejects: list[Reject]) -> None:
    if not rejects:
        return
    conn.execute(
        "INSERT INTO ingest_rejects (topic, payload, reason) "
        "SELECT * FROM unnest(%s::text[], %s::bytea[], %s::text[])",
        (
            [r.topic for r in rejects],
            [r.payload for r in rejects],
            [r.reason.replace("\x00", "\\0") for r in rejects],
        ),
    )
