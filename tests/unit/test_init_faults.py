"""Section 11.5: a plan's ``init`` key holds stream:init back, or answers it with an error."""

from __future__ import annotations

from typing import Any

import pytest

from echosts.models import FaultPlan, validate
from tests.unit.driver import START, Driver, Tally, closes, error, names, of, only

STREAM = "s"


def init_body(stream_id: str = STREAM) -> dict[str, Any]:
    return {"stream_id": stream_id, "config": {}}


def with_init(driver: Driver, **init: Any) -> None:
    driver.plans.put(STREAM, FaultPlan.model_validate({"init": init}), driver.now)


def held(**init: Any) -> Driver:
    """A connection whose stream:init the plan holds back; nothing answered yet."""
    driver = Driver()
    with_init(driver, **init)
    assert driver.send("stream:init", init_body()) == []
    return driver


# a delayed init


def test_a_delayed_init_answers_nothing_at_once() -> None:
    driver = held(delay_ms=500)
    assert driver.connection.session is None
    assert driver.connection.phase is None


def test_a_delayed_init_is_due_at_its_delay() -> None:
    driver = held(delay_ms=500)
    assert driver.connection.next_deadline() == pytest.approx(START + 0.5)


def test_a_delayed_init_gets_stream_ready_at_the_due_time() -> None:
    driver = held(delay_ms=500)
    assert driver.advance(0.4) == []
    ready = only(driver.advance(0.1), "stream:ready")
    assert ready["stream_id"] == STREAM
    assert driver.now == pytest.approx(START + 0.5)
    assert driver.connection.session is not None


def test_a_delayed_init_starts_a_session_that_accepts_fragments() -> None:
    driver = held(delay_ms=500)
    driver.advance(0.5)
    assert names(driver.fragment(0))[0] == "fragment:ack"


def test_a_delayed_init_due_while_draining_is_refused_rate_limit() -> None:
    driver = held(delay_ms=500)
    driver.draining = True
    refusal = error(driver.advance(0.5))
    assert refusal["code"] == "RATE_LIMIT"
    assert "draining" in refusal["message"]
    assert driver.connection.session is None


def test_a_zero_delay_init_answers_at_once() -> None:
    driver = Driver()
    with_init(driver, delay_ms=0)
    assert names(driver.send("stream:init", init_body())) == ["stream:ready"]


def test_a_delayed_session_gets_the_plans_other_keys() -> None:
    driver = Driver()
    plan = {"init": {"delay_ms": 300}, "processing_delay": {"delay_ms": 250}}
    driver.plans.put(STREAM, FaultPlan.model_validate(plan), driver.now)
    driver.send("stream:init", init_body())
    driver.advance(0.3)
    assert only(driver.fragment(0), "fragment:ack")["estimated_completion_ms"] == 250


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("fragment:data", None),
        ("config:processing_delay", {"delay_ms": 1}),
        ("config:error_simulation", {"rules": []}),
        ("stream:end", {"stream_id": STREAM}),
        ("stream:pause", {"stream_id": STREAM}),
    ],
)
def test_events_before_the_delayed_ready_are_stream_not_found(event: str, payload: Any) -> None:
    driver = held(delay_ms=500)
    out = driver.fragment(0) if payload is None else driver.send(event, payload)
    assert error(out)["code"] == "STREAM_NOT_FOUND"
    assert driver.connection.session is None


def test_a_second_init_while_one_is_held_is_refused_invalid_config() -> None:
    driver = held(delay_ms=500)
    refused = error(driver.send("stream:init", init_body()))
    assert refused["code"] == "INVALID_CONFIG"
    assert refused["metadata"]["event"] == "stream:init"


def test_a_second_init_while_one_is_held_uses_no_count() -> None:
    driver = held(delay_ms=500, count=3)
    driver.send("stream:init", init_body())
    assert driver.plans.get(STREAM, driver.now).inits_left == 2


