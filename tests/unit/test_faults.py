from __future__ import annotations

import random

import pytest

from echosts.faults import (
    BackpressurePolicy,
    DelayModel,
    DelaySpec,
    Level,
    QueueRule,
    SessionFaults,
    ThresholdRule,
    seeded_fraction,
)
from echosts.models import Backpressure, ErrorSimulation, ProcessingDelay, QueueLimit
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


NOW = 1000.0


def session_faults(delay_ms: int = 100, *, ladder: bool = False) -> SessionFaults:
    return SessionFaults(
        DelaySpec(delay_ms), random.Random(1), max_inflight=4, ladder=ladder, queue=QueueRule(20)
    )


def error_rules(*rules: dict[str, object]) -> ErrorSimulation:
    return ErrorSimulation.model_validate({"rules": list(rules)})


MODEL_ERROR_AT_2 = {"trigger": "sequence_number", "value": 2, "error_code": "MODEL_ERROR"}


def test_decide_without_faults_succeeds_after_the_delay() -> None:
    due, outcome = session_faults(100).decide("f-2", 2, 1, timeout_ms=1000, now=NOW)
    assert due == pytest.approx(NOW + 0.1)
    assert outcome == SUCCESS


def test_a_drop_beats_a_matching_rule_and_a_timeout() -> None:
    faults = session_faults(5000)
    faults.set_rules(error_rules(MODEL_ERROR_AT_2), accepted=0)
    faults.set_drops(frozenset({2}))
    _, outcome = faults.decide("f-2", 2, 1, timeout_ms=1000, now=NOW)
    assert outcome == DROPPED


def test_a_matching_rule_beats_a_timeout() -> None:
    faults = session_faults(5000)
    faults.set_rules(error_rules(MODEL_ERROR_AT_2), accepted=0)
    _, outcome = faults.decide("f-2", 2, 1, timeout_ms=1000, now=NOW)
    assert outcome.error is not None
    assert outcome.error["code"] == "MODEL_ERROR"
    assert outcome.fault == "error"


def test_a_rule_that_does_not_match_leaves_the_timeout() -> None:
    faults = session_faults(5000)
    faults.set_rules(error_rules(MODEL_ERROR_AT_2), accepted=0)
    _, outcome = faults.decide("f-3", 3, 2, timeout_ms=1000, now=NOW)
    assert outcome.error is not None
    assert outcome.error["code"] == "TIMEOUT"


def test_a_drop_of_another_number_leaves_the_rule() -> None:
    faults = session_faults(100)
    faults.set_rules(error_rules(MODEL_ERROR_AT_2), accepted=0)
    faults.set_drops(frozenset({5}))
    _, outcome = faults.decide("f-2", 2, 1, timeout_ms=1000, now=NOW)
    assert outcome.status == "failed"
    assert not outcome.dropped


def test_a_delay_over_timeout_ms_fails_with_timeout() -> None:
    _, outcome = session_faults(5000).decide("f-2", 2, 1, timeout_ms=1000, now=NOW)
    assert outcome.status == "failed"
    assert outcome.fault == "timeout"
    assert outcome.error is not None
    assert outcome.error["code"] == "TIMEOUT"
    assert outcome.error["retryable"] is True


def test_a_delay_over_timeout_ms_is_due_at_timeout_ms() -> None:
    due, _ = session_faults(5000).decide("f-2", 2, 1, timeout_ms=1000, now=NOW)
    assert due == pytest.approx(NOW + 1.0)


def test_a_delay_equal_to_timeout_ms_succeeds() -> None:
    due, outcome = session_faults(1000).decide("f-2", 2, 1, timeout_ms=1000, now=NOW)
    assert outcome == SUCCESS
    assert due == pytest.approx(NOW + 1.0)


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


# section 11.2: triggers, at the level of SessionFaults


def outcomes(faults: SessionFaults, count: int, *, first: int = 0) -> list[str | None]:
    """The simulated code of fragments ``first`` .. ``first + count - 1``, accepted in order."""
    codes = []
    for seq in range(first, first + count):
        _, outcome = faults.decide(f"f-{seq}", seq, seq + 1, timeout_ms=8000, now=NOW)
        codes.append(outcome.error["code"] if outcome.error else None)
    return codes


def test_seeded_fraction_is_in_the_unit_interval() -> None:
    draws = [seeded_fraction(7, k) for k in range(1, 1001)]
    assert all(0 <= draw < 1 for draw in draws)
    assert 0.4 < sum(draws) / len(draws) < 0.6


def test_seeded_fraction_depends_only_on_seed_and_index() -> None:
    first = [seeded_fraction(7, k) for k in range(1, 20)]
    seeded_fraction(8, 3)
    assert [seeded_fraction(7, k) for k in range(1, 20)] == first
    assert first != [seeded_fraction(8, k) for k in range(1, 20)]


def test_sequence_range_matches_its_bounds_inclusively() -> None:
    faults = session_faults()
    rule = {"trigger": "sequence_range", "value": [2, 4], "error_code": "ASR_FAILED"}
    faults.set_rules(error_rules(rule), accepted=0)
    assert outcomes(faults, 6) == [None, None, "ASR_FAILED", "ASR_FAILED", "ASR_FAILED", None]


