"""Simulated meter fleet and its readings: pure, deterministic, vectorised logic.

``build_fleet`` describes the meters; ``generate_readings`` / ``iter_readings``
produce their readings for any window, identical for a given seed whatever the
window; ``generate_readings_with_faults`` adds faults with ground-truth labels.
"""

from grid_pipeline.fleet.faults import FAULT_KINDS, LABEL_SCHEMA, FaultConfig
from grid_pipeline.fleet.meters import CUSTOMER_CLASSES, FLEET_SCHEMA, build_fleet
from grid_pipeline.fleet.readings import (
    READINGS_SCHEMA,
    current_amps,
    generate_readings,
    generate_readings_with_faults,
    iter_readings,
    iter_readings_with_faults,
)

__all__ = [
    "CUSTOMER_CLASSES",
    "FAULT_KINDS",
    "FLEET_SCHEMA",
    "LABEL_SCHEMA",
    "READINGS_SCHEMA",
    "FaultConfig",
    "build_fleet",
    "current_amps",
    "generate_readings",
    "generate_readings_with_faults",
    "iter_readings",
    "iter_readings_with_faults",
]