def test_a_second_init_does_not_replace_the_held_one() -> None:
    driver = held(delay_ms=500)
    driver.advance(0.2)
    driver.send("stream:init", init_body("other"))
    ready = only(driver.advance(0.3), "stream:ready")
    assert ready["stream_id"] == STREAM
    assert of(driver.log, "stream:ready") == [ready]


def test_a_delayed_init_counts_an_init_delay_fault() -> None:
    tally = Tally()
    driver = Driver(observer=tally)
    with_init(driver, delay_ms=100)
    driver.send("stream:init", init_body())
    assert tally.faults == ["init_delay"]


def test_an_init_of_another_stream_is_not_held() -> None:
    driver = Driver()
    with_init(driver, delay_ms=500)
    assert names(driver.send("stream:init", init_body("other"))) == ["stream:ready"]


# a failing init


def test_an_init_error_code_answers_an_error_with_that_code_and_the_stream_id() -> None:
    driver = Driver()
    with_init(driver, error_code="UNSUPPORTED_LANGUAGE")
    refused = error(driver.send("stream:init", init_body()))
    assert refused["code"] == "UNSUPPORTED_LANGUAGE"
    assert refused["stream_id"] == STREAM
    assert (refused["severity"], refused["retryable"]) == ("error", False)


def test_an_init_error_leaves_no_session_and_the_connection_open() -> None:
    driver = Driver()
    with_init(driver, error_code="TRANSLATION_API_UNAVAILABLE")
    out = driver.send("stream:init", init_body())
    assert names(out) == ["error"]
    assert closes(out) == []
    assert driver.connection.session is None
    assert driver.connection.closing is False
    assert driver.connection.next_deadline() is None
    assert error(driver.fragment(0))["code"] == "STREAM_NOT_FOUND"


def test_an_init_error_code_takes_its_traits_from_the_table() -> None:
    driver = Driver()
    with_init(driver, error_code="TRANSLATION_API_UNAVAILABLE")
    refused = error(driver.send("stream:init", init_body()))
    assert (refused["severity"], refused["retryable"]) == ("error", True)


def test_an_init_error_with_a_delay_comes_at_the_due_time() -> None:
    driver = held(delay_ms=300, error_code="ASR_FAILED")
    assert driver.advance(0.29) == []
    refused = error(driver.advance(0.01))
    assert (refused["code"], refused["stream_id"]) == ("ASR_FAILED", STREAM)
    assert driver.connection.session is None


def test_an_init_after_the_counted_errors_starts_a_session() -> None:
    driver = Driver()
    with_init(driver, error_code="RATE_LIMIT_EXCEEDED", count=1)
    assert error(driver.send("stream:init", init_body()))["code"] == "RATE_LIMIT_EXCEEDED"
    assert names(driver.send("stream:init", init_body())) == ["stream:ready"]


def test_an_init_error_counts_an_init_error_fault() -> None:
    tally = Tally()
    driver = Driver(observer=tally)
    with_init(driver, error_code="ASR_FAILED")
    driver.send("stream:init", init_body())
    assert tally.faults == ["init_error"]


def test_without_a_count_every_init_is_affected() -> None:
    driver = Driver()
    with_init(driver, error_code="ASR_FAILED")
    for _ in range(3):
        assert error(driver.send("stream:init", init_body()))["code"] == "ASR_FAILED"


# count, across connections


def test_count_limits_the_inits_affected() -> None:
    driver = Driver()
    with_init(driver, error_code="ASR_FAILED", count=2)
    answers = [names(driver.send("stream:init", init_body()))[0] for _ in range(2)]
    assert answers == ["error", "error"]
    assert names(driver.send("stream:init", init_body())) == ["stream:ready"]


