"""The grid-event detectors, one module per family; each exposes
``detect(conn, window, thresholds) -> list[DetectedEvent]`` and says in its docstring
why its rule and numbers are what they are. `grid_pipeline.events.detect` runs them."""
