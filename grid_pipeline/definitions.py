"""Dagster definitions for Grid Pipeline: assembled here, defined in `grid_pipeline.defs`."""

import dagster as dg

from grid_pipeline.defs.resources import timescale_from_environment
from grid_pipeline.defs.schema import database_schema

defs = dg.Definitions(
    assets=[database_schema],
    resources={"timescale": timescale_from_environment()},
)
