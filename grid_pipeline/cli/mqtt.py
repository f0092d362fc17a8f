"""The `simulate` and `ingest` subcommands of `grid-pipeline`.

`register(commands)` adds both to the main CLI's subparsers
(``python -m grid_pipeline.cli ingest ...`` runs a consumer in its own process).
Handlers take ``(args, settings)`` and return the exit code; bad values raise
the CLI's `UsageError` (one line on stderr, exit 2).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, NoReturn

import polars as pl

from grid_pipeline.app.services import start_broker, start_database
from grid_pipeline.cli.errors import UsageError
from grid_pipeline.config import (
    DATASET_RANGE,
    ConfigError,
    Settings,
    parse_duration,
    parse_instant,
)
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.mqtt.broker_url import PROTOCOLS, Protocol, default_protocol
from grid_pipeline.mqtt.consumer import ConsumerConfig, IngestConsumer
from grid_pipeline.mqtt.payload import Limits
from grid_pipeline.mqtt.simulator import (
    FaultRates,
    PhysicalFaults,
    Publisher,
    SimCounters,
    Simulator,
    run_simulation,
)
from grid_pipeline.mqtt.topics import (
    DEFAULT_ROOT,
    TopicNameError,
    check_client_id,
    check_share_group,
    check_topic_root,
)
from grid_pipeline.storage.historic import floor_time, read_fleet, replace_fleet

logger = logging.getLogger(__name__)


def _usage(message: str) -> NoReturn:
    raise UsageError(message)


def _duration(text: str | None, what: str) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text, what)
    except ConfigError as exc:
        _usage(str(exc))


def _protocol(args: argparse.Namespace, settings: Settings) -> Protocol:
    chosen: Protocol = args.mqtt_version or default_protocol(settings)
    return chosen


def _stop_on_signals() -> threading.Event:
    """SIGTERM/SIGINT end the loop cleanly (commit, acknowledge, disconnect)."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate within [0, 1]")
    return value


def _positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _bounded(most: int) -> Callable[[str], int]:
    """A positive integer of at most `most` (an argparse type)."""

    def parse(text: str) -> int:
        value = _positive(text)
        if value > most:
            raise argparse.ArgumentTypeError(f"{text!r} is more than {most}")
        return value

    return parse


def _finite(text: str) -> float:
    """A float that is neither NaN nor infinite (pacing divides and sleeps by it)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _argument(check: Callable[[str], str]) -> Callable[[str], str]:
    """An argparse type from a name check of `mqtt.topics` (its message, one line)."""

    def parse(text: str) -> str:
        try:
            return check(text)
        except TopicNameError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = check.__name__.removeprefix("check_")
    return parse


_topic_root = _argument(check_topic_root)
_client_id = _argument(check_client_id)
_share_group = _argument(check_share_group)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mqtt-version",
        choices=PROTOCOLS,
        default=None,
        help="MQTT protocol (default: 3.1.1 for the embedded broker, else 5)",
    )
    parser.add_argument("--topic-root", default=DEFAULT_ROOT, type=_topic_root,
                        help="first topic level (default %(default)s)")  # fmt: skip


# ---------------------------------------------------------------------------- simulate


def simulation_fleet(db: Database, meters: int, seed: int, load: bool) -> pl.DataFrame:
    """The first `meters` meters of the stored fleet; with `load`, store build_fleet first."""
    with connect(db) as conn:
        fleet = read_fleet(conn)
    if fleet.height >= meters:
        return fleet.head(meters)
    if not load:
        _usage(
            f"the meters table has {fleet.height} meters, fewer than --meters {meters}: "
            "run `grid-pipeline generate` or pass --load-fleet"
        )
    fleet = build_fleet(meters, seed)
    replace_fleet(db, fleet)
    return fleet


def simulate(args: argparse.Namespace, settings: Settings) -> int:
    """Publish the fleet's readings interval by interval; prints the ground-truth counters."""
    interval = _duration(args.interval, "--interval") or settings.interval
    duration = _duration(args.duration, "--duration")
    if args.speedup < 0:
        _usage("--speedup must be >= 0 (0 = as fast as possible)")
    try:
        faults = FaultRates(args.duplicates, args.out_of_order, args.late, args.malformed)
    except ValueError as exc:
        _usage(str(exc))
    if not (math.isfinite(args.fault_scale) and args.fault_scale > 0):
        _usage("--fault-scale must be a positive number")
    start = _start(args.start)
    physical = settings.physical_faults if args.physical_faults is None else args.physical_faults
    db = start_database(settings)
    fleet = simulation_fleet(db, args.meters or settings.meters, args.seed or settings.seed,
                             args.load_fleet)  # fmt: skip
    simulator = Simulator(
        fleet, interval=interval, seed=args.seed or settings.seed, timezone=settings.timezone,
        topic_root=args.topic_root, gateway_size=args.gateway_size, faults=faults,
    )  # fmt: skip
    if physical:
        start = _with_physical_faults(simulator, db, settings, start, args.fault_scale)
    url = start_broker(settings)
    publisher = Publisher(url, protocol=_protocol(args, settings), max_inflight=args.max_inflight)
    publisher.connect()
    print(f"simulating {fleet.height} meters every {interval} (speedup {args.speedup:g}) -> {url}")
    try:
        counters = run_simulation(
            simulator, publisher, start=start, intervals=args.intervals,
            duration_s=duration.total_seconds() if duration else None, speedup=args.speedup,
            stop=_stop_on_signals(), progress=_progress(args.quiet),
        )  # fmt: skip
    finally:
        publisher.close()
    print(json.dumps({"simulator": counters.as_dict()}))
    return 0


