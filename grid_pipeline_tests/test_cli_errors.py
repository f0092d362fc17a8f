"""Bad arguments and settings end the real CLI with one line on stderr, never a traceback.

Each case runs `python -m grid_pipeline.cli` as a user would, in a private data dir
with free ports. The bad value must be refused before anything starts or is
written: the data dir is not even created. Only the busy-engine test starts an
engine (its own).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from grid_pipeline.cli.main import build_parser
from grid_pipeline.config import load_settings
from grid_pipeline.embedded import engine
from grid_pipeline_tests.conftest import env_for

HUGE = "99999999999 weeks"
# A directory even root cannot write in (a read-only mount); absent on some systems.
READ_ONLY_DIR = Path("/proc/sys")
NO_READ_ONLY_DIR = not READ_ONLY_DIR.is_dir() or os.access(READ_ONLY_DIR, os.W_OK)

# (environment, arguments); "{file}" stands for a regular file in the test's tmp dir.
BAD_INPUTS: dict[str, tuple[dict[str, str], list[str]]] = {
    # durations that overflowed a timedelta or a date
    "GRID_INTERVAL huge": ({"GRID_INTERVAL": HUGE}, ["db", "status"]),
    "GRID_COMPRESS_AFTER huge": ({"GRID_COMPRESS_AFTER": HUGE}, ["db", "status"]),
    "GRID_REFRESH_LOOKBACK huge": ({"GRID_REFRESH_LOOKBACK": HUGE}, ["db", "status"]),
    "GRID_REJECTS_RETENTION huge": ({"GRID_REJECTS_RETENTION": HUGE}, ["db", "status"]),
    "GRID_CHUNK_INTERVALS huge": (
        {"GRID_CHUNK_INTERVALS": f"energy_readings=1 day,energy_readings_x={HUGE}"},
        ["db", "status"],
    ),
    "GRID_DAYS huge": ({"GRID_DAYS": "99999999999"}, ["generate"]),
    "generate --interval huge": ({}, ["generate", "--interval", HUGE]),
    "generate --days huge": ({}, ["generate", "--days", "99999999"]),
    "simulate --duration huge": ({}, ["simulate", "--duration", HUGE]),
    "simulate --interval huge": ({}, ["simulate", "--interval", HUGE]),
    "ingest --duration huge": ({}, ["ingest", "--duration", HUGE]),
    "ingest --max-past huge": ({}, ["ingest", "--duration", "1s", "--max-past", HUGE]),
    "ingest --max-future huge": ({}, ["ingest", "--duration", "1s", "--max-future", HUGE]),
    "ingest --batch-ms huge": ({}, ["ingest", "--duration", "1s", "--batch-ms", "99999999999"]),
    "ingest --session-expiry huge": (
        {},
        ["ingest", "--duration", "1s", "--session-expiry", "99999999999"],
    ),
    "soak --minutes inf": ({}, ["soak", "--minutes", "inf"]),
    "simulate --speedup nan": ({}, ["simulate", "--speedup", "nan", "--intervals", "1"]),
    # instants outside the data set's range
    "generate --start 9999-12-31": ({}, ["generate", "--start", "9999-12-31"]),
    "generate --start 0001-01-01": ({}, ["generate", "--start", "0001-01-01"]),
    "generate --start 2199-12-31": ({}, ["generate", "--start", "2199-12-31"]),
    "simulate --start 9999-12-31": ({}, ["simulate", "--start", "9999-12-31", "--intervals", "1"]),
    "simulate --start 0001-01-01": ({}, ["simulate", "--start", "0001-01-01", "--intervals", "1"]),
    "GRID_HISTORY_END 9999-12-31": ({"GRID_HISTORY_END": "9999-12-31"}, ["generate"]),
    # time zones Python opens and PostgreSQL refuses
    "GRID_TIMEZONE posixrules": ({"GRID_TIMEZONE": "posixrules"}, ["db", "status"]),
    "GRID_TIMEZONE localtime": ({"GRID_TIMEZONE": "localtime"}, ["db", "status"]),
    # a readings variant named like one of the project's own tables or views
    "variant ingest_runs": (
        {"GRID_CHUNK_INTERVALS": "energy_readings=1 day,ingest_runs=3 hours"},
        ["db", "status"],
    ),
    "events detect --day bad": ({}, ["events", "detect", "--day", "2026-13-01"]),
    "events score --day bad": ({}, ["events", "score", "--day", "yesterday"]),
    "vee run --day bad": ({}, ["vee", "run", "--day", "1/12/2026"]),
    "vee backtest --days 0": ({}, ["vee", "backtest", "--days", "0"]),
    "GRID_PHYSICAL_FAULTS maybe": ({"GRID_PHYSICAL_FAULTS": "maybe"}, ["generate"]),
    "variant meters": (
        {"GRID_CHUNK_INTERVALS": "energy_readings=1 day,meters=1 week"},
        ["generate"],
    ),
    "variant cagg": (
        {"GRID_CHUNK_INTERVALS": "energy_readings=1 day,energy_readings_daily=1 week"},
        ["db", "status"],
    ),
    # topic roots that are not plain topic levels
    "ingest --topic-root #": ({}, ["ingest", "--duration", "1s", "--topic-root", "#"]),
    "ingest --topic-root +": ({}, ["ingest", "--duration", "1s", "--topic-root", "+"]),
    "ingest --topic-root empty": ({}, ["ingest", "--duration", "1s", "--topic-root", ""]),
    "ingest --topic-root /grid": ({}, ["ingest", "--duration", "1s", "--topic-root", "/grid"]),
    "ingest --topic-root grid/": ({}, ["ingest", "--duration", "1s", "--topic-root", "grid/"]),
    "ingest --topic-root a//b": ({}, ["ingest", "--duration", "1s", "--topic-root", "a//b"]),
    "ingest --topic-root $SYS": ({}, ["ingest", "--duration", "1s", "--topic-root", "$SYS"]),
    "simulate --topic-root #": ({}, ["simulate", "--intervals", "1", "--topic-root", "g/#"]),
    "simulate --topic-root control": (
        {},
        ["simulate", "--intervals", "1", "--topic-root", "g\x01x"],
    ),
    # client ids and share names a broker refuses or a log cannot show
    "ingest --client-id empty": ({}, ["ingest", "--duration", "1s", "--client-id", ""]),
    "ingest --client-id blank": ({}, ["ingest", "--duration", "1s", "--client-id", "  "]),
    "ingest --client-id tab": ({}, ["ingest", "--duration", "1s", "--client-id", "a\tb"]),
    "ingest --client-id 64k": (
        {},
        ["ingest", "--duration", "1s", "--client-id", "c" * 65_536],
    ),
    "ingest --share-group a/b": (
        {},
        ["ingest", "--duration", "1s", "--mqtt-version", "5", "--share-group", "a/b"],
    ),
    # data dirs that cannot hold the project's files
    "GRID_DATA_DIR file": ({"GRID_DATA_DIR": "{file}"}, ["db", "start"]),
    "GRID_DATA_DIR below a file": ({"GRID_DATA_DIR": "{file}/grid"}, ["broker", "start"]),
    "GRID_DATA_DIR read-only": ({"GRID_DATA_DIR": str(READ_ONLY_DIR / "grid")}, ["db", "start"]),
    "GRID_DATA_DIR newline": (
        {"GRID_DATA_DIR": "{tmp}/grid\nlistener 1883 0.0.0.0"},
        ["broker", "start"],
    ),
    "GRID_DATA_DIR escape": ({"GRID_DATA_DIR": "{tmp}/grid\x1b[2J"}, ["db", "start"]),
    "soak --data-dir file": ({}, ["soak", "--minutes", "1", "--data-dir", "{file}"]),
    # a soak deletes its directory first: never one with anything but an earlier soak
    "soak --data-dir not empty": ({}, ["soak", "--minutes", "1", "--data-dir", "{tmp}"]),
    # numbers str.isdigit accepts and int() does not
    "GRID_DB_PORT superscript": ({"GRID_DB_PORT": "\u00b9"}, ["db", "status"]),
    "GRID_SEED 5000 digits": ({"GRID_SEED": "9" * 5000}, ["db", "status"]),
}


def _case(name: str) -> object:
    marks = []
    if name == "GRID_DATA_DIR read-only":
        marks.append(pytest.mark.skipif(NO_READ_ONLY_DIR, reason=f"{READ_ONLY_DIR} is writable"))
    return pytest.param(*BAD_INPUTS[name], id=name, marks=marks)


def _fill(text: str, tmp_path: Path) -> str:
    return text.replace("{file}", str(tmp_path / "a-file")).replace("{tmp}", str(tmp_path))


def _run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grid_pipeline.cli", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(("extra", "args"), [_case(name) for name in BAD_INPUTS])
def test_a_bad_input_is_one_line_on_stderr_and_nothing_is_written(
    tmp_path: Path, extra: dict[str, str], args: list[str]
) -> None:
    (tmp_path / "a-file").write_text("not a directory\n")
    env = env_for(tmp_path / "grid", **{k: _fill(v, tmp_path) for k, v in extra.items()})
    result = _run_cli([_fill(a, tmp_path) for a in args], env)
    lines = result.stderr.splitlines()
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("grid-pipeline: error: "), result.stderr
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # no data dir, no file


def test_a_nul_in_a_topic_root_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """NUL cannot travel in argv (execve refuses it), so the parser is called in-process."""
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["ingest", "--topic-root", "grid\x00x"])
    assert info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_good_topic_roots_and_client_ids_still_parse() -> None:
    args: argparse.Namespace = build_parser().parse_args(
        ["ingest", "--topic-root", "site-7/grid", "--client-id", "grid-ingest-ü"]
    )
    assert args.topic_root == "site-7/grid" and args.client_id == "grid-ingest-ü"
    assert build_parser().parse_args(["ingest"]).topic_root == "grid"


@pytest.mark.integration
def test_db_status_says_busy_while_another_client_holds_the_session(
    fresh_env: dict[str, str],
) -> None:
    status, _ = engine.start(load_settings(fresh_env))
    holding = threading.Event()

    def hold() -> None:
        with psycopg.connect(status.url, autocommit=True) as conn:
            holding.set()
            conn.execute("SELECT pg_sleep(12)")

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        result = _run_cli(["db", "status"], fresh_env)
    finally:
        holder.join()
    assert result.returncode == 0, result.stderr
    assert "TimescaleDB: busy (another client holds the session; try again)" in result.stdout
    assert "None" not in result.stdout
    assert "TimescaleDB 2." in _run_cli(["db", "status"], fresh_env).stdout  # free again