def test_next_n_counts_from_the_fragments_accepted_when_the_rules_were_set() -> None:
    faults = session_faults()
    rule = {"trigger": "next_n", "value": 2, "error_code": "ASR_FAILED"}
    faults.set_rules(error_rules(rule), accepted=3)
    assert outcomes(faults, 4, first=3) == ["ASR_FAILED", "ASR_FAILED", None, None]


def test_seeded_probability_matches_the_seeded_fraction_of_the_index_after_the_rules() -> None:
    faults = session_faults()
    rule = {"trigger": "probability", "value": 0.5, "seed": 11, "error_code": "ASR_FAILED"}
    faults.set_rules(error_rules(rule), accepted=5)
    expected = ["ASR_FAILED" if seeded_fraction(11, k) < 0.5 else None for k in range(1, 31)]
    assert outcomes(faults, 30, first=5) == expected
    assert None in expected
    assert "ASR_FAILED" in expected


# section 11.3: the deadline and the latency model, at the level of SessionFaults


def delayed(delay_ms: int, **config: object) -> SessionFaults:
    faults = session_faults()
    faults.set_delay(ProcessingDelay.model_validate({"delay_ms": delay_ms, **config}))
    return faults


def test_without_enforce_timeout_a_slow_fragment_is_a_late_success_at_its_own_due_time() -> None:
    due, outcome = delayed(5000, enforce_timeout=False).decide("f-0", 0, 1, 1000, NOW)
    assert due == pytest.approx(NOW + 5.0)
    assert outcome.status == "success"
    assert outcome.error is None
    assert outcome.fault == "late"


def test_without_enforce_timeout_a_fragment_within_the_timeout_is_a_plain_success() -> None:
    _, outcome = delayed(500, enforce_timeout=False).decide("f-0", 0, 1, 1000, NOW)
    assert outcome == SUCCESS


def test_parallel_mode_fragments_arriving_together_are_due_together() -> None:
    faults = delayed(100, mode="parallel")
    dues = [faults.decide(f"f-{n}", n, n + 1, 8000, NOW)[0] for n in range(3)]
    assert dues == pytest.approx([NOW + 0.1] * 3)


def test_serial_mode_due_times_add_up_with_the_backlog() -> None:
    faults = delayed(100, mode="serial")
    dues = [faults.decide(f"f-{n}", n, n + 1, 8000, NOW)[0] for n in range(3)]
    assert dues == pytest.approx([NOW + 0.1, NOW + 0.2, NOW + 0.3])


def test_serial_mode_an_idle_pipeline_starts_at_arrival() -> None:
    faults = delayed(100, mode="serial")
    faults.decide("f-0", 0, 1, 8000, NOW)
    due, _ = faults.decide("f-1", 1, 2, 8000, NOW + 5)
    assert due == pytest.approx(NOW + 5.1)


def test_serial_mode_waiting_counts_toward_the_timeout() -> None:
    faults = delayed(400, mode="serial")
    results = [faults.decide(f"f-{n}", n, n + 1, 1000, NOW) for n in range(3)]
    assert [due for due, _ in results] == pytest.approx([NOW + 0.4, NOW + 0.8, NOW + 1.0])
    assert [o.status for _, o in results] == ["success", "success", "failed"]
    assert results[2][1].error is not None
    assert results[2][1].error["code"] == "TIMEOUT"
    assert results[2][1].fault == "timeout"


def test_serial_mode_a_timed_out_fragment_still_occupies_the_pipeline() -> None:
    faults = delayed(1500, mode="serial")
    due, outcome = faults.decide("f-0", 0, 1, 1000, NOW)
    assert (due, outcome.fault) == (pytest.approx(NOW + 1.0), "timeout")
    faults.set_delay(ProcessingDelay.model_validate({"delay_ms": 100, "mode": "serial"}))
    due, outcome = faults.decide("f-1", 1, 2, 1000, NOW + 1.0)
    assert due == pytest.approx(NOW + 1.6)
    assert outcome == SUCCESS


def test_serial_mode_without_enforce_timeout_is_late_at_its_place_in_the_pipeline() -> None:
    faults = delayed(400, mode="serial", enforce_timeout=False)
    results = [faults.decide(f"f-{n}", n, n + 1, 1000, NOW) for n in range(3)]
    assert results[2][0] == pytest.approx(NOW + 1.2)
    assert results[2][1].fault == "late"


# section 11.4: the queue rule


def test_the_queue_rule_is_the_one_given_until_a_plan_sets_another() -> None:
    faults = session_faults()
    assert faults.queue == QueueRule(20, "QUEUE_FULL")
    faults.set_queue(
        QueueLimit.model_validate({"limit": 10, "error_code": "BACKPRESSURE_EXCEEDED"})
    )
    assert faults.queue == QueueRule(10, "BACKPRESSURE_EXCEEDED")


def test_a_queue_rule_without_a_code_refuses_with_queue_full() -> None:
    faults = session_faults()
    faults.set_queue(QueueLimit.model_validate({"limit": 3}))
    assert faults.queue == QueueRule(3, "QUEUE_FULL")
