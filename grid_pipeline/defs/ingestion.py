"""Dagster control plane of the live path: the ingestion asset, its keep-alive sensor, simulator.

* `mqtt_ingestion` is the live path's own asset: each materialisation is one
  bounded ingestion run (``duration_s``) with its counters as metadata. It
  writes readings after the historic window into `energy_readings`, but never
  records a materialisation of `energy_readings` itself, so that asset's latest
  materialisation (and its checks) stay those of the historic partitions.
  Between runs the broker's persistent session holds the messages, so bounded
  runs lose nothing. A freshness policy turns it red when ingestion stops.
* `mqtt_ingestion_job` is the asset job the sensor launches.
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
from datetime import timedelta

import dagster as dg

from grid_pipeline.app.services import running_broker_url
from grid_pipeline.config import Settings, load_settings, parse_duration, settings_with
from grid_pipeline.db.connection import connect
from grid_pipeline.defs.resources import TimescaleResource
from grid_pipeline.mqtt.broker_url import Protocol, default_protocol
from grid_pipeline.mqtt.consumer import ConsumerConfig, IngestConsumer
from grid_pipeline.mqtt.payload import Limits
from grid_pipeline.mqtt.simulator import FaultRates, Publisher, Simulator, run_simulation
from grid_pipeline.mqtt.topics import DEFAULT_ROOT
from grid_pipeline.storage.historic import read_fleet, replace_fleet

INGESTION_ASSET = "mqtt_ingestion"
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
        """The broker's URL; the embedded broker must be running (resources start nothing)."""
        return running_broker_url(self.settings())

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
    # Not the CLI's default id: two consumers with one client id take each other's session.
    client_id: str = "grid-ingest-dagster"
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


@dg.asset(
    name=INGESTION_ASSET,
    group_name="live",
    kinds={"mqtt", "timescaledb"},
    deps=["meters"],
    # Its own pool (limit 1): one consumer per client id, whether the sensor or a
    # "Materialize all" in the UI launched it; a second run waits queued.
    pool=INGESTION_ASSET,
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(minutes=20), warn_window=timedelta(minutes=10)
    ),
)
def mqtt_ingestion(
    context: dg.AssetExecutionContext,
    config: IngestionConfig,
    timescale: TimescaleResource,
    mqtt: MqttResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Live readings consumed from MQTT into `energy_readings`: one bounded run per materialisation.

    Persistent session, validation, idempotent batched inserts, acknowledgement
    after commit, quarantine of invalid messages; the run's counters (inserted,
    duplicates, rejected, lag percentiles) are the metadata.
    """
    try:
        consumer_config = _consumer_config(config, mqtt)
    except ValueError as exc:  # a topic root, client id or knob the broker would refuse
        raise dg.Failure(description=f"run config: {exc}") from None
    consumer = IngestConsumer(timescale.database(), consumer_config, run_id=context.run.run_id)
    context.log.info(f"consuming {consumer_config.subscription} for {config.duration_s:g} s")
    report = consumer.run(config.duration_s).report()
    return dg.MaterializeResult(metadata={k: v for k, v in report.items() if v is not None})


def _consumer_config(config: IngestionConfig, mqtt: MqttResource) -> ConsumerConfig:
    return ConsumerConfig(
        broker_url=mqtt.url(), client_id=config.client_id, protocol=mqtt.mqtt_protocol(),
        topic_root=config.topic_root, share_group=config.share_group,
        batch_size=config.batch_size, batch_ms=config.batch_ms, batch_bytes=config.batch_bytes,
        queue_size=config.queue_size,
        receive_maximum=config.receive_maximum, check_meters=config.check_meters,
        limits=Limits(max_future=parse_duration(config.max_future, "max_future"),
                      max_past=parse_duration(config.max_past, "max_past")),
    )  # fmt: skip


mqtt_ingestion_job = dg.define_asset_job(
    INGESTION_JOB,
    selection=dg.AssetSelection.assets(INGESTION_ASSET),
    description="One bounded MQTT ingestion run (kept alive by a sensor).",
)


def ingestion_run_key(latest_run_id: str | None) -> str:
    """Same state, same key: Dagster launches a run key once, so re-evaluation is harmless."""
    return f"mqtt-ingest-after-{latest_run_id or 'none'}"


def _ingestion_sensor(settings: Settings) -> dg.SensorDefinition:
    """On by default (`make run` ingests live); GRID_INGEST_SENSOR=off where another
    consumer group ingests (the production compose file's scaled `ingest` service)."""
    status = (
        dg.DefaultSensorStatus.RUNNING if settings.ingest_sensor else dg.DefaultSensorStatus.STOPPED
    )
    return dg.SensorDefinition(
        name="mqtt_ingestion_sensor",
        evaluation_fn=keep_one_ingestion_run,
        job=mqtt_ingestion_job,
        minimum_interval_seconds=30,
        default_status=status,
        description="Keeps one MQTT ingestion run alive; never two at once.",
    )


def keep_one_ingestion_run(context: dg.SensorEvaluationContext) -> dg.SensorResult:
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


def ingestion_defs(settings: Settings | None = None) -> dg.Definitions:
    """The live path's asset, jobs, sensor and resources (merge into the code location)."""
    return dg.Definitions(
        assets=[mqtt_ingestion],
        jobs=[mqtt_ingestion_job, meter_simulator_job],
        sensors=[_ingestion_sensor(settings or load_settings())],
        resources={"mqtt": mqtt_from_environment()},
    )
