"""Dagster control plane of the live path: ingestion job, its keep-alive sensor, simulator job.

* `mqtt_ingestion_job` consumes for a bounded window (``duration_s``) and ends
  cleanly; between runs the broker's persistent session holds the messages, so
  bounded runs lose nothing and each run is a readable unit in the Dagster UI.
  Its counters are reported as metadata on the `energy_readings` asset (a
  materialization when rows were added, an observation otherwise).
* `mqtt_ingestion_sensor` keeps exactly one such run alive: it skips (with the
  reason) while a run is queued or in progress, and otherwise requests one with
  a run key derived from the latest run, so repeated evaluations request the
  same key (Dagster launches a key once) and no two runs ever overlap.
* `meter_simulator_job` runs the simulator from Dagster.

`ingestion_defs()` returns all of it to be merged into the code location.
"""

# No `from __future__ import annotations`: Dagster reads the config classes from the
# op signatures at decoration time and cannot resolve string annotations there.
import os
from typing import Any

import dagster as dg

from grid_pipeline.config import Settings, parse_duration, settings_with
from grid_pipeline.db.connection import connect
from grid_pipeline.defs.resources import TimescaleResource
from grid_pipeline.embedded import broker
from grid_pipeline.mqtt.broker_url import Protocol, default_protocol
from grid_pipeline.mqtt.consumer import ConsumerConfig, IngestConsumer
from grid_pipeline.mqtt.payload import Limits
from grid_pipeline.mqtt.simulator import FaultRates, Publisher, Simulator, run_simulation
from grid_pipeline.mqtt.topics import DEFAULT_ROOT
from grid_pipeline.storage.historic import read_fleet, replace_fleet

READINGS_ASSET = dg.AssetKey("energy_readings")
INGESTION_JOB = "mqtt_ingestion_job"
_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


class MqttResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The MQTT broker: `broker_url` unset means the embedded broker (started on first use)."""

    broker_url: str | None = None
    data_dir: str | None = None
    protocol: str | None = None  # "3.1.1" or "5"; default by broker kind

    def settings(self) -> Settings:
        return settings_with(GRID_DATA_DIR=self.data_dir, GRID_MQTT_URL=self.broker_url)

    def url(self) -> str:
        return broker.ensure_running(self.settings())

    def mqtt_protocol(self) -> Protocol:
        if self.protocol in ("3.1.1", "5"):
            return "5" if self.protocol == "5" else "3.1.1"
        if self.protocol:
            raise dg.Failure(f"MqttResource.protocol must be '3.1.1' or '5', got {self.protocol!r}")
        return default_protocol(self.settings())


def mqtt_from_environment() -> MqttResource:
    """GRID_MQTT_URL through EnvVar when set (credentials never baked into run config)."""
    if os.environ.get("GRID_MQTT_URL"):
        return MqttResource(broker_url=dg.EnvVar("GRID_MQTT_URL"))
    return MqttResource()


class IngestionConfig(dg.Config):
    """One bounded ingestion run (see `grid-pipeline ingest --help` for each knob)."""

    duration_s: float = 300.0
    client_id: str = "grid-ingest-1"
    share_group: str | None = None
    topic_root: str = DEFAULT_ROOT
    batch_size: int = 5_000
    batch_ms: int = 50
    batch_bytes: int = 2 * 1024 * 1024
    queue_size: int = 50_000
    receive_maximum: int = 10_000
    check_meters: bool = True
    max_future: str = "1 day"
    max_past: str = "30 days"


@dg.op(
    description="Consume MQTT readings for a bounded window; commit, then acknowledge.",
    tags={"kind": "mqtt"},
)
def consume_readings(
    context: dg.OpExecutionContext,
    config: IngestionConfig,
    timescale: TimescaleResource,
    mqtt: MqttResource,
) -> dict[str, Any]:
    consumer_config = ConsumerConfig(
        broker_url=mqtt.url(), client_id=config.client_id, protocol=mqtt.mqtt_protocol(),
        topic_root=config.topic_root, share_group=config.share_group,
        batch_size=config.batch_size, batch_ms=config.batch_ms, batch_bytes=config.batch_bytes,
        queue_size=config.queue_size,
        receive_maximum=config.receive_maximum, check_meters=config.check_meters,
        limits=Limits(max_future=parse_duration(config.max_future, "max_future"),
                      max_past=parse_duration(config.max_past, "max_past")),
    )  # fmt: skip
    consumer = IngestConsumer(timescale.database(), consumer_config, run_id=context.run_id)
    context.log.info(f"consuming {consumer_config.subscription} for {config.duration_s:g} s")
    report = consumer.run(config.duration_s).report()
    metadata = {k: v for k, v in report.items() if v is not None}
    event_type = dg.AssetMaterialization if report["inserted"] else dg.AssetObservation
    context.log_event(
        event_type(
            asset_key=READINGS_ASSET,
            description=f"MQTT ingestion run {context.run_id}",
            metadata=metadata,
        )
    )
    return report


@dg.job(name=INGESTION_JOB, description="One bounded MQTT ingestion run (kept alive by a sensor).")
def mqtt_ingestion_job() -> None:
    consume_readings()


def ingestion_run_key(latest_run_id: str | None) -> str:
    """Same state, same key: Dagster launches a run key once, so re-evaluation is harmless."""
    return f"mqtt-ingest-after-{latest_run_id or 'none'}"


@dg.sensor(
    job=mqtt_ingestion_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,  # on in `make run` (issue: live path)
    description="Keeps one MQTT ingestion run alive; never two at once.",
)
def mqtt_ingestion_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    active = context.instance.get_runs(
        dg.RunsFilter(job_name=INGESTION_JOB, statuses=_ACTIVE), limit=1
    )
    if active:
        run = active[0]
        return dg.SensorResult(
            skip_reason=dg.SkipReason(
                f"ingestion run {run.run_id} is {run.status.value.lower()}; one at a time"
            )
        )
    latest = context.instance.get_runs(dg.RunsFilter(job_name=INGESTION_JOB), limit=1)
    run_key = ingestion_run_key(latest[0].run_id if latest else None)
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=run_key)])


class SimulatorConfig(dg.Config):
    """A simulator run (see `grid-pipeline simulate --help`)."""

    meters: int = 500
    interval: str = "5m"
    intervals: int | None = 12
    duration_s: float | None = None
    speedup: float = 60.0
    seed: int = 42
    gateway_size: int = 0
    topic_root: str = DEFAULT_ROOT
    duplicates: float = 0.0
    out_of_order: float = 0.0
    late: float = 0.0
    malformed: float = 0.0
    load_fleet: bool = False


@dg.op(description="Publish simulated meter readings over MQTT (QoS 1).", tags={"kind": "mqtt"})
def simulate_meters(
    context: dg.OpExecutionContext,
    config: SimulatorConfig,
    timescale: TimescaleResource,
    mqtt: MqttResource,
) -> dict[str, int]:
    db = timescale.database()
    with connect(db) as conn:
        fleet = read_fleet(conn)
    if fleet.height < config.meters:
        if not config.load_fleet:
            raise dg.Failure(
                f"meters table has {fleet.height} meters < {config.meters}; set load_fleet"
            )
        from grid_pipeline.fleet.meters import build_fleet

        fleet = build_fleet(config.meters, config.seed)
        replace_fleet(db, fleet)
    settings = mqtt.settings()
    simulator = Simulator(
        fleet.head(config.meters), interval=parse_duration(config.interval, "interval"),
        seed=config.seed, timezone=settings.timezone, topic_root=config.topic_root,
        gateway_size=config.gateway_size,
        faults=FaultRates(config.duplicates, config.out_of_order, config.late, config.malformed),
    )  # fmt: skip
    publisher = Publisher(mqtt.url(), protocol=mqtt.mqtt_protocol())
    publisher.connect()
    try:
        counters = run_simulation(
            simulator, publisher, intervals=config.intervals, duration_s=config.duration_s,
            speedup=config.speedup,
        )  # fmt: skip
    finally:
        publisher.close()
    context.add_output_metadata(dict(counters.as_dict()))
    return counters.as_dict()


@dg.job(description="Run the meter simulator (ground-truth counters as metadata).")
def meter_simulator_job() -> None:
    simulate_meters()


def ingestion_defs() -> dg.Definitions:
    """The live path's jobs, sensor and resources (merge into the code location)."""
    return dg.Definitions(
        jobs=[mqtt_ingestion_job, meter_simulator_job],
        sensors=[mqtt_ingestion_sensor],
        resources={"mqtt": mqtt_from_environment()},
    )
