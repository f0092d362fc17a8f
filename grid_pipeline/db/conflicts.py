"""Conflicting duplicates: what arrived for a stored (meter, interval) with other values.

The readings table keeps one row per key and the first write wins, so a second version
of a reading would vanish without a trace. Ingestion records it in `reading_conflicts`
(migration 018) beside the stored values, with the run that received it, in the same
transaction as the batch; VEE's ``duplicate_conflict`` rule flags those readings.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import psycopg

from grid_pipeline.db.sqlfiles import query

FIELDS = ("power", "energy", "voltage", "current")


def record_conflicts(
    conn: psycopg.Connection[Any], clashes: pl.DataFrame, run_id: str, table: str
) -> int:
    """Insert `clashes` (timestamp, meter_id, incoming_<field>, stored_<field>, stored
    units) as received by `run_id` for `table`; the rows written."""
    if clashes.is_empty():
        return 0
    params: dict[str, Any] = {
        "run_id": run_id,
        "table": table,
        "timestamp": clashes.get_column("timestamp").to_list(),
        "meter_id": clashes.get_column("meter_id").to_list(),
    }
    for name in FIELDS:
        params[name] = clashes.get_column(f"incoming_{name}").to_list()
        params[f"stored_{name}"] = clashes.get_column(f"stored_{name}").to_list()
    conn.execute(query("reading_conflicts_insert"), params)
    return clashes.height
