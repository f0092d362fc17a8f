"""Process entry point of the embedded MQTT broker.

Run by `grid_pipeline.embedded.broker.start` as
`python -m grid_pipeline.embedded.broker_main --port N --state-file F --data-dir D`.
Binds to 127.0.0.1 only and allows anonymous clients: it is a local broker.
Production uses EMQX with authentication (see docker-compose.yml).

Mosquitto is preferred when its binary is installed (the development and CI
machines have it): it keeps QoS 1 messages for an offline persistent session
across restarts (persistence on, queue unlimited), which is what lets bounded
ingestion runs lose nothing between them. amqtt (pure Python, MQTT 3.1.1) is
the fallback; it does not deliver messages queued while a persistent session
was offline, so with it a gap between ingestion runs can lose readings.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from grid_pipeline.embedded.process import write_state

MOSQUITTO_CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def find_mosquitto() -> str | None:
    for candidate in MOSQUITTO_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def mosquitto_config(port: int, data_dir: Path) -> str:
    """Local listener, persistent sessions kept on disk, no queue limit (no silent drops)."""
    return "\n".join(
        [
            f"listener {port} 127.0.0.1",
            # Started as root, Mosquitto drops to user "mosquitto", which cannot write
            # our data dir: its persistence would fail and sessions die with a restart.
            f"user {getpass.getuser()}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {data_dir}/",
            "autosave_interval 10",
            # Mosquitto's default (1000) silently drops QoS 1 messages for an offline
            # persistent session beyond the limit; 0 = unlimited.
            "max_queued_messages 0",
            "set_tcp_nodelay true",
            "",
        ]
    )


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def serve_mosquitto(binary: str, port: int, state_file: Path, data_dir: Path) -> int:
    data_dir.mkdir(parents=True, exist_ok=True)
    conf = data_dir / "mosquitto.conf"
    conf.write_text(mosquitto_config(port, data_dir))
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
            print(f"FATAL mosquitto did not start on port {port}", file=sys.stderr, flush=True)
            child.kill()
            return 1
        time.sleep(0.05)
    write_state(state_file, os.getpid(), "127.0.0.1", port, engine="mosquitto", binary=binary)
    print(f"READY {port} (mosquitto)", flush=True)
    while not stop and child.poll() is None:
        time.sleep(0.2)
    if child.poll() is None:
        child.terminate()  # mosquitto saves its persistence file on SIGTERM
        child.wait(timeout=20)
    return 0 if stop else 1


def amqtt_config(port: int) -> dict[str, object]:
    """A local-only listener, anonymous auth, no $SYS chatter."""
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
    args = parser.parse_args()
    binary = find_mosquitto() if args.engine in ("auto", "mosquitto") else None
    if args.engine == "mosquitto" and binary is None:
        print("FATAL mosquitto requested but not installed", file=sys.stderr, flush=True)
        return 1
    if binary:
        return serve_mosquitto(binary, args.port, Path(args.state_file), Path(args.data_dir))
    asyncio.run(serve_amqtt(args.port, Path(args.state_file)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
