"""Per-session statistics for ``stream:complete``: counts, mean and nearest-rank p95.

The mean and p95 are taken over the integer ``processing_time_ms`` values that were actually
emitted, so a test can recompute them from the events it received. The times are kept as a
count per distinct millisecond value: a stream that runs for days holds as many entries as it
saw distinct times, not one per fragment, and the p95 is still exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("success", "partial", "failed")


def nearest_rank(counts: dict[int, int], percentile: float) -> int:
    """The nearest-rank percentile of the values ``counts`` holds (value: how many); 0 for
    none."""
    total = sum(counts.values())
    if not total:
        return 0
    rank = max(1, math.ceil(percentile / 100 * total))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable: the ranks add up to the total")


@dataclass(slots=True)
class SessionStatistics:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    dropped_count: int = 0
    total_duration_ms: int = 0
    processing_time_counts: dict[int, int] = field(default_factory=dict)
    """How many emitted fragments took each ``processing_time_ms``."""
    processing_time_total_ms: int = 0

    def record_emitted(self, status: str, processing_time_ms: int, duration_ms: int) -> None:
        self.counts[status] += 1
        self.total_duration_ms += duration_ms
        times = self.processing_time_counts
        times[processing_time_ms] = times.get(processing_time_ms, 0) + 1
        self.processing_time_total_ms += processing_time_ms

    def record_dropped(self, duration_ms: int) -> None:
        self.dropped_count += 1
        self.total_duration_ms += duration_ms

    @property
    def emitted(self) -> int:
        return sum(self.counts.values())

    @property
    def total_fragments(self) -> int:
        return self.emitted + self.dropped_count

    def summary(self) -> dict[str, Any]:
        emitted = self.emitted
        return {
            "success_count": self.counts["success"],
            "partial_count": self.counts["partial"],
            "failed_count": self.counts["failed"],
            "dropped_count": self.dropped_count,
            "avg_processing_time_ms": self.processing_time_total_ms / emitted if emitted else 0,
            "p95_processing_time_ms": nearest_rank(self.processing_time_counts, 95),
        }
