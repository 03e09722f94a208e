from __future__ import annotations

from collections import Counter

import pytest

from echosts.stats import SessionStatistics, nearest_rank


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], 0), ([5], 5), (list(range(1, 21)), 19), (list(range(1, 101)), 95), ([3, 1, 2], 3)],
)
def test_p95_is_nearest_rank(values: list[int], expected: int) -> None:
    assert nearest_rank(dict(Counter(values)), 95) == expected


def test_repeated_times_count_once_each_in_the_rank() -> None:
    assert nearest_rank({10: 94, 500: 6}, 95) == 500
    assert nearest_rank({10: 95, 500: 5}, 95) == 10


def test_a_long_stream_keeps_one_entry_per_distinct_time() -> None:
    stats = SessionStatistics()
    for number in range(100_000):
        stats.record_emitted("success", number % 50, 100)
    assert len(stats.processing_time_counts) == 50
    assert stats.summary()["p95_processing_time_ms"] == 47
    assert stats.summary()["avg_processing_time_ms"] == pytest.approx(24.5)


def test_summary_counts_each_status_and_averages_emitted_times() -> None:
    stats = SessionStatistics()
    stats.record_emitted("success", 10, 100)
    stats.record_emitted("partial", 20, 100)
    stats.record_emitted("failed", 31, 100)
    stats.record_dropped(100)
    assert stats.total_fragments == 4
    assert stats.total_duration_ms == 400
    assert stats.summary() == {
        "success_count": 1,
        "partial_count": 1,
        "failed_count": 1,
        "dropped_count": 1,
        "avg_processing_time_ms": pytest.approx(61 / 3),
        "p95_processing_time_ms": 31,
    }
