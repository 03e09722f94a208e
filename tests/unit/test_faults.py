from __future__ import annotations

import random

import pytest

from echosts.faults import (
    BackpressurePolicy,
    DelayModel,
    DelaySpec,
    Level,
    SessionFaults,
    ThresholdRule,
)
from echosts.models import Backpressure, ErrorSimulation
from echosts.outputs import DROPPED, SUCCESS


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


# SessionFaults.decide


def session_faults(delay_ms: int = 100, *, ladder: bool = False) -> SessionFaults:
    return SessionFaults(DelaySpec(delay_ms), random.Random(1), max_inflight=4, ladder=ladder)


def error_rules(*rules: dict[str, object]) -> ErrorSimulation:
    return ErrorSimulation.model_validate({"rules": list(rules)})


MODEL_ERROR_AT_2 = {"trigger": "sequence_number", "value": 2, "error_code": "MODEL_ERROR"}


def test_decide_without_faults_succeeds_after_the_delay() -> None:
    due_s, outcome = session_faults(100).decide("f-2", 2, 1, timeout_ms=1000)
    assert due_s == pytest.approx(0.1)
    assert outcome == SUCCESS


def test_a_drop_beats_a_matching_rule_and_a_timeout() -> None:
    faults = session_faults(5000)
    faults.set_rules(error_rules(MODEL_ERROR_AT_2))
    faults.set_drops(frozenset({2}))
    _, outcome = faults.decide("f-2", 2, 1, timeout_ms=1000)
    assert outcome == DROPPED


def test_a_matching_rule_beats_a_timeout() -> None:
    faults = session_faults(5000)
    faults.set_rules(error_rules(MODEL_ERROR_AT_2))
    _, outcome = faults.decide("f-2", 2, 1, timeout_ms=1000)
    assert outcome.error is not None
    assert outcome.error["code"] == "MODEL_ERROR"
    assert outcome.fault == "error"


def test_a_rule_that_does_not_match_leaves_the_timeout() -> None:
    faults = session_faults(5000)
    faults.set_rules(error_rules(MODEL_ERROR_AT_2))
    _, outcome = faults.decide("f-3", 3, 2, timeout_ms=1000)
    assert outcome.error is not None
    assert outcome.error["code"] == "TIMEOUT"


def test_a_drop_of_another_number_leaves_the_rule() -> None:
    faults = session_faults(100)
    faults.set_rules(error_rules(MODEL_ERROR_AT_2))
    faults.set_drops(frozenset({5}))
    _, outcome = faults.decide("f-2", 2, 1, timeout_ms=1000)
    assert outcome.status == "failed"
    assert not outcome.dropped


def test_a_delay_over_timeout_ms_fails_with_timeout() -> None:
    _, outcome = session_faults(5000).decide("f-2", 2, 1, timeout_ms=1000)
    assert outcome.status == "failed"
    assert outcome.fault == "timeout"
    assert outcome.error is not None
    assert outcome.error["code"] == "TIMEOUT"
    assert outcome.error["retryable"] is True


def test_a_delay_over_timeout_ms_is_due_at_timeout_ms() -> None:
    due_s, _ = session_faults(5000).decide("f-2", 2, 1, timeout_ms=1000)
    assert due_s == pytest.approx(1.0)


def test_a_delay_equal_to_timeout_ms_succeeds() -> None:
    due_s, outcome = session_faults(1000).decide("f-2", 2, 1, timeout_ms=1000)
    assert outcome == SUCCESS
    assert due_s == pytest.approx(1.0)


def test_set_backpressure_disabled_turns_the_sessions_ladder_off() -> None:
    faults = session_faults(ladder=True)
    assert faults.backpressure.level(4) == Level("high", "pause")
    faults.set_backpressure(Backpressure(enabled=False), service_ladder=True)
    assert faults.backpressure.ladder is False
    assert faults.backpressure.level(4) is None


def test_set_backpressure_disabled_keeps_the_max_inflight_rule() -> None:
    faults = session_faults(ladder=True)
    faults.set_backpressure(Backpressure(enabled=False), service_ladder=True)
    assert faults.backpressure.level(5) == Level("high", "pause")


def test_set_backpressure_enabled_without_threshold_turns_the_ladder_on() -> None:
    faults = session_faults(ladder=False)
    faults.set_backpressure(Backpressure(enabled=True), service_ladder=False)
    assert faults.backpressure.level(2) == Level("low", "slow_down")
