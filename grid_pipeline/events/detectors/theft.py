"""Energy theft: a meter under-registering while its feeder's head still sees the load.

A bypass or a tampered meter lowers what the meter registers, not what flows: the
feeder head, which measures the feeder's true total, does not drop, so the energy
the meters do not account for (head minus the sum of the feeder's meters) rises by
what the meter stopped registering. Neither sign alone is enough: a household's
consumption varies from day to day (weather, holidays), and the feeder balance
alone does not say which meter. The detector asks for both:

1. Per meter and UTC day, the consumption (the sum of its positive hourly energy,
   which a theft scales like the rest and solar export does not blur), divided by
   the median of its group (class x solar) that day, which removes weather and
   weekdays. Its baseline is the median share over its honest days: first the 80th
   percentile over the days read (up to 14 days before the window; a theft lasts at
   most a week, so most days are honest), then the median of the days not low
   against that. A day is low when the share is below ``1 - theft_min_drop`` of it.
2. At least ``theft_min_days`` consecutive low days are a candidate; a run that
   reaches the last day of the data may be shorter (a theft that began hours before
   the data ends has had no second day to show), the balance then has to carry it.
   A meter may have more than one run (two thefts in a fortnight): each is its own
   candidate, and the honest days around them make the baseline.
3. Each candidate is placed in time: its start (and end) is the hour where a step
   from the meter's usual hourly profile (its median per hour of day over its
   honest days) to its reduced level fits best (least squares), searched from a day
   before the first low day to half a day into it; a run reaching the data's end
   is ``ongoing`` and ends there.
4. The feeder's hourly balance decides which candidates are thefts (`backed`). A
   tampered meter registers a share of what flows through it, so over its span the
   feeder's unaccounted energy rises by k times what it registers each hour,
   k = stolen share / (1 - stolen share), and not at all outside its span; a
   household's natural dip leaves k at 0. Head minus meters per hour is fitted,
   divided by the hour's flow magnitude (the losses' noise grows with it), as a
   loss share of the flow magnitude (unknown, per feeder; a share of the export
   too, for a head that books losses on the net flow) plus k times each
   candidate's registered energy, all of the feeder's candidates together, with
   outlying hours (other meters' zero reads, stuck registers, spikes) trimmed. A
   candidate is a theft when its k stands ``theft_balance_z`` standard errors above
   0 and is at least ``theft_balance_share`` of the k its own drop implies
   ((1 - ratio) / ratio); failing ones are dropped weakest first and the rest fitted
   again. The two tests share the work: a natural dip's k sits near 0, so the
   share of the implied k (half of it) rejects it even where the balance is noisy,
   and two standard errors are enough on top of that; on generated fleets with the
   drop threshold lowered to bring in hundreds of natural dips, six of the seven
   accepted wrongly pass three standard errors as well (they sit on another
   thief's hours on the same feeder). Hourly, the balance weighs a theft's own profile
   against the losses' noise (+-10 % of 2 % per interval, about 3 kWh a day on a
   25 MWh feeder, as much as a small household's theft), which daily sums cannot;
   thefts that overlap on one feeder are told apart by their profiles.

The detector reads ``LOOKBACK`` before the window for baselines and
``LOOKAHEAD`` after it (to see a theft that starts late in the window whole), and
reports only thefts that start inside the window. A theft still running at the
end of the data ends there (evidence ``ongoing`` = 1). Without feeder-head
readings there is no balance and no theft event. Severity: warning (revenue, not
safety).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import psycopg

from grid_pipeline.db.sqlfiles import query
from grid_pipeline.events.detectors.base import DetectedEvent, frame, in_window, utc
from grid_pipeline.events.kinds import Thresholds

NAME = "theft"
LOOKBACK = timedelta(days=14)
LOOKAHEAD = timedelta(days=8)
#: The meter's honest level: this quantile of its daily share (most days are honest).
BASELINE_QUANTILE = 0.8
#: A day counts towards the meter's honest level when its share is above this share of
#: the first guess (the 80th percentile).
HONEST_SHARE = 0.7
#: An hour whose balance lies more than this many robust standard deviations off the fit
#: is another fault's (zero reads, a stuck register, a spike) and left out of it.
TRIM = 4.0
TRIM_ROUNDS = 4
#: The least robust deviation of an hour's balance, as a share of its flow: keeps a
#: noiseless balance (tests, exact losses) from trimming every hour.
SCALE_FLOOR = 1e-5
#: How much of the day's level scales the usual profile (1: all of it, 0: none): a home
#: follows its group's weather and weekdays only in part; half is what placed the starts
#: best on generated fleets (seed 42, seven fortnights).
LEVEL_WEIGHT = 0.5
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
_TS = pl.Datetime("us", "UTC")
_HOURLY: dict[str, Any] = {
    "hour": _TS, "meter_id": pl.Int32, "feeder": pl.Utf8, "customer_class": pl.Utf8,
    "has_solar": pl.Boolean, "energy": pl.Int64,
}  # fmt: skip
_METER_ARRAYS: dict[str, Any] = {
    "meter_id": pl.Int32, "feeder": pl.Utf8, "customer_class": pl.Utf8, "has_solar": pl.Boolean,
    "hours": pl.List(pl.Int64), "energy": pl.List(pl.Int64),
}  # fmt: skip
_HEAD = {"hour": _TS, "feeder": pl.Utf8, "head": pl.Float64, "metered": pl.Float64,
         "flow": pl.Float64}  # fmt: skip


@dataclass(frozen=True)
class Candidate:
    """A run of low days of one meter."""

    meter_id: int
    feeder: str
    first_day: datetime
    last_day: datetime
    ratio: float  # the meter's share over the run / its baseline
    drop_wh: float  # consumption below baseline over the run
    daily: tuple[tuple[datetime, float], ...]  # (day, drop in Wh) per low day

    @property
    def days(self) -> int:
        return len(self.daily)


def daily_shares(hourly: pl.DataFrame) -> pl.DataFrame:
    """Per meter and day: consumption, its group's median, share and baseline share."""
    daily = (
        hourly.with_columns(pl.col("hour").dt.truncate("1d").alias("day"))
        .group_by("meter_id", "feeder", "customer_class", "has_solar", "day")
        .agg(pl.col("energy").clip(lower_bound=0).sum().cast(pl.Float64).alias("use"))
    )
    group = ["customer_class", "has_solar", "day"]
    return (
        daily.with_columns(pl.col("use").median().over(group).alias("group_use"))
        .filter(pl.col("group_use") > 0)
        .with_columns((pl.col("use") / pl.col("group_use")).alias("share"))
        .with_columns(
            pl.col("share").quantile(BASELINE_QUANTILE).over("meter_id").alias("first_guess")
        )
        .with_columns(
            pl.col("share")
            .filter(pl.col("share") > HONEST_SHARE * pl.col("first_guess"))
            .median()
            .over("meter_id")
            .alias("baseline")
        )
        .filter(pl.col("baseline") > 0)
        .with_columns((pl.col("share") / pl.col("baseline")).alias("ratio"))
        .drop("first_guess")
    )


