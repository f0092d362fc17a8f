"""Every setting of Grid Pipeline, read from the environment in one place.

Unset connection URLs mean "embedded": the project starts its own TimescaleDB
(PGlite + TimescaleDB under Node) and its own MQTT broker (amqtt). Nothing else
in the code base looks at the environment, so a reader can find every knob here.
Values are validated when loaded; a bad value raises `ConfigError` whose message
is one line naming the variable, which the CLI prints without a traceback.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_CHUNK_INTERVALS = (
    "energy_readings=1 day,energy_readings_3h=3 hours,energy_readings_week=1 week"
)

_DURATION = re.compile(
    r"^\s*(\d+)\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hour|hours|"
    r"d|day|days|w|week|weeks)\s*$"
)
_UNIT_SECONDS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}  # fmt: skip
LOCAL_BROKER_USER = "grid"  # the embedded broker's one user under GRID_LOCAL_PASSWORD
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ConfigError(ValueError):
    """A setting has a value the project cannot use; the message is one line."""


def parse_duration(text: str, what: str = "duration") -> timedelta:
    """Parse '5m', '3 hours', '1 day', '90s' into a timedelta (positive only)."""
    match = _DURATION.match(text.lower())
    if not match or int(match.group(1)) == 0:
        raise ConfigError(
            f"{what}: {text!r} is not a positive duration like '5m', '3 hours', '1 day'"
        )
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def postgres_interval(delta: timedelta) -> str:
    """Render a timedelta as a PostgreSQL interval literal ('10800 seconds')."""
    return f"{int(delta.total_seconds())} seconds"


@dataclass(frozen=True)
class ChunkVariant:
    """One hypertable variant of the readings: a table name and its chunk interval."""

    table: str
    interval: timedelta


def parse_chunk_intervals(text: str) -> tuple[ChunkVariant, ...]:
    """Parse 'table=interval,...'; the first entry is the primary readings table."""
    variants: list[ChunkVariant] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        table, sep, interval = part.partition("=")
        table = table.strip()
        if not sep or not _IDENTIFIER.match(table):
            raise ConfigError(
                f"GRID_CHUNK_INTERVALS: {part!r} must be table=interval with a lower-case "
                "table name, e.g. energy_readings_3h=3 hours"
            )
        variants.append(ChunkVariant(table, parse_duration(interval, "GRID_CHUNK_INTERVALS")))
    if not variants:
        raise ConfigError("GRID_CHUNK_INTERVALS: needs at least one table=interval entry")
    if variants[0].table != "energy_readings":
        raise ConfigError("GRID_CHUNK_INTERVALS: the first entry must be energy_readings")
    if len({v.table for v in variants}) != len(variants):
        raise ConfigError("GRID_CHUNK_INTERVALS: table names must be unique")
    return tuple(variants)


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default)).strip()
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{name}: {raw!r} is not a TCP port (1-65535)")
    return int(raw)


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default)).strip()
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}: {raw!r} is not a positive integer")
    return int(raw)


def _queue_timeout_s(env: Mapping[str, str]) -> int:
    # At most a day: Node's timers turn delays above 2^31-1 ms (~24.8 days) into 1 ms.
    raw = env.get("GRID_DB_QUEUE_TIMEOUT", "120").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 86400:
        raise ConfigError(f"GRID_DB_QUEUE_TIMEOUT: {raw!r} is not a number of seconds (1-86400)")
    return int(raw)


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(
            f"{name}: expected a URL like {schemes[0]}://user:password@host:port/..., got a value "
            f"with scheme {parts.scheme!r}"
        )
    return raw


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, choices[0]).strip().lower()
    if raw not in choices:
        raise ConfigError(f"{name}: {raw!r} is not one of {', '.join(choices)}")
    return raw


def _timezone(env: Mapping[str, str]) -> str:
    raw = env.get("GRID_TIMEZONE", "UTC").strip()
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"GRID_TIMEZONE: {raw!r} is not an IANA time zone like Europe/Berlin"
        ) from None
    return raw


def _instant(env: Mapping[str, str], name: str, interval: timedelta) -> datetime | None:
    """An ISO 8601 instant (UTC when no offset is given) on the interval grid, or None."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ConfigError(
            f"{name}: {raw!r} is not an ISO 8601 time like 2026-11-30T00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    if not epoch < moment < datetime(9000, 1, 1, tzinfo=UTC):
        raise ConfigError(f"{name}: {raw!r} is outside 1970..9000")
    if (moment - epoch) % interval:
        raise ConfigError(f"{name}: {raw!r} is not on the {interval} reading grid")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Settings:
    """Validated settings; build with `load_settings()`."""

    data_dir: Path
    database_url: str | None
    reader_database_url: str | None  # read-only role for the dashboard (production)
    mqtt_url: str | None
    db_port: int
    db_queue_timeout_s: int
    mqtt_port: int
    dagster_port: int
    dashboard_port: int
    timezone: str
    meters: int
    days: int
    interval: timedelta
    seed: int
    broker_engine: str
    compress_after: timedelta
    refresh_lookback: timedelta
    chunk_variants: tuple[ChunkVariant, ...] = field(default_factory=tuple)
    history_end: datetime | None = None  # GRID_HISTORY_END; None: fixed at the first bootstrap
    ingest_sensor: bool = True  # GRID_INGEST_SENSOR: the Dagster ingestion sensor starts on
    bench_repeat: int = 3  # GRID_BENCH_REPEAT: timed runs per benchmark query
    # GRID_LOCAL_PASSWORD: when set, the embedded engine and broker refuse clients
    # without it (engine user postgres, broker user grid); unset, they trust 127.0.0.1.
    local_password: str | None = None
    # GRID_REJECTS_RETENTION: quarantined payloads older than this are deleted.
    rejects_retention: timedelta = timedelta(days=30)

    @property
    def embedded_db(self) -> bool:
        """True when the project runs its own TimescaleDB (GRID_DATABASE_URL unset)."""
        return self.database_url is None

    @property
    def embedded_broker(self) -> bool:
        """True when the project runs its own MQTT broker (GRID_MQTT_URL unset)."""
        return self.mqtt_url is None

    @property
    def run_dir(self) -> Path:
        """Pid/state files of the processes the project starts."""
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def pgdata_dir(self) -> Path:
        """The embedded engine's cluster directory (persists across restarts)."""
        return self.data_dir / "pgdata"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"

    @property
    def broker_url(self) -> str:
        """The MQTT URL clients use: the configured one or the embedded broker's."""
        if self.mqtt_url:
            return self.mqtt_url
        if self.local_password:
            secret = urllib.parse.quote(self.local_password, safe="")
            return f"mqtt://{LOCAL_BROKER_USER}:{secret}@127.0.0.1:{self.mqtt_port}"
        return f"mqtt://127.0.0.1:{self.mqtt_port}"


