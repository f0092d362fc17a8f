"""The dependency direction is pinned: callers on top, the application layer, the domain below.

    cli, defs, dashboard, stack, orchestration   (thin callers, entry points)
                 app                             (what the product does)
  fleet, events, vee, storage, mqtt, bench, db, embedded  (domain, database, processes)

A module may import from its own layer or below, never above. The test reads
the imports of every module with `ast` (nothing is executed).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from grid_pipeline.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "grid_pipeline"

DOMAIN = (
    "fleet", "events", "vee", "alerts", "storage", "mqtt", "bench", "db", "embedded", "config"
)  # fmt: skip
CALLERS = ("cli", "defs", "definitions", "stack", "orchestration", "soak")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(*parts: str) -> list[Path]:
    paths: list[Path] = []
    for part in parts:
        target = PACKAGE / part
        paths += sorted(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py")]
    return [p for p in paths if p.exists()]


def _forbidden(name: str, layers: tuple[str, ...]) -> bool:
    """`name` is the dashboard or a module of one of `layers` of grid_pipeline."""
    if name == "dashboard" or name.startswith("dashboard."):
        return True
    parts = name.split(".")
    return parts[0] == "grid_pipeline" and len(parts) > 1 and parts[1] in layers


def _offending(paths: list[Path], layers: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in paths
        for name in sorted(_imports(path))
        if _forbidden(name, layers)
    ]


def test_domain_never_imports_callers_or_the_application_layer() -> None:
    assert _offending(_modules(*DOMAIN), ("app", *CALLERS)) == []


def test_application_layer_never_imports_its_callers() -> None:
    assert _offending(_modules("app"), CALLERS) == []


def test_dashboard_reads_through_the_domain_not_the_callers() -> None:
    paths = sorted((ROOT / "dashboard").rglob("*.py"))
    assert [m for m in _offending(paths, CALLERS) if " imports dashboard" not in m] == []


def test_the_cli_modules_do_not_import_each_other_both_ways() -> None:
    mqtt_imports = _imports(PACKAGE / "cli" / "mqtt.py")
    assert "grid_pipeline.cli.main" not in mqtt_imports
    assert "grid_pipeline.cli" not in mqtt_imports


def test_loading_the_code_location_starts_and_connects_to_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Importing the Dagster definitions and resolving a database start no engine."""
    import importlib

    from grid_pipeline.db.connection import DatabaseNotRunning, resolve_database
    from grid_pipeline.embedded import engine

    monkeypatch.setenv("GRID_DATA_DIR", str(tmp_path / "grid"))
    monkeypatch.setenv("GRID_HISTORY_END", "2026-11-30T00:00:00+00:00")
    settings = load_settings()
    import grid_pipeline.definitions as definitions

    importlib.reload(definitions)
    with pytest.raises(DatabaseNotRunning, match="grid-pipeline db start"):
        resolve_database(settings)
    assert engine.status(settings) is None
    assert not (tmp_path / "grid" / "pgdata").exists()
    assert not settings.run_dir.exists() or not any(settings.run_dir.iterdir())
