"""Simulated faults in the connection core: error rules, backpressure, disconnects, plans."""

from __future__ import annotations

import pytest

from echosts.errors import ERROR_TRAITS, ErrorCode
from echosts.models import FaultPlan, validate
from echosts.observe import FAULT_KINDS
from echosts.outputs import Close
from tests.unit.driver import Driver, Tally, closes, error, names, of, only
from tests.unit.test_errors import STS_TABLE


def rule(trigger: str = "sequence_number", value: object = 1, code: str = "TIMEOUT", **extra):
    return {"trigger": trigger, "value": value, "error_code": code, **extra}


def simulate(driver: Driver, *rules: dict, enabled: bool = True) -> dict:
    (ack,) = driver.send("config:error_simulation", {"enabled": enabled, "rules": list(rules)})
    assert ack.event == "config:error_simulation:ack"
    return ack.data


def backpressure(driver: Driver, **config: object) -> list:
    return driver.send("config:backpressure", config)


def plan(**keys: object) -> FaultPlan:
    return FaultPlan.model_validate(keys)


def statuses(driver: Driver) -> list[str]:
    return [p["status"] for p in of(driver.log, "fragment:processed")]


# config:error_simulation


def test_error_simulation_is_acknowledged_with_the_rule_count() -> None:
    driver = Driver()
    driver.init("s")
    assert simulate(driver, rule(), rule(value=2)) == {"status": "accepted", "rules_count": 2}


def test_sequence_number_rule_fails_that_fragment_with_table_values() -> None:
    driver = Driver()
    driver.init("s")
    simulate(driver, rule(value=1, code="MODEL_ERROR"))
    for seq in range(3):
        assert names(driver.fragment(seq))[0] == "fragment:ack"
    failed = of(driver.log, "fragment:processed")[1]
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "code": "MODEL_ERROR",
        "message": "Simulated MODEL_ERROR",
        "stage": "asr",
        "retryable": True,
        "severity": "error",
    }
    assert "dubbed_audio" not in failed
    assert statuses(driver) == ["success", "failed", "success"]


def test_fragment_id_rule_matches_that_id() -> None:
    driver = Driver()
    driver.init("s")
    simulate(driver, rule("fragment_id", "f2", "GPU_OOM"))
    for seq in range(4):
        driver.fragment(seq)
    assert statuses(driver) == ["success", "success", "failed", "success"]


def test_nth_fragment_counts_accepted_fragments_from_the_session_start() -> None:
    driver = Driver()
    driver.init("s")
    driver.fragment(0)
    driver.fragment(1)
    error(driver.fragment(5))
    simulate(driver, rule("nth_fragment", 3))
    for seq in range(6, 11):
        driver.fragment(seq)
    assert statuses(driver) == [
        "success",
        "success",
        "failed",
        "success",
        "success",
        "failed",
        "success",
    ]


def test_rule_overrides_retryable_and_sets_stage_and_message_word_for_word() -> None:
    driver = Driver()
    driver.init("s")
    simulate(
        driver,
        rule(value=0, code="TIMEOUT", retryable=False, stage="tts", error_message="  TTS died  "),
    )
    failed = only(driver.fragment(0), "fragment:processed")
    assert failed["error"]["retryable"] is False
    assert failed["error"]["stage"] == "tts"
    assert failed["error"]["message"] == "  TTS died  "


def test_partial_status_keeps_the_audio_and_adds_the_error() -> None:
    driver = Driver()
    driver.init("s")
    simulate(driver, rule(value=0, code="MODEL_ERROR", status="partial", stage="translation"))
    partial = only(driver.fragment(0), "fragment:processed")
    assert partial["status"] == "partial"
    assert partial["dubbed_audio"]["data_base64"]
    assert partial["transcript"].startswith("[ECHO]")
    assert partial["error"]["stage"] == "translation"


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_can_be_simulated_with_its_table_traits(code: ErrorCode) -> None:
    driver = Driver()
    driver.init("s")
    simulate(driver, rule(value=0, code=code.value))
    failed = only(driver.fragment(0), "fragment:processed")
    traits = ERROR_TRAITS[code]
    assert failed["error"]["code"] == code.value
    assert (failed["error"]["severity"], failed["error"]["retryable"]) == (
        traits.severity,
        traits.retryable,
    )


