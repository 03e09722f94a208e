"""Section 14's idle limit, in the pure core: a connection that never starts a session."""

from __future__ import annotations

import pytest

from echosts.connection import IDLE
from echosts.outputs import Close
from tests.unit.driver import START, Driver, Tally, closes, error, only


def test_a_connection_without_a_session_is_due_at_the_idle_timeout() -> None:
    driver = Driver(connected=True, idle_timeout_s=60)
    assert driver.connection.next_deadline() == pytest.approx(START + 60)


def test_an_idle_connection_is_told_timeout_then_dropped() -> None:
    limits = Tally()
    driver = Driver(connected=True, idle_timeout_s=60, observer=limits)
    assert driver.advance(59.9) == []
    out = driver.advance(0.1)
    report = error(out)
    assert report["code"] == "TIMEOUT"
    assert "60 s" in report["message"]
    assert closes(out) == [Close(IDLE)]
    assert limits.limits == ["idle"]


def test_a_started_session_cancels_the_idle_limit() -> None:
    driver = Driver(connected=True, idle_timeout_s=60)
    driver.init("s")
    assert driver.advance(120) == []
    assert driver.connection.next_deadline() is None


def test_a_held_init_holds_the_idle_limit_back() -> None:
    from echosts.models import FaultPlan  # noqa: PLC0415

    driver = Driver(connected=True, idle_timeout_s=1)
    driver.plans.put("s", FaultPlan.model_validate({"init": {"delay_ms": 5000}}), START)
    assert driver.send("stream:init", {"stream_id": "s", "config": {}}) == []
    out = driver.advance(5)
    assert only(out, "stream:ready")["stream_id"] == "s"
    assert closes(out) == []


def test_a_refused_init_leaves_the_idle_limit_running() -> None:
    driver = Driver(connected=True, idle_timeout_s=10)
    driver.send("stream:init", {"stream_id": 5})
    out = driver.advance(10)
    assert error(out)["code"] == "TIMEOUT"
    assert closes(out) == [Close(IDLE)]


def test_an_idle_timeout_of_zero_turns_the_limit_off() -> None:
    driver = Driver(connected=True, idle_timeout_s=0)
    assert driver.connection.next_deadline() is None
    assert driver.advance(100_000) == []


def test_a_completed_session_is_left_to_the_auto_disconnect() -> None:
    driver = Driver(connected=True, idle_timeout_s=1, auto_disconnect_s=30)
    driver.init("s")
    driver.send("stream:end", {"stream_id": "s"})
    assert driver.advance(29) == []
    (close,) = closes(driver.advance(1))
    assert close.reason != IDLE
