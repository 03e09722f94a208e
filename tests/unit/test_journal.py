"""The journal in the pure core: what it keeps, what it counts, and when a session ends."""

from __future__ import annotations

from echosts.journal import MAX_TEXT
from echosts.outputs import Close, Emit
from echosts.verify import verify
from tests.unit.driver import Driver, fragment


def journal_of(driver: Driver):  # type: ignore[no-untyped-def]
    assert driver.connection.journal is not None
    return driver.connection.journal


def entries(driver: Driver) -> list[dict]:
    return journal_of(driver).page(-1, 10_000)[0]


def test_a_refused_worker_ack_is_journaled_but_acknowledges_nothing() -> None:
    driver = Driver()
    driver.init("s")
    driver.fragment(0)
    driver.advance(1)
    driver.send("fragment:ack", {"fragment_id": "f0", "status": "applied"})
    journal = journal_of(driver)
    assert journal.counts["acks_received"] == 0
    assert entries(driver)[-2]["event"] == "fragment:ack"
    report = verify(journal)["checks"]["acked_every_processed"]
    assert not report["ok"]
    assert "f0" in report["detail"]


def test_a_well_formed_worker_ack_counts_and_acknowledges() -> None:
    driver = Driver()
    driver.init("s")
    driver.fragment(0)
    driver.advance(1)
    driver.send("fragment:ack", {"fragment_id": "f0", "status": "applied", "timestamp": 1})
    assert journal_of(driver).counts["acks_received"] == 1
    assert verify(journal_of(driver))["checks"]["acked_every_processed"]["ok"]


def test_oversized_strings_from_a_worker_are_not_kept() -> None:
    driver = Driver()
    driver.init("s")
    huge = "x" * 1_000_000
    driver.send("fragment:ack", {"fragment_id": huge, "status": huge, "timestamp": 1})
    driver.send("e" * 10_000, {})
    ack, unknown = entries(driver)[-4], entries(driver)[-2]
    assert ack["event"] == "fragment:ack"
    assert "fragment_id" not in ack
    assert "status" not in ack
    assert len(unknown["event"]) == MAX_TEXT


def test_a_pushed_event_with_any_data_is_journaled_and_verify_still_answers() -> None:
    driver = Driver()
    driver.init("s")
    for data in ({}, {"fragment_id": 5, "status": ["odd"]}, {"error": "text", "metadata": [1]}):
        for event in ("fragment:processed", "error", "backpressure", "fragment:ack"):
            assert driver.connection.push(Emit(event, data)) == [Emit(event, data)]
    report = verify(journal_of(driver))
    assert set(report["checks"]) == {
        "acked_every_processed",
        "respected_backpressure",
        "no_rejected_fragments",
        "ended_cleanly",
    }


def test_a_completed_session_followed_by_another_is_closed_when_the_connection_is() -> None:
    driver = Driver()
    driver.init("a")
    driver.send("stream:end", {"stream_id": "a"})
    driver.advance(0.1)
    first = journal_of(driver)
    driver.init("b")
    assert first.state == "completed"
    assert first.ended_at is None
    driver.connection.closed()
    assert first.state == "closed"
    assert journal_of(driver).state == "closed"
    assert [j.stream_id for j in driver.journals.sessions(state="closed")] == ["b", "a"]


def test_a_connection_streaming_for_days_keeps_a_bounded_number_of_live_journals() -> None:
    driver = Driver(auto_disconnect_s=3600)
    for index in range(40):
        driver.init(f"s{index}")
        driver.send("stream:end", {"stream_id": f"s{index}"})
        driver.advance(0.1)
    assert len(driver.journals.sessions(state="completed")) == 40
    live = [j for j in driver.journals.sessions() if not j.ended]
    assert len(live) <= 17


def test_events_after_the_server_began_closing_are_still_journaled() -> None:
    driver = Driver()
    driver.init("s")
    out = driver.send("simulate:disconnect", {"delay_ms": 0, "mode": "hang"})
    assert any(isinstance(output, Close) for output in out)
    driver.send("fragment:data", fragment(0))
    assert journal_of(driver).counts["fragments_received"] == 1
    assert entries(driver)[-1]["event"] == "fragment:data"