def _with_physical_faults(
    simulator: Simulator, db: Database, settings: Settings, start: datetime | None, scale: float
) -> datetime:
    """Inject the grid's physical faults into the stream; heads and truth go to the database."""
    from grid_pipeline.app.events import live_scenario, physical_recorder

    with connect(db) as conn:
        stored = read_fleet(conn).height
    if simulator.fleet.height < stored:
        _usage(
            f"--physical-faults simulates the whole stored fleet ({stored} meters): "
            f"drop --meters {simulator.fleet.height} (faults hit whole transformers and feeders)"
        )
    start = start or floor_time(datetime.now(UTC), simulator.interval)
    scenario = live_scenario(db, replace(settings, interval=simulator.interval), start, scale)
    simulator.physical = PhysicalFaults(simulator.fleet, scenario, simulator.timezone)
    simulator.on_physical = physical_recorder(db, start)
    print(f"physical faults: the generator's rates x {scale:g}; truth in injected_faults, "
          "feeder heads in feeder_head_readings", flush=True)  # fmt: skip
    return start


def _start(text: str | None) -> datetime | None:
    """`--start` in UTC (no offset: UTC), inside the data set's range; None: now."""
    if not text:
        return None
    try:
        return parse_instant(text, "--start")
    except ConfigError as exc:
        _usage(str(exc))


def _progress(quiet: bool) -> Callable[[SimCounters], None] | None:
    if quiet:
        return None

    def show(c: SimCounters) -> None:
        logger.info("interval %d: %d messages, %d readings", c.intervals, c.messages, c.readings)

    return show


