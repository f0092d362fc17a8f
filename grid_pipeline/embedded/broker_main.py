"""Process entry point of the embedded MQTT broker.

Run by `grid_pipeline.embedded.broker.start` as
`python -m grid_pipeline.embedded.broker_main --port N --state-file F --data-dir D
[--secret-file S]`. Binds to 127.0.0.1 only. Without `--secret-file` it allows
anonymous clients (a local broker); with it (GRID_LOCAL_PASSWORD set) Mosquitto
requires user `grid` and that password. The password travels in a 0600 file,
never on a command line (`ps` shows every argument to every user). Production
uses EMQX with authentication (see docker-compose.yml).

Mosquitto is preferred when its binary is installed (the development and CI
machines have it): it keeps QoS 1 messages for an offline persistent session
across restarts (persistence on, queue unlimited), saves them after every change
(so a crash loses no acknowledged reading but those of its last event-loop
pass, see docs/mqtt.md "Delivery guarantees"), and drops payloads over the
documented 256 KiB. amqtt (pure Python, MQTT 3.1.1) is the fallback; it does not
deliver messages queued while a persistent session was offline, has no payload
limit and is refused when a password is required.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import getpass
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

from grid_pipeline.config import LOCAL_BROKER_USER
from grid_pipeline.embedded.process import write_state

MOSQUITTO_CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def find_mosquitto() -> str | None:
    for candidate in MOSQUITTO_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


PAYLOAD_LIMIT_BYTES = 256 * 1024  # the documented payload limit (docs/mqtt.md)
PACKET_LIMIT_BYTES = 16 * 1024 * 1024  # anything larger is not even read
# Save the persistence file after every change (a queued message, a subscription) instead
# of every 10 s: with `autosave_interval 10`, 262 readings acknowledged in the 2.7 s before
# a SIGKILL were lost. Mosquitto saves once per event-loop pass, so changes that arrive
# together are saved together (benchmarks/broker_durability.py measures the cost).
DURABLE_AUTOSAVE = ("autosave_on_changes true", "autosave_interval 1")
USERS_FILE_NAME = "mosquitto.passwd"


class BrokerConfigError(ValueError):
    """A value cannot be written into the broker's config; the message is one line."""


def config_safe(what: str, value: object) -> str:
    """`value` as config text, refused if it holds a control character.

    Mosquitto's config is line-based: a newline in a path (GRID_DATA_DIR) would end
    the directive and start a new one of the path's choosing (it once opened a
    listener on 0.0.0.0).
    """
    text = str(value)
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise BrokerConfigError(
            f"{what} {text!r} contains a control character; refusing to write it into "
            "mosquitto.conf (choose a path without newlines or other control characters)"
        )
    return text


def mosquitto_config(port: int, data_dir: Path, password_file: Path | None = None) -> str:
    """Local listener; persistent sessions saved on every change; no queue limit (no silent
    drops); payloads over 256 KiB dropped, packets over 16 MiB refused unread;
    `password_file` set: user `grid` required."""
    location = config_safe("data dir", data_dir)
    auth = (
        ["allow_anonymous false", f"password_file {config_safe('password file', password_file)}"]
        if password_file is not None
        else ["allow_anonymous true"]
    )
    return "\n".join(
        [
            f"listener {config_safe('port', int(port))} 127.0.0.1",
            # Started as root, Mosquitto drops to user "mosquitto", which cannot write
            # our data dir: its persistence would fail and sessions die with a restart.
            f"user {config_safe('user', getpass.getuser())}",
            *auth,
            "persistence true",
            f"persistence_location {location}/",
            *DURABLE_AUTOSAVE,
            # Mosquitto's default (1000) silently drops QoS 1 messages for an offline
            # persistent session beyond the limit; 0 = unlimited.
            "max_queued_messages 0",
            # A publish over 256 KiB is dropped and still acknowledged, so an MQTT 3.1.1
            # publisher stays connected and does not resend it (for MQTT 5, Mosquitto
            # 2.0.11 acknowledges with reason 0x95, which paho rejects: docs/mqtt.md).
            f"message_size_limit {PAYLOAD_LIMIT_BYTES}",
            # A packet over 16 MiB (no meter sends that) is refused from its header,
            # before it is read into memory, and its sender disconnected; between 256 KiB
            # and 16 MiB the drop above keeps an MQTT 3.1.1 sender connected.
            f"max_packet_size {PACKET_LIMIT_BYTES}",
            "set_tcp_nodelay true",
            "",
        ]
    )