def settings_with(**overrides: str | None) -> Settings:
    """The environment's settings with some GRID_* variables replaced (None/empty: kept).

    Dagster resources use it: a resource field (a data dir, a URL) overrides the
    variable of the same meaning, everything else still comes from the environment.
    """
    env = dict(os.environ)
    env.update({name: value for name, value in overrides.items() if value})
    return load_settings(env)


def _local_password(env: Mapping[str, str]) -> str | None:
    raw = env.get("GRID_LOCAL_PASSWORD", "")
    if not raw:
        return None
    if len(raw) < 8 or any(ch.isspace() or not ch.isprintable() for ch in raw):
        raise ConfigError(
            "GRID_LOCAL_PASSWORD: must be at least 8 characters, without spaces or control "
            "characters"
        )
    return raw


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every GRID_* variable; raise ConfigError on the first bad one."""
    env = os.environ if env is None else env
    interval = parse_duration(env.get("GRID_INTERVAL", "5m"), "GRID_INTERVAL")
    if timedelta(days=1) % interval:
        raise ConfigError("GRID_INTERVAL: must divide a day evenly (e.g. 1m, 5m, 15m, 1h)")
    seed_raw = env.get("GRID_SEED", "42").strip()
    if not seed_raw.isdigit():
        raise ConfigError(f"GRID_SEED: {seed_raw!r} is not a non-negative integer")
    return Settings(
        data_dir=Path(env.get("GRID_DATA_DIR", "./.grid")).expanduser().resolve(),
        database_url=_url(env, "GRID_DATABASE_URL", ("postgresql", "postgres")),
        reader_database_url=_url(env, "GRID_READER_DATABASE_URL", ("postgresql", "postgres")),
        mqtt_url=_url(env, "GRID_MQTT_URL", ("mqtt", "mqtts", "tcp")),
        db_port=_port(env, "GRID_DB_PORT", 55432),
        db_queue_timeout_s=_queue_timeout_s(env),
        mqtt_port=_port(env, "GRID_MQTT_PORT", 11883),
        dagster_port=_port(env, "GRID_DAGSTER_PORT", 3000),
        dashboard_port=_port(env, "GRID_DASHBOARD_PORT", 8501),
        timezone=_timezone(env),
        meters=_positive_int(env, "GRID_METERS", 500),
        days=_positive_int(env, "GRID_DAYS", 14),
        interval=interval,
        seed=int(seed_raw),
        broker_engine=_choice(env, "GRID_BROKER_ENGINE", ("auto", "mosquitto", "amqtt")),
        compress_after=parse_duration(
            env.get("GRID_COMPRESS_AFTER", "1 day"), "GRID_COMPRESS_AFTER"
        ),
        refresh_lookback=parse_duration(
            env.get("GRID_REFRESH_LOOKBACK", "1 day"), "GRID_REFRESH_LOOKBACK"
        ),
        chunk_variants=parse_chunk_intervals(
            env.get("GRID_CHUNK_INTERVALS", DEFAULT_CHUNK_INTERVALS)
        ),
        history_end=_instant(env, "GRID_HISTORY_END", interval),
        ingest_sensor=_choice(env, "GRID_INGEST_SENSOR", ("on", "off")) == "on",
        bench_repeat=_positive_int(env, "GRID_BENCH_REPEAT", 3),
        local_password=_local_password(env),
        rejects_retention=parse_duration(
            env.get("GRID_REJECTS_RETENTION", "30 days"), "GRID_REJECTS_RETENTION"
        ),
    )
