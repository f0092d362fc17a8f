"""How well the detectors find the injected faults: precision, recall, F1 and delay per kind.

A detected event matches a true fault when both name the same kind and asset and
their time spans overlap (with `TOLERANCE` on either side: a detector that works
on 10-minute means can place a start up to one window early). Precision counts
detections that match some fault, recall counts faults matched by some
detection, so one fault found as two pieces costs precision, not recall.

Delay is how long after the true start the detector placed its start (never less
than zero): on the history, how much of the fault went unseen; on the live path
the stored `detected_at` adds the time to detection.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

import polars as pl

#: How far apart a detection and a fault may lie and still be the same event.
TOLERANCE = timedelta(minutes=15)

#: Columns both frames carry: kind, asset_type, asset, start, end (end may be null: open).
EVENT_COLUMNS = ("kind", "asset_type", "asset", "start", "end")


@dataclass(frozen=True)
class KindScore:
    """The score of one kind."""

    kind: str
    faults: int
    detections: int
    matched_faults: int
    matched_detections: int
    precision: float
    recall: float
    f1: float
    delay_s_p95: float | None
    delay_s_median: float | None

    def as_json(self) -> dict[str, object]:
        """The object `events score --json` prints under the kind."""
        data = asdict(self)
        data.pop("kind")
        return data


def _ratio(part: int, whole: int) -> float:
    """part / whole, 1.0 when there is nothing to get wrong."""
    return part / whole if whole else 1.0


def _numbered(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    return frame.select(EVENT_COLUMNS).with_row_index(name)


def match(truth: pl.DataFrame, detected: pl.DataFrame, tolerance: timedelta) -> pl.DataFrame:
    """Every (fault, detection) pair of the same kind and asset whose spans overlap within
    `tolerance`, with the delay in seconds."""
    faults = _numbered(truth, "fault")
    found = _numbered(detected, "detection")
    pairs = faults.join(found, on=["kind", "asset_type", "asset"], suffix="_detected")
    detected_end = pl.col("end_detected").fill_null(pl.col("start_detected").dt.offset_by("100y"))
    overlaps = (pl.col("start_detected") < pl.col("end") + tolerance) & (
        pl.col("start") < detected_end + tolerance
    )
    return pairs.filter(overlaps).with_columns(
        ((pl.col("start_detected") - pl.col("start")).dt.total_microseconds() / 1e6)
        .clip(lower_bound=0.0)
        .alias("delay_s")
    )


def score(
    truth: pl.DataFrame, detected: pl.DataFrame, tolerance: timedelta = TOLERANCE
) -> dict[str, KindScore]:
    """Scores per kind that appears in either frame, sorted by kind."""
    pairs = match(truth, detected, tolerance)
    kinds = sorted(set(truth["kind"].to_list()) | set(detected["kind"].to_list()))
    scores = {}
    for kind in kinds:
        n_faults = truth.filter(pl.col("kind") == kind).height
        n_found = detected.filter(pl.col("kind") == kind).height
        mine = pairs.filter(pl.col("kind") == kind)
        matched_faults = mine["fault"].n_unique()
        matched_found = mine["detection"].n_unique()
        precision, recall = _ratio(matched_found, n_found), _ratio(matched_faults, n_faults)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        delays = mine.group_by("fault").agg(pl.col("delay_s").min())["delay_s"]
        scores[kind] = KindScore(
            kind=kind,
            faults=n_faults,
            detections=n_found,
            matched_faults=matched_faults,
            matched_detections=matched_found,
            precision=round(precision, 4),
            recall=round(recall, 4),
            f1=round(f1, 4),
            delay_s_p95=float(delays.quantile(0.95, "higher")) if len(delays) else None,  # type: ignore[arg-type]
            delay_s_median=float(delays.median()) if len(delays) else None,  # type: ignore[arg-type]
        )
    return scores