def mosquitto_password_line(user: str, password: str, iterations: int = 20_000) -> str:
    """One line of a Mosquitto password file: `user:$7$iterations$salt$hash`.

    Mosquitto's own format (PBKDF2-HMAC-SHA512, 12-byte salt, base64), what
    `mosquitto_passwd` writes; computed here because `mosquitto_passwd -b` would put
    the password on a command line and `-U` cuts a password at a ':'. 20,000
    iterations (its default is 101) cost ~18 ms per connect, once per client.
    """
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return f"{user}:$7${iterations}${encoded[0]}${encoded[1]}\n"


def write_password_file(secret_file: Path) -> Path:
    """Hash the password in `secret_file` into a Mosquitto password file (0600) beside it,
    then remove the secret file: the password stays on disk only as a hash."""
    password = secret_file.read_text().strip()
    target = secret_file.with_name(USERS_FILE_NAME)
    target.unlink(missing_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(mosquitto_password_line(LOCAL_BROKER_USER, password))
    secret_file.unlink(missing_ok=True)
    return target


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def fatal(message: str) -> int:
    """Report a start-up failure as the one FATAL line `start_service` shows the user."""
    print(f"FATAL {message}", file=sys.stderr, flush=True)
    return 1


def serve_mosquitto(
    binary: str, port: int, state_file: Path, data_dir: Path, secret_file: Path | None
) -> int:
    try:
        password_file = write_password_file(secret_file) if secret_file else None
        config = mosquitto_config(port, data_dir, password_file)
    except (BrokerConfigError, OSError) as exc:
        return fatal(str(exc))
    data_dir.mkdir(parents=True, exist_ok=True)
    conf = data_dir / "mosquitto.conf"
    conf.write_text(config)
    child = subprocess.Popen([binary, "-c", str(conf)])
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    deadline = time.monotonic() + 20
    while not _accepts(port):
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            return fatal(f"mosquitto did not start on port {port}")
        time.sleep(0.05)
    write_state(
        state_file, os.getpid(), "127.0.0.1", port,
        engine="mosquitto", binary=binary, mosquitto_pid=child.pid,
        auth="password" if password_file else "anonymous",
    )  # fmt: skip
    print(f"READY {port} (mosquitto)", flush=True)
    while not stop and child.poll() is None:
        time.sleep(0.2)
    if child.poll() is None:
        child.terminate()  # mosquitto saves its persistence file on SIGTERM
        child.wait(timeout=20)
    return 0 if stop else 1


def amqtt_config(port: int) -> dict[str, object]:
    """A local-only listener, anonymous auth, no $SYS chatter.

    amqtt 0.12 has no payload size limit (a 300 KiB message is delivered; the consumer
    quarantines it) and is refused when GRID_LOCAL_PASSWORD is set (see `main`).
    """
    return {
        "listeners": {
            "default": {"type": "tcp", "bind": f"127.0.0.1:{port}", "max_connections": 200}
        },
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def serve_amqtt(port: int, state_file: Path) -> None:
    from amqtt.broker import Broker

    broker = Broker(amqtt_config(port))
    await broker.start()
    write_state(state_file, os.getpid(), "127.0.0.1", port, engine="amqtt")
    print(f"READY {port} (amqtt)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-file", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--engine", choices=("auto", "mosquitto", "amqtt"), default="auto")
    parser.add_argument(
        "--secret-file", help="0600 file holding the password user 'grid' must give"
    )
    args = parser.parse_args()
    secret_file = Path(args.secret_file) if args.secret_file else None
    binary = find_mosquitto() if args.engine in ("auto", "mosquitto") else None
    if args.engine == "mosquitto" and binary is None:
        return fatal("mosquitto requested but not installed")
    if binary:
        return serve_mosquitto(
            binary, args.port, Path(args.state_file), Path(args.data_dir), secret_file
        )
    if secret_file is not None:
        secret_file.unlink(missing_ok=True)
        return fatal(
            "GRID_LOCAL_PASSWORD is set but the amqtt broker cannot require it: install "
            "Mosquitto (apt-get install mosquitto) or unset GRID_LOCAL_PASSWORD"
        )
    asyncio.run(serve_amqtt(args.port, Path(args.state_file)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