def test_first_matching_rule_wins() -> None:
    driver = Driver()
    driver.init("s")
    simulate(driver, rule(value=0, code="GPU_OOM"), rule("nth_fragment", 1, "MODEL_ERROR"))
    assert only(driver.fragment(0), "fragment:processed")["error"]["code"] == "GPU_OOM"
    assert only(driver.fragment(1), "fragment:processed")["error"]["code"] == "MODEL_ERROR"


def test_reconfiguring_replaces_the_rules() -> None:
    driver = Driver()
    driver.init("s")
    simulate(driver, rule(value=0))
    simulate(driver, rule(value=1))
    driver.fragment(0)
    driver.fragment(1)
    assert statuses(driver) == ["success", "failed"]


def test_disabling_turns_simulation_off() -> None:
    driver = Driver()
    driver.init("s")
    simulate(driver, rule(value=0))
    assert simulate(driver, enabled=False) == {"status": "accepted", "rules_count": 0}
    driver.fragment(0)
    assert statuses(driver) == ["success"]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"rules": [rule("every_other")]}, "rules[0].trigger"),
        ({"rules": [rule(code="not-a-code")]}, "rules[0].error_code"),
        ({"rules": [rule("nth_fragment", 0)]}, "rules[0].value"),
        ({"rules": [rule("sequence_number", "5")]}, "rules[0].value"),
        ({"rules": [rule("sequence_number", -1)]}, "rules[0].value"),
        ({"rules": [rule("fragment_id", 5)]}, "rules[0].value"),
        ({"rules": [rule(retryable="yes")]}, "rules[0].retryable"),
        ({"rules": [rule(stage="mix")]}, "rules[0].stage"),
        ({"rules": [rule(status="success")]}, "rules[0].status"),
        ({"rules": [rule(), {"trigger": "sequence_number"}]}, "rules[1].value"),
        ({"enabled": "true"}, "enabled"),
        ({"rules": {"trigger": "x"}}, "rules"),
    ],
)
def test_invalid_error_simulation_is_rejected_naming_the_field(config: dict, field: str) -> None:
    driver = Driver()
    driver.init("s")
    (ack,) = driver.send("config:error_simulation", config)
    assert ack.data["status"] == "rejected"
    assert ack.data["rules_count"] == 0
    assert field in ack.data["message"]


STS_CODES = [*STS_TABLE, ("SOME_OTHER_CODE", "error", False)]


@pytest.mark.parametrize(("code", "severity", "retryable"), STS_CODES)
def test_a_real_service_or_other_well_formed_code_is_simulated_with_its_traits(
    code: str, severity: str, retryable: bool
) -> None:
    driver = Driver()
    driver.init("s")
    simulate(driver, rule(value=0, code=code))
    failed = only(driver.fragment(0), "fragment:processed")
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == code
    assert failed["error"]["message"] == f"Simulated {code}"
    assert (failed["error"]["severity"], failed["error"]["retryable"]) == (severity, retryable)


@pytest.mark.parametrize("code", ["not-a-code", "lower_case", "A", "1ABC", "A" * 65, ""])
def test_a_malformed_error_code_is_refused_naming_the_rules_error_code(code: str) -> None:
    driver = Driver()
    driver.init("s")
    (ack,) = driver.send("config:error_simulation", {"rules": [rule(code=code)]})
    assert ack.data["status"] == "rejected"
    assert "rules[0].error_code" in ack.data["message"]


@pytest.mark.parametrize("severity", ["info", "warning", "error", "fatal"])
def test_a_rules_severity_overrides_the_table_in_the_error_body(severity: str) -> None:
    driver = Driver()
    driver.init("s")
    simulate(driver, rule(value=0, code="ASR_FAILED", severity=severity))
    failed = only(driver.fragment(0), "fragment:processed")
    assert failed["error"]["severity"] == severity
    assert failed["error"]["retryable"] is False