def _add_simulate(commands: argparse._SubParsersAction[Any]) -> None:
    p = commands.add_parser("simulate", help="publish simulated meter readings over MQTT")
    p.add_argument("--meters", type=_positive, default=None, help="fleet size (GRID_METERS)")
    p.add_argument("--interval", default=None, help="reading interval (GRID_INTERVAL, 5m)")
    p.add_argument("--duration", default=None, help="stop after this wall time (e.g. 10m)")
    p.add_argument("--intervals", type=_positive, default=None, help="stop after N intervals")
    p.add_argument(
        "--speedup",
        type=_finite,
        default=1.0,
        help="simulated seconds per wall second; 0 = as fast as possible",
    )
    p.add_argument(
        "--start",
        default=None,
        help=f"first interval (ISO 8601, UTC unless an offset is given, within {DATASET_RANGE}; "
        "default: now)",
    )
    p.add_argument("--seed", type=int, default=None, help="GRID_SEED")
    p.add_argument(
        "--gateway-size",
        type=int,
        default=0,
        help="readings per gateway batch message (0: one message per meter)",
    )
    p.add_argument("--duplicates", type=_rate, default=0.0, help="rate of duplicated messages")
    p.add_argument("--out-of-order", type=_rate, default=0.0, help="rate of delayed messages")
    p.add_argument("--late", type=_rate, default=0.0, help="rate of hours-old late readings")
    p.add_argument("--malformed", type=_rate, default=0.0, help="rate of malformed payloads")
    p.add_argument(
        "--physical-faults",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="inject the grid's physical faults (outages stop a meter's readings; truth in "
        "injected_faults) as `generate --physical-faults` does (GRID_PHYSICAL_FAULTS)",
    )
    p.add_argument(
        "--fault-scale",
        type=_finite,
        default=1.0,
        help="multiply the physical fault rates (per asset and day) by this (default 1)",
    )
    p.add_argument(
        "--load-fleet",
        action="store_true",
        help="store build_fleet(meters, seed) in `meters` if it has fewer meters",
    )
    p.add_argument(
        "--max-inflight",
        type=_positive,
        default=1000,
        help="unacknowledged publishes (capped by the broker's Receive Maximum)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    _common(p)
    p.set_defaults(handler=simulate)  # fmt: skip


# ---------------------------------------------------------------------------- ingest


def consumer_config(args: argparse.Namespace, settings: Settings, url: str) -> ConsumerConfig:
    limits = Limits(
        max_future=_duration(args.max_future, "--max-future") or Limits().max_future,
        max_past=_duration(args.max_past, "--max-past") or Limits().max_past,
    )
    try:
        return ConsumerConfig(
            broker_url=url, client_id=args.client_id, protocol=_protocol(args, settings),
            topic_root=args.topic_root, share_group=args.share_group,
            queue_size=args.queue_size, batch_size=args.batch_size, batch_ms=args.batch_ms,
            batch_bytes=args.batch_bytes,
            receive_maximum=args.receive_maximum, session_expiry_s=args.session_expiry,
            check_meters=not args.no_meter_check, limits=limits, interval=settings.interval,
        )  # fmt: skip
    except ValueError as exc:
        _usage(str(exc))


def ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Consume for --duration (or until Ctrl-C/SIGTERM); prints the run's counters."""
    duration = _duration(args.duration, "--duration")
    # Every value is checked before a service starts: a refused one leaves nothing behind.
    checked = consumer_config(args, settings, "mqtt://127.0.0.1")
    url = start_broker(settings)
    config = replace(checked, broker_url=url)
    db = start_database(settings)
    consumer = IngestConsumer(db, config)
    print(f"ingesting {config.subscription} from {url} as {config.client_id} "
          f"(MQTT {config.protocol}) into {config.table}", flush=True)  # fmt: skip
    counters = consumer.run(duration.total_seconds() if duration else None, _stop_on_signals())
    print(json.dumps({"ingest": counters.report()}), flush=True)
    return 0


def _add_ingest(commands: argparse._SubParsersAction[Any]) -> None:
    # Only the defaults of the knobs are read; an explicit interval keeps the parser
    # from reading GRID_INTERVAL, which load_settings validates with a one-line error.
    d = ConsumerConfig(broker_url="mqtt://localhost", interval=timedelta(minutes=5))
    p = commands.add_parser("ingest", help="consume MQTT readings into TimescaleDB (no Dagster)")
    p.add_argument("--duration", default=None, help="consume for this long (default: until Ctrl-C)")
    p.add_argument(
        "--client-id",
        type=_client_id,
        default=d.client_id,
        help="fixed client id: the persistent session's name (default %(default)s)",
    )
    p.add_argument(
        "--share-group",
        type=_share_group,
        default=None,
        help="MQTT 5 shared subscription group ($share/<group>/...) for scale-out",
    )
    p.add_argument("--batch-size", type=_positive, default=d.batch_size)
    p.add_argument(
        "--batch-ms",
        type=_bounded(3_600_000),
        default=d.batch_ms,
        help="max wait for a batch to fill (ms, at most an hour)",
    )
    p.add_argument(
        "--batch-bytes",
        type=_positive,
        default=d.batch_bytes,
        help="max payload bytes per batch (bounds gateway-batch transactions)",
    )
    p.add_argument("--queue-size", type=_positive, default=d.queue_size)
    p.add_argument(
        "--receive-maximum",
        type=_positive,
        default=d.receive_maximum,
        help="MQTT 5 Receive Maximum: unacknowledged messages the broker may send",
    )
    p.add_argument(
        "--session-expiry",
        type=_bounded(2**32 - 1),  # MQTT 5: a four-byte integer
        default=d.session_expiry_s,
        help="MQTT 5 session expiry (s) after a disconnect",
    )
    p.add_argument("--max-future", default=None, help="reject readings further ahead (1 day)")
    p.add_argument("--max-past", default=None, help="reject readings older than this (30 days)")
    p.add_argument(
        "--no-meter-check",
        action="store_true",
        help="accept meter ids missing from the meters table",
    )
    _common(p)
    p.set_defaults(handler=ingest)  # fmt: skip


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add `simulate` and `ingest` to the grid-pipeline command."""
    _add_simulate(commands)
    _add_ingest(commands)
