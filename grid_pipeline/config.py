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
import unicodedata
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from grid_pipeline.db.sqlfiles import sql_dir

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
# The longest duration any setting or flag takes. Every duration is added to or
# subtracted from "now" or a data set instant somewhere; a century keeps all of
# that far inside datetime's years 1..9999 (and timedelta's own limit).
MAX_DURATION = timedelta(days=36500)
# The data set's instants (GRID_HISTORY_END, `--start`) and windows lie in
# [DATASET_EARLIEST, DATASET_LATEST]: before the epoch the reading grid (counted
# from 1970) makes little sense, after 2200 nothing is plausible and arithmetic
# on a window gets near datetime's year 9999.
DATASET_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
DATASET_LATEST = datetime(2200, 1, 1, tzinfo=UTC)
DATASET_RANGE = "1970-01-01 .. 2200-01-01"
# GRID_DAYS / `--days`: about 27 years, so a window ending now never reaches before 1970.
MAX_DAYS = 10_000
# Names Python's zoneinfo offers but PostgreSQL refuses in SET TIME ZONE: the
# system's own zone link and the template for POSIX-style zone strings.
_NON_POSTGRES_ZONES = frozenset({"localtime", "posixrules"})
# Tables the migrations create from Python rather than sql/schema.
_LEDGER_TABLES = ("schema_migrations",)
_CREATED_RELATION = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|(?:MATERIALIZED\s+)?VIEW)\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?(?:\w+\.)?(\w+)",
    re.IGNORECASE,
)


class ConfigError(ValueError):
    """A setting has a value the project cannot use; the message is one line."""


def parse_duration(text: str, what: str = "duration") -> timedelta:
    """Parse '5m', '3 hours', '1 day', '90s' into a timedelta (positive, at most MAX_DURATION).

    The upper bound turns '99999999999 weeks' into a one-line error instead of an
    OverflowError here or wherever the duration meets a date later on.
    """
    match = _DURATION.match(text.lower())
    count = match.group(1).lstrip("0") if match else ""
    if not match or not count:
        raise ConfigError(
            f"{what}: {text!r} is not a positive duration like '5m', '3 hours', '1 day'"
        )
    # Digits counted first: int() of thousands of digits is itself an error.
    if len(count) > 15 or int(count) * _UNIT_SECONDS[match.group(2)] > MAX_DURATION.days * 86400:
        raise ConfigError(f"{what}: {text!r} is longer than {MAX_DURATION.days} days")
    return timedelta(seconds=int(count) * _UNIT_SECONDS[match.group(2)])


def postgres_interval(delta: timedelta) -> str:
    """Render a timedelta as a PostgreSQL interval literal ('10800 seconds')."""
    return f"{int(delta.total_seconds())} seconds"


@dataclass(frozen=True)
class ChunkVariant:
    """One hypertable variant of the readings: a table name and its chunk interval."""

    table: str
    interval: timedelta


@cache
def _relations_created_in(schema_dir: Path) -> frozenset[str]:
    names = (
        match.group(1).lower()
        for path in sorted(schema_dir.glob("[0-9][0-9][0-9]_*.sql"))
        for match in _CREATED_RELATION.finditer(path.read_text())
    )
    return frozenset(names)


def project_relations() -> frozenset[str]:
    """Every table and view of the project's own schema (sql/schema plus the ledger).

    Read from the migrations themselves, so a new table is protected the moment
    it is added: a readings variant must never be one of them, or filling the
    variant would empty and overwrite that table.
    """
    return _relations_created_in(sql_dir() / "schema") | frozenset(_LEDGER_TABLES)


def _variant_table(part: str, table: str, first: bool) -> str:
    if not _IDENTIFIER.match(table):
        raise ConfigError(
            f"GRID_CHUNK_INTERVALS: {part!r} must be table=interval with a lower-case "
            "table name, e.g. energy_readings_3h=3 hours"
        )
    if not first and table in project_relations() - {"energy_readings"}:
        raise ConfigError(
            f"GRID_CHUNK_INTERVALS: {table!r} is one of the project's own tables or views; "
            "name variants like energy_readings_3h"
        )
    return table


def parse_chunk_intervals(text: str) -> tuple[ChunkVariant, ...]:
    """Parse 'table=interval,...'; the first entry is the primary readings table."""
    variants: list[ChunkVariant] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        table, sep, interval = part.partition("=")
        if not sep:
            table = ""  # reported as not table=interval
        table = _variant_table(part, table.strip(), first=not variants)
        variants.append(ChunkVariant(table, parse_duration(interval, "GRID_CHUNK_INTERVALS")))
    if not variants:
        raise ConfigError("GRID_CHUNK_INTERVALS: needs at least one table=interval entry")
    if variants[0].table != "energy_readings":
        raise ConfigError("GRID_CHUNK_INTERVALS: the first entry must be energy_readings")
    if len({v.table for v in variants}) != len(variants):
        raise ConfigError("GRID_CHUNK_INTERVALS: table names must be unique")
    return tuple(variants)