def test_a_rules_retryable_overrides_the_table_for_a_real_service_code() -> None:
    driver = Driver()
    driver.init("s")
    simulate(driver, rule(value=0, code="ASR_FAILED", retryable=True))
    failed = only(driver.fragment(0), "fragment:processed")
    assert (failed["error"]["retryable"], failed["error"]["severity"]) == (True, "error")


def test_a_rules_severity_and_retryable_override_together() -> None:
    driver = Driver()
    driver.init("s")
    simulate(driver, rule(value=0, code="RATE_LIMIT_EXCEEDED", severity="fatal", retryable=False))
    failed = only(driver.fragment(0), "fragment:processed")
    assert (failed["error"]["severity"], failed["error"]["retryable"]) == ("fatal", False)


def test_an_unknown_severity_is_refused_naming_it() -> None:
    driver = Driver()
    driver.init("s")
    (ack,) = driver.send("config:error_simulation", {"rules": [rule(severity="critical")]})
    assert ack.data["status"] == "rejected"
    assert "rules[0].severity" in ack.data["message"]


@pytest.mark.parametrize("key", ["retryble", "severty", "error_mesage", "colour"])
def test_an_unknown_key_in_a_rule_is_refused_naming_the_key(key: str) -> None:
    driver = Driver()
    driver.init("s")
    (ack,) = driver.send("config:error_simulation", {"rules": [rule(), rule(**{key: 1})]})
    assert ack.data["status"] == "rejected"
    assert f"rules[1].{key}" in ack.data["message"]


def test_an_unknown_key_in_a_plans_rule_is_refused_naming_the_key() -> None:
    body = {"error_simulation": {"rules": [rule(severty="fatal")]}}
    assert validate(FaultPlan, body)[0] == "error_simulation.rules[0].severty"


def test_a_refusal_with_an_invented_code_is_counted_under_other() -> None:
    tally = Tally()
    driver = Driver(observer=tally)
    driver.plans.put("s", plan(queue={"limit": 1, "error_code": "MY_OWN_CODE"}), driver.now)
    driver.init("s")
    driver.delay(1000)
    driver.fragment(0)
    assert error(driver.fragment(1))["code"] == "MY_OWN_CODE"
    assert tally.rejected == [("fragment:data", "OTHER")]


def test_a_refusal_with_a_real_service_code_is_counted_under_that_code() -> None:
    tally = Tally()
    driver = Driver(observer=tally)
    driver.plans.put("s", plan(queue={"limit": 1, "error_code": "RATE_LIMIT_EXCEEDED"}), driver.now)
    driver.init("s")
    driver.delay(1000)
    driver.fragment(0)
    driver.fragment(1)
    assert tally.rejected == [("fragment:data", "RATE_LIMIT_EXCEEDED")]


@pytest.mark.parametrize("payload", [None, [], "on", 1])
def test_error_simulation_that_is_not_an_object_is_rejected(payload: object) -> None:
    driver = Driver()
    driver.init("s")
    (ack,) = driver.send("config:error_simulation", payload)
    assert ack.data["status"] == "rejected"


def test_rejected_configuration_leaves_the_previous_one_in_place() -> None:
    driver = Driver()
    driver.init("s")
    simulate(driver, rule(value=0))
    driver.send("config:error_simulation", {"rules": [rule(code="nope")]})
    driver.fragment(0)
    assert statuses(driver) == ["failed"]


@pytest.mark.parametrize(
    "event", ["config:error_simulation", "config:backpressure", "config:processing_delay"]
)
def test_config_events_before_init_are_stream_not_found(event: str) -> None:
    assert error(Driver().send(event, {"enabled": True}))["code"] == "STREAM_NOT_FOUND"


def test_failed_and_partial_fragments_count_in_stream_complete() -> None:
    driver = Driver()
    driver.init("s")
    simulate(driver, rule(value=1), rule(value=2, status="partial"))
    for seq in range(4):
        driver.fragment(seq)
    complete = only(driver.send("stream:end", {"stream_id": "s"}), "stream:complete")
    stats = complete["statistics"]
    assert complete["total_fragments"] == 4
    assert (stats["success_count"], stats["partial_count"], stats["failed_count"]) == (2, 1, 1)