def test_count_counts_inits_across_connections() -> None:
    first = Driver()
    with_init(first, delay_ms=500, count=1)
    second = Driver(plans=first.plans)
    assert first.send("stream:init", init_body()) == []
    assert names(second.send("stream:init", init_body())) == ["stream:ready"]
    assert only(first.advance(0.5), "stream:ready")["stream_id"] == STREAM


def test_count_is_used_when_the_init_arrives_not_when_it_is_answered() -> None:
    first = Driver()
    with_init(first, delay_ms=500, count=1)
    first.send("stream:init", init_body())
    assert first.plans.get(STREAM, first.now).inits_left == 0
    assert names(Driver(plans=first.plans).send("stream:init", init_body())) == ["stream:ready"]


def test_get_shows_the_count_left() -> None:
    driver = Driver()
    with_init(driver, delay_ms=100, count=3)
    driver.send("stream:init", init_body())
    assert driver.plans.get(STREAM, driver.now).as_json() == {"init": {"delay_ms": 100, "count": 2}}


def test_the_init_key_disappears_at_zero_and_the_empty_plan_stays() -> None:
    driver = Driver()
    with_init(driver, error_code="ASR_FAILED", count=1)
    driver.send("stream:init", init_body())
    stored = driver.plans.get(STREAM, driver.now)
    assert stored is not None
    assert stored.as_json() == {}


def test_the_init_key_disappears_at_zero_and_the_other_keys_stay() -> None:
    driver = Driver()
    plan = {"init": {"error_code": "ASR_FAILED", "count": 1}, "drop_processed": [4]}
    driver.plans.put(STREAM, FaultPlan.model_validate(plan), driver.now)
    driver.send("stream:init", init_body())
    assert driver.plans.get(STREAM, driver.now).as_json() == {"drop_processed": [4]}


def test_putting_the_plan_again_restores_the_count() -> None:
    driver = Driver()
    with_init(driver, error_code="ASR_FAILED", count=1)
    driver.send("stream:init", init_body())
    with_init(driver, error_code="ASR_FAILED", count=1)
    assert error(driver.send("stream:init", init_body()))["code"] == "ASR_FAILED"


def test_an_init_refused_by_its_state_uses_no_count() -> None:
    driver = Driver()
    driver.init(STREAM)
    with_init(driver, error_code="ASR_FAILED", count=1)
    assert error(driver.send("stream:init", init_body()))["code"] != "ASR_FAILED"
    assert driver.plans.get(STREAM, driver.now).inits_left == 1


def test_an_invalid_init_payload_uses_no_count() -> None:
    driver = Driver()
    with_init(driver, error_code="ASR_FAILED", count=1)
    assert error(driver.send("stream:init", {"stream_id": STREAM}))["code"] == "INVALID_CONFIG"
    assert driver.plans.get(STREAM, driver.now).inits_left == 1


# invalid init bodies


@pytest.mark.parametrize(
    ("init", "field"),
    [
        ({}, "init"),
        ({"count": 1}, "init"),
        ({"delay_ms": 10, "count": 0}, "init.count"),
        ({"delay_ms": 10, "count": -1}, "init.count"),
        ({"delay_ms": 60001}, "init.delay_ms"),
        ({"delay_ms": -1}, "init.delay_ms"),
        ({"delay_ms": "10"}, "init.delay_ms"),
        ({"error_code": "asr-failed"}, "init.error_code"),
        ({"delay_ms": 10, "colour": "red"}, "init.colour"),
        ("slow", "init"),
    ],
)
def test_an_invalid_init_key_is_refused_naming_the_field(init: object, field: str) -> None:
    assert validate(FaultPlan, {"init": init})[0] == field


@pytest.mark.parametrize(
    "init",
    [{"delay_ms": 0}, {"delay_ms": 60000}, {"error_code": "ANY_CODE"}, {"delay_ms": 1, "count": 1}],
)
def test_a_valid_init_key_is_accepted(init: dict) -> None:
    assert isinstance(validate(FaultPlan, {"init": init}), FaultPlan)