def _is_number(raw: str) -> bool:
    """ASCII digits, at most 18 of them (a superscript digit or a 5,000-digit
    string passes str.isdigit but makes int() raise)."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 18


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default)).strip()
    if not _is_number(raw) or not 0 < int(raw) < 65536:
        raise ConfigError(f"{name}: {raw!r} is not a TCP port (1-65535)")
    return int(raw)


def _positive_int(env: Mapping[str, str], name: str, default: int, most: int | None = None) -> int:
    raw = env.get(name, str(default)).strip()
    if not _is_number(raw) or int(raw) < 1:
        raise ConfigError(f"{name}: {raw!r} is not a positive integer")
    if most is not None and int(raw) > most:
        raise ConfigError(f"{name}: {raw!r} is more than {most}")
    return int(raw)


def _queue_timeout_s(env: Mapping[str, str]) -> int:
    # At most a day: Node's timers turn delays above 2^31-1 ms (~24.8 days) into 1 ms.
    raw = env.get("GRID_DB_QUEUE_TIMEOUT", "120").strip()
    if not _is_number(raw) or not 1 <= int(raw) <= 86400:
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


@cache
def postgres_time_zones() -> frozenset[str]:
    """Zone names both Python's zoneinfo and PostgreSQL's SET TIME ZONE accept.

    zoneinfo also opens files PostgreSQL does not know as zones (`localtime`,
    `posixrules`, `posix/...`, `right/...`); the readings are generated in Python
    and aggregated per local day in SQL, so the zone must mean the same to both.
    `available_timezones()` already leaves out the `posix/` and `right/` copies
    and `posixrules`.
    """
    return frozenset(available_timezones() - _NON_POSTGRES_ZONES)


def check_time_zone(name: str, what: str) -> str:
    """`name` when Python and PostgreSQL both know it, else ConfigError naming `what`."""
    if name not in postgres_time_zones():
        raise ConfigError(
            f"{what}: {name!r} is not a time zone both Python and PostgreSQL know; "
            "use an IANA name like Europe/Berlin or UTC"
        )
    return name


def _timezone(env: Mapping[str, str]) -> str:
    return check_time_zone(env.get("GRID_TIMEZONE", "UTC").strip(), "GRID_TIMEZONE")


def parse_instant(text: str, what: str) -> datetime:
    """An ISO 8601 date or time (UTC when no offset is given) in the data set's range, in UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{what}: {text!r} is not an ISO 8601 date or time like 2026-11-30 or 2026-11-30T00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not DATASET_EARLIEST.year <= moment.year < DATASET_LATEST.year + 1:
        # Also keeps astimezone away from year 1 and 9999, which offsets push off the calendar.
        raise ConfigError(f"{what}: {text!r} is outside {DATASET_RANGE}")
    moment = moment.astimezone(UTC)
    if not DATASET_EARLIEST <= moment <= DATASET_LATEST:
        raise ConfigError(f"{what}: {text!r} is outside {DATASET_RANGE}")
    return moment


def check_dataset_window(start: datetime, end: datetime, what: str) -> None:
    """ConfigError unless [start, end) lies inside the data set's range."""
    if start < DATASET_EARLIEST or end > DATASET_LATEST:
        raise ConfigError(
            f"{what}: the data set window {start:%Y-%m-%d} .. {end:%Y-%m-%d} is not inside "
            f"{DATASET_RANGE}"
        )


