"""Settings: defaults, validation, one-line errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from grid_pipeline.config import (
    ConfigError,
    load_settings,
    parse_chunk_intervals,
    parse_duration,
    postgres_interval,
)


def test_defaults_mean_embedded_services() -> None:
    s = load_settings({})
    assert s.embedded_db and s.embedded_broker
    assert s.data_dir.name == ".grid" and s.data_dir.is_absolute()
    assert s.db_port == 55432 and s.mqtt_port == 11883
    assert s.broker_url == "mqtt://127.0.0.1:11883"
    assert s.interval == timedelta(minutes=5) and s.meters == 500 and s.days == 14
    assert [(v.table, v.interval) for v in s.chunk_variants] == [
        ("energy_readings", timedelta(days=1)),
        ("energy_readings_3h", timedelta(hours=3)),
        ("energy_readings_week", timedelta(weeks=1)),
    ]


def test_external_urls_switch_off_embedded_mode() -> None:
    s = load_settings(
        {"GRID_DATABASE_URL": "postgresql://u:p@db:5432/grid", "GRID_MQTT_URL": "mqtt://emqx:1883"}
    )
    assert not s.embedded_db and not s.embedded_broker
    assert s.broker_url == "mqtt://emqx:1883"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"GRID_DB_PORT": "70000"}, "GRID_DB_PORT"),
        ({"GRID_MQTT_PORT": "abc"}, "GRID_MQTT_PORT"),
        ({"GRID_DATABASE_URL": "mysql://x@h/db"}, "GRID_DATABASE_URL"),
        ({"GRID_MQTT_URL": "http://broker"}, "GRID_MQTT_URL"),
        ({"GRID_INTERVAL": "7m"}, "GRID_INTERVAL"),
        ({"GRID_INTERVAL": "soon"}, "GRID_INTERVAL"),
        ({"GRID_METERS": "0"}, "GRID_METERS"),
        ({"GRID_TIMEZONE": "Mars/Olympus"}, "GRID_TIMEZONE"),
        ({"GRID_SEED": "-1"}, "GRID_SEED"),
        ({"GRID_CHUNK_INTERVALS": "energy_readings=1 day,bad name=1h"}, "GRID_CHUNK_INTERVALS"),
    ],
)
def test_bad_values_name_the_variable_in_one_line(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert names in str(info.value)
    assert "\n" not in str(info.value)


def test_durations() -> None:
    assert parse_duration("5m") == timedelta(minutes=5)
    assert parse_duration("3 hours") == timedelta(hours=3)
    assert parse_duration("1 week") == timedelta(weeks=1)
    assert postgres_interval(timedelta(hours=3)) == "10800 seconds"
    with pytest.raises(ConfigError):
        parse_duration("0m")


def test_chunk_intervals_need_the_primary_table_first_and_unique_names() -> None:
    with pytest.raises(ConfigError, match="first entry"):
        parse_chunk_intervals("energy_readings_3h=3 hours")
    with pytest.raises(ConfigError, match="unique"):
        parse_chunk_intervals("energy_readings=1 day,energy_readings=2 days")
    with pytest.raises(ConfigError, match="table=interval"):
        parse_chunk_intervals('energy_readings=1 day,x"; DROP TABLE energy_readings; --=1h')
