"""Static checks of the production stack: docker-compose.yml, Dockerfile, .env.example.

No Docker engine runs on the build machines, so the stack cannot be started
here; these tests make it correct by construction instead: pinned images,
healthchecks on stateful services, dependencies that wait for health, every
variable documented, every referenced file present, no secret in the repository.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"

# Services that keep state (their health gates everything that depends on them).
STATEFUL = {"timescaledb", "emqx"}
# Long-running services that must report health (dependents wait on it).
MUST_HAVE_HEALTHCHECK = STATEFUL | {
    "code-server",
    "dagster-webserver",
    "dagster-daemon",
    "dashboard",
}
# The service keys this stack uses, all from the Compose Specification; a typo
# (`depend_on`, `healthchek`) would be silently ignored by nothing but this test.
KNOWN_SERVICE_KEYS = {
    "image", "build", "init", "restart", "shm_size", "environment", "volumes", "ports",
    "healthcheck", "command", "entrypoint", "depends_on", "deploy", "profiles", "user",
    "read_only", "tmpfs", "hostname", "networks", "stop_grace_period", "labels", "logging",
}  # fmt: skip
_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
_BARE_VARIABLE = re.compile(r"(?<!\$)\$([A-Za-z_][A-Za-z0-9_]*)")


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _env_example() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: {line!r} is not NAME=value"
            entries[name.strip()] = value
    return entries


def test_compose_declares_the_whole_stack() -> None:
    assert set(_services()) >= {
        "timescaledb", "migrate", "emqx", "code-server", "dagster-webserver", "dagster-daemon",
        "ingest", "simulator", "dashboard",
    }  # fmt: skip


def test_service_keys_are_compose_keys() -> None:
    for name, service in _services().items():
        unknown = set(service) - KNOWN_SERVICE_KEYS
        assert not unknown, f"{name}: unknown keys {sorted(unknown)}"


@pytest.mark.parametrize("name", sorted(_services()))
def test_every_image_is_pinned(name: str) -> None:
    image = _services()[name]["image"]
    reference, _, tag = image.rpartition(":")
    assert reference and tag, f"{name}: image {image!r} has no tag"
    assert "latest" not in tag, f"{name}: image {image!r} is not pinned"
    if "build" not in _services()[name]:
        # Registry images: an exact version (digits and dots), not a moving major tag.
        assert re.match(r"^\d+\.\d+\.\d+", tag), f"{name}: {image!r} is not an exact version"


def test_timescaledb_stays_on_postgresql_17_and_timescaledb_2() -> None:
    """The data volume is a PostgreSQL 17 cluster: a newer TimescaleDB 2.x image for the
    same major only needs `ALTER EXTENSION timescaledb UPDATE`; another PostgreSQL major
    would need a dump and restore (or pg_upgrade), which docs/production.md does not cover."""
    image = _services()["timescaledb"]["image"]
    assert re.fullmatch(r"timescale/timescaledb:2\.\d+\.\d+-pg17", image), image


def test_production_doc_names_the_pinned_timescaledb_image() -> None:
    image = _services()["timescaledb"]["image"]
    doc = (ROOT / "docs" / "production.md").read_text()
    named = set(re.findall(r"timescale/timescaledb:[\w.\-]+", doc))
    assert named == {image}, f"docs/production.md names {sorted(named)}, compose pins {image}"


def test_base_image_of_the_dockerfile_is_pinned() -> None:
    text = DOCKERFILE.read_text()
    default = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert default, "Dockerfile: ARG PYTHON_IMAGE=<image> expected"
    assert re.match(r"^python:3\.11\.\d+-slim", default.group(1)), default.group(1)
    for line in re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE):
        assert line == "${PYTHON_IMAGE}", f"Dockerfile: FROM {line} bypasses the pinned base"


@pytest.mark.parametrize("name", sorted(MUST_HAVE_HEALTHCHECK))
def test_long_running_services_have_healthchecks(name: str) -> None:
    check = _services()[name].get("healthcheck")
    assert check and check.get("test"), f"{name}: no healthcheck"
    assert check["test"][0] in ("CMD", "CMD-SHELL"), check["test"]


def test_database_healthcheck_uses_pg_isready_over_tcp() -> None:
    test = " ".join(_services()["timescaledb"]["healthcheck"]["test"])
    assert "pg_isready" in test and "-h 127.0.0.1" in test


def test_dependencies_wait_for_health_or_completion() -> None:
    services = _services()
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must name conditions"
        for dependency, rule in depends.items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            condition = rule.get("condition")
            expected = (
                "service_completed_successfully" if dependency == "migrate" else "service_healthy"
            )
            assert condition == expected, f"{name} -> {dependency}: {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency}: no healthcheck"
    for name in ("code-server", "ingest", "simulator", "dashboard"):
        assert "migrate" in services[name]["depends_on"], f"{name} must wait for migrations"


def test_stateful_services_keep_data_in_named_volumes() -> None:
    volumes = _compose()["volumes"]
    mounts = _services()["timescaledb"]["volumes"]
    assert "timescaledb-data:/var/lib/postgresql/data" in mounts
    assert "timescaledb-data" in volumes


def test_published_ports_of_uis_and_database_bind_to_localhost() -> None:
    for name in ("timescaledb", "dagster-webserver", "dashboard"):
        for port in _services()[name].get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: {port} is published publicly"
    emqx_ports = _services()["emqx"]["ports"]
    dashboard = [p for p in emqx_ports if p.endswith(":18083")]
    assert dashboard and all(p.startswith("127.0.0.1:") for p in dashboard)
    for name in ("migrate", "code-server", "dagster-daemon", "ingest", "simulator"):
        assert "ports" not in _services()[name], f"{name} must not publish ports"


def test_every_variable_is_documented_in_env_example() -> None:
    text = COMPOSE.read_text()
    used = set(_VARIABLE.findall(text))
    assert not _BARE_VARIABLE.findall(text), "use ${VAR}, or $$ for a literal dollar"
    documented = _env_example()
    missing = sorted(used - set(documented))
    assert not missing, f"variables without an entry in .env.example: {missing}"


def test_secrets_are_required_and_empty_in_env_example() -> None:
    text = COMPOSE.read_text()
    documented = _env_example()
    secrets = [n for n in documented if re.search(r"PASSWORD|COOKIE|SECRET|TOKEN", n)]
    assert len(secrets) >= 8
    for name in secrets:
        assert documented[name] == "", f".env.example: {name} must be empty"
        for use in re.findall(r"\$\{" + name + r"([^}]*)\}", text):
            assert use.startswith(":?"), f"{name} must be required (${{{name}:?...}})"


def test_service_urls_use_the_least_privileged_roles() -> None:
    services = _services()

    def env(name: str) -> dict[str, str]:
        return {k: str(v) for k, v in services[name]["environment"].items()}

    assert env("migrate")["GRID_DATABASE_URL"].startswith("postgresql://grid_owner:")
    assert env("code-server")["GRID_DATABASE_URL"].startswith("postgresql://grid_owner:")
    assert env("ingest")["GRID_DATABASE_URL"].startswith("postgresql://grid_ingest:")
    assert env("simulator")["GRID_DATABASE_URL"].startswith("postgresql://grid_reader:")
    assert env("dashboard")["GRID_READER_DATABASE_URL"].startswith("postgresql://grid_reader:")
    assert "GRID_DATABASE_URL" not in env("dashboard")
    assert env("ingest")["GRID_MQTT_URL"].startswith("mqtt://grid-ingest-replica-{slot}:")
    assert env("simulator")["GRID_MQTT_URL"].startswith("mqtt://grid-simulator:")
    assert env("code-server")["GRID_MQTT_URL"].startswith("mqtt://grid-dagster:")


# --- one ingestion path: one consumer group, distinct and stable replica client ids ---------

ACL = ROOT / "deploy/emqx/acl.conf"
SLOT_SCRIPT = ROOT / "deploy/ingest/replica_slot.py"
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
_ACL_RULE = re.compile(r"^\{allow,\s*(?P<who>.+?),\s*(?P<action>publish|subscribe|all),\s*\[")


def _resolved_environment(name: str) -> dict[str, str]:
    """A service's environment as compose would resolve it from the .env.example values.

    Required secrets (``${VAR:?...}``), empty in .env.example, become a placeholder.
    """
    documented = _env_example()

    def value(match: re.Match[str]) -> str:
        variable, operator, default = match.groups()
        if documented.get(variable):
            return documented[variable]
        return "placeholder" if operator and operator.endswith("?") else (default or "")

    environment = _services()[name].get("environment", {})
    return {key: _INTERPOLATION.sub(value, str(raw)) for key, raw in environment.items()}


def _mqtt_user(environment: dict[str, str]) -> str | None:
    """The MQTT username a service connects with (a replica's slot taken as 1)."""
    url = environment.get("GRID_MQTT_URL")
    return urlsplit(url.replace("{slot}", "1")).username if url else None


def _acl_allows(who: str, user: str) -> bool:
    """Whether an ACL subject (`{username, "x"}` or `{username, {re, "..."}}`) matches user."""
    exact = re.fullmatch(r'\{username, "([^"]+)"\}', who)
    pattern = re.fullmatch(r'\{username, \{re, "([^"]+)"\}\}', who)
    assert exact or pattern, f"unexpected ACL subject {who}"
    return user == exact[1] if exact else re.search(pattern[1], user) is not None  # type: ignore[index]


def _acl_subscribers() -> list[str]:
    """Who the broker lets subscribe: the subject of every allow rule for subscribe or all."""
    rules = [_ACL_RULE.match(line.strip()) for line in ACL.read_text().splitlines()]
    return [r["who"] for r in rules if r and r["action"] in ("subscribe", "all")]


def _consumer_services() -> list[str]:
    """Services that hold credentials of an MQTT user the broker lets subscribe."""
    subscribers = _acl_subscribers()
    users = {name: _mqtt_user(_resolved_environment(name)) for name in _services()}
    return sorted(
        name
        for name, user in users.items()
        if user and any(_acl_allows(who, user) for who in subscribers)
    )


def _share_group(name: str) -> str:
    """The share group a consumer service subscribes with, variables resolved."""
    command = " ".join(_services()[name]["command"])
    assert "grid-pipeline ingest" in command, f"{name}: holds consumer credentials, not a consumer"
    assert "--mqtt-version 5" in command, f"{name}: shared subscriptions need MQTT 5"
    group = re.search(r'--share-group\s+"?([^"\s]+)"?', command)
    assert group, f"{name}: plain subscription: every reading would reach it besides the group"
    environment = _resolved_environment(name)
    return re.sub(r"\$\$\{(\w+)\}", lambda m: environment.get(m[1], ""), group[1])


def test_only_the_ingest_service_may_subscribe_to_readings() -> None:
    """The broker enforces the single ingestion path: one MQTT user may subscribe."""
    assert _acl_subscribers() == ['{username, {re, "^grid-ingest-replica-[0-9]+$"}}']
    assert _consumer_services() == ["ingest"]
    # Dagster (runs are subprocesses of the code server) publishes only: its simulator job.
    assert _mqtt_user(_resolved_environment("code-server")) == "grid-dagster"


def test_exactly_one_consumer_group_reads_the_readings() -> None:
    groups = {name: _share_group(name) for name in _consumer_services()}
    assert len(set(groups.values())) == 1, f"more than one consumer group: {groups}"
    (group,) = set(groups.values())
    assert group and "/" not in group and "+" not in group and "#" not in group, group


def test_the_dagster_ingestion_sensor_is_off_in_production() -> None:
    """The code server's settings turn the sensor off, and the definitions honour it."""
    from grid_pipeline.config import load_settings
    from grid_pipeline.defs.ingestion import INGESTION_JOB, ingestion_defs

    environment = _resolved_environment("code-server")
    assert environment.get("GRID_INGEST_SENSOR") == "off"
    settings = load_settings(environment)
    sensors = [s for s in ingestion_defs(settings).sensors if s.job_name == INGESTION_JOB]
    assert sensors, "expected the ingestion sensor in the code location"
    for sensor in sensors:
        assert sensor.default_status == dg.DefaultSensorStatus.STOPPED, sensor.name


def test_ingest_replicas_get_distinct_client_ids_that_survive_recreation() -> None:
    ingest = _services()["ingest"]
    assert "replicas" in ingest["deploy"]
    command = " ".join(ingest["command"])
    slot_dir = re.search(
        r"python /opt/grid/replica_slot\.py (\S+) --env GRID_MQTT_URL -- grid-pipeline ingest",
        command,
    )
    assert slot_dir, "each replica must claim its slot (its client id) through replica_slot.py"
    client_id = re.search(r'--client-id\s+"?([^"\s]+)"?', command)
    assert client_id and client_id[1].endswith("{slot}"), "client id must be per slot"
    # The broker uses the username as the client id: the replica's user is its client id.
    user = _mqtt_user(_resolved_environment("ingest"))
    assert user == client_id[1].replace("{slot}", "1")
    mounts = {m.split(":")[1]: m.split(":")[0] for m in ingest["volumes"]}
    assert mounts["/opt/grid/replica_slot.py"] == "./deploy/ingest/replica_slot.py"
    # One directory shared by every replica: a named volume (a path of the container or
    # a service-level tmpfs is per replica, and every replica would claim slot 1),
    # writable by the image's non-root user.
    volume = mounts[slot_dir[1]]
    assert volume in _compose()["volumes"], "slot locks need a shared named volume"
    options = _compose()["volumes"][volume]["driver_opts"]
    assert options["type"] == "tmpfs" and "mode=1777" in options["o"].split(","), options
    assert re.search(r"^USER (?!root)", DOCKERFILE.read_text(), re.M), "non-root image user"
    # Other consumers' default ids never take a replica's session over.
    from grid_pipeline.defs.ingestion import IngestionConfig
    from grid_pipeline.mqtt.consumer import ConsumerConfig

    prefix = client_id[1].removesuffix("{slot}")
    others = [ConsumerConfig(broker_url="mqtt://x").client_id,
              IngestionConfig.model_fields["client_id"].default]  # fmt: skip
    assert not any(other.startswith(prefix) for other in others), (prefix, others)


def test_replica_slots_are_distinct_while_held_and_reused_once_free(tmp_path: Path) -> None:
    """deploy/ingest/replica_slot.py: concurrent replicas, then a re-created one."""
    probe = "import sys, time; print(sys.argv[1], flush=True); time.sleep(float(sys.argv[2]))"

    def replica(hold_s: float) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(SLOT_SCRIPT), str(tmp_path), "--",
             sys.executable, "-c", probe, "grid-ingest-replica-{slot}", str(hold_s)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip

    with_env = subprocess.run(
        [sys.executable, str(SLOT_SCRIPT), str(tmp_path), "--env", "GRID_MQTT_URL", "--",
         sys.executable, "-c", "import os; print(os.environ['GRID_MQTT_URL'])", "{slot}"],
        env={"GRID_MQTT_URL": "mqtt://grid-ingest-replica-{slot}:pw@emqx:1883"},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert with_env.stdout.strip() == "mqtt://grid-ingest-replica-1:pw@emqx:1883"
    unset = subprocess.run(
        [sys.executable, str(SLOT_SCRIPT), str(tmp_path), "--env", "NOPE", "--", "echo", "{slot}"],
        env={}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert unset.returncode == 2 and "--env NOPE" in unset.stderr.splitlines()[-1]
    running = [replica(30) for _ in range(4)]
    try:
        ids = [proc.stdout.readline().strip() for proc in running if proc.stdout]
        assert sorted(ids) == [f"grid-ingest-replica-{n}" for n in (1, 2, 3, 4)]
        # Replica 2 dies (container re-created): its successor gets slot 2 back, not 5.
        second = running[ids.index("grid-ingest-replica-2")]
        second.kill()
        second.wait(10)
        successor = replica(0)
        out, _ = successor.communicate(timeout=30)
        assert out.strip() == "grid-ingest-replica-2"
    finally:
        for proc in running:
            proc.kill()
            proc.wait(10)


def test_code_server_command_matches_the_workspace() -> None:
    command = _services()["code-server"]["command"]
    assert command[:3] == ["dagster", "api", "grpc"]
    assert command[command.index("-m") + 1] == "grid_pipeline.definitions"
    port = int(command[command.index("-p") + 1])
    host = command[command.index("-h") + 1]
    workspace = yaml.safe_load((ROOT / "deploy/dagster/workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    assert server == {"host": host, "port": port, "location_name": "grid_pipeline"}


DAGSTER_SERVICES = {"code-server", "dagster-webserver", "dagster-daemon"}


def _networks(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A service's networks as {name: options}; none listed means `default`."""
    listed = service.get("networks", ["default"])
    if isinstance(listed, list):
        return {name: {} for name in listed}
    return {name: options or {} for name, options in listed.items()}


def test_the_code_servers_grpc_port_is_reachable_by_the_dagster_services_only() -> None:
    """Issue 16, item 15: gRPC (code loading, run launch; no authentication) is served on
    an internal network whose only members are the three Dagster services, bound to the
    code server's name on that network alone, and published nowhere."""
    services = _services()
    code_server = services["code-server"]
    assert "ports" not in code_server and "expose" not in code_server
    dagster_network = _compose()["networks"]["dagster"]
    assert dagster_network.get("internal") is True
    members = {name for name, s in services.items() if "dagster" in _networks(s)}
    assert members == DAGSTER_SERVICES
    aliases = _networks(code_server)["dagster"].get("aliases", [])
    command = code_server["command"]
    host = command[command.index("-h") + 1]
    assert host in aliases and host != "0.0.0.0", "gRPC must bind to the internal name only"
    for name, options in _networks(code_server).items():
        if name != "dagster":
            assert host not in options.get("aliases", []), name
    health = code_server["healthcheck"]["test"]
    assert health[health.index("-h") + 1] == host, "the healthcheck must ask that address"
    # Everything else the Dagster services need (database, broker) is on `default`.
    for name in DAGSTER_SERVICES:
        assert "default" in _networks(services[name]), name


def test_the_broker_publishes_a_tls_port_and_mounts_the_certificate_directory() -> None:
    """Issue 16, item 15: 8883 published next to 1883; certificates come from a directory
    (GRID_MQTT_TLS_DIR, default an empty one in the repository: TLS off)."""
    emqx = _services()["emqx"]
    assert any(str(port).endswith(":8883") for port in emqx["ports"])
    mounts = [m for m in emqx["volumes"] if m.endswith(":/opt/grid/tls:ro")]
    assert mounts == ["${GRID_MQTT_TLS_DIR:-./deploy/emqx/tls}:/opt/grid/tls:ro"]
    default = ROOT / _env_example()["GRID_MQTT_TLS_DIR"]
    assert default == ROOT / "deploy/emqx/tls" and default.is_dir()
    assert not list(default.glob("*.crt")) and not list(default.glob("*.key"))
    assert "GRID_MQTT_DAGSTER_PASSWORD" in emqx["environment"]


def _bind_sources() -> list[str]:
    sources: list[str] = []
    for service in _services().values():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith((".", "/")):
                sources.append(source)
    return sources


def test_every_referenced_file_exists() -> None:
    sources = _bind_sources()
    assert sources, "expected bind-mounted configuration files"
    for source in sources:
        assert (ROOT / source).is_file(), f"missing {source}"
    for service in _services().values():
        build = service.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file()
    for src in re.findall(r"^COPY\s+(?!--from)(.+)\s+\S+$", DOCKERFILE.read_text(), re.M):
        for path in src.split():
            assert (ROOT / path).exists(), f"Dockerfile copies missing {path}"
    migrate = " ".join(_services()["migrate"]["command"])
    for script in re.findall(r"python (\S+\.py)", migrate):
        assert (ROOT / script).is_file(), script


def test_timescaledb_init_script_is_one_file_next_to_the_images_own() -> None:
    mounts = _services()["timescaledb"]["volumes"]
    init = [m for m in mounts if "/docker-entrypoint-initdb.d" in m]
    assert init and all(m.split(":")[1].startswith("/docker-entrypoint-initdb.d/") for m in init)
    # Sorted after the image's 000_install_timescaledb.sh / 001_timescaledb_tune.sh.
    assert all(Path(m.split(":")[1]).name > "001_timescaledb_tune.sh" for m in init)


def test_dockerignore_keeps_node_modules_and_secrets_out_of_the_image() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for pattern in ("**/node_modules", ".env", ".venv", ".grid", ".git"):
        assert pattern in ignored, pattern


# --- no secret literals ------------------------------------------------------------------

_SKIP_DIRS = {
    ".git", ".venv", "node_modules", ".grid", "__pycache__", ".mypy_cache", ".ruff_cache",
    ".pytest_cache", ".hypothesis", "build", "bench-out", "test-artifacts", "grid_pipeline_tests",
}  # fmt: skip
_TEXT_SUFFIXES = {".py", ".yml", ".yaml", ".toml", ".sql", ".sh", ".conf", ".md", ".cfg", ".ini",
                  ".json", ".mjs", ".txt", ".template", ""}  # fmt: skip
# name = value where the name says secret and the value is a literal (not ${VAR},
# not an env lookup, not empty, not a placeholder like <password>).
_ASSIGNMENT = re.compile(
    r"""(?ix)\b(?!password_encryption\b)[\w.]*(password|passwd|secret|token|cookie)[\w.]*\s*[:=]\s*
        (?!\s*(\$\{|\$\$|env\b|os\.|None|null|""|''|<|\{|\[|\(|[A-Za-z_][\w.]*\(|$))
        ['"]?([^\s'"#,;)]{6,})"""
)
# Credentials inside connection URLs: scheme://user:secret@host. Loopback hosts are
# exempt: the embedded engine accepts any password and listens on 127.0.0.1 only.
_URL_SECRET = re.compile(
    r"\b(postgres(?:ql)?|mqtts?|tcp)://[^:/\s@]+:([^@\s/]+)@(?!127\.0\.0\.1|localhost)"
)
# References, not values: ${VAR}, $VAR, <placeholder>, {template}, psql :'variable'.
_PLACEHOLDERS = re.compile(r"^(\$\{|\$|<|\{|:|x+$|password$|secret$|pass$|changeme$|\.\.\.)", re.I)


def _repository_text_files() -> list[Path]:
    files: list[Path] = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if any(part in _SKIP_DIRS or part.endswith(".egg-info") for part in relative.parts):
            continue
        if path.is_file() and path.suffix in _TEXT_SUFFIXES and path.name != ".env":
            files.append(path)
    return files


def test_no_secret_literal_in_the_repository() -> None:
    offenders: list[str] = []
    for path in _repository_text_files():
        if path.name in (".env.example",):
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for match in _URL_SECRET.finditer(line):
                if not _PLACEHOLDERS.match(match.group(2)):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
            if path.suffix in (".py", ".md") and not path.name.endswith((".yml", ".yaml")):
                continue  # code and prose: URLs only (names like `password` are everywhere)
            for match in _ASSIGNMENT.finditer(line):
                if not _PLACEHOLDERS.match(match.group(3)) and ":'" not in match.group(0):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "secret-looking literals:\n" + "\n".join(offenders)


def test_the_secret_scan_catches_what_it_is_for() -> None:
    """The scanner itself: literal secrets match, references to the environment do not."""
    assert _ASSIGNMENT.search("POSTGRES_PASSWORD: hunter2hunter2")
    assert _ASSIGNMENT.search('password = "s3cr3t-value"')
    assert not _ASSIGNMENT.search("POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it}")
    assert not _ASSIGNMENT.search("password:\n")
    assert not _ASSIGNMENT.search("SET password_encryption = 'scram-sha-256';")
    psql = _ASSIGNMENT.search("ALTER ROLE r PASSWORD :'owner_password';")
    assert psql is None or ":'" in psql.group(0)  # a psql variable, skipped by the scan
    assert not _URL_SECRET.search("postgresql://postgres:postgres@127.0.0.1:55432/postgres")
    url = _URL_SECRET.search("postgresql://grid_owner:abc123def@db:5432/grid")
    assert url and url.group(2) == "abc123def"
    ref = _URL_SECRET.search("postgresql://grid_owner:${GRID_OWNER_PASSWORD:?x}@db/grid")
    assert ref and _PLACEHOLDERS.match(ref.group(2))
