"""VEE: each rule flags what it names, estimates fill exactly the invalid intervals with the
original kept, every run is audited, and the validated series has one value per interval."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from grid_pipeline.app.vee import vee_window, vee_window_check
from grid_pipeline.config import Settings
from grid_pipeline.db.connection import Database, connect
from grid_pipeline.fleet.meters import build_fleet
from grid_pipeline.storage.historic import floor_time, load_history, replace_fleet
from grid_pipeline.vee.estimate import estimate
from grid_pipeline.vee.rules import FLAG_SCHEMA, validate

INTERVAL = timedelta(minutes=5)
FLEET = build_fleet(12, 3)
T0 = datetime(2026, 11, 20, tzinfo=UTC)


def frame(rows: list[tuple[int, int, int, int, int]], meter: int = 1) -> pl.DataFrame:
    """Readings of one meter from T0: (power W, energy Wh, voltage dV, current mA, slot)."""
    return pl.DataFrame(
        [(T0 + slot * INTERVAL, meter, p, e, v, c) for p, e, v, c, slot in rows],
        schema={"timestamp": pl.Datetime("us", "UTC"), "meter_id": pl.Int32, "power": pl.Int64,
                "energy": pl.Int64, "voltage": pl.Int64, "current": pl.Int64},
        orient="row",
    )  # fmt: skip


def expected(n: int, meter: int = 1) -> pl.DataFrame:
    return pl.DataFrame(
        {"timestamp": [T0 + k * INTERVAL for k in range(n)], "meter_id": [meter] * n},
        schema={"timestamp": pl.Datetime("us", "UTC"), "meter_id": pl.Int32},
    )


FACTS = pl.DataFrame(
    {"meter_id": [1], "rated_w": [10_000.0], "nominal_dv": [2300.0], "has_solar": [False],
     "k": [1.0]},
    schema={"meter_id": pl.Int32, "rated_w": pl.Float64, "nominal_dv": pl.Float64,
            "has_solar": pl.Boolean, "k": pl.Float64},
)  # fmt: skip


def normal(slot: int, watts: int = 1200) -> tuple[int, int, int, int, int]:
    """A consistent reading: energy = power / 12, current = power / voltage."""
    watts += slot  # real loads move every interval
    return (watts, round(watts / 12), 2300, round(watts * 1e6 / (2300 * 100)), slot)


def rules_at(flags: pl.DataFrame, rule: str) -> list[int]:
    """Slots (from T0) flagged by `rule`."""
    times = flags.filter(pl.col("rule") == rule).get_column("timestamp").to_list()
    return [int((t - T0) / INTERVAL) for t in times]


def test_each_rule_flags_exactly_what_it_names() -> None:
    rows = [normal(k) for k in range(40)]
    rows[3] = (20_000, 1667, 2300, 86_957, 3)  # spike: 2 x the 10 kW rating
    rows[5] = (-300, -25, 2300, 1304, 5)  # negative consumption, no solar
    rows[7] = (1200, 300, 2300, 5217, 7)  # register says 300 Wh for 1.2 kW over 5 min
    rows[9] = (1200, 100, 900, 13_333, 9)  # 90 V on a 230 V supply
    rows[11] = (1200, 100, 2300, 9_000, 11)  # 9 A for 1.2 kW at 230 V
    rows[13] = (0, 0, 0, 0, 13)  # no supply: an outage, true zeros
    for k in range(16, 28):  # an hour of zeros with the voltage present
        rows[k] = (0, 0, 2300, 0, k)
    for k in range(28, 40):  # an hour of the same reading
        rows[k] = (1500, 125, 2310, 6494, k)
    readings = frame([r for k, r in enumerate(rows) if k != 1])  # slot 1 missing
    flags = validate(readings, FACTS, expected(40), INTERVAL, now=T0 + timedelta(days=1))
    assert rules_at(flags, "missing") == [1]
    assert rules_at(flags, "spike") == [3]
    assert rules_at(flags, "negative_without_solar") == [5]
    assert rules_at(flags, "register_mismatch") == [7]
    assert rules_at(flags, "voltage_range") == [9]
    assert rules_at(flags, "current_mismatch") == [11]
    assert rules_at(flags, "outage") == [13]
    assert rules_at(flags, "zero") == list(range(16, 28))
    assert rules_at(flags, "stuck") == list(range(28, 40))
    assert rules_at(flags, "future") == []
    late = validate(readings, FACTS, expected(40), INTERVAL, now=T0 + 20 * INTERVAL)
    assert rules_at(late, "future") == list(range(21, 40))


def test_a_clean_series_has_no_flag() -> None:
    readings = frame([normal(k) for k in range(30)])
    flags = validate(readings, FACTS, expected(30), INTERVAL, now=T0 + timedelta(days=1))
    assert flags.is_empty()
    assert flags.schema == FLAG_SCHEMA


def series(energy: dict[int, float], hidden: set[int]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Readings of meter 1 at slots from T0 without `hidden`, and `hidden` flagged missing."""
    readings = pl.DataFrame(
        [(T0 + k * INTERVAL, 1, round(e)) for k, e in energy.items() if k not in hidden],
        schema={"timestamp": pl.Datetime("us", "UTC"), "meter_id": pl.Int32, "energy": pl.Int64},
        orient="row",
    )  # fmt: skip
    flags = pl.DataFrame(
        [(T0 + k * INTERVAL, 1, "missing", "") for k in sorted(hidden)], schema=FLAG_SCHEMA,
        orient="row",
    )  # fmt: skip
    return readings, flags


