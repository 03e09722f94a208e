"""Per-session statistics for ``stream:complete``: counts, mean and nearest-rank p95.

The mean and p95 are taken over the integer ``processing_time_ms`` values that were actually
emitted, so a test can recompute them from the events it received.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("success", "partial", "failed")


def nearest_rank(values: list[int], percentile: float) -> int:
    """The nearest-rank percentile of ``values``; 0 for none."""
    if not values:
        return 0
    ordered = sorted(values)
    rank = max(1, math.ceil(percentile / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(slots=True)
class SessionStatistics:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    dropped_count: int = 0
    total_duration_ms: int = 0
    processing_times_ms: list[int] = field(default_factory=list)

    def record_emitted(self, status: str, processing_time_ms: int, duration_ms: int) -> None:
        self.counts[status] += 1
        self.total_duration_ms += duration_ms
        self.processing_times_ms.append(processing_time_ms)

    def record_dropped(self, duration_ms: int) -> None:
        self.dropped_count += 1
        self.total_duration_ms += duration_ms

    @property
    def total_fragments(self) -> int:
        return sum(self.counts.values()) + self.dropped_count

    def summary(self) -> dict[str, Any]:
        times = self.processing_times_ms
        return {
            "success_count": self.counts["success"],
            "partial_count": self.counts["partial"],
            "failed_count": self.counts["failed"],
            "dropped_count": self.dropped_count,
            "avg_processing_time_ms": sum(times) / len(times) if times else 0,
            "p95_processing_time_ms": nearest_rank(times, 95),
        }
