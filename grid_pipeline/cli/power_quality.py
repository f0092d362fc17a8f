"""`grid-pipeline power-quality`: the EN 50160 weekly verdict and ANSI C84.1 band shares.

Computes every week the readings touch (or the one `--week` names) in SQL, stores one row
per meter and week in `power_quality_weekly` (the Insights page reads it) and prints the
verdicts per week. The same code as the Dagster asset `power_quality_weekly`.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from grid_pipeline.cli.errors import UsageError
from grid_pipeline.config import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    from grid_pipeline.app.power_quality import compute_power_quality
    from grid_pipeline.app.services import start_database
    from grid_pipeline.storage.power_quality import WEEK, week_start

    window = None
    if args.week:
        try:
            day = date.fromisoformat(args.week)
        except ValueError:
            raise UsageError(f"--week: {args.week!r} is not a date (YYYY-MM-DD)") from None
        start = week_start(day)
        window = (start, start + WEEK)
    report = compute_power_quality(start_database(settings), settings, window)
    if not report.weeks:
        print("no readings: nothing to judge (load data with `grid-pipeline generate`)")
        return 0
    print(f"{'week (Mon UTC)':<15} {'meters':>7} {'pass':>6} {'fail':>6} {'incomplete':>10}")
    for w in report.weeks:
        v = w.verdicts
        print(f"{w.week:%Y-%m-%d}      {w.meters:>7,} {v['pass']:>6,} {v['fail']:>6,} "
              f"{v['incomplete']:>10,}")  # fmt: skip
    print(f"{report.meter_weeks:,} meter-weeks in {report.seconds:.1f} s")
    return 0


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add `power-quality` to the CLI."""
    p = commands.add_parser(
        "power-quality",
        help="EN 50160 weekly verdict and ANSI C84.1 band shares per meter (stored for the "
        "Insights page)",
    )
    p.add_argument(
        "--week", default=None,
        help="one week: any UTC date in it (YYYY-MM-DD); default: every week with readings",
    )  # fmt: skip
    p.set_defaults(handler=run)
