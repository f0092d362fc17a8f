"""The user's path through grid events and VEE, as commands: generate with faults, detect,
score, validate; each prints what it did and the score is the stored truth's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "grid_pipeline.cli", *args],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.integration
def test_generate_detect_score_and_validate_from_the_command_line(
    fresh_env: dict[str, str],
) -> None:
    env = fresh_env | {"GRID_HISTORY_END": "2026-11-30T00:00:00Z", "GRID_DAYS": "3",
                       "GRID_METERS": "120"}  # fmt: skip
    made = cli(env, "generate", "--no-variants", "--physical-faults")
    assert "physical faults: injected" in made.stderr
    detected = cli(env, "events", "detect")
    assert detected.stdout.startswith("3 days in ")
    assert "theft" in detected.stderr  # progress: one line per detector
    scores = json.loads(cli(env, "events", "score", "--json").stdout)
    assert scores, "faults were injected, so there is something to score"
    for kind, score in scores.items():
        assert set(score) >= {"precision", "recall", "f1", "delay_s_p95"}, kind
        assert 0.0 <= score["precision"] <= 1.0 and 0.0 <= score["recall"] <= 1.0
    # the detectors meet their goals on the kinds a small fleet reliably shows
    for kind in ("outage", "spike", "voltage_sag"):
        if kind in scores:
            assert scores[kind]["recall"] >= 0.99 and scores[kind]["precision"] >= 0.95, kind
    table = cli(env, "events", "score").stdout.splitlines()
    assert table[0].split()[:3] == ["kind", "faults", "found"]
    assert len(table) == 1 + len(scores)
    vee = cli(env, "vee", "run")
    assert vee.stdout.startswith("3 days in ")
    assert "flags:" in vee.stdout and "estimates:" in vee.stdout
