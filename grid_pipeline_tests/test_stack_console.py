"""What `grid-pipeline up` prints: the addresses, never a secret."""

from __future__ import annotations

from grid_pipeline.config import load_settings
from grid_pipeline.stack import _addresses


def test_local_password_and_configured_urls_are_redacted() -> None:
    local = load_settings({"GRID_LOCAL_PASSWORD": "s3cret-pass"})
    text = _addresses("postgresql://postgres:s3cret-pass@127.0.0.1:1/postgres",
                      local.broker_url, local)  # fmt: skip
    assert "s3cret" not in text and text.count(":***@") == 2

    configured = load_settings({"GRID_DATABASE_URL": "postgresql://owner:pw1@db:5432/grid",
                                "GRID_MQTT_URL": "mqtt://ingest:pw2@emqx:1883"})  # fmt: skip
    text = _addresses("postgresql://owner:pw1@db:5432/grid", "mqtt://ingest:pw2@emqx:1883",
                      configured)  # fmt: skip
    assert "pw1" not in text and "pw2" not in text and "owner:***@db:5432" in text


def test_the_embedded_engines_fixed_local_password_stays_pasteable() -> None:
    text = _addresses("postgresql://postgres:postgres@127.0.0.1:55432/postgres",
                      "mqtt://127.0.0.1:11883", load_settings({}))  # fmt: skip
    assert "postgres:postgres@127.0.0.1:55432" in text