DAY = int(timedelta(days=1) / INTERVAL)


def test_a_short_gap_without_like_days_is_a_line_between_the_mean_levels_on_either_side() -> None:
    """Readings swing 90/110 before the gap and 190/210 after it: the line runs from the
    level 100 (the mean of the 6 readings before, centred 3.5 intervals before the gap) to
    200 (the 6 after), not between the single neighbours 110 and 190."""
    energy = {k: (90, 110)[k % 2] for k in range(10)} | {
        k: (210, 190)[k % 2] for k in range(13, 30)
    }
    got = estimate(*series(energy, set(range(10, 13))), INTERVAL)
    assert got.get_column("energy").to_list() == [139, 150, 161]
    assert set(got.get_column("method")) == {"linear"}


def test_a_short_gap_follows_the_like_days_scaled_to_the_level_on_either_side() -> None:
    """The like days ramp up through the day; today the meter runs 1.5 times that before
    and after an hour's gap, so the gap reads 1.5 times the like days' ramp."""
    energy = {k: 100.0 + k % DAY for k in range(2 * DAY)}
    energy |= {k: 1.5 * (100 + k % DAY) for k in range(2 * DAY, 3 * DAY)}
    gap = range(2 * DAY + 100, 2 * DAY + 112)
    got = estimate(*series(energy, set(gap)), INTERVAL)
    assert got.get_column("energy").to_list() == [round(1.5 * (100 + k % DAY)) for k in gap]
    assert set(got.get_column("method")) == {"linear"}


def test_a_short_gap_crossing_zero_or_far_from_its_like_days_keeps_the_difference() -> None:
    """Net energy of a solar meter crosses zero, where a ratio means nothing; a meter at
    ten times its like days (a new tenant) is another regime: both keep today's difference
    from the like days' profile across the gap."""
    solar = {k: -60.0 + k % DAY for k in range(2 * DAY)}
    solar |= {k: -60.0 + k % DAY + 30 for k in range(2 * DAY, 3 * DAY)}
    gap = range(2 * DAY + 50, 2 * DAY + 70)  # the profile crosses zero at slot 60
    got = estimate(*series(solar, set(gap)), INTERVAL)
    assert got.get_column("energy").to_list() == [round(-30.0 + k % DAY) for k in gap]
    tenant = {k: 10.0 + k % DAY for k in range(2 * DAY)}
    tenant |= {k: 400.0 for k in range(2 * DAY, 3 * DAY)}
    got = estimate(*series(tenant, set(gap)), INTERVAL)
    assert got.get_column("energy").to_list() == [400] * len(gap)
    assert set(got.get_column("method")) == {"linear"}


def test_a_long_gap_is_the_mean_of_the_like_days() -> None:
    """Three missing hours read the mean of the same intervals on the days before."""
    energy = {k: 100.0 + (k % DAY) for k in range(3 * DAY)}  # the same shape every day
    got = estimate(*series(energy, set(range(2 * DAY + 60, 2 * DAY + 96))), INTERVAL)
    assert set(got.get_column("method")) == {"like_day"}
    assert got.get_column("energy").to_list() == [100 + k for k in range(60, 96)]
    assert got.get_column("original_energy").null_count() == got.height
    assert set(got.get_column("reason")) == {"missing"}


@pytest.fixture
def vee_data(database: Database) -> Iterator[tuple[Database, tuple[datetime, datetime]]]:
    """12 meters x 3 days ending at the last UTC midnight; the last day is the one tested."""
    with connect(database) as conn:
        conn.execute("TRUNCATE energy_readings, reading_flags, reading_estimates")
    replace_fleet(database, FLEET)
    end = floor_time(datetime.now(UTC), timedelta(days=1))
    load_history(database, FLEET, (end - timedelta(days=3), end), interval=INTERVAL, seed=3,
                 timezone="UTC")  # fmt: skip
    yield database, (end - timedelta(days=1), end)
    with connect(database) as conn:
        conn.execute("TRUNCATE energy_readings, reading_flags, reading_estimates")


