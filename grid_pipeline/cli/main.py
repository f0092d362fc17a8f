"""The `grid-pipeline` command.

Every subcommand is a thin shell over the application layer (`grid_pipeline.app`),
so the Dagster assets and the CLI run the same code. Commands a user runs on
their own are entry points: they start the embedded engine (and broker) they
need. Expected failures (bad settings or arguments, a port in use, the engine
missing) print one line on stderr and exit non-zero; only genuine bugs show a
traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import psycopg

from grid_pipeline.cli.alerts import register as register_alerts
from grid_pipeline.cli.errors import UsageError
from grid_pipeline.cli.events import register as register_events
from grid_pipeline.cli.mqtt import register as register_mqtt
from grid_pipeline.cli.power_quality import register as register_power_quality
from grid_pipeline.cli.vee import register as register_vee
from grid_pipeline.config import (
    DATASET_RANGE,
    MAX_DAYS,
    ConfigError,
    Settings,
    check_dataset_window,
    check_directory,
    check_writable_directory,
    load_settings,
    parse_duration,
    parse_instant,
)
from grid_pipeline.embedded import broker, engine
from grid_pipeline.embedded.process import ServiceError
from grid_pipeline.orchestration.dagster_api import DagsterApiError
from grid_pipeline.storage.historic import floor_time

Handler = Callable[[argparse.Namespace, Settings], int]


def _db_start(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.embedded_db:
        print("GRID_DATABASE_URL is set: using that server, nothing to start")
        return 0
    started_at = time.monotonic()
    status, started = engine.start(settings)
    if started:
        print(f"embedded TimescaleDB started in {time.monotonic() - started_at:.1f} s "
              f"(pid {status.pid}, data in {status.data_dir})")  # fmt: skip
    else:
        print(f"embedded TimescaleDB already running (pid {status.pid})")
    print(status.url)
    return 0


def _db_stop(args: argparse.Namespace, settings: Settings) -> int:
    print("stopped" if engine.stop(settings) else "not running")
    return 0


def _db_status(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.embedded_db:
        print(f"external database: {settings.database_url}")
        return 0
    report = engine.crash_report(settings)
    if report:
        print(report)
        return 3
    status = engine.status(settings)
    if status is None:
        print(f"not running (data dir {settings.pgdata_dir})")
        return 3
    answer = _engine_answer(status.url)
    print(f"running: pid {status.pid}, port {status.port}, TimescaleDB{answer}, "
          f"data dir {status.data_dir}")  # fmt: skip
    print(status.url)
    return 0


BUSY = ": busy (another client holds the session; try again)"


def _engine_answer(url: str) -> str:
    """' <version>', or why the engine gave none (it serves one client at a time).

    A connection that times out waits in the engine's queue behind another
    client's session: the engine runs, it is busy, which is not an unknown version.
    """
    try:
        with psycopg.connect(url, connect_timeout=5):
            pass
    except psycopg.errors.ConnectionTimeout:
        return BUSY
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f": not answering ({first})"
    version = engine.timescaledb_version(url)
    return BUSY if version is None else f" {version}"  # None: another client came first


def _db_url(args: argparse.Namespace, settings: Settings) -> int:
    from grid_pipeline.app.services import start_database

    print(start_database(settings).url)
    return 0


def _db_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from grid_pipeline.db.connection import resolve_database
    from grid_pipeline.db.migrate import migrate

    if settings.embedded_db:
        engine.ensure_running(settings)
    report = migrate(resolve_database(settings))
    for name in report.applied:
        print(f"applied {name}")
    print(f"{len(report.applied)} applied, {len(report.skipped)} already up to date")
    return 0


def _broker_start(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.embedded_broker:
        print(f"GRID_MQTT_URL is set: using {settings.mqtt_url}, nothing to start")
        return 0
    state, started = broker.start(settings)
    engine_name = state.extra.get("engine", "?")
    print(("started" if started else "already running") + f" ({engine_name}, pid {state.pid})")
    if engine_name == "amqtt":
        print("note: amqtt does not keep messages for offline persistent sessions; "
              "install mosquitto for loss-free gaps between ingestion runs")  # fmt: skip
    print(settings.broker_url)
    return 0


def _broker_stop(args: argparse.Namespace, settings: Settings) -> int:
    print("stopped" if broker.stop(settings) else "not running")
    return 0


def _broker_status(args: argparse.Namespace, settings: Settings) -> int:
    state = broker.status(settings)
    if state is None:
        print("not running")
        return 3
    print(f"running: {state.extra.get('engine', '?')}, pid {state.pid}, {settings.broker_url}")
    return 0


def _parse_start(text: str, settings: Settings) -> datetime:
    """`--start` as a UTC date (YYYY-MM-DD) or an ISO timestamp, aligned to the interval."""
    return floor_time(parse_instant(text, "--start"), settings.interval)


def _generate_window(args: argparse.Namespace, settings: Settings) -> tuple[datetime, datetime]:
    """`--start` plus the days, or the data set's fixed window; inside the data set's range."""
    from grid_pipeline.app.dataset import history_window

    if not args.start:
        window = history_window(settings)  # the data set's fixed window (as in Dagster)
        check_dataset_window(*window, "GRID_DAYS")
        return window
    start = _parse_start(args.start, settings)
    end = start + timedelta(days=settings.days)  # both bounded: no overflow
    check_dataset_window(start, end, "--start and --days")
    return start, end


def _generate(args: argparse.Namespace, settings: Settings) -> int:
    from grid_pipeline.app.history import generate_history
    from grid_pipeline.app.services import start_database

    if (args.meters is not None and args.meters < 1) or (args.days is not None and args.days < 1):
        raise UsageError("--meters and --days must be at least 1")
    if args.days is not None and args.days > MAX_DAYS:
        raise UsageError(f"--days must be at most {MAX_DAYS}")
    if args.seed is not None and args.seed < 0:
        raise UsageError("--seed must be a non-negative integer")
    given = {"meters": args.meters, "days": args.days, "seed": args.seed}
    overrides: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if args.interval:
        overrides["interval"] = parse_duration(args.interval, "--interval")
        if timedelta(days=1) % overrides["interval"]:
            raise UsageError("--interval must divide a day evenly (e.g. 1m, 5m, 15m, 1h)")
    if args.physical_faults:
        overrides["physical_faults"] = True
    settings = replace(settings, **overrides)
    window = _generate_window(args, settings)
    db = start_database(settings)
    generate_history(db, settings, window, variants=not args.no_variants,
                     progress=lambda text: print(text, file=sys.stderr, flush=True))  # fmt: skip
    return 0


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from grid_pipeline.app.services import start_database
    from grid_pipeline.bench.report import advice_section, headline_table, key_ratios, write_report
    from grid_pipeline.bench.run import advise_current, run_benchmark
    from grid_pipeline.db.connection import Database

    if args.repeat < 1:
        raise UsageError("--repeat must be at least 1")
    db = start_database(settings)
    if args.advise:
        print(advice_section(advise_current(db, settings)))
        return 0
    native = Database(args.native_url, embedded=False) if args.native_url else None

    def progress(text: str) -> None:
        print(f"  {text}", file=sys.stderr, flush=True)

    report = run_benchmark(
        db, settings, repeat=args.repeat, ingest_rows=args.ingest_rows, native=native,
        progress=progress,
    )  # fmt: skip
    paths = write_report(report, Path(args.out))
    print(headline_table(report))
    for name, ratio in key_ratios(report).items():
        print(f"{name}: {ratio}")
    print(f"run {report.run_id}; report: " + ", ".join(str(p) for p in paths.values()))
    return 0


def _soak(args: argparse.Namespace, settings: Settings) -> int:
    import shutil

    from grid_pipeline.soak import run_soak

    if not 0 < args.minutes <= MAX_SOAK_MINUTES or args.meters < 1:
        raise UsageError(
            f"--minutes must be within (0, {MAX_SOAK_MINUTES}] and --meters at least 1"
        )
    data_dir = settings.data_dir / "soak"
    if args.data_dir:
        data_dir = check_directory(args.data_dir, "--data-dir")
        check_writable_directory(data_dir, "--data-dir")
        # Every soak starts from nothing, so it deletes its directory first: never
        # one that holds anything but an earlier soak (`--data-dir ~` must not wipe home).
        if _has_foreign_content(data_dir):
            raise UsageError(
                f"--data-dir: {data_dir} is not empty and holds no earlier soak "
                "(a soak deletes its directory first): give a new or empty directory"
            )
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / SOAK_MARKER).write_text("a grid-pipeline soak: deleted by the next soak\n")
    report = run_soak(
        settings, minutes=args.minutes, meters=args.meters, data_dir=data_dir,
        progress=lambda text: print(text, file=sys.stderr, flush=True),
    )  # fmt: skip
    print(report.table())
    ok = report.lost == 0 and report.dup_rows == 0 and report.cagg_mismatch == 0
    print("PASS" if ok else "FAIL: lost, dup_rows and cagg_mismatch must all be 0")
    return 0 if ok else 1


SOAK_MARKER = ".grid-soak"


def _has_foreign_content(directory: Path) -> bool:
    return (
        directory.is_dir() and any(directory.iterdir()) and not (directory / SOAK_MARKER).is_file()
    )


MAX_SOAK_MINUTES = 7 * 24 * 60  # a week; NaN and infinity fail the range check too


def _materialize(args: argparse.Namespace, settings: Settings) -> int:
    from grid_pipeline.stack import materialize

    return materialize(settings)


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from grid_pipeline.stack import run_once, run_stack

    if args.bench_repeat is not None:
        if args.bench_repeat < 1:
            raise UsageError("--bench-repeat must be at least 1")
        settings = replace(settings, bench_repeat=args.bench_repeat)
        os.environ["GRID_BENCH_REPEAT"] = str(args.bench_repeat)  # for the Dagster processes
    return run_once(settings) if args.once else run_stack(settings)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump): `grid-pipeline: error: ...`."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"grid-pipeline: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="grid-pipeline",
        description="Smart-grid monitoring: embedded TimescaleDB and MQTT, Dagster, dashboard.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = commands.add_parser("db", help="the embedded TimescaleDB").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    for name, handler, text in [
        ("start", _db_start, "start it (no-op if running); prints the URL"),
        ("stop", _db_stop, "stop it cleanly (data persists)"),
        ("status", _db_status, "is it running, where, which TimescaleDB"),
        ("url", _db_url, "print a URL psql and psycopg can use (starts it if needed)"),
        ("migrate", _db_migrate, "apply sql/schema migrations not yet applied"),
    ]:
        db.add_parser(name, help=text).set_defaults(handler=handler)

    mqtt = commands.add_parser("broker", help="the embedded MQTT broker").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    for name, handler, text in [
        ("start", _broker_start, "start it (no-op if running)"),
        ("stop", _broker_stop, "stop it"),
        ("status", _broker_status, "is it running"),
    ]:
        mqtt.add_parser(name, help=text).set_defaults(handler=handler)

    gen = commands.add_parser(
        "generate",
        help="the historic data set: fleet, readings (default: 14 days ending now), variants",
    )
    gen.add_argument("--meters", type=int, default=None, help="fleet size (GRID_METERS, 500)")
    gen.add_argument(
        "--days",
        type=int,
        default=None,
        help=f"days of history (GRID_DAYS, 14; at most {MAX_DAYS})",
    )
    gen.add_argument("--interval", default=None, help="reading interval (GRID_INTERVAL, 5m)")
    gen.add_argument("--seed", type=int, default=None, help="random seed (GRID_SEED, 42)")
    gen.add_argument(
        "--start",
        default=None,
        help=f"first day (UTC date, window inside {DATASET_RANGE}); default: days before now",
    )
    gen.add_argument("--no-variants", action="store_true", help="skip the chunk-interval variants")
    gen.add_argument(
        "--physical-faults", action="store_true",
        help="inject grid faults (outages, voltage sags/swells, overloads, theft, stuck/zero "
        "reads, spikes) and record their ground truth (GRID_PHYSICAL_FAULTS=on)",
    )  # fmt: skip
    gen.set_defaults(handler=_generate)

    bench = commands.add_parser(
        "bench", help="benchmark queries per variant, ingest paths, chunk-interval advice"
    )
    bench.add_argument("--out", default="bench-out", help="report directory (default bench-out)")
    bench.add_argument("--repeat", type=int, default=5, help="timed runs per query (default 5)")
    bench.add_argument(
        "--ingest-rows",
        type=int,
        default=None,
        help="rows for the ingest ladder (default: one day of the fleet)",
    )
    bench.add_argument(
        "--native-url",
        default=None,
        help="a native PostgreSQL URL for the binary COPY path "
        "(e.g. postgresql://postgres@127.0.0.1:5432/test)",
    )
    bench.add_argument(
        "--advise",
        action="store_true",
        help="only print the chunk-interval advice for the current data",
    )
    bench.set_defaults(handler=_bench)

    up = commands.add_parser("up", help="the whole local stack in the foreground (Ctrl-C stops it)")
    up.add_argument(
        "--once",
        action="store_true",
        help="non-interactive: start the services and Dagster, submit the seed backfill, "
        "wait for it, stop what was started; exit 1 if a run or blocking check failed",
    )
    up.add_argument(
        "--bench-repeat", type=int, default=None, help="benchmark repetitions (GRID_BENCH_REPEAT)"
    )
    up.set_defaults(handler=_up)
    mat = commands.add_parser(
        "materialize",
        help="submit the seed backfill (every asset, all partitions) to the running "
        "`grid-pipeline up` and wait for it",
    )
    mat.set_defaults(handler=_materialize)

    soak = commands.add_parser(
        "soak", help="the live path under load and faults, with reconciled counts"
    )
    soak.add_argument("--minutes", type=float, default=10.0, help="how long to publish (10)")
    soak.add_argument("--meters", type=int, default=50, help="simulated meters (50)")
    soak.add_argument("--data-dir", default=None, help="private data dir (GRID_DATA_DIR/soak)")
    soak.set_defaults(handler=_soak)

    register_mqtt(commands)  # simulate, ingest
    register_events(commands)  # events detect, events score
    register_vee(commands)  # vee run, vee backtest
    register_power_quality(commands)  # power-quality
    register_alerts(commands)  # alerts deliver
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings()
        check_writable_directory(settings.data_dir, "GRID_DATA_DIR")
        handler: Handler = args.handler
        return handler(args, settings)
    except (ConfigError, UsageError) as exc:
        print(f"grid-pipeline: error: {exc}", file=sys.stderr)
        return 2
    except (ServiceError, ConnectionError, DagsterApiError) as exc:
        print(f"grid-pipeline: error: {exc}", file=sys.stderr)
        return 1
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"grid-pipeline: database error: {first}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
