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
2. At least ``theft_min_days`` consecutive low days are a candidate.
3. The feeder balance decides which candidates are thefts (`explain`). Head minus
   meters is technical losses, which grow with the magnitude of the flow whichever
   way it goes (a share of sum |flow| per interval, unknown, per feeder), plus
   what thieves take. Of all subsets of the feeder's candidates, the one that
   leaves the least energy unexplained over the days (absolute values, loss share
   re-estimated as a median for each subset), with a small price per theft (half
   its daily drop), is taken. A theft explains its days' surplus; a meter's natural
   dip would leave its days short; another meter's fault (a zero read over a solar
   export at noon) moves one day and cannot buy a subset much. Thefts may cover
   most of a feeder's days, so the loss share cannot simply be the median day.
4. The start (and end) is placed at the hour where a step from the meter's usual
   hourly profile to its reduced level fits best (least squares), searched from a
   day before the first low day to half a day into it, so it lands within hours of
   the true start although the first day is only partly reduced.

The detector reads ``LOOKBACK`` before the window for baselines and
``LOOKAHEAD`` after it (to see a theft that starts late in the window whole), and
reports only thefts that start inside the window. A theft still running at the
end of the data ends there (evidence ``ongoing`` = 1). Without feeder-head
readings there is no balance and no theft event. Severity: warning (revenue, not
safety).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import psycopg

from grid_pipeline.events.detectors.base import DetectedEvent, frame, in_window, utc
from grid_pipeline.events.kinds import Thresholds

NAME = "theft"
LOOKBACK = timedelta(days=14)
LOOKAHEAD = timedelta(days=8)
#: The meter's honest level: this quantile of its daily share (most days are honest).
BASELINE_QUANTILE = 0.8
#: The price of calling a candidate a theft, as a share of its mean daily drop: the
#: balance must explain at least that much more with it than without it.
BALANCE_SHARE = 0.5
#: A day counts towards the meter's honest level when its share is above this share of
#: the first guess (the 80th percentile).
HONEST_SHARE = 0.7
#: At most this many candidates per feeder are weighed together (2^n subsets), largest first.
MAX_CANDIDATES = 12
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
_TS = pl.Datetime("us", "UTC")
_HOURLY = {"hour": _TS, "meter_id": pl.Int32, "feeder": pl.Utf8, "customer_class": pl.Utf8,
           "has_solar": pl.Boolean, "energy": pl.Int64}  # fmt: skip
_HEAD = {"day": _TS, "feeder": pl.Utf8, "head": pl.Float64, "metered": pl.Float64,
         "flow": pl.Float64}  # fmt: skip


@dataclass(frozen=True)
class Candidate:
    """A run of low days of one meter, with what the balance says about it."""

    meter_id: int
    feeder: str
    first_day: datetime
    last_day: datetime
    ratio: float  # the meter's share over the run / its baseline
    drop_wh: float  # consumption below baseline over the run
    balance_wh: float  # the feeder's unexplained energy over the run, before this theft
    daily: tuple[tuple[datetime, float], ...]  # (day, drop in Wh) per low day
    balanced_days: int = 0  # low days on which the feeder balance was read

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
        .filter(pl.col("days") >= thresholds.theft_min_days)
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
            balance_wh=0.0,
            daily=tuple(zip(row["days_list"], row["drops"], strict=True)),
        )
        for row in runs.iter_rows(named=True)
    ]


def explain(
    drops: np.ndarray, gap: np.ndarray, flow: np.ndarray, penalty: np.ndarray
) -> tuple[np.ndarray, float]:
    """Which candidates of one feeder its balance backs, and the feeder's loss share.

    `gap` is head minus metered energy per day, `flow` the metered flow's magnitude per
    day, `drops` (candidates x days) what each candidate registered below its baseline
    (0 off its run). For every subset S of candidates, the loss share is the median over
    days of (gap - sum_S drops) / flow and the cost the sum over days of
    |gap - loss x flow - sum_S drops| plus `penalty` per member: the subset that
    leaves the least unexplained energy wins. A true theft leaves its days' balance
    up by its drop unless it is in S; a meter's own dip in S pushes its days' balance
    below zero. Median and absolute values keep a day moved by another fault from
    deciding. Returns (a bool per candidate, the loss share).
    """
    n = drops.shape[0]
    masks = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
    taken = masks @ drops  # subsets x days
    losses = np.median((gap[None, :] - taken) / flow[None, :], axis=1)
    cost = np.abs(gap[None, :] - losses[:, None] * flow[None, :] - taken).sum(axis=1)
    best = int(np.argmin(cost + masks @ penalty))
    return masks[best].astype(bool), float(losses[best])