def low_days(shares: pl.DataFrame, thresholds: Thresholds) -> pl.DataFrame:
    """The meter-days below ``1 - theft_min_drop`` of their baseline, with the drop (Wh)."""
    return shares.filter(pl.col("ratio") <= 1.0 - thresholds.theft_min_drop).with_columns(
        (pl.col("baseline") * pl.col("group_use") - pl.col("use")).alias("drop")
    )


def candidates(shares: pl.DataFrame, thresholds: Thresholds) -> list[Candidate]:
    """Runs of at least ``theft_min_days`` low days of one meter."""
    low = low_days(shares, thresholds)
    if low.is_empty():
        return []
    last_day = shares.get_column("day").max()
    step = pl.col("day").diff().over("meter_id")
    new_run = step.is_null() | (step != DAY)
    runs = (
        low.sort("meter_id", "day")
        .with_columns(new_run.cast(pl.Int64).cum_sum().over("meter_id").alias("run"))
        .group_by("meter_id", "feeder", "run")
        .agg(
            pl.col("day").min().alias("first_day"),
            pl.col("day").max().alias("last_day"),
            pl.len().alias("days"),
            (pl.col("use").sum() / (pl.col("baseline") * pl.col("group_use")).sum()).alias("ratio"),
            pl.col("drop").sum().alias("drop_wh"),
            pl.col("day").alias("days_list"),
            pl.col("drop").alias("drops"),
        )
        .filter((pl.col("days") >= thresholds.theft_min_days) | (pl.col("last_day") == last_day))
        .sort("meter_id", "first_day")
    )
    return [
        Candidate(
            meter_id=row["meter_id"],
            feeder=row["feeder"],
            first_day=row["first_day"],
            last_day=row["last_day"],
            ratio=row["ratio"],
            drop_wh=row["drop_wh"],
            daily=tuple(zip(row["days_list"], row["drops"], strict=True)),
        )
        for row in runs.iter_rows(named=True)
    ]


