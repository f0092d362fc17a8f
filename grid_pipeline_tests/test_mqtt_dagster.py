"""The Dagster side of the live path: the keep-alive sensor and a bounded ingestion run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database
from grid_pipeline.defs.ingestion import (
    INGESTION_ASSET,
    INGESTION_JOB,
    IngestionConfig,
    MqttResource,
    ingestion_run_key,
    keep_one_ingestion_run,
    meter_simulator_job,
    mqtt_ingestion,
)
from grid_pipeline.defs.resources import TimescaleResource
from grid_pipeline_tests.mqtt_support import MosquittoProcess, clean_slate, count, unique_root


def _evaluate(instance: dg.DagsterInstance) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance)
    result = keep_one_ingestion_run(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _add_run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus) -> str:
    from grid_pipeline.definitions import defs

    job = defs.resolve_job_def(INGESTION_JOB)
    run = instance.create_run_for_job(job, run_config={})  # NOT_STARTED
    instance.handle_run_event(
        run.run_id,
        dg.DagsterEvent(
            event_type_value={
                dg.DagsterRunStatus.STARTED: "PIPELINE_START",
                dg.DagsterRunStatus.SUCCESS: "PIPELINE_SUCCESS",
            }[status],
            job_name=INGESTION_JOB,
        ),
    )
    return run.run_id


def test_sensor_requests_skips_and_keys_deterministically() -> None:
    with dg.instance_for_test() as instance:
        first = _evaluate(instance)
        again = _evaluate(instance)
        assert [r.run_key for r in first.run_requests or []] == [ingestion_run_key(None)]
        assert [r.run_key for r in again.run_requests or []] == [ingestion_run_key(None)]

        run_id = _add_run(instance, dg.DagsterRunStatus.STARTED)
        busy = _evaluate(instance)
        assert not busy.run_requests
        assert busy.skip_reason is not None
        assert run_id in str(busy.skip_reason.skip_message)

        instance.handle_run_event(
            run_id, dg.DagsterEvent(event_type_value="PIPELINE_SUCCESS", job_name=INGESTION_JOB)
        )
        after = _evaluate(instance)
        assert [r.run_key for r in after.run_requests or []] == [ingestion_run_key(run_id)]
        assert _evaluate(instance).run_requests[0].run_key == ingestion_run_key(run_id)  # type: ignore[index]


def test_definitions_merge_with_the_code_location() -> None:
    from grid_pipeline.definitions import defs

    names = {job.name for job in defs.resolve_all_job_defs()}
    assert {INGESTION_JOB, "meter_simulator_job"} <= names
    assert defs.resolve_sensor_def("mqtt_ingestion_sensor")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[str]:
    """A private Mosquitto: amqtt does not deliver what it queued for an offline session."""
    with MosquittoProcess(tmp_path / "mosquitto") as broker:
        yield broker.url


@pytest.mark.integration
def test_bounded_runs_and_the_persistent_session_between_them(
    database: Database, settings: Settings, mosquitto: str
) -> None:
    """Run 1 opens the session; messages published between runs arrive in run 2."""
    fleet = clean_slate(database, meters=20)
    root = unique_root()
    resources = {
        "timescale": TimescaleResource(data_dir=str(settings.data_dir)),
        "mqtt": MqttResource(broker_url=mosquitto, data_dir=str(settings.data_dir)),
    }
    ingest_config = {"ops": {INGESTION_ASSET: {"config": {
        "duration_s": 1.0, "client_id": f"dagster-{root}", "topic_root": root}}}}  # fmt: skip
    first = dg.materialize([mqtt_ingestion], run_config=ingest_config, resources=resources)
    assert first.success

    sim_config = {"ops": {"simulate_meters": {"config": {
        "meters": len(fleet), "intervals": 3, "speedup": 0.0, "topic_root": root,
        "duplicates": 0.1}}}}  # fmt: skip
    simulated = meter_simulator_job.execute_in_process(run_config=sim_config, resources=resources)
    truth = simulated.output_for_node("simulate_meters")
    assert truth["expected_rows"] == 3 * len(fleet)

    ingest_config["ops"][INGESTION_ASSET]["config"]["duration_s"] = 4.0
    second = dg.materialize([mqtt_ingestion], run_config=ingest_config, resources=resources)
    assert second.success
    assert count(database) == truth["expected_rows"]
    # The live path records its own asset; the historic `energy_readings` keeps its
    # latest materialisation (and the checks judged on it).
    materialized = {
        e.asset_key.to_user_string()
        for e in second.all_events
        if e.event_type_value in ("ASSET_MATERIALIZATION", "ASSET_OBSERVATION") and e.asset_key
    }
    assert materialized == {INGESTION_ASSET}
    meta = second.asset_materializations_for_node(INGESTION_ASSET)[0].metadata
    assert meta["inserted"].value == truth["expected_rows"]
    assert meta["duplicates"].value == truth["duplicates"]
    assert "commit_ms_p95" in meta and "lag_s_p50" in meta


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [("topic_root", "#", "wildcard"), ("topic_root", "grid/", "empty topic level"),
     ("client_id", "", "must not be empty"), ("share_group", "a/b", "not a share name")],
)  # fmt: skip
def test_a_bad_run_config_fails_the_run_in_one_line(field: str, value: str, fragment: str) -> None:
    """From the launchpad: a wildcard root would consume other people's topics."""
    config = IngestionConfig(**{field: value, "duration_s": 1.0})  # type: ignore[arg-type]
    broker = MqttResource(broker_url="mqtt://127.0.0.1:1")  # never reached
    with dg.build_asset_context() as context, pytest.raises(dg.Failure, match=fragment):
        mqtt_ingestion(context, config=config, timescale=TimescaleResource(), mqtt=broker)
