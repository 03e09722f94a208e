from __future__ import annotations

import random

import pytest

from echosts.faults import BackpressurePolicy, DelayModel, DelaySpec, Level, ThresholdRule


def test_fixed_delay_without_jitter_is_exact() -> None:
    assert DelayModel(DelaySpec(120), random.Random(1)).sample_ms() == 120


def test_uniform_jitter_stays_within_its_range() -> None:
    model = DelayModel(DelaySpec(100, 50), random.Random(1))
    samples = [model.sample_ms() for _ in range(500)]
    assert min(samples) >= 100
    assert max(samples) <= 150
    assert max(samples) - min(samples) > 40


def test_no_rule_gives_no_level() -> None:
    assert BackpressurePolicy(max_inflight=3).level(3) is None


def test_max_inflight_rule_fires_above_max() -> None:
    assert BackpressurePolicy(max_inflight=3).level(4) == Level("high", "pause")


def test_threshold_rule_fires_strictly_above_threshold() -> None:
    rule = ThresholdRule(5, Level("medium", "slow_down", 250))
    policy = BackpressurePolicy(max_inflight=10, threshold_rule=rule)
    assert policy.level(5) is None
    assert policy.level(6) == Level("medium", "slow_down", 250)


def test_most_severe_rule_wins() -> None:
    rule = ThresholdRule(1, Level("low", "slow_down"))
    policy = BackpressurePolicy(max_inflight=2, threshold_rule=rule)
    assert policy.level(2) == Level("low", "slow_down")
    assert policy.level(3) == Level("high", "pause")


def test_equal_severity_prefers_pause_over_slow_down() -> None:
    rule = ThresholdRule(1, Level("high", "slow_down"))
    policy = BackpressurePolicy(max_inflight=2, threshold_rule=rule)
    assert policy.level(3).action == "pause"


@pytest.mark.parametrize(
    ("inflight", "expected"),
    [
        (4, None),
        (5, Level("low", "slow_down")),
        (7, Level("medium", "slow_down")),
        (9, Level("high", "pause")),
    ],
)
def test_ladder_maps_fraction_of_max_inflight(inflight: int, expected: Level | None) -> None:
    assert BackpressurePolicy(max_inflight=10, ladder=True).level(inflight) == expected
