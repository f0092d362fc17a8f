"""`grid-pipeline events detect|score|ack`: grid events over the loaded history.

`detect` runs every detector over the data set in one pass (the same code the Dagster
detection asset runs per day) and stores what it finds in `grid_events`; `score`
compares those events with the faults `generate --physical-faults` injected and prints
precision, recall, F1 and detection delay per kind (`--json`: one object keyed by kind);
`ack EVENT_ID... [--by NAME]` acknowledges events (as GRID_OPERATOR_DATABASE_URL when set).
`watch [--every SECONDS]` is near-real-time detection over the live data: a pass over
the trailing window every few seconds, open events upserted and closed (`events.live`).
"""

from __future__ import annotations

import argparse
import getpass
import json
import math
import signal
import sys
import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from grid_pipeline.cli.errors import UsageError
from grid_pipeline.config import Settings


def day_window(text: str) -> tuple[datetime, datetime]:
    """--day YYYY-MM-DD as the UTC day's window."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--day: {text!r} is not a date (YYYY-MM-DD)") from None
    start = datetime.combine(day, time(), UTC)
    return start, start + timedelta(days=1)


def detect(args: argparse.Namespace, settings: Settings) -> int:
    from grid_pipeline.app.events import detect_history
    from grid_pipeline.app.services import start_database

    window = day_window(args.day) if args.day else None
    db = start_database(settings)
    report = detect_history(
        db, settings, window, progress=lambda text: print(text, file=sys.stderr, flush=True)
    )
    found = ", ".join(f"{kind} {n}" for kind, n in report.events.items()) or "no events"
    days = (report.window[1] - report.window[0]) / timedelta(days=1)
    print(f"{days:g} days in {sum(report.seconds.values()):.1f} s: {found}")
    return 0


def _cell(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.0f}{unit}" if unit else f"{value:.3f}"


def score(args: argparse.Namespace, settings: Settings) -> int:
    from grid_pipeline.app.events import score_history
    from grid_pipeline.app.services import start_database

    window = day_window(args.day) if args.day else None
    scores = score_history(start_database(settings), settings, window)
    if args.json:
        print(json.dumps({kind: s.as_json() for kind, s in scores.items()}, indent=2))
        return 0
    if not scores:
        print("no injected faults and no detected events: run `generate --physical-faults`, "
              "then `events detect`")  # fmt: skip
        return 0
    print(f"{'kind':<14} {'faults':>6} {'found':>6} {'precision':>9} {'recall':>7} {'F1':>6} "
          f"{'delay p95':>10}")  # fmt: skip
    for kind, s in scores.items():
        delay = _cell(s.delay_s_p95, " s")
        print(f"{kind:<14} {s.faults:>6} {s.detections:>6} {_cell(s.precision):>9} "
              f"{_cell(s.recall):>7} {_cell(s.f1):>6} {delay:>10}")  # fmt: skip
    return 0


def _event_id(text: str) -> int:
    """An EVENT_ID argument: a positive integer (`events ack` takes them from the Events
    page or the table)."""
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise argparse.ArgumentTypeError(f"{text!r} is not an event id (a positive integer)")
    return int(text)


def ack(args: argparse.Namespace, settings: Settings) -> int:
    from grid_pipeline.app.events import UnknownEvents, acknowledge_events, operator_database
    from grid_pipeline.app.services import start_database

    if not args.by.strip():
        raise UsageError("--by: who acknowledges must be named (an empty name was given)")
    start_database(settings)  # the embedded engine up and the schema current
    try:
        changed = acknowledge_events(operator_database(settings), args.event_ids, args.by)
    except (UnknownEvents, ValueError) as exc:
        raise UsageError(str(exc)) from None
    asked = len(set(args.event_ids))
    already = f" ({asked - changed} already acknowledged)" if changed < asked else ""
    print(f"acknowledged {changed} of {asked} event{'s' if asked != 1 else ''}{already}")
    return 0


def _default_by() -> str:
    """Who acknowledges when --by is not given: the login name of the shell's user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        return "cli"


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (an argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def watch(args: argparse.Namespace, settings: Settings) -> int:
    """Near-real-time detection over the live data until Ctrl-C/SIGTERM (or one pass)."""
    from grid_pipeline.app.events import WatchReport
    from grid_pipeline.app.events import watch as watch_live
    from grid_pipeline.app.services import start_database
    from grid_pipeline.config import ConfigError, parse_duration

    try:
        lookback = parse_duration(args.lookback, "--lookback")
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    db = start_database(settings)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(f"watching live grid events every {args.every:g} s (lookback {lookback}, newest "
          f"interval judged after {args.grace:g} s); Ctrl-C stops", flush=True)  # fmt: skip

    def show(report: WatchReport) -> None:
        print(f"{datetime.now(UTC):%H:%M:%S}  {report.line()}", flush=True)

    passes = watch_live(
        db, settings, every=args.every, grace=args.grace, lookback=lookback, stop=stop,
        passes=1 if args.once else None, progress=show,
        failed=lambda line: print(f"{datetime.now(UTC):%H:%M:%S}  {line}", flush=True),
    )  # fmt: skip
    print(f"stopped after {passes} pass{'es' if passes != 1 else ''}", flush=True)
    return 0


def _add_watch(events: argparse._SubParsersAction[Any]) -> None:
    live = events.add_parser(
        "watch", help="near-real-time detection over the live data (open events, then closed)"
    )
    live.add_argument("--every", type=_seconds, default=10.0,
                      help="seconds between passes (default %(default)s)")  # fmt: skip
    live.add_argument("--grace", type=_seconds, default=5.0,
                      help="seconds before the newest interval's missing readings count as "
                           "outages (default %(default)s)")  # fmt: skip
    live.add_argument("--lookback", default="6h",
                      help="data read behind the newest reading (default %(default)s)")  # fmt: skip
    live.add_argument("--once", action="store_true", help="one pass, then exit")
    live.set_defaults(handler=watch)


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add `events detect`, `events score` and `events watch` to the CLI."""
    events = commands.add_parser(
        "events", help="grid events: detect them in the history, score them against the truth"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    run = events.add_parser("detect", help="detect every kind over the data set, store the events")
    run.add_argument("--day", default=None, help="one UTC day (YYYY-MM-DD) instead of all")
    run.set_defaults(handler=detect)
    rate = events.add_parser(
        "score", help="detected events against the injected faults: precision, recall, delay"
    )
    rate.add_argument("--day", default=None, help="one UTC day (YYYY-MM-DD) instead of all")
    rate.add_argument("--json", action="store_true", help="one JSON object keyed by kind")
    rate.set_defaults(handler=score)
    _add_watch(events)
    acknowledge = events.add_parser(
        "ack", help="acknowledge events by id (who: --by, default the user's login name)"
    )
    acknowledge.add_argument("event_ids", nargs="+", type=_event_id, metavar="EVENT_ID")
    acknowledge.add_argument(
        "--by", default=_default_by(), metavar="NAME",
        help="who acknowledges (default: the login name)",
    )  # fmt: skip
    acknowledge.set_defaults(handler=ack)