def test_simulated_error_with_a_delay_over_timeout_keeps_the_simulated_code() -> None:
    driver = Driver()
    driver.init("s", timeout_ms=1000)
    driver.delay(5000)
    simulate(driver, rule(value=0, code="GPU_OOM"))
    driver.fragment(0)
    processed = only(driver.advance(1.0), "fragment:processed")
    assert processed["error"]["code"] == "GPU_OOM"
    assert processed["processing_time_ms"] == 1000


# config:backpressure


def test_threshold_rule_fires_above_threshold_with_its_level() -> None:
    driver = Driver()
    driver.init("s", max_inflight=10)
    driver.delay(1000)
    out = backpressure(
        driver,
        enabled=True,
        threshold=2,
        severity="medium",
        action="slow_down",
        recommended_delay_ms=250,
    )
    assert names(out) == ["config:backpressure:ack"]
    assert only(out, "config:backpressure:ack") == {"status": "accepted"}
    driver.fragment(0)
    driver.fragment(1)
    assert of(driver.log, "backpressure") == []
    raised = only(driver.fragment(2), "backpressure")
    assert raised == {
        "stream_id": "s",
        "severity": "medium",
        "current_inflight": 3,
        "queue_depth": 3,
        "action": "slow_down",
        "recommended_delay_ms": 250,
    }
    cleared = only(driver.advance(1.0), "backpressure")
    assert (cleared["severity"], cleared["action"], cleared["current_inflight"]) == (
        "low",
        "none",
        2,
    )


def test_threshold_and_max_inflight_fold_into_one_level() -> None:
    driver = Driver()
    driver.init("s", max_inflight=3)
    driver.delay(1000)
    backpressure(driver, enabled=True, threshold=1, severity="low", action="slow_down")
    for seq in range(5):
        driver.fragment(seq)
    levels = [(b["severity"], b["action"]) for b in of(driver.log, "backpressure")]
    assert levels == [("low", "slow_down"), ("high", "pause")]
    driver.advance(1.0)
    levels = [(b["severity"], b["action"]) for b in of(driver.log, "backpressure")]
    assert levels[2:] == [("low", "slow_down"), ("low", "none")]


def test_configuring_backpressure_reports_a_level_change_at_once() -> None:
    driver = Driver()
    driver.init("s", max_inflight=10)
    driver.delay(1000)
    for seq in range(3):
        driver.fragment(seq)
    out = backpressure(driver, enabled=True, threshold=2, severity="high", action="pause")
    assert names(out) == ["config:backpressure:ack", "backpressure"]
    out = backpressure(driver, enabled=False)
    assert [(b["severity"], b["action"]) for b in of(out, "backpressure")] == [("low", "none")]


def test_enabled_without_threshold_turns_the_ladder_on_for_this_session() -> None:
    driver = Driver()
    driver.init("s", max_inflight=4)
    driver.delay(1000)
    backpressure(driver, enabled=True)
    driver.fragment(0)
    assert of(driver.log, "backpressure") == []
    assert only(driver.fragment(1), "backpressure")["severity"] == "low"


def test_disabling_backpressure_turns_the_service_ladder_off_for_this_session() -> None:
    driver = Driver(backpressure_enabled=True)
    driver.init("s", max_inflight=4)
    driver.delay(1000)
    backpressure(driver, enabled=False)
    for seq in range(4):
        driver.fragment(seq)
    assert of(driver.log, "backpressure") == []
    driver.fragment(4)
    assert only(driver.log, "backpressure")["severity"] == "high"


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"enabled": True, "threshold": 2, "action": "pause"}, "severity"),
        ({"enabled": True, "threshold": 2, "severity": "high"}, "action"),
        ({"enabled": True, "threshold": 0, "severity": "high", "action": "pause"}, "threshold"),
        ({"enabled": True, "threshold": 2, "severity": "huge", "action": "pause"}, "severity"),
        ({"enabled": True, "threshold": 2, "severity": "low", "action": "stop"}, "action"),
        ({"threshold": 2}, "enabled"),
        ({"enabled": 1}, "enabled"),
        ({"enabled": True, "recommended_delay_ms": -5}, "recommended_delay_ms"),
    ],
)
def test_invalid_backpressure_is_rejected_naming_the_field(config: dict, field: str) -> None:
    driver = Driver()
    driver.init("s")
    (ack,) = backpressure(driver, **config)
    assert ack.data["status"] == "rejected"
    assert field in ack.data["message"]