def confirm(found: list[Candidate], head: pl.DataFrame) -> list[Candidate]:
    """The candidates their feeder's balance backs (`explain`, per feeder), with the
    balance evidence: the feeder's unaccounted energy over each one's days, less what
    the other confirmed thefts on the feeder explain."""
    kept: list[Candidate] = []
    for feeder, days_frame in head.filter(pl.col("flow") > 0).group_by("feeder"):
        mine = sorted((c for c in found if c.feeder == feeder[0] and c.drop_wh > 0),
                      key=lambda c: -c.drop_wh)[:MAX_CANDIDATES]  # fmt: skip
        if not mine:
            continue
        days_frame = days_frame.sort("day")
        index = {d: i for i, d in enumerate(days_frame.get_column("day").to_list())}
        gap = (days_frame["head"] - days_frame["metered"]).to_numpy()
        flow = days_frame["flow"].to_numpy()
        drops = np.zeros((len(mine), len(index)))
        for row, c in enumerate(mine):
            for day, drop in c.daily:
                if day in index:
                    drops[row, index[day]] = max(drop, 0.0)
        penalty = BALANCE_SHARE * drops.sum(axis=1) / np.maximum((drops > 0).sum(axis=1), 1)
        chosen, losses = explain(drops, gap, flow, penalty)
        unexplained = gap - losses * flow - chosen.astype(float) @ drops
        for row, c in enumerate(mine):
            if chosen[row]:
                on_days = drops[row] > 0
                balance = float((unexplained + drops[row])[on_days].sum())
                kept.append(replace(c, balance_wh=balance, balanced_days=int(on_days.sum())))
    return sorted(kept, key=lambda c: (c.meter_id, c.first_day))


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
    """The meter's median positive energy per hour of day over its honest days."""
    honest = series.filter(pl.col("hour").dt.truncate("1d").is_in(honest_days))
    source = honest if honest.height >= 24 else series
    by_hour = source.group_by(pl.col("hour").dt.hour().alias("h")).agg(pl.col("use").median())
    return {int(h): float(u) for h, u in by_hour.iter_rows()}


def locate(
    candidate: Candidate, series: pl.DataFrame, honest_days: list[datetime], data_end: datetime
) -> tuple[datetime, datetime, bool]:
    """Start and end of the theft at hour resolution; ongoing when it reaches the data's end."""
    series = series.sort("hour").with_columns(pl.col("energy").clip(lower_bound=0).alias("use"))
    profile = _profile(series, honest_days)
    hours = series.get_column("hour").to_list()
    values = series.get_column("use").cast(pl.Float64).to_numpy()
    usual = np.array([profile.get(h.hour, 0.0) for h in hours])
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


def detect_frames(
    hourly: pl.DataFrame, head: pl.DataFrame, thresholds: Thresholds
) -> list[DetectedEvent]:
    """Theft events from hourly meter energy and daily feeder-head energy (pure)."""
    if hourly.is_empty() or head.is_empty():
        return []
    shares = daily_shares(hourly)
    found = confirm(candidates(shares, thresholds), head)
    last_hour: datetime = hourly.get_column("hour").max()  # type: ignore[assignment]
    data_end = last_hour + HOUR
    events = []
    for c in found:
        mine = shares.filter(pl.col("meter_id") == c.meter_id)
        honest = mine.filter(pl.col("ratio") > 1.0 - thresholds.theft_min_drop)
        start, end, ongoing = locate(
            c,
            hourly.filter(pl.col("meter_id") == c.meter_id).select("hour", "energy"),
            honest.get_column("day").to_list(),
            data_end,
        )
        events.append(
            DetectedEvent(
                kind="theft",
                asset_type="meter",
                asset=str(c.meter_id),
                start=start,
                end=end,
                severity="warning",
                evidence={
                    "feeder": c.feeder,
                    "ratio": round(c.ratio, 3),
                    "drop_kwh": round(c.drop_wh / 1000, 2),
                    "balance_kwh": round(c.balance_wh / 1000, 2),
                    "days": c.days,
                    "ongoing": int(ongoing),
                },
                detector=NAME,
            )
        )
    return events


def detect(
    conn: psycopg.Connection[Any], window: tuple[datetime, datetime], thresholds: Thresholds
) -> list[DetectedEvent]:
    """Theft events starting in `window` (reads 14 days before it and 8 after it)."""
    params = {"lo": window[0] - LOOKBACK, "hi": window[1] + LOOKAHEAD}
    head = frame(conn, "events_theft_feeders", params, _HEAD)
    if head.is_empty():
        return []
    hourly = frame(conn, "events_theft_meters", params, _HOURLY)
    return in_window(detect_frames(hourly, head, thresholds), window)
