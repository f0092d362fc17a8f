"""A tiny Dagster code location for test_dagster_api (no database, no broker)."""
