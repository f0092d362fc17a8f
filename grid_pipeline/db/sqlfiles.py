"""Locate and read the project's SQL files (`sql/schema`, `sql/queries`).

SQL lives in `.sql` files, one statement per query file, named for intent, so it
can be read, reviewed and run by hand (`psql -f`) as well as from Python.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

_REPO_SQL = Path(__file__).resolve().parents[2] / "sql"


def sql_dir() -> Path:
    """`GRID_SQL_DIR` if set (container images), else the repository's `sql/`."""
    return Path(os.environ.get("GRID_SQL_DIR", _REPO_SQL))


def schema_files() -> list[Path]:
    """The migrations, in the order their numeric prefixes give."""
    return sorted((sql_dir() / "schema").glob("[0-9][0-9][0-9]_*.sql"))


@cache
def query(name: str) -> str:
    """The text of `sql/queries/<name>.sql`."""
    path = sql_dir() / "queries" / f"{name}.sql"
    if not path.exists():
        raise FileNotFoundError(f"no SQL query file {path}")
    return path.read_text()