@pytest.mark.integration
def test_vee_stores_flags_estimates_and_the_audit_and_the_series_has_every_interval(
    vee_data: tuple[Database, tuple[datetime, datetime]], settings: Settings
) -> None:
    db, day = vee_data
    meter, spike_at, gap = 4, day[0] + 30 * INTERVAL, (day[0] + 100 * INTERVAL, 4)
    with connect(db) as conn:
        conn.execute('UPDATE energy_readings SET power = 99000, energy = 8250 '
                     'WHERE meter_id = %s AND "timestamp" = %s', (meter, spike_at))  # fmt: skip
        gap_end = gap[0] + gap[1] * INTERVAL
        conn.execute('DELETE FROM energy_readings WHERE meter_id = %s AND "timestamp" >= %s '
                     'AND "timestamp" < %s', (meter, gap[0], gap_end))  # fmt: skip
    first = vee_window(db, settings, day, actor="test:vee")
    # the glitch moved power and energy, not current: that reading fails two rules
    assert first.flags == {"current_mismatch": 1, "missing": 4, "spike": 1}
    assert first.estimates == {"linear": 5}
    second = vee_window(db, settings, day, actor="test:vee")
    assert (second.flags, second.estimates) == (first.flags, first.estimates)
    assert second.run > first.run
    per_day = int(timedelta(days=1) / INTERVAL)
    with connect(db) as conn:
        estimates = conn.execute(
            'SELECT "timestamp", energy, original_energy, method, reason, vee_run '
            'FROM reading_estimates ORDER BY "timestamp"'
        ).fetchall()
        audit = conn.execute(
            "SELECT actor, window_start, window_end, flags, estimates, finished_at IS NOT NULL "
            "FROM vee_runs WHERE vee_run = %s", (second.run,)
        ).fetchone()  # fmt: skip
        series = conn.execute(
            "SELECT count(*), count(DISTINCT (meter_id, \"timestamp\")), "
            "count(*) FILTER (WHERE quality = 'estimated') FROM validated_readings "
            'WHERE "timestamp" >= %s AND "timestamp" < %s', day,
        ).fetchone()  # fmt: skip
    assert [(row[2], row[3], row[4]) for row in estimates] == [(8250, "linear", "spike")] + [
        (None, "linear", "missing")
    ] * 4
    assert {row[5] for row in estimates} == {second.run}
    assert 0 < estimates[0][1] < 1000  # the spike's 8.25 kWh became a household's interval
    assert audit == ("test:vee", day[0], day[1], 6, 5, True)
    assert series == (len(FLEET) * per_day, len(FLEET) * per_day, 5)


@pytest.mark.integration
def test_the_dagster_job_validates_a_day_with_its_checks_and_metadata(
    vee_data: tuple[Database, tuple[datetime, datetime]], settings: Settings
) -> None:
    """`vee_job` materialises one daily partition: its run has the job's name, the metadata
    counts flags per rule and estimates per method, both checks pass, the run is audited."""
    import dagster as dg

    from grid_pipeline.defs.resources import TimescaleResource
    from grid_pipeline.defs.vee import VEE_ASSET, VEE_JOB, vee_defs

    db, day = vee_data
    with connect(db) as conn:
        conn.execute('DELETE FROM energy_readings WHERE meter_id = 5 AND "timestamp" = %s',
                     (day[0] + 40 * INTERVAL,))  # fmt: skip
    defs = dg.Definitions.merge(
        vee_defs(settings),
        dg.Definitions(
            assets=[dg.AssetSpec(settings.chunk_variants[0].table)],
            resources={"timescale": TimescaleResource(data_dir=str(settings.data_dir))},
        ),
    )
    result = defs.resolve_job_def(VEE_JOB).execute_in_process(partition_key=f"{day[0]:%Y-%m-%d}")
    assert result.success and result.dagster_run.job_name == VEE_JOB
    meta = result.asset_materializations_for_node(VEE_ASSET)[0].metadata
    assert meta["flags_per_rule"].value == {"missing": 1}
    assert meta["estimates_per_method"].value == {"linear": 1}
    assert meta["intervals"].value == len(FLEET) * int(timedelta(days=1) / INTERVAL)
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"every_interval_validated": True, "flags_and_estimates_audited": True}
    with connect(db) as conn:
        audit = conn.execute(
            "SELECT actor, flags, estimates FROM vee_runs WHERE vee_run = %s",
            (meta["vee_run"].value,),
        ).fetchone()
    assert audit == (f"dagster:{result.run_id}", 1, 1)
    # An estimate lost (or written outside a run) fails the checks: they can see it.
    with connect(db) as conn:
        conn.execute("UPDATE reading_estimates SET vee_run = -1")
    assert not vee_window_check(db, settings, day).audited
    with connect(db) as conn:
        conn.execute("DELETE FROM reading_estimates")
    lost = vee_window_check(db, settings, day)
    assert (lost.complete, lost.expected - lost.present) == (False, 1)
