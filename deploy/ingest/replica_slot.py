"""Run a command as replica slot <n> of a scaled compose service: a stable, unique number.

Used by the compose `ingest` service (mounted read-only into its containers):

    python /opt/grid/replica_slot.py /run/grid-ingest-slots --env GRID_MQTT_URL -- \\
        grid-pipeline ingest ... --client-id grid-ingest-replica-{slot}

with GRID_MQTT_URL=mqtt://grid-ingest-replica-{slot}:<password>@emqx:1883.

Why: every ingest replica needs its own MQTT client id (two clients with one id
take the session from each other), and the id must survive the re-creation of
the container. The consumer's session is persistent and sits in a shared
subscription group; a session whose client never comes back still gets its
share of the readings from the broker until it expires (7 days), so an id
derived from the container (its hostname changes on every `docker compose up`
that re-creates it: new image, changed setting) would strand readings in dead
sessions at every upgrade. Slot numbers instead are reused: the n-th replica is
always `grid-ingest-replica-<n>` and resumes that session. The broker binds
the client id to the username (it uses the username as the client id, so no
other credentials can take the consumer's session over), hence each replica is
also its own MQTT user: `--env` puts the slot into the connection URL as well.

How: the lowest n in 1..--max whose lock file (`<lock dir>/slot-<n>.lock`, on a
volume every replica mounts) is not locked by another process is taken with
flock(2); the lock descriptor is inherited across exec, so the command itself
holds the slot for as long as it runs, and the kernel releases it when the
process ends, however it ends. Every `{slot}` in the command, and in the
environment variables named with `--env`, is replaced by n.
Standard library only: it runs before anything of the project is imported.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import sys
from pathlib import Path

PLACEHOLDER = "{slot}"


def claim(lock_dir: Path, maximum: int) -> tuple[int, int]:
    """(slot, locked descriptor) of the lowest free slot; SystemExit when all are taken."""
    for slot in range(1, maximum + 1):
        fd = os.open(lock_dir / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return slot, fd
    raise SystemExit(f"replica_slot: all {maximum} slots in {lock_dir} are taken")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        usage="%(prog)s LOCK_DIR [--max N] -- COMMAND [ARG...]",
        description=__doc__.splitlines()[0],
        epilog="The command follows `--`; every {slot} in it becomes the slot number.",
    )
    parser.add_argument("lock_dir", type=Path, help="directory shared by every replica")
    parser.add_argument("--max", type=int, default=64, help="number of slots (default 64)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME",
        help="an environment variable whose {slot} is replaced too (repeatable)",
    )  # fmt: skip
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    args, command = parser.parse_args(argv[:split]), argv[split + 1 :]
    if not command:
        parser.error("no command given (put it after --)")
    if args.max < 1:
        parser.error("--max must be at least 1")
    if not any(PLACEHOLDER in arg for arg in command):
        parser.error(f"the command never uses {PLACEHOLDER}: every replica would look the same")
    for name in args.env:
        if PLACEHOLDER not in os.environ.get(name, ""):
            parser.error(f"--env {name}: the variable is unset or has no {PLACEHOLDER}")
    if not args.lock_dir.is_dir():
        parser.error(f"{args.lock_dir} is not a directory (mount the shared slot volume)")
    slot, fd = claim(args.lock_dir, args.max)
    os.set_inheritable(fd, True)  # the lock lives as long as the command
    command = [arg.replace(PLACEHOLDER, str(slot)) for arg in command]
    for name in args.env:
        os.environ[name] = os.environ[name].replace(PLACEHOLDER, str(slot))
    print(f"replica_slot: slot {slot}: {' '.join(command[:2])} ...", file=sys.stderr, flush=True)
    os.execvp(command[0], command)  # noqa: S606 (an argument vector from compose, no shell)
    return 127  # not reached: execvp replaces this process or raises


if __name__ == "__main__":
    sys.exit(main())