# simulate:disconnect


def test_simulated_disconnect_is_acknowledged_then_happens_after_the_delay() -> None:
    driver = Driver()
    (ack,) = driver.send("simulate:disconnect", {"delay_ms": 1500, "reason": "chaos"})
    assert ack.event == "simulate:disconnect:ack"
    assert ack.data == {"status": "scheduled", "disconnect_at_ms": 1_700_000_001_500}
    assert closes(driver.advance(1.4)) == []
    (close,) = closes(driver.advance(0.1))
    assert close.reason == "chaos"


def test_earliest_of_several_scheduled_disconnects_wins() -> None:
    driver = Driver()
    driver.send("simulate:disconnect", {"delay_ms": 3000, "reason": "late"})
    driver.send("simulate:disconnect", {"delay_ms": 1000, "reason": "early"})
    driver.send("simulate:disconnect", {"delay_ms": 2000, "reason": "middle"})
    assert driver.connection.next_deadline() == pytest.approx(driver.now + 1)
    (close,) = closes(driver.advance(5))
    assert close.reason == "early"


def test_immediate_simulated_disconnect_follows_its_ack() -> None:
    driver = Driver()
    driver.init("s")
    assert names(driver.send("simulate:disconnect", {"delay_ms": 0})) == [
        "simulate:disconnect:ack",
        "<close>",
    ]


def test_simulated_disconnect_outlives_a_completed_session() -> None:
    driver = Driver(auto_disconnect_s=100)
    driver.init("s")
    driver.send("simulate:disconnect", {"delay_ms": 2000})
    driver.send("stream:end", {"stream_id": "s"})
    assert len(closes(driver.advance(2.0))) == 1


@pytest.mark.parametrize("payload", [None, {}, {"delay_ms": -1}, {"delay_ms": "5"}, [5]])
def test_invalid_simulated_disconnect_is_invalid_config(payload: object) -> None:
    assert error(Driver().send("simulate:disconnect", payload))["code"] == "INVALID_CONFIG"


# fault plans


def test_plan_applies_to_a_new_session_of_its_stream() -> None:
    driver = Driver()
    driver.plans.put(
        "s-42",
        plan(
            error_simulation={"rules": [rule(value=1, code="MODEL_ERROR")]},
            processing_delay={"delay_ms": 100},
        ),
        driver.now,
    )
    driver.init("s-42")
    assert only(driver.fragment(0), "fragment:ack")["estimated_completion_ms"] == 100
    driver.fragment(1)
    driver.advance(0.2)
    assert statuses(driver) == ["success", "failed"]


def test_plan_of_another_stream_does_not_apply() -> None:
    driver = Driver()
    driver.plans.put("other", plan(processing_delay={"delay_ms": 100}), driver.now)
    driver.init("s")
    assert only(driver.fragment(0), "fragment:ack")["estimated_completion_ms"] == 0


def test_config_event_overrides_the_plan_and_a_later_plan_overrides_it_again() -> None:
    driver = Driver()
    driver.plans.put("s", plan(processing_delay={"delay_ms": 100}), driver.now)
    driver.init("s")
    driver.delay(300)
    assert only(driver.fragment(0), "fragment:ack")["estimated_completion_ms"] == 300
    driver.advance(1)
    driver.connection.apply_plan(plan(processing_delay={"delay_ms": 50}), driver.now)
    assert only(driver.fragment(1), "fragment:ack")["estimated_completion_ms"] == 50


def test_dropped_fragment_is_never_emitted_and_holds_nothing_back() -> None:
    driver = Driver()
    driver.plans.put("s", plan(drop_processed=[0]), driver.now)
    driver.init("s")
    driver.delay(500)
    driver.fragment(0)
    driver.delay(100)
    driver.fragment(1)
    out = driver.advance(0.1)
    assert [p["sequence_number"] for p in of(out, "fragment:processed")] == [1]
    assert len(driver.connection.session.inflight) == 1
    driver.advance(0.4)
    assert len(driver.connection.session.inflight) == 0
    assert [p["sequence_number"] for p in of(driver.log, "fragment:processed")] == [1]


