"""`grid-pipeline vee run|backtest`: validation, estimation and editing of the readings.

`run` validates the data set day by day (the same code as the Dagster asset), stores each
reading's flags and an estimate for every interval that is missing or invalid, with the
original kept and the run audited (who, when, which rules). `backtest` hides valid
readings, estimates them and prints how close the estimates come, per gap length.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from dataclasses import asdict
from typing import Any

from grid_pipeline.cli.errors import UsageError
from grid_pipeline.cli.events import day_window
from grid_pipeline.config import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    from grid_pipeline.app.services import start_database
    from grid_pipeline.app.vee import vee_history

    window = day_window(args.day) if args.day else None
    reports = vee_history(
        start_database(settings), settings, f"cli:{getpass.getuser()}", window,
        progress=lambda text: print(text, file=sys.stderr, flush=True),
    )  # fmt: skip
    flags: dict[str, int] = {}
    methods: dict[str, int] = {}
    for report in reports:
        for rule, n in report.flags.items():
            flags[rule] = flags.get(rule, 0) + n
        for method, n in report.estimates.items():
            methods[method] = methods.get(method, 0) + n
    seconds = sum(r.seconds for r in reports)
    print(f"{len(reports)} days in {seconds:.1f} s")
    print("flags: " + (", ".join(f"{k} {v:,}" for k, v in sorted(flags.items())) or "none"))
    print("estimates: " + (", ".join(f"{k} {v:,}" for k, v in sorted(methods.items())) or "none"))
    return 0


def backtest(args: argparse.Namespace, settings: Settings) -> int:
    from grid_pipeline.app.services import start_database
    from grid_pipeline.app.vee import backtest_history

    if args.days < 1 or args.gaps < 1:
        raise UsageError("--days and --gaps must be at least 1")
    scores = backtest_history(start_database(settings), settings, args.days, args.gaps)
    if args.json:
        print(json.dumps({str(s.minutes): asdict(s) for s in scores}, indent=2))
        return 0
    print(f"{'gap':>8} {'gaps':>5} {'MAPE':>7} {'median':>7} {'within 5%':>9} {'total error':>11}")
    for s in scores:
        print(f"{s.minutes:>5} min {s.gaps:>5} {s.mape:>7.1%} {s.median_ape:>7.1%} "
              f"{s.within_5pct:>9.0%} {s.total_error:>11.2%}")  # fmt: skip
    return 0


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add `vee run` and `vee backtest` to the CLI."""
    vee = commands.add_parser(
        "vee", help="validation, estimation and editing of the readings (billing-grade series)"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    p = vee.add_parser("run", help="validate and estimate the data set, day by day")
    p.add_argument("--day", default=None, help="one UTC day (YYYY-MM-DD) instead of all")
    p.set_defaults(handler=run)
    b = vee.add_parser("backtest", help="hide valid readings, estimate them, compare")
    b.add_argument("--days", type=int, default=3, help="last whole days tested (3)")
    b.add_argument("--gaps", type=int, default=50, help="gaps per length (50)")
    b.add_argument("--json", action="store_true", help="one JSON object keyed by gap minutes")
    b.set_defaults(handler=backtest)
