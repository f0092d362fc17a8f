"""Chunk-interval advisor: where a chunk interval sits against Timescale's guidance.

Two bounds decide a sensible chunk interval for readings segmented by meter:

* **memory (upper bound)**: the chunks being written, with their indexes,
  should fit in about 25% of main memory (Timescale's sizing guidance), so
  `interval <= 0.25 x memory / (ingest rows/s x bytes per row incl. indexes)`;
* **compression (lower bound)**: compression works per segment (one meter per
  chunk), and a segment should hold at least ~100 rows to compress well, so
  `interval >= 100 x reading interval`.

The recommendation is the smallest standard interval that meets the lower
bound and fits the memory budget: smaller chunks prune better for "recent
data" queries, and anything below the lower bound compresses poorly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

MEMORY_SHARE = 0.25
MIN_ROWS_PER_SEGMENT = 100
CANDIDATES = (
    timedelta(hours=1), timedelta(hours=3), timedelta(hours=6), timedelta(hours=12),
    timedelta(days=1), timedelta(days=2), timedelta(weeks=1), timedelta(weeks=2),
    timedelta(days=30),
)  # fmt: skip


@dataclass(frozen=True)
class AdvisorInputs:
    """What the advice is computed from (measured by the benchmark, or given)."""

    ingest_rows_per_s: float
    bytes_per_row: float  # heap + indexes, uncompressed, per reading
    memory_bytes: int
    meters: int
    reading_interval: timedelta


@dataclass(frozen=True)
class IntervalVerdict:
    """One candidate interval measured against both bounds."""

    interval: str
    rows_per_chunk: int
    chunk_bytes: int
    memory_budget_share: float  # chunk bytes / (25% of memory)
    rows_per_segment: float
    fits_memory: bool
    compresses_well: bool


@dataclass(frozen=True)
class Advice:
    inputs: AdvisorInputs
    max_interval: timedelta  # memory bound
    min_interval: timedelta  # compression bound
    recommended: timedelta | None
    verdicts: list[IntervalVerdict]

    def to_json(self) -> dict[str, Any]:
        return {
            "inputs": {
                **asdict(self.inputs),
                "reading_interval": str(self.inputs.reading_interval),
            },
            "max_interval_memory": str(self.max_interval),
            "min_interval_compression": str(self.min_interval),
            "recommended": str(self.recommended) if self.recommended else None,
            "verdicts": [asdict(v) for v in self.verdicts],
        }


def verdict(interval: timedelta, inputs: AdvisorInputs) -> IntervalVerdict:
    """How a chunk of this interval would look for these inputs."""
    rows = inputs.ingest_rows_per_s * interval.total_seconds()
    chunk_bytes = rows * inputs.bytes_per_row
    budget = MEMORY_SHARE * inputs.memory_bytes
    per_segment = rows / inputs.meters if inputs.meters else 0.0
    return IntervalVerdict(
        interval=str(interval),
        rows_per_chunk=round(rows),
        chunk_bytes=round(chunk_bytes),
        memory_budget_share=chunk_bytes / budget if budget else float("inf"),
        rows_per_segment=per_segment,
        fits_memory=chunk_bytes <= budget,
        compresses_well=per_segment >= MIN_ROWS_PER_SEGMENT,
    )


def advise(inputs: AdvisorInputs, extra: tuple[timedelta, ...] = ()) -> Advice:
    """Bounds, a recommendation, and verdicts for the standard and `extra` intervals."""
    if inputs.ingest_rows_per_s <= 0 or inputs.bytes_per_row <= 0 or inputs.memory_bytes <= 0:
        raise ValueError("ingest rate, row size and memory must be positive")
    seconds = MEMORY_SHARE * inputs.memory_bytes / (inputs.ingest_rows_per_s * inputs.bytes_per_row)
    max_interval = timedelta(minutes=int(seconds // 60))  # an estimate: whole minutes
    min_interval = inputs.reading_interval * MIN_ROWS_PER_SEGMENT
    candidates = sorted(set(CANDIDATES) | set(extra))
    fitting = [c for c in candidates if min_interval <= c <= max_interval]
    return Advice(
        inputs=inputs,
        max_interval=max_interval,
        min_interval=min_interval,
        recommended=fitting[0] if fitting else None,
        verdicts=[verdict(c, inputs) for c in candidates],
    )
