"""Section 11.4: a plan's ``queue`` limit and the code its refusals carry."""

from __future__ import annotations

from typing import Any

import pytest

from echosts.models import FaultPlan, validate
from tests.unit.driver import Driver, error, names, only


def queued(queue: dict[str, Any], **settings: Any) -> Driver:
    """A session of stream ``s`` under a plan with ``queue``; each fragment takes 1 s."""
    driver = Driver(**settings)
    driver.plans.put("s", FaultPlan.model_validate({"queue": queue}), driver.now)
    driver.init("s", max_inflight=10)
    driver.delay(1000)
    return driver


def fill(driver: Driver, count: int) -> None:
    for seq in range(count):
        assert names(driver.fragment(seq))[0] == "fragment:ack"


def test_the_plans_limit_replaces_the_default_queue_limit() -> None:
    driver = queued({"limit": 2}, queue_limit=20)
    fill(driver, 2)
    refused = error(driver.fragment(2))
    assert refused["code"] == "QUEUE_FULL"
    assert refused["metadata"]["limit"] == 2
    assert refused["metadata"]["inflight"] == 2


def test_the_plans_limit_may_be_above_the_default() -> None:
    driver = queued({"limit": 30}, queue_limit=2)
    fill(driver, 30)
    assert error(driver.fragment(30))["metadata"]["limit"] == 30


def test_a_stream_without_a_queue_key_keeps_the_default_limit() -> None:
    driver = Driver(queue_limit=2)
    driver.plans.put("s", FaultPlan.model_validate({"drop_processed": [99]}), driver.now)
    driver.init("s", max_inflight=10)
    driver.delay(1000)
    fill(driver, 2)
    assert error(driver.fragment(2))["metadata"]["limit"] == 2


def test_a_queue_refusal_defaults_to_queue_full_with_its_traits() -> None:
    driver = queued({"limit": 1})
    fill(driver, 1)
    refused = error(driver.fragment(1))
    assert (refused["code"], refused["severity"], refused["retryable"]) == (
        "QUEUE_FULL",
        "warning",
        True,
    )


def test_a_queue_refusal_uses_the_plans_code_with_its_traits() -> None:
    driver = queued({"limit": 1, "error_code": "BACKPRESSURE_EXCEEDED"})
    fill(driver, 1)
    refused = error(driver.fragment(1))
    assert refused["fragment_id"] == "f1"
    assert refused["stream_id"] == "s"
    assert (refused["code"], refused["severity"], refused["retryable"]) == (
        "BACKPRESSURE_EXCEEDED",
        "warning",
        True,
    )


def test_a_retryable_refusal_does_not_use_up_the_number() -> None:
    driver = queued({"limit": 1, "error_code": "BACKPRESSURE_EXCEEDED"})
    fill(driver, 1)
    assert error(driver.fragment(1))["code"] == "BACKPRESSURE_EXCEEDED"
    driver.advance(1.0)
    assert names(driver.fragment(1))[0] == "fragment:ack"


def test_a_retryable_refusal_leaves_the_next_number_out_of_sequence() -> None:
    driver = queued({"limit": 1})
    fill(driver, 1)
    error(driver.fragment(1))
    driver.advance(1.0)
    refused = error(driver.fragment(2))
    assert refused["code"] == "INVALID_SEQUENCE"


def test_a_non_retryable_refusal_uses_up_the_number() -> None:
    driver = queued({"limit": 1, "error_code": "QUEUE_REJECTED"})
    fill(driver, 1)
    refused = error(driver.fragment(1))
    assert (refused["code"], refused["retryable"]) == ("QUEUE_REJECTED", False)
    driver.advance(1.0)
    assert names(driver.fragment(2))[0] == "fragment:ack"


def test_a_non_retryable_refusal_makes_a_resend_of_that_number_out_of_sequence() -> None:
    driver = queued({"limit": 1, "error_code": "TRANSLATION_FAILED"})
    fill(driver, 1)
    error(driver.fragment(1))
    driver.advance(1.0)
    refused = error(driver.fragment(1))
    assert refused["code"] == "INVALID_SEQUENCE"
    assert refused["metadata"]["expected"] == 2


def test_a_queue_key_applies_to_an_active_session_at_once() -> None:
    driver = Driver(queue_limit=20)
    driver.init("s", max_inflight=10)
    driver.delay(1000)
    fill(driver, 2)
    plan = FaultPlan.model_validate({"queue": {"limit": 2, "error_code": "RATE_LIMIT_EXCEEDED"}})
    driver.connection.apply_plan(plan, driver.now)
    assert error(driver.fragment(2))["code"] == "RATE_LIMIT_EXCEEDED"


def test_a_queue_refusal_is_not_a_fragment_ack() -> None:
    driver = queued({"limit": 1})
    fill(driver, 1)
    assert "fragment:ack" not in names(driver.fragment(1))
    out = driver.advance(1.0)
    assert only(out, "fragment:processed")["sequence_number"] == 0


@pytest.mark.parametrize(
    ("queue", "field"),
    [
        ({}, "queue.limit"),
        ({"limit": 0}, "queue.limit"),
        ({"limit": 1001}, "queue.limit"),
        ({"limit": "5"}, "queue.limit"),
        ({"limit": 5, "error_code": "queue-full"}, "queue.error_code"),
        ({"limit": 5, "error_code": 5}, "queue.error_code"),
        ({"limit": 5, "code": "QUEUE_FULL"}, "queue.code"),
        (5, "queue"),
    ],
)
def test_an_invalid_queue_key_is_refused_naming_the_field(queue: object, field: str) -> None:
    assert validate(FaultPlan, {"queue": queue})[0] == field


@pytest.mark.parametrize("limit", [1, 1000])
def test_the_queue_limit_bounds_are_accepted(limit: int) -> None:
    assert isinstance(validate(FaultPlan, {"queue": {"limit": limit}}), FaultPlan)
