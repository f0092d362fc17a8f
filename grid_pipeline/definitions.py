"""Dagster definitions for Grid Pipeline: assembled here, defined in `grid_pipeline.defs`.

Loading this module connects to nothing and starts nothing; it reads the
settings and the historic window's fixed end (`grid_pipeline.app.dataset`).
"""

import dagster as dg

from grid_pipeline.config import load_settings
from grid_pipeline.defs.alerts import alerts_defs
from grid_pipeline.defs.bench import bench_defs
from grid_pipeline.defs.events import events_defs
from grid_pipeline.defs.historic import historic_assets
from grid_pipeline.defs.ingestion import ingestion_defs
from grid_pipeline.defs.power_quality import power_quality_defs
from grid_pipeline.defs.resources import timescale_from_environment
from grid_pipeline.defs.schema import database_schema
from grid_pipeline.defs.storage import storage_defs
from grid_pipeline.defs.vee import vee_defs

settings = load_settings()

defs = dg.Definitions.merge(
    dg.Definitions(
        assets=[database_schema, *historic_assets(settings)],
        resources={"timescale": timescale_from_environment()},
        # One step at a time inside a run, in the run's own process: the engine serves
        # one session anyway, and a process per step costs seconds of imports each.
        executor=dg.in_process_executor,
    ),
    storage_defs(settings),
    bench_defs(settings),
    ingestion_defs(settings),
    events_defs(settings),
    alerts_defs(settings),
    power_quality_defs(settings),
    vee_defs(settings),
)
