"""EN 50160 weekly verdicts and ANSI C84.1 band shares on the real embedded engine.

A small fleet (6 meters on 2 feeders) reads exactly nominal voltage every 5 minutes for the
week of Monday 2026-11-16 and the first 12 hours of the next week; then single meters'
10-minute windows are moved (UPDATE of their readings) to hand-chosen voltages, so every
share below is a count of 1,008 windows worked out by hand:

- meter 1: 40 windows (4 %) at -12 %, one window without supply (both readings 0 V) and one
  window with a single 0 V reading: 2 windows excluded, 966 of 1,006 within +-10 %: pass;
- meter 2: 61 windows (6 %) at -12 %: 947 of 1,008 within: fail;
- meter 3: one window at +11 %: 1,007 of 1,008 within, but one beyond +10 %: fail;
- meter 4: 100 windows at 0.97 pu and 10 at exactly 1.05 pu (ANSI Range A), 200 at 0.93 pu
  (Range B, not A) and 50 at exactly 0.90 pu (outside Range B, on the EN 50160 limit): pass;
- meters 5 and 6: nominal throughout: pass, all in Range A.

The following, partial week is 'incomplete' for every meter.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
import streamlit as st

from dashboard import data
from dashboard.selection import ALL_METERS, MeterSelection
from grid_pipeline.app.power_quality import compute_power_quality
from grid_pipeline.cli.main import main
from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.historic import replace_fleet
from grid_pipeline.storage.power_quality import week_start, weeks_touching
from grid_pipeline_tests.test_dashboard_pages import metrics, notices, open_page

pytestmark = pytest.mark.integration

WEEK = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday
NEXT = WEEK + timedelta(days=7)
WINDOW = timedelta(minutes=10)
WINDOWS = 1008  # 10-minute windows in a week


def set_voltage(conn: Any, meter: int, first: int, count: int, percent: int) -> None:
    """Readings of `meter` in windows [first, first + count) of WEEK at `percent` of nominal."""
    row = conn.execute("SELECT nominal_voltage FROM meters WHERE meter_id = %s", (meter,))
    nominal = int(row.fetchone()[0])
    assert nominal * percent % 10 == 0  # exact in the stored 0.1 V
    conn.execute(
        'UPDATE energy_readings SET voltage = %s WHERE meter_id = %s AND "timestamp" >= %s '
        'AND "timestamp" < %s',
        (nominal * percent // 10, meter, WEEK + first * WINDOW, WEEK + (first + count) * WINDOW),
    )


def load_week(db: Database) -> None:
    """The fleet at nominal voltage over WEEK and half a day of the next, then the cases."""
    with connect(db) as conn:
        conn.execute("TRUNCATE energy_readings")
        conn.execute("TRUNCATE power_quality_weekly")
    replace_fleet(db, build_fleet(6, 7, n_feeders=2))
    with connect(db) as conn:
        conn.execute(
            'INSERT INTO energy_readings ("timestamp", meter_id, power, energy, voltage, current) '
            "SELECT t, m.meter_id, 500, 42, (m.nominal_voltage * 10)::int, 2000 "
            "FROM generate_series(%s::timestamptz, %s::timestamptz, interval '5 minutes') AS t "
            "CROSS JOIN meters AS m",
            (WEEK, NEXT + timedelta(hours=12) - timedelta(minutes=5)),
        )
        set_voltage(conn, 1, 100, 40, 88)
        set_voltage(conn, 1, 500, 1, 0)  # an interruption: both readings 0 V
        conn.execute(
            'UPDATE energy_readings SET voltage = 0 WHERE meter_id = 1 AND "timestamp" = %s',
            (WEEK + 600 * WINDOW + timedelta(minutes=5),),
        )  # half a window without supply: the window is left out too
        set_voltage(conn, 2, 200, 61, 88)
        set_voltage(conn, 3, 700, 1, 111)
        set_voltage(conn, 4, 0, 100, 97)
        set_voltage(conn, 4, 100, 10, 105)
        set_voltage(conn, 4, 300, 200, 93)
        set_voltage(conn, 4, 900, 50, 90)


@pytest.fixture(scope="module")
def pq_data(database: Database) -> Iterator[Database]:
    load_week(database)
    yield database
    with connect(database) as conn:
        conn.execute("TRUNCATE power_quality_weekly")


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def stored(db: Database, week: datetime = WEEK) -> dict[int, dict[str, Any]]:
    with connect(db) as conn:
        cur = conn.execute(
            "SELECT * FROM power_quality_weekly WHERE week = %s ORDER BY meter_id", (week,)
        )
        names = [c.name for c in cur.description or []]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def test_weeks_start_on_monday_midnight_utc() -> None:
    assert week_start(datetime(2026, 11, 22, 23, 59, tzinfo=UTC)) == WEEK
    assert week_start(NEXT) == NEXT
    assert list(weeks_touching(WEEK + timedelta(days=3), NEXT + timedelta(hours=1))) == [WEEK, NEXT]


def test_hand_computed_week(pq_data: Database, settings: Settings) -> None:
    report = compute_power_quality(pq_data, settings)
    assert [w.week for w in report.weeks] == [WEEK, NEXT]
    assert report.weeks[0].verdicts == {"pass": 4, "fail": 2, "incomplete": 0}
    assert report.weeks[1].verdicts == {"pass": 0, "fail": 0, "incomplete": 6}
    rows = stored(pq_data)
    m1, m2, m3 = rows[1], rows[2], rows[3]
    assert (m1["windows"], m1["windows_excluded"], m1["verdict"]) == (1006, 2, "pass")
    assert m1["share_within_10pct"] == pytest.approx(966 / 1006)
    assert not m1["any_outside_limits"]
    assert m1["ansi_outside"] == pytest.approx(40 / 1006)  # 0.88 pu is below Range B
    assert (m2["windows"], m2["windows_excluded"], m2["verdict"]) == (WINDOWS, 0, "fail")
    assert m2["share_within_10pct"] == pytest.approx(947 / WINDOWS)
    assert not m2["any_outside_limits"]
    assert (m3["verdict"], m3["any_outside_limits"]) == ("fail", True)
    assert m3["share_within_10pct"] == pytest.approx(1007 / WINDOWS)
    for meter in (5, 6):
        assert rows[meter]["verdict"] == "pass"
        assert (rows[meter]["share_within_10pct"], rows[meter]["ansi_a"]) == (1.0, 1.0)
    partial = stored(pq_data, NEXT)
    assert {r["verdict"] for r in partial.values()} == {"incomplete"}
    assert {r["windows"] for r in partial.values()} == {72}  # 12 hours of 10-minute windows


def test_ansi_shares_exact(pq_data: Database, settings: Settings) -> None:
    compute_power_quality(pq_data, settings, (WEEK, NEXT))
    m4 = stored(pq_data)[4]
    # A: 100 at 0.97 + 10 at 1.05 (the limit is in A) + 648 at 1.0; B only: 200 at 0.93;
    # outside B: 50 at 0.90, which EN 50160 counts within +-10 % (its limit is inclusive).
    assert m4["ansi_a"] == 758 / WINDOWS
    assert m4["ansi_b_only"] == 200 / WINDOWS
    assert m4["ansi_outside"] == 50 / WINDOWS
    assert (m4["share_within_10pct"], m4["verdict"]) == (1.0, "pass")


def test_recomputing_a_week_is_idempotent(
    pq_data: Database, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    compute_power_quality(pq_data, settings)
    first = stored(pq_data)
    assert main(["power-quality", "--week", "2026-11-19"]) == 0  # any day of the week
    out = capsys.readouterr().out
    assert "2026-11-16" in out and "2026-11-23" not in out
    again = stored(pq_data)
    drop = "computed_at"
    assert {k: {c: v for c, v in r.items() if c != drop} for k, r in again.items()} == {
        k: {c: v for c, v in r.items() if c != drop} for k, r in first.items()
    }
    with connect(pq_data) as conn:
        row = conn.execute("SELECT count(*) FROM power_quality_weekly").fetchone()
    assert row is not None and row[0] == 12  # 6 meters x 2 weeks, none twice


def test_dashboard_reads_the_filtered_meters(pq_data: Database, settings: Settings) -> None:
    compute_power_quality(pq_data, settings)
    everything = data.power_quality(ALL_METERS)
    assert everything.height == 12
    feeder = everything.filter(pl.col("meter_id") == 2).get_column("feeder")[0]
    one = data.power_quality(MeterSelection(feeders=(feeder,)))
    assert set(one.get_column("feeder").to_list()) == {feeder}
    assert 0 < one.height < everything.height
    assert one.get_column("week").dtype == pl.Datetime("us", "UTC")


def test_power_quality_page_shows_the_verdicts(pq_data: Database, settings: Settings) -> None:
    with connect(pq_data) as conn:
        conn.execute("TRUNCATE power_quality_weekly")
    at = open_page("app_pages/power_quality.py")
    assert not at.exception, [e.value for e in at.exception]
    assert "grid-pipeline power-quality" in notices(at)

    compute_power_quality(pq_data, settings)
    st.cache_data.clear()
    at = open_page("app_pages/power_quality.py")
    assert not at.exception, [e.value for e in at.exception]
    assert "Power quality: EN 50160 and ANSI C84.1" in [t.value for t in at.title]
    # The newest week with a verdict is chosen, not the newest (incomplete) one.
    assert at.selectbox(key="power_quality_week").value == WEEK
    shown = {label: m.value for label, m in metrics(at).items()}
    assert shown == {"Meters": "6", "Pass": "4", "Fail": "2", "Incomplete": "0"}
    text = " ".join(m.value for m in at.markdown)
    assert "Meters failing EN 50160 in the week of 2026-11-16: 2" in text
    (failing,) = [d.value for d in at.dataframe if "share_within_10pct" in d.value.columns]
    assert list(failing["meter_id"]) == [2, 3]  # the worst share first
    assert list(failing["share_within_10pct"]) == pytest.approx([947 / WINDOWS, 1007 / WINDOWS])

    at.selectbox(key="power_quality_week").set_value(NEXT).run()
    shown = {label: m.value for label, m in metrics(at).items()}
    assert shown == {"Meters": "6", "Pass": "0", "Fail": "0", "Incomplete": "6"}


def test_dagster_asset_recomputes_the_weeks(pq_data: Database, settings: Settings) -> None:
    import dagster as dg

    from grid_pipeline.defs.power_quality import build_power_quality_asset
    from grid_pipeline.defs.resources import TimescaleResource

    result = dg.materialize(
        [build_power_quality_asset(settings)],
        resources={"timescale": TimescaleResource(data_dir=str(settings.data_dir))},
    )
    assert result.success
    meta = result.asset_materializations_for_node("power_quality_weekly")[0].metadata
    assert meta["verdicts"].value == {"pass": 4, "fail": 2, "incomplete": 6}
    assert meta["weeks"].value == 2
