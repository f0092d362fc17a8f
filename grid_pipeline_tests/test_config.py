"""Settings: defaults, validation, one-line errors."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from grid_pipeline.app.services import start_database
from grid_pipeline.config import (
    MAX_DURATION,
    ConfigError,
    check_writable_directory,
    load_settings,
    parse_chunk_intervals,
    parse_duration,
    postgres_interval,
    postgres_time_zones,
    project_relations,
)
from grid_pipeline.db.connection import Database, connect


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
        ({"GRID_INTERVAL": "99999999999 weeks"}, "GRID_INTERVAL"),
        ({"GRID_COMPRESS_AFTER": "99999999999 weeks"}, "GRID_COMPRESS_AFTER"),
        ({"GRID_REFRESH_LOOKBACK": "9" * 5000 + "s"}, "GRID_REFRESH_LOOKBACK"),
        ({"GRID_REJECTS_RETENTION": "36501 days"}, "GRID_REJECTS_RETENTION"),
        ({"GRID_CHUNK_INTERVALS": "energy_readings=99999999999w"}, "GRID_CHUNK_INTERVALS"),
        ({"GRID_DAYS": "10001"}, "GRID_DAYS"),
        ({"GRID_HISTORY_END": "2200-01-02"}, "GRID_HISTORY_END"),
        ({"GRID_HISTORY_END": "1970-01-10", "GRID_DAYS": "14"}, "GRID_DAYS"),
        ({"GRID_TIMEZONE": "posixrules"}, "GRID_TIMEZONE"),
        ({"GRID_TIMEZONE": "localtime"}, "GRID_TIMEZONE"),
        ({"GRID_TIMEZONE": "posix/Europe/Berlin"}, "GRID_TIMEZONE"),
        ({"GRID_TIMEZONE": "/etc/localtime"}, "GRID_TIMEZONE"),
        ({"GRID_SEED": "9" * 5000}, "GRID_SEED"),
        ({"GRID_DB_PORT": "\u00b9"}, "GRID_DB_PORT"),
        ({"GRID_DATA_DIR": "/tmp/grid\nlistener 1883 0.0.0.0"}, "GRID_DATA_DIR"),
        ({"GRID_DATA_DIR": "/tmp/grid\x00"}, "GRID_DATA_DIR"),
        ({"GRID_DATA_DIR": "/tmp/\x1b[2Jgrid"}, "GRID_DATA_DIR"),
        ({"GRID_MQTT_URL": "mqtt://broker\r\nx:1883"}, "GRID_MQTT_URL"),
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


def test_durations_stop_at_a_century() -> None:
    assert parse_duration("36500 days") == MAX_DURATION
    assert parse_duration("0005m") == timedelta(minutes=5)
    for text in ("36501 days", "99999999999 weeks", "9" * 5000 + "s"):
        with pytest.raises(ConfigError, match="longer than 36500 days"):
            parse_duration(text, "--duration")
    with pytest.raises(ConfigError, match="positive duration"):
        parse_duration("000s")


@pytest.mark.parametrize(
    "table", ["meters", "ingest_runs", "ingest_rejects", "energy_readings_daily",
              "fleet_15min", "benchmark_runs", "schema_migrations"],
)  # fmt: skip
def test_a_variant_never_takes_the_name_of_a_project_table_or_view(table: str) -> None:
    with pytest.raises(ConfigError, match="project's own tables"):
        parse_chunk_intervals(f"energy_readings=1 day,{table}=3 hours")


def test_a_variant_with_a_new_name_is_accepted() -> None:
    variants = parse_chunk_intervals("energy_readings=1 day,energy_readings_2h=2 hours")
    assert [v.table for v in variants] == ["energy_readings", "energy_readings_2h"]


def test_a_data_dir_that_is_a_file_or_below_one_is_refused(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match=r"GRID_DATA_DIR: .* is a file"):
        load_settings({"GRID_DATA_DIR": str(a_file)})
    with pytest.raises(ConfigError, match=r"GRID_DATA_DIR: .* lies below the file"):
        load_settings({"GRID_DATA_DIR": str(a_file / "grid")})
    assert load_settings({"GRID_DATA_DIR": str(tmp_path / "new" / "grid")}).data_dir.name == "grid"


def test_an_unwritable_data_dir_is_named_in_one_line(tmp_path: Path) -> None:
    check_writable_directory(tmp_path / "new", "GRID_DATA_DIR")  # creatable: fine
    read_only = Path("/proc/sys")  # even root cannot write there
    if not read_only.is_dir() or os.access(read_only, os.W_OK):
        pytest.skip(f"{read_only} is writable here")
    with pytest.raises(ConfigError, match=r"GRID_DATA_DIR: /proc/sys/grid cannot be created"):
        check_writable_directory(read_only / "grid", "GRID_DATA_DIR")


def test_time_zones_exclude_the_names_postgres_refuses() -> None:
    zones = postgres_time_zones()
    assert {"UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"} <= zones
    assert not zones & {"localtime", "posixrules"}
    assert not any(name.startswith(("posix/", "right/")) for name in zones)


@pytest.mark.integration
def test_every_accepted_time_zone_is_one_the_engine_knows(database: Database) -> None:
    """The rule is checked against the real engine: all names at once, some by SET TIME ZONE."""
    with connect(database) as conn:
        known = {row[0] for row in conn.execute("SELECT name FROM pg_timezone_names")}
        assert postgres_time_zones() <= known
        for name in ("UTC", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns", "Etc/GMT-14"):
            assert load_settings({"GRID_TIMEZONE": name}).timezone == name
            with conn.transaction(force_rollback=True):
                conn.execute(f"SET LOCAL TIME ZONE '{name}'")
        for name in ("posixrules", "localtime"):
            with pytest.raises(ConfigError, match="GRID_TIMEZONE"):
                load_settings({"GRID_TIMEZONE": name})
            with pytest.raises(psycopg.errors.InvalidParameterValue), conn.transaction():
                conn.execute(f"SET LOCAL TIME ZONE '{name}'")


@pytest.mark.integration
def test_the_reserved_names_are_every_table_and_view_the_migrations_create(
    fresh_env: dict[str, str],
) -> None:
    """Checked against a freshly migrated engine, so the list cannot drift from sql/schema."""
    db = start_database(load_settings(fresh_env))
    with connect(db) as conn:
        created = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "UNION SELECT matviewname FROM pg_matviews WHERE schemaname = 'public'"
            )
        }
    assert created and created <= project_relations()
