"""Process entry point of the embedded MQTT broker (amqtt, MQTT 3.1.1).

Run by `grid_pipeline.embedded.broker.start` as
`python -m grid_pipeline.embedded.broker_main --port N --state-file F`. Binds to
127.0.0.1 only and allows anonymous clients: it is a local development broker.
Production uses EMQX with authentication (see docker-compose.yml).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from amqtt.broker import Broker

from grid_pipeline.embedded.process import write_state


def broker_config(port: int) -> dict[str, object]:
    """A local-only listener, anonymous auth, no $SYS chatter."""
    return {
        "listeners": {
            "default": {"type": "tcp", "bind": f"127.0.0.1:{port}", "max_connections": 200}
        },
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def serve(port: int, state_file: str) -> None:
    broker = Broker(broker_config(port))
    await broker.start()
    write_state(Path(state_file), os.getpid(), "127.0.0.1", port)
    print(f"READY {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-file", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.state_file))


if __name__ == "__main__":
    main()
