"""The embedded MQTT broker: start on the project port, stop.

Mosquitto (project-managed process, persistence on) when installed, else amqtt;
see `broker_main`. It listens on GRID_MQTT_PORT (default 11883), not 1883, so it
never collides with a system broker such as the Mosquitto on these machines.
With GRID_LOCAL_PASSWORD set, clients must log in as user `grid` with it: the
password reaches `broker_main` in a 0600 file of the run dir, never on its
command line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from grid_pipeline.config import Settings
from grid_pipeline.embedded.broker_main import USERS_FILE_NAME, find_mosquitto
from grid_pipeline.embedded.process import (
    ServiceError,
    ServiceSpec,
    ServiceState,
    exclusive_lock,
    port_accepts,
    read_state,
    start_service,
    stop_service,
    terminate,
)

HOST = "127.0.0.1"


def _secret_file(settings: Settings) -> Path:
    """Where the password waits for `broker_main` (which hashes it and removes the file)."""
    return settings.run_dir / "broker.secret"


def _spec(settings: Settings) -> ServiceSpec:
    state_file = settings.run_dir / "broker.json"
    secret = ["--secret-file", str(_secret_file(settings))] if settings.local_password else []
    return ServiceSpec(
        name="embedded MQTT broker",
        command=[sys.executable, "-m", "grid_pipeline.embedded.broker_main",
                 "--port", str(settings.mqtt_port), "--state-file", str(state_file),
                 "--data-dir", str(settings.data_dir / "mqtt"),
                 "--engine", settings.broker_engine, *secret],
        state_file=state_file,
        log_file=settings.log_dir / "broker.log",
        host=HOST,
        port=settings.mqtt_port,
        port_hint="set GRID_MQTT_PORT to a free port, or GRID_MQTT_URL to use the broker there",
        start_timeout_s=30.0,
    )  # fmt: skip


def embedded_engine(settings: Settings) -> str:
    """Which broker the embedded mode runs: the running one's, else what start would pick."""
    current = status(settings)
    if current is not None:
        return str(current.extra.get("engine", "amqtt"))
    if settings.broker_engine == "amqtt" or find_mosquitto() is None:
        return "amqtt"
    return "mosquitto"


def status(settings: Settings) -> ServiceState | None:
    """The running embedded broker, or None."""
    return read_state(_spec(settings).state_file)


def start(settings: Settings) -> tuple[ServiceState, bool]:
    """Start the broker unless it runs; returns (state, started_now)."""
    spec = _spec(settings)
    with exclusive_lock(spec.lock_file):
        if read_state(spec.state_file) is None:
            _stop_orphaned_mosquitto(settings)
            _hand_over_password(settings)
    state, started = start_service(spec, lambda s: port_accepts(HOST, s.port))
    if not started:
        _check_same_auth(settings, state)
    return state, started


def _check_same_auth(settings: Settings, state: ServiceState) -> None:
    """Refuse a running broker whose password rule is not the settings' one.

    It was started before GRID_LOCAL_PASSWORD was set (or unset): silently using it
    would leave the broker open although a password is required.
    """
    running = str(state.extra.get("auth", "anonymous"))
    wanted = "password" if settings.local_password else "anonymous"
    if running != wanted:
        has = "requires a password" if running == "password" else "runs without a password"
        told = "set" if settings.local_password else "unset"
        raise ServiceError(
            f"the embedded MQTT broker for {settings.data_dir} {has} but GRID_LOCAL_PASSWORD "
            f"is {told}: restart it with `grid-pipeline broker stop` (the next command starts it)"
        )


def _hand_over_password(settings: Settings) -> None:
    """Write GRID_LOCAL_PASSWORD for `broker_main` into a file only we can read (0600).

    An environment variable would not do: `start_service` runs the broker with the
    caller's environment, which need not hold the settings' password.
    """
    secret = _secret_file(settings)
    secret.unlink(missing_ok=True)
    (settings.run_dir / USERS_FILE_NAME).unlink(missing_ok=True)
    if not settings.local_password:
        return
    secret.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(settings.local_password)


def _stop_orphaned_mosquitto(settings: Settings) -> None:
    """Stop a Mosquitto left by a broker wrapper that was killed (it would hold the port)."""
    conf = str(settings.data_dir / "mqtt" / "mosquitto.conf")
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if args[1:3] == ["-c", conf] and Path(args[0]).name == "mosquitto":
            terminate(int(entry.name), timeout=10)


def stop(settings: Settings) -> bool:
    """Stop the broker; False if it was not running."""
    return stop_service(_spec(settings), timeout=10)


def ensure_running(settings: Settings) -> str:
    """The MQTT URL to use: the configured one, or the embedded broker's (started if needed)."""
    if settings.embedded_broker:
        start(settings)
    return settings.broker_url
