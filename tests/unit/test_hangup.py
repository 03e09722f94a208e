"""When a connection is dropped on the server's own initiative: ``echosts.hangup``."""

from __future__ import annotations

from echosts.hangup import AUTO_DISCONNECT, Hangup
from echosts.outputs import Close


def test_nothing_scheduled_has_no_deadline_and_nothing_due() -> None:
    hangup = Hangup()
    assert hangup.next_deadline() is None
    assert hangup.due(1_000.0) is None


def test_an_earlier_scheduled_disconnect_replaces_a_later_one() -> None:
    hangup = Hangup()
    hangup.schedule(10.0, Close("late"))
    hangup.schedule(5.0, Close("early"))
    assert hangup.next_deadline() == 5.0
    assert hangup.due(10.0) == Close("early")


def test_a_later_scheduled_disconnect_does_not_replace_an_earlier_one() -> None:
    hangup = Hangup()
    hangup.schedule(5.0, Close("early"))
    hangup.schedule(10.0, Close("late"))
    assert hangup.next_deadline() == 5.0
    assert hangup.due(10.0) == Close("early")


def test_a_requested_disconnect_comes_before_the_auto_disconnect_when_both_are_due() -> None:
    hangup = Hangup()
    hangup.auto_at(1.0)
    hangup.schedule(2.0, Close("asked"))
    assert hangup.due(3.0) == Close("asked")


def test_the_auto_disconnect_gives_its_own_reason() -> None:
    hangup = Hangup()
    hangup.auto_at(1.0)
    assert hangup.due(1.0) == Close(AUTO_DISCONNECT)


def test_due_is_none_before_the_deadline() -> None:
    hangup = Hangup()
    hangup.auto_at(5.0)
    hangup.schedule(6.0, Close("asked"))
    assert hangup.due(4.999) is None
    assert hangup.next_deadline() == 5.0


def test_due_clears_both_deadlines_once_it_answers() -> None:
    hangup = Hangup()
    hangup.auto_at(5.0)
    hangup.schedule(6.0, Close("asked"))
    assert hangup.due(6.0) == Close("asked")
    assert hangup.next_deadline() is None
    assert hangup.due(100.0) is None


def test_due_clears_a_deadline_that_had_not_come_yet() -> None:
    hangup = Hangup()
    hangup.schedule(1.0, Close("asked"))
    hangup.auto_at(50.0)
    assert hangup.due(1.0) == Close("asked")
    assert hangup.due(50.0) is None


def test_cancel_auto_removes_the_auto_disconnect() -> None:
    hangup = Hangup()
    hangup.auto_at(5.0)
    hangup.cancel_auto()
    assert hangup.next_deadline() is None
    assert hangup.due(10.0) is None


def test_cancel_auto_keeps_a_scheduled_disconnect() -> None:
    hangup = Hangup()
    hangup.auto_at(5.0)
    hangup.schedule(8.0, Close("asked"))
    hangup.cancel_auto()
    assert hangup.next_deadline() == 8.0
    assert hangup.due(8.0) == Close("asked")


def test_a_new_auto_disconnect_replaces_the_previous_one() -> None:
    hangup = Hangup()
    hangup.auto_at(5.0)
    hangup.auto_at(9.0)
    assert hangup.next_deadline() == 9.0
    assert hangup.due(5.0) is None


def test_next_deadline_is_the_scheduled_one_when_it_is_earlier() -> None:
    hangup = Hangup()
    hangup.auto_at(7.0)
    hangup.schedule(3.0, Close("asked"))
    assert hangup.next_deadline() == 3.0


def test_next_deadline_is_the_auto_one_when_it_is_earlier() -> None:
    hangup = Hangup()
    hangup.auto_at(2.0)
    hangup.schedule(3.0, Close("asked"))
    assert hangup.next_deadline() == 2.0


def test_a_deadline_at_zero_counts() -> None:
    hangup = Hangup()
    hangup.auto_at(0.0)
    assert hangup.next_deadline() == 0.0
    assert hangup.due(0.0) == Close(AUTO_DISCONNECT)


# section 11.6: a scheduled disconnect carries how to close


def test_the_earliest_close_is_kept_with_its_mode_and_hang_ms() -> None:
    hangup = Hangup()
    hangup.schedule(10.0, Close("late", "reset"))
    hangup.schedule(5.0, Close("early", "hang", 300))
    hangup.schedule(7.0, Close("middle", "close"))
    assert hangup.due(10.0) == Close("early", "hang", 300)


def test_a_later_close_of_another_mode_does_not_replace_an_earlier_one() -> None:
    hangup = Hangup()
    hangup.schedule(5.0, Close("first", "close"))
    hangup.schedule(6.0, Close("second", "reset"))
    assert hangup.due(6.0) == Close("first", "close")


def test_a_close_scheduled_at_the_same_time_does_not_replace_the_first() -> None:
    hangup = Hangup()
    hangup.schedule(5.0, Close("first", "close"))
    hangup.schedule(5.0, Close("second", "reset"))
    assert hangup.due(5.0) == Close("first", "close")


def test_a_requested_close_keeps_its_mode_when_the_auto_disconnect_is_due_too() -> None:
    hangup = Hangup()
    hangup.auto_at(1.0)
    hangup.schedule(2.0, Close("asked", "hang", 100))
    assert hangup.due(3.0) == Close("asked", "hang", 100)


def test_the_auto_disconnect_is_a_server_disconnect() -> None:
    hangup = Hangup()
    hangup.auto_at(1.0)
    close = hangup.due(1.0)
    assert close is not None
    assert close.mode == "server_disconnect"
