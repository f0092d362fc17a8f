"""The production EMQX configuration (deploy/emqx), checked without an EMQX binary.

No EMQX runs on the build machines. The broker rules themselves are exercised on
Mosquitto with the mirrored template (test_broker_auth.py); here the EMQX files
are read as text and the entrypoint script is run for real (with the image's own
entrypoint replaced by `env`), for what issue 16 asks of the production broker:
client ids bound to identities (item 3), a 256 KiB packet limit (item 5), a TLS
listener that is off unless certificates are provided, and password hashing
stronger than PBKDF2-SHA256 with 4,096 iterations (item 15).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EMQX_CONF = (ROOT / "deploy/emqx/emqx.conf").read_text()
ACL = (ROOT / "deploy/emqx/acl.conf").read_text()
ENTRYPOINT = ROOT / "deploy/emqx/entrypoint.sh"
OWASP_2023_PBKDF2_SHA512 = 210_000


def _setting(name: str, text: str = EMQX_CONF) -> str:
    """The value of the one uncommented `name = value` line (HOCON, as written here)."""
    values = re.findall(rf"^\s*{re.escape(name)}\s*=\s*(.+?)\s*$", text, re.M)
    assert len(values) == 1, f"{name}: expected one setting, found {values}"
    return values[0]


def _block(path: str) -> str:
    """The text of the block opened by `path {` (braces balanced)."""
    start = EMQX_CONF.index(path + " {") + len(path) + 2
    depth, end = 1, start
    while depth:
        depth += {"{": 1, "}": -1}.get(EMQX_CONF[end], 0)
        end += 1
    return EMQX_CONF[start : end - 1]


def _acl_patterns() -> dict[str, str]:
    """{action: username regex} of the pattern rules of acl.conf."""
    rules = re.findall(r'\{allow, \{username, \{re, "([^"]+)"\}\}, (\w+), \[', ACL)
    return {action: pattern for pattern, action in rules}


def _service_users() -> dict[str, str]:
    """The MQTT username of every compose service that has one (replica slot 1)."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    users: dict[str, str] = {}
    for name, service in services.items():
        url = str(service.get("environment", {}).get("GRID_MQTT_URL", ""))
        if url:
            netloc = url.split("://", 1)[1].split("@")[-1]
            user = url.split("://", 1)[1].split(":", 1)[0]
            assert netloc == "emqx:1883", name
            users[name] = user.replace("{slot}", "1")
    return users


# --- item 3: client ids bound to identities ------------------------------------------------


def test_the_client_id_is_the_username() -> None:
    """A meter's credentials can never connect under the consumer's client id."""
    assert _setting("use_username_as_clientid", _block("mqtt")) == "true"


def test_service_users_are_distinct_and_no_meter_name_is_a_consumer_name() -> None:
    users = _service_users()
    assert users == {
        "ingest": "grid-ingest-replica-1",
        "code-server": "grid-dagster",
        "simulator": "grid-simulator",
    }
    # One user per service: with the username as client id, two services sharing a
    # user would take the session from each other.
    assert len(set(users.values())) == len(users)
    patterns = _acl_patterns()
    meter, consumer = patterns["publish"], patterns["subscribe"]
    for user in users.values():
        assert not re.search(meter, user), f"{user} would get a meter's rights"
    for replica in ("grid-ingest-replica-1", "grid-ingest-replica-64"):
        assert re.search(consumer, replica)
    others = ("17", "gw3", "grid-ingest", "grid-ingest-replica-", "x-grid-ingest-replica-1")
    for not_a_replica in others:
        assert not re.search(consumer, not_a_replica), not_a_replica


def test_every_replica_slot_has_a_broker_user() -> None:
    """entrypoint.sh creates grid-ingest-replica-1..N for N = replica_slot.py's maximum."""
    slots = re.search(r"^INGEST_SLOTS=(\d+)", ENTRYPOINT.read_text(), re.M)
    maximum = re.search(
        r'"--max", type=int, default=(\d+)', (ROOT / "deploy/ingest/replica_slot.py").read_text()
    )
    assert slots and maximum and slots[1] == maximum[1]


# --- item 5: payload limit ------------------------------------------------------------------


def test_packets_above_256_kib_are_refused() -> None:
    assert _setting("max_packet_size", _block("mqtt")) == "256KB"  # EMQX: KB = 1024 bytes


# --- item 15: hashing, TLS -----------------------------------------------------------------


