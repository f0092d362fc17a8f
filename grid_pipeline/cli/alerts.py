"""`grid-pipeline alerts deliver [--watch SECONDS]`: grid events to the webhook.

One run queues the events at or above GRID_ALERT_MIN_SEVERITY and POSTs the due ones
to GRID_ALERT_WEBHOOK (the same code the Dagster `alerts_job` runs every minute);
`--watch` repeats it every SECONDS until Ctrl-C. Without a webhook it says so and
exits 0: alerts are optional.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from grid_pipeline.cli.errors import UsageError
from grid_pipeline.config import Settings

OFF = "alerts are off: GRID_ALERT_WEBHOOK is not set"


def deliver(args: argparse.Namespace, settings: Settings) -> int:
    from grid_pipeline.app.alerts import deliver_alerts
    from grid_pipeline.app.services import start_database

    if args.watch is not None and not 0 < args.watch <= 86400:
        raise UsageError("--watch must be a number of seconds in (0, 86400]")
    if not settings.alert_webhook:
        print(OFF)
        return 0
    db = start_database(settings)
    while True:
        print(deliver_alerts(db, settings).line(), flush=True)
        if args.watch is None:
            return 0
        time.sleep(args.watch)


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add `alerts deliver` to the CLI."""
    alerts = commands.add_parser(
        "alerts", help="grid events delivered to GRID_ALERT_WEBHOOK, once per change, with retries"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    run = alerts.add_parser("deliver", help="queue qualifying events, POST the due ones")
    run.add_argument(
        "--watch", type=float, default=None, metavar="SECONDS",
        help="repeat every SECONDS until Ctrl-C (default: one run)",
    )  # fmt: skip
    run.set_defaults(handler=deliver)