@dataclass(frozen=True)
class Suspect:
    """A candidate placed in time (`locate`) with its hourly registered energy over that span."""

    candidate: Candidate
    start: datetime
    end: datetime
    ongoing: bool
    registered: pl.DataFrame  # hour, use (Wh registered, >= 0) over [start, end)

    @property
    def expected(self) -> float:
        """Hidden energy per registered Wh its own drop implies: (1 - ratio) / ratio."""
        ratio = min(max(self.candidate.ratio, 0.05), 1.0)
        return (1.0 - ratio) / ratio


def fit_balance(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of `y` on the columns of `x`, trimming outlying hours; (coef, std err).

    An hour more than ``TRIM`` robust standard deviations (1.4826 x the median absolute
    residual) from the fit is left out and the fit repeated: another meter's zero reads,
    stuck register or spike moves a few hours of the balance by far more than the
    losses' noise, and must not buy or cost a theft. The standard errors are those of
    ordinary least squares on the hours kept, with that robust deviation.
    """
    keep = np.ones(len(y), dtype=bool)
    coef = np.zeros(x.shape[1])
    scale = SCALE_FLOOR
    for _ in range(TRIM_ROUNDS):
        coef = np.linalg.lstsq(x[keep], y[keep], rcond=None)[0]
        residual = y - x @ coef
        scale = max(1.4826 * float(np.median(np.abs(residual[keep]))), SCALE_FLOOR)
        inside = np.abs(residual) <= TRIM * scale
        if (inside == keep).all() or inside.sum() <= x.shape[1]:
            break
        keep = inside
    covariance = np.linalg.pinv(x[keep].T @ x[keep]) * scale**2
    return coef, np.sqrt(np.maximum(np.diag(covariance), 0.0))


def backed(
    y: np.ndarray,
    base: np.ndarray,
    hidden: np.ndarray,
    expected: np.ndarray,
    thresholds: Thresholds,
) -> tuple[np.ndarray, np.ndarray]:
    """Which suspects of one feeder its hourly balance backs, and the hidden share of each.

    Per hour, divided by the hour's flow magnitude (the losses' noise grows with it):
    `y` head minus meters, `base` the loss columns (1 and the export share), `hidden`
    (hours x suspects) each suspect's registered energy over its span (0 off it). A
    thief's meter registers a share of what flows, so the balance rises by k times what
    it registers, k = theft share / (1 - theft share); a natural dip leaves k at 0. All
    suspects are fitted together; one whose k is not ``theft_balance_z`` standard errors
    above 0 or is below ``theft_balance_share`` of its `expected` k is dropped (the
    weakest first) and the rest fitted again. Returns (a bool per suspect, k per suspect).
    """
    n = hidden.shape[1]
    active = list(range(n))
    k = np.zeros(n)
    while active:
        coef, error = fit_balance(y, np.column_stack([base, hidden[:, active]]))
        mine, spread = coef[base.shape[1] :], error[base.shape[1] :]
        strength = np.minimum(
            mine / np.maximum(spread, 1e-12) / thresholds.theft_balance_z,
            mine / (thresholds.theft_balance_share * expected[active]),
        )
        if strength.min() >= 1.0:
            k[active] = mine
            break
        active.pop(int(np.argmin(strength)))
    chosen = np.zeros(n, dtype=bool)
    chosen[active] = True
    return chosen, k


def confirm(
    suspects: list[Suspect], head: pl.DataFrame, thresholds: Thresholds
) -> list[tuple[Suspect, float]]:
    """The suspects their feeder's hourly balance backs (`backed`, per feeder), with the
    energy (Wh) the balance says each hid."""
    kept: list[tuple[Suspect, float]] = []
    for (feeder,), rows in head.filter(pl.col("flow") > 0).group_by("feeder"):
        mine = [s for s in suspects if s.candidate.feeder == feeder]
        if not mine:
            continue
        rows = rows.sort("hour")
        flow = rows["flow"].to_numpy()
        y = (rows["head"] - rows["metered"]).to_numpy() / flow
        export = (rows["flow"] - rows["metered"]).to_numpy() / flow
        base = np.column_stack([np.ones(len(y)), export]) if np.ptp(export) > 0 else (
            np.ones((len(y), 1)))  # fmt: skip
        hours = rows.select("hour")
        hidden = np.column_stack([
            hours.join(s.registered, on="hour", how="left")["use"].fill_null(0.0).to_numpy()
            for s in mine
        ])  # fmt: skip
        chosen, k = backed(y, base, hidden / flow[:, None], np.array([s.expected for s in mine]),
                           thresholds)  # fmt: skip
        for i, s in enumerate(mine):
            if chosen[i]:
                kept.append((s, float(k[i] * hidden[:, i].sum())))
    return sorted(kept, key=lambda pair: (pair[0].candidate.meter_id, pair[0].start))


def step_at(values: np.ndarray, before: np.ndarray, after: np.ndarray, lo: int, hi: int) -> int:
    """The index t in [lo, hi] where `before` up to t and `after` from t fit `values` best.

    Least squares over the whole series: sum (values - before)^2 over [0, t) plus
    sum (values - after)^2 over [t, n), computed for every t with cumulative sums.
    """
    cost_before = np.concatenate([[0.0], np.cumsum((values - before) ** 2)])
    cost_after = np.concatenate([np.cumsum(((values - after) ** 2)[::-1])[::-1], [0.0]])
    total = cost_before + cost_after
    lo, hi = max(lo, 0), min(hi, len(values))
    return lo + int(np.argmin(total[lo : hi + 1]))


def _profile(series: pl.DataFrame, honest_days: list[datetime]) -> dict[int, float]:
    """The meter's median positive energy per hour of day over its honest days, per unit
    of the day's level (its group's use that day over its usual use)."""
    honest = series.filter(pl.col("hour").dt.truncate("1d").is_in(honest_days))
    source = honest if honest.height >= 24 else series
    by_hour = source.group_by(pl.col("hour").dt.hour().alias("h")).agg(
        (pl.col("use") / pl.col("level") ** LEVEL_WEIGHT).median()
    )
    return {int(h): float(u) for h, u in by_hour.iter_rows()}


def locate(
    candidate: Candidate, series: pl.DataFrame, honest_days: list[datetime], data_end: datetime
) -> tuple[datetime, datetime, bool]:
    """Start and end of the theft at hour resolution; ongoing when it reaches the data's end.

    `series` holds the meter's hourly ``energy`` and the day's ``level`` (its group's
    use that day over the group's usual: weather and weekdays move every home alike),
    which scales the usual profile, so a cold day's honest hours do not look reduced.
    """
    series = series.sort("hour").with_columns(pl.col("energy").clip(lower_bound=0).alias("use"))
    profile = _profile(series, honest_days)
    hours = series.get_column("hour").to_list()
    values = series.get_column("use").cast(pl.Float64).to_numpy()
    level = series.get_column("level").to_numpy()
    usual = np.array([profile.get(h.hour, 0.0) for h in hours]) * level**LEVEL_WEIGHT
    reduced = usual * min(max(candidate.ratio, 0.0), 1.0)

    stamps = series.get_column("hour").dt.epoch("us").to_numpy()

    def index(moment: datetime) -> int:
        return int(np.searchsorted(stamps, round(moment.timestamp() * 1_000_000)))

    start_i = step_at(
        values,
        usual,
        reduced,
        index(candidate.first_day - DAY),
        index(candidate.first_day + DAY / 2),
    )
    after_last = candidate.last_day + DAY
    ongoing = after_last + HOUR >= data_end
    if ongoing:
        end = data_end
    else:
        end_i = step_at(
            values, reduced, usual, index(after_last - DAY / 2), index(after_last + DAY)
        )
        end = hours[end_i] if end_i < len(hours) else data_end
    start = hours[start_i] if start_i < len(hours) else candidate.first_day
    return utc(start), utc(end), ongoing


def suspects(
    hourly: pl.DataFrame, shares: pl.DataFrame, found: list[Candidate], thresholds: Thresholds
) -> list[Suspect]:
    """Each candidate placed in time (`locate`), with what its meter registered meanwhile."""
    last_hour: datetime = hourly.get_column("hour").max()  # type: ignore[assignment]
    data_end = last_hour + HOUR
    placed = []
    for c in found:
        mine = shares.filter(pl.col("meter_id") == c.meter_id)
        honest = mine.filter(pl.col("ratio") > 1.0 - thresholds.theft_min_drop)
        days = mine.select(
            "day", (pl.col("group_use") / pl.col("group_use").median()).alias("level")
        )
        series = (
            hourly.filter(pl.col("meter_id") == c.meter_id)
            .select("hour", "energy", pl.col("hour").dt.truncate("1d").alias("day"))
            .join(days, on="day", how="left")
            .with_columns(
                pl.when(pl.len().over("day") == 24)  # a partial day's sum says nothing of it
                .then(pl.col("level"))
                .otherwise(1.0)
                .fill_null(1.0)
                .alias("level")
            )
        )
        start, end, ongoing = locate(c, series, honest.get_column("day").to_list(), data_end)
        registered = series.filter(pl.col("hour") >= start, pl.col("hour") < end).select(
            "hour", pl.col("energy").clip(lower_bound=0).cast(pl.Float64).alias("use")
        )
        placed.append(Suspect(c, start, end, ongoing, registered))
    return placed


def detect_frames(
    hourly: pl.DataFrame, head: pl.DataFrame, thresholds: Thresholds
) -> list[DetectedEvent]:
    """Theft events from hourly meter energy and hourly feeder-head energy (pure)."""
    if hourly.is_empty() or head.is_empty():
        return []
    shares = daily_shares(hourly)
    placed = suspects(hourly, shares, candidates(shares, thresholds), thresholds)
    events = []
    for s, hidden_wh in confirm(placed, head, thresholds):
        c = s.candidate
        events.append(
            DetectedEvent(
                kind="theft",
                asset_type="meter",
                asset=str(c.meter_id),
                start=s.start,
                end=s.end,
                severity="warning",
                evidence={
                    "feeder": c.feeder,
                    "ratio": round(c.ratio, 3),
                    "drop_kwh": round(c.drop_wh / 1000, 2),
                    "balance_kwh": round(hidden_wh / 1000, 2),
                    "days": c.days,
                    "ongoing": int(s.ongoing),
                },
                detector=NAME,
            )
        )
    return events


def meter_hours(conn: psycopg.Connection[Any], params: dict[str, Any]) -> pl.DataFrame:
    """Every meter's hourly energy over [lo, hi) (`events_theft_meters`: arrays per meter)."""
    rows = conn.execute(query("events_theft_meters"), params).fetchall()
    per_meter = pl.DataFrame(rows, schema=_METER_ARRAYS, orient="row")
    return (
        per_meter.explode("hours", "energy")
        .with_columns(pl.from_epoch("hours", "s").dt.replace_time_zone("UTC").alias("hour"))
        .select(pl.col(name).cast(kind) for name, kind in _HOURLY.items())
    )


def detect(
    conn: psycopg.Connection[Any], window: tuple[datetime, datetime], thresholds: Thresholds
) -> list[DetectedEvent]:
    """Theft events starting in `window` (reads 14 days before it and 8 after it)."""
    params = {"lo": window[0] - LOOKBACK, "hi": window[1] + LOOKAHEAD}
    head = frame(conn, "events_theft_feeders", params, _HEAD)
    if head.is_empty():
        return []
    hourly = meter_hours(conn, params)
    return in_window(detect_frames(hourly, head, thresholds), window)
