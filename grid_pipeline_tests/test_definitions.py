"""The Dagster code location loads and its assets materialise against the real engine."""

from __future__ import annotations

import dagster as dg
import pytest

from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database
from grid_pipeline.definitions import defs
from grid_pipeline.defs.resources import TimescaleResource
from grid_pipeline.defs.schema import database_schema


def test_definitions_load() -> None:
    defs.resolve_all_job_defs()
    assert defs.resolve_asset_graph().get_all_asset_keys()


@pytest.mark.integration
def test_schema_asset_materialises(database: Database, settings: Settings) -> None:
    result = dg.materialize(
        [database_schema],
        resources={"timescale": TimescaleResource(data_dir=str(settings.data_dir))},
    )
    assert result.success
    meta = result.asset_materializations_for_node("database_schema")[0].metadata
    assert meta["timescaledb_version"].value.startswith("2.")
    assert "001_core" in meta["migrations"].value
