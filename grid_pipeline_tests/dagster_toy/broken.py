"""A code location that cannot load, for the readiness check in test_dagster_api."""

raise RuntimeError("toy location broken on purpose")