def _instant(env: Mapping[str, str], name: str, interval: timedelta) -> datetime | None:
    """An ISO 8601 instant (UTC when no offset is given) on the interval grid, or None."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    moment = parse_instant(raw, name)
    if (moment - DATASET_EARLIEST) % interval:
        raise ConfigError(f"{name}: {raw!r} is not on the {interval} reading grid")
    return moment


def _history_end(env: Mapping[str, str], interval: timedelta, days: int) -> datetime | None:
    end = _instant(env, "GRID_HISTORY_END", interval)
    if end is not None:
        check_dataset_window(end - timedelta(days=days), end, "GRID_HISTORY_END and GRID_DAYS")
    return end


def _control_character(text: str) -> str | None:
    """The first control character (Unicode category Cc) in `text`, or None."""
    return next((ch for ch in text if unicodedata.category(ch) == "Cc"), None)


def _refuse_control_characters(env: Mapping[str, str]) -> None:
    """No GRID_* value may hold a control character (a path or name is one line).

    Values are written into files other programs parse line by line: a newline
    in GRID_DATA_DIR once became a second line of mosquitto.conf and opened a
    listener on 0.0.0.0. Surrounding whitespace is still tolerated where the
    value is stripped anyway (a CRLF .env file), never in a path.
    """
    for name in sorted(env):
        if not name.startswith("GRID_"):
            continue
        value = env[name] if name.endswith("_DIR") else env[name].strip()
        found = _control_character(value)
        if found is not None:
            raise ConfigError(
                f"{name}: contains the control character {found!r}; settings are one line "
                "of printable text"
            )


def _existing_ancestor(path: Path) -> Path:
    """`path` or its nearest ancestor that exists (os.path: a forbidden stat is "absent")."""
    return next(p for p in (path, *path.parents) if os.path.exists(p))


def check_directory(raw: str, what: str) -> Path:
    """A directory path from the user: absolute, one line, creatable (not below a file)."""
    found = _control_character(raw)
    if found is not None:
        raise ConfigError(f"{what}: contains the control character {found!r}")
    try:
        path = Path(raw).expanduser().resolve()
    except (RuntimeError, OSError) as exc:  # unknown ~user, a symlink loop
        raise ConfigError(f"{what}: {raw!r} is not a usable path ({exc})") from None
    existing = _existing_ancestor(path)
    if not existing.is_dir():
        which = "is a file" if existing == path else f"lies below the file {existing}"
        raise ConfigError(f"{what}: {path} {which}, not a directory")
    return path


def check_writable_directory(path: Path, what: str) -> None:
    """ConfigError unless `path` is, or can be created as, a directory this user writes.

    Kept out of `load_settings`: processes that only read (a dashboard with an
    external database) may run where the data dir is read-only; commands that
    start services or record state call this first.
    """
    existing = _existing_ancestor(path)
    if not existing.is_dir():
        raise ConfigError(f"{what}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        verb = (
            "is not writable"
            if existing == path
            else f"cannot be created ({existing} is not writable)"
        )
        raise ConfigError(f"{what}: {path} {verb}")


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
    # GRID_PHYSICAL_FAULTS: the historic generator injects grid faults (outages, voltage
    # events, overloads, theft, metering faults) and records their ground truth.
    physical_faults: bool = False
    # GRID_ALERT_WEBHOOK: grid events are POSTed here (http/https); None: alerts are off.
    alert_webhook: str | None = None
    # GRID_ALERT_MIN_SEVERITY: the least severity that alerts (info, warning, critical).
    alert_min_severity: str = "warning"
    # GRID_OPERATOR_DATABASE_URL: the grid_operator role, which may only acknowledge
    # grid events; None: acknowledgements use the project's database (embedded: its engine).
    operator_database_url: str | None = None

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


def _alert_webhook(env: Mapping[str, str]) -> str | None:
    raw = env.get("GRID_ALERT_WEBHOOK", "").strip()
    if not raw:
        return None
    try:  # the value is not echoed: a webhook URL often carries its secret token
        parts = urlsplit(raw)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        usable = usable and (parts.port is None or parts.port > 0)
    except ValueError:  # a malformed [IPv6] host or a port that is not a number
        usable = False
    if not usable:
        raise ConfigError(
            "GRID_ALERT_WEBHOOK: expected an http:// or https:// URL like "
            "https://alerts.example.org/hook"
        )
    return raw


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every GRID_* variable; raise ConfigError on the first bad one."""
    env = os.environ if env is None else env
    _refuse_control_characters(env)
    interval = parse_duration(env.get("GRID_INTERVAL", "5m"), "GRID_INTERVAL")
    if timedelta(days=1) % interval:
        raise ConfigError("GRID_INTERVAL: must divide a day evenly (e.g. 1m, 5m, 15m, 1h)")
    seed_raw = env.get("GRID_SEED", "42").strip()
    if not _is_number(seed_raw):
        raise ConfigError(f"GRID_SEED: {seed_raw!r} is not a non-negative integer")
    days = _positive_int(env, "GRID_DAYS", 14, most=MAX_DAYS)
    return Settings(
        data_dir=check_directory(env.get("GRID_DATA_DIR", "./.grid"), "GRID_DATA_DIR"),
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
        days=days,
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
        history_end=_history_end(env, interval, days),
        ingest_sensor=_choice(env, "GRID_INGEST_SENSOR", ("on", "off")) == "on",
        bench_repeat=_positive_int(env, "GRID_BENCH_REPEAT", 3),
        local_password=_local_password(env),
        rejects_retention=parse_duration(
            env.get("GRID_REJECTS_RETENTION", "30 days"), "GRID_REJECTS_RETENTION"
        ),
        physical_faults=_choice(env, "GRID_PHYSICAL_FAULTS", ("off", "on")) == "on",
        alert_webhook=_alert_webhook(env),
        alert_min_severity=_choice(env, "GRID_ALERT_MIN_SEVERITY", ("warning", "info", "critical")),
        operator_database_url=_url(env, "GRID_OPERATOR_DATABASE_URL", ("postgresql", "postgres")),
    )