def test_passwords_are_hashed_with_pbkdf2_sha512_at_owasp_strength() -> None:
    algorithm = _block("password_hash_algorithm")
    assert _setting("name", algorithm) == "pbkdf2"
    assert _setting("mac_fun", algorithm) == "sha512"
    assert int(_setting("iterations", algorithm)) >= OWASP_2023_PBKDF2_SHA512


def test_the_tls_listener_is_on_8883_and_off_by_default() -> None:
    ssl = _block("listeners.ssl.default")
    assert _setting("enable", ssl) == "false"
    assert _setting("bind", ssl) == '"0.0.0.0:8883"'
    assert "tlsv1.3" in _setting("versions", ssl) and "tlsv1.1" not in ssl
    for websocket in ("ws", "wss"):
        assert _setting(f"listeners.{websocket}.default.enable") == "false"


@pytest.fixture
def entrypoint(tmp_path: Path) -> Path:
    """Where the entrypoint looks for certificates (a fresh, empty directory)."""
    if not shutil.which("sh") or not shutil.which("env"):
        pytest.skip("no POSIX sh/env")
    (tmp_path / "tls").mkdir()
    return tmp_path


def _run_entrypoint(directory: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    """entrypoint.sh with the image's entrypoint replaced by `env` (prints what EMQX gets)."""
    environment = {
        "PATH": "/usr/bin:/bin",
        "GRID_MQTT_INGEST_PASSWORD": "ingest0pw",
        "GRID_MQTT_SIMULATOR_PASSWORD": "simulator0pw",
        "GRID_MQTT_DAGSTER_PASSWORD": "dagster0pw",
        "GRID_EMQX_TLS_DIR": str(directory / "tls"),
        "GRID_EMQX_BOOTSTRAP_DIR": str(directory / "bootstrap"),
        "GRID_EMQX_IMAGE_ENTRYPOINT": shutil.which("env") or "env",
    }
    environment.update(overrides)
    environment = {k: v for k, v in environment.items() if v}
    return subprocess.run(
        ["sh", str(ENTRYPOINT)], env=environment, capture_output=True, text=True, timeout=30
    )


def test_entrypoint_without_certificates_keeps_tls_off_and_writes_every_user(
    entrypoint: Path,
) -> None:
    run = _run_entrypoint(entrypoint)
    assert run.returncode == 0, run.stderr
    assert "EMQX_LISTENERS__SSL__DEFAULT__ENABLE" not in run.stdout
    assert "the TLS listener (8883) stays off" in run.stdout
    rows = (entrypoint / "bootstrap/auth-bootstrap.csv").read_text().splitlines()
    assert rows[0] == "user_id,password,is_superuser"
    users = {row.split(",")[0]: row.split(",")[1] for row in rows[1:]}
    replicas = {u for u in users if u.startswith("grid-ingest-replica-")}
    assert replicas == {f"grid-ingest-replica-{n}" for n in range(1, 65)}
    assert {users[u] for u in replicas} == {"ingest0pw"}
    assert users["grid-simulator"] == "simulator0pw"
    assert users["grid-dagster"] == "dagster0pw"
    assert len(users) == 66
    assert (entrypoint / "bootstrap/auth-bootstrap.csv").stat().st_mode & 0o077 == 0


def test_entrypoint_with_certificates_turns_tls_on(entrypoint: Path) -> None:
    tls = entrypoint / "tls"
    for name in ("server.crt", "server.key", "ca.crt"):
        (tls / name).write_text("PEM\n")
    run = _run_entrypoint(entrypoint)
    assert run.returncode == 0, run.stderr
    env = dict(line.split("=", 1) for line in run.stdout.splitlines() if "=" in line)
    assert env["EMQX_LISTENERS__SSL__DEFAULT__ENABLE"] == "true"
    assert env["EMQX_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CERTFILE"] == f'"{tls}/server.crt"'
    assert env["EMQX_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__KEYFILE"] == f'"{tls}/server.key"'
    assert env["EMQX_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CACERTFILE"] == f'"{tls}/ca.crt"'


def test_entrypoint_refuses_half_a_certificate_and_missing_passwords(entrypoint: Path) -> None:
    (entrypoint / "tls/server.crt").write_text("PEM\n")
    half = _run_entrypoint(entrypoint)
    assert half.returncode == 1
    assert len(half.stderr.strip().splitlines()) == 1
    assert "needs both server.crt and server.key" in half.stderr
    missing = _run_entrypoint(entrypoint, GRID_MQTT_DAGSTER_PASSWORD="")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "entrypoint: GRID_MQTT_DAGSTER_PASSWORD is not set"
