"""Section 11.8 (core part): an event a test pushes goes out as it is, changing nothing."""

from __future__ import annotations

import pytest

from echosts import protocol as p
from echosts.models import FaultPlan
from echosts.outputs import Close, Emit
from tests.unit.driver import Driver, Tally, names, of

PAUSE = Emit(
    "backpressure",
    {"stream_id": "s", "severity": "high", "action": "pause", "current_inflight": 99},
)


def test_push_with_a_session_returns_the_emit_unchanged() -> None:
    driver = Driver()
    driver.init("s")
    (out,) = driver.connection.push(PAUSE)
    assert out is PAUSE
    assert out == Emit("backpressure", dict(PAUSE.data))


@pytest.mark.parametrize(
    "event",
    [
        "backpressure",
        "error",
        "fragment:processed",
        "fragment:ack",
        "stream:ready",
        "stream:complete",
    ],
)
def test_push_sends_any_server_event_as_it_is(event: str) -> None:
    driver = Driver()
    driver.init("s")
    emit = Emit(event, {"anything": [1, 2], "stream_id": "not-even-this-one"})
    assert driver.connection.push(emit) == [emit]


def test_push_without_a_session_sends_nothing() -> None:
    assert Driver().connection.push(PAUSE) == []


def test_push_while_the_init_is_held_sends_nothing() -> None:
    driver = Driver()
    driver.plans.put("s", FaultPlan.model_validate({"init": {"delay_ms": 500}}), driver.now)
    driver.send("stream:init", {"stream_id": "s", "config": {}})
    assert driver.connection.push(PAUSE) == []


def test_push_after_an_init_error_sends_nothing() -> None:
    driver = Driver()
    plan = FaultPlan.model_validate({"init": {"error_code": "ASR_FAILED"}})
    driver.plans.put("s", plan, driver.now)
    driver.send("stream:init", {"stream_id": "s", "config": {}})
    assert driver.connection.push(PAUSE) == []


def test_push_after_closing_sends_nothing() -> None:
    driver = Driver()
    driver.init("s")
    driver.connection.schedule_disconnect(driver.now, 0, Close("asked"))
    assert driver.connection.closing
    assert driver.connection.push(PAUSE) == []


def test_a_pushed_pause_leaves_the_sessions_backpressure_level() -> None:
    driver = Driver()
    driver.init("s", max_inflight=2)
    driver.delay(1000)
    driver.fragment(0)
    session = driver.connection.session
    level = session.level
    driver.connection.push(PAUSE)
    assert session.level == level
    driver.fragment(1)
    driver.fragment(2)
    assert [b["action"] for b in of(driver.log, "backpressure")] == ["pause"]


def test_a_pushed_event_leaves_the_session_as_it_was() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(1000)
    driver.fragment(0)
    session = driver.connection.session
    before = (
        session.state,
        len(session.inflight),
        session.sequence.expected,
        session.sequence.accepted_count,
        driver.connection.next_deadline(),
    )
    duplicate = Emit("fragment:processed", {"fragment_id": "f0", "status": "success"})
    for emit in (PAUSE, duplicate, Emit("stream:complete", {"stream_id": "s"})):
        driver.connection.push(emit)
    after = (
        session.state,
        len(session.inflight),
        session.sequence.expected,
        session.sequence.accepted_count,
        driver.connection.next_deadline(),
    )
    assert after == before
    assert driver.connection.session is session


def test_the_session_carries_on_after_a_push() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(100)
    driver.fragment(0)
    driver.connection.push(Emit("stream:complete", {"stream_id": "s"}))
    driver.fragment(1)
    driver.advance(0.1)
    assert [p["sequence_number"] for p in of(driver.log, "fragment:processed")] == [0, 1]
    assert names(driver.send("stream:end", {"stream_id": "s"})) == ["stream:complete"]


def test_a_push_counts_a_push_fault() -> None:
    tally = Tally()
    driver = Driver(observer=tally)
    driver.init("s")
    driver.connection.push(PAUSE)
    assert tally.faults == ["push"]


def test_a_push_that_sends_nothing_counts_nothing() -> None:
    tally = Tally()
    Driver(observer=tally).connection.push(PAUSE)
    assert tally.faults == []


# the body of POST /admin/streams/{stream_id}/emit


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "stream:init", "data": {}}, "event"),
        ({"event": "config:processing_delay:ack", "data": {}}, "event"),
        ({"data": {}}, "event"),
        ({"event": "backpressure"}, "data"),
        ({"event": "backpressure", "data": []}, "data"),
        ({"event": "backpressure", "data": "pause"}, "data"),
        ({"event": "backpressure", "data": {}, "to": "all"}, "to"),
    ],
)
def test_an_invalid_pushed_event_is_refused_naming_the_field(body: dict, field: str) -> None:
    assert p.validate(p.PushedEvent, body)[0] == field


def test_a_pushed_event_keeps_its_data_as_it_is() -> None:
    data = {"severity": "high", "nested": {"n": [1, None]}}
    body = p.validate(p.PushedEvent, {"event": "backpressure", "data": data})
    assert body.data == data
