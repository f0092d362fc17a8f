"""The application layer: what the product does, as plain functions.

The CLI (`grid_pipeline.cli`), the Dagster definitions (`grid_pipeline.defs`)
and the dashboard's data layer are thin callers of these functions; the
functions themselves call the domain packages (`fleet`, `storage`, `mqtt`,
`bench`) and the database layer (`db`). Dependencies point one way:
nothing here imports the CLI, Dagster or the dashboard (a test pins it).
"""
