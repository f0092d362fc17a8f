"""The seed's queries 1-4, verbatim (sql/queries/seed_q*.sql), runnable on any variant.

The seed ran the same four statements against each chunk-interval variant by
swapping the table name; `for_table` does that swap with a properly quoted
identifier, so the rest of each statement stays exactly the seed's text.
"""

from __future__ import annotations

import re

from psycopg import sql

from grid_pipeline.db.sqlfiles import query

SEED_QUERIES = {
    "q1_hourly_power_today": "seed_q1_hourly_power_today",
    "q2_peak_15min_this_week": "seed_q2_peak_15min_this_week",
    "q3_monthly_consumption_by_meter": "seed_q3_monthly_consumption_by_meter",
    "q4_full_scan": "seed_q4_full_scan",
}
_TABLE = re.compile(r"\bFROM energy_readings\b")


def seed_query(name: str) -> str:
    """The verbatim text of a seed query (its leading comment line included)."""
    return query(SEED_QUERIES[name])


def for_table(text: str, table: str) -> sql.Composed:
    """The statement with `FROM energy_readings` pointed at `table` (quoted identifier)."""
    parts = _TABLE.split(text)
    if len(parts) != 2:
        raise ValueError("expected exactly one 'FROM energy_readings' in the statement")
    return sql.Composed(
        [sql.SQL(parts[0]), sql.SQL("FROM "), sql.Identifier(table), sql.SQL(parts[1])]
    )