def test_dropped_fragment_does_not_delay_complete_and_counts_as_dropped() -> None:
    driver = Driver()
    driver.plans.put("s", plan(drop_processed=[1]), driver.now)
    driver.init("s")
    for seq in range(3):
        driver.fragment(seq)
    complete = only(driver.send("stream:end", {"stream_id": "s"}), "stream:complete")
    assert complete["total_fragments"] == 3
    assert complete["total_duration_ms"] == 1500
    stats = complete["statistics"]
    assert (stats["success_count"], stats["dropped_count"]) == (2, 1)


def test_dropped_fragment_leaving_clears_backpressure_at_once() -> None:
    driver = Driver()
    driver.plans.put("s", plan(drop_processed=[1]), driver.now)
    driver.init("s", max_inflight=1)
    driver.delay(1000)
    driver.fragment(0)
    driver.delay(200)
    driver.fragment(1)
    out = driver.advance(0.2)
    assert names(out) == ["backpressure"]
    assert only(out, "backpressure")["action"] == "none"


def test_plan_update_drops_a_fragment_already_in_flight() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(1000)
    driver.fragment(0)
    driver.connection.apply_plan(plan(drop_processed=[0]), driver.now)
    driver.advance(1)
    assert of(driver.log, "fragment:processed") == []


def test_plan_backpressure_applies_to_an_active_session_at_once() -> None:
    driver = Driver()
    driver.init("s", max_inflight=10)
    driver.delay(1000)
    driver.fragment(0)
    driver.fragment(1)
    out = driver.connection.apply_plan(
        plan(backpressure={"enabled": True, "threshold": 1, "severity": "low", "action": "none"}),
        driver.now,
    )
    assert only(out, "backpressure")["current_inflight"] == 2


def test_plan_does_not_touch_a_completed_session() -> None:
    driver = Driver()
    driver.init("s")
    driver.send("stream:end", {"stream_id": "s"})
    assert driver.connection.apply_plan(plan(drop_processed=[0]), driver.now) == []
    assert driver.connection.session.faults.drops == frozenset()


def test_control_disconnect_is_scheduled_on_the_connection() -> None:
    driver = Driver()
    driver.init("s")
    assert driver.connection.schedule_disconnect(driver.now, 300, Close("asked")) == []
    (close,) = closes(driver.advance(0.3))
    assert close.reason == "asked"
    assert driver.connection.schedule_disconnect(driver.now, 0, Close("again")) == []


def tallied() -> tuple[Driver, Tally]:
    tally = Tally()
    return Driver(observer=tally), tally


def test_faults_are_counted_once_each_when_the_fragment_leaves() -> None:
    driver, tally = tallied()
    driver.init("s", timeout_ms=1000)
    simulate(driver, rule(value=0), rule(value=1, status="partial"))
    driver.fragment(0)
    driver.fragment(1)
    driver.delay(5000)
    driver.fragment(2)
    assert tally.faults == ["error", "partial"]
    driver.advance(1.0)
    assert tally.faults == ["error", "partial", "timeout"]


def test_a_plan_dropping_an_inflight_fragment_counts_one_drop_and_not_its_error() -> None:
    driver, tally = tallied()
    driver.init("s")
    driver.delay(1000)
    simulate(driver, rule(value=0))
    driver.fragment(0)
    driver.connection.apply_plan(plan(drop_processed=[0]), driver.now)
    driver.advance(1.0)
    assert tally.faults == ["drop"]


def test_the_drain_deadline_is_not_a_simulated_fault() -> None:
    driver, tally = tallied()
    driver.init("s")
    driver.delay(5000)
    driver.fragment(0)
    driver.connection.expire_inflight(driver.now, "drain")
    assert tally.faults == []


@pytest.mark.parametrize(
    "kind", ["late", "disconnect", "close", "reset", "hang", "init_delay", "init_error", "push"]
)
def test_every_fault_kind_the_core_counts_is_a_known_kind(kind: str) -> None:
    assert kind in FAULT_KINDS
