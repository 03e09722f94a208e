from __future__ import annotations

import pytest

from echosts.outputs import Outcome
from echosts.sequence import InFlightFragment, OrderedInFlight, Sequencer


def entry(seq: int, due: float, *, dropped: bool = False) -> InFlightFragment:
    return InFlightFragment(
        fragment_id=f"f{seq}",
        sequence_number=seq,
        arrival=0.0,
        due=due,
        audio={},
        duration_ms=0,
        outcome=Outcome(dropped=dropped),
    )


def drain(buffer: OrderedInFlight, now: float) -> list[int]:
    out = []
    while (fragment := buffer.pop_ready(now)) is not None:
        out.append(fragment.sequence_number)
    return out


def test_a_finished_fragment_waits_for_its_predecessor() -> None:
    buffer = OrderedInFlight()
    buffer.add(entry(0, 5.0))
    buffer.add(entry(1, 1.0))
    assert drain(buffer, 2.0) == []
    assert buffer.unfinished(2.0) == 1
    assert buffer.next_due() == 5.0
    assert drain(buffer, 5.0) == [0, 1]


def test_dropped_fragment_leaves_at_its_due_time_and_holds_nothing_back() -> None:
    buffer = OrderedInFlight()
    buffer.add(entry(0, 5.0, dropped=True))
    buffer.add(entry(1, 1.0))
    assert buffer.next_due() == 1.0
    assert drain(buffer, 1.0) == [1]
    assert drain(buffer, 5.0) == [0]
    assert buffer.next_due() is None


def test_expire_ends_unfinished_fragments_with_the_given_outcome() -> None:
    buffer = OrderedInFlight()
    buffer.add(entry(0, 1.0))
    buffer.add(entry(1, 9.0))
    buffer.add(entry(2, 9.0, dropped=True))
    failed = Outcome(status="failed", error={"code": "TIMEOUT"})
    buffer.expire(2.0, failed)
    released = []
    while (fragment := buffer.pop_ready(2.0)) is not None:
        released.append((fragment.sequence_number, fragment.outcome.status))
    assert released == [(0, "success"), (1, "failed"), (2, "success")]


# Sequencer


def test_the_first_fragment_is_accepted_whatever_its_number() -> None:
    sequencer = Sequencer()
    assert sequencer.check("f-a", 7) is None


def test_the_first_accepted_fragment_sets_the_expectation() -> None:
    sequencer = Sequencer()
    sequencer.accept("f-a", 7)
    assert sequencer.expected == 8


def test_the_expected_number_is_accepted() -> None:
    sequencer = Sequencer()
    sequencer.accept("f-a", 0)
    assert sequencer.check("f-b", 1) is None


def test_repeated_fragment_id_is_refused() -> None:
    sequencer = Sequencer()
    sequencer.accept("f-a", 0)
    refused = sequencer.check("f-a", 1)
    assert refused is not None
    assert "already accepted" in refused.message


def test_repeated_fragment_id_wins_over_a_gap() -> None:
    sequencer = Sequencer()
    sequencer.accept("f-a", 0)
    refused = sequencer.check("f-a", 5)
    assert refused is not None
    assert "already accepted" in refused.message
    assert refused.metadata == {"expected": 1, "received": 5}


def test_repeated_fragment_id_leaves_the_expectation_unchanged() -> None:
    sequencer = Sequencer()
    sequencer.accept("f-a", 0)
    sequencer.check("f-a", 5)
    assert sequencer.expected == 1


def test_a_lower_number_is_refused_with_expected_and_received() -> None:
    sequencer = Sequencer()
    sequencer.accept("f-a", 0)
    sequencer.accept("f-b", 1)
    refused = sequencer.check("f-c", 0)
    assert refused is not None
    assert refused.metadata == {"expected": 2, "received": 0}
    assert sequencer.expected == 2


def test_a_gap_is_refused_with_the_missing_range() -> None:
    sequencer = Sequencer()
    sequencer.accept("f-a", 0)
    refused = sequencer.check("f-d", 3)
    assert refused is not None
    assert refused.metadata == {
        "expected": 1,
        "received": 3,
        "missing_from": 1,
        "missing_to": 2,
    }
    assert "1-2 missing" in refused.message


def test_a_gap_of_one_names_the_single_missing_number() -> None:
    sequencer = Sequencer()
    sequencer.accept("f-a", 0)
    refused = sequencer.check("f-c", 2)
    assert refused is not None
    assert refused.metadata["missing_from"] == refused.metadata["missing_to"] == 1
    assert refused.message.endswith(": 1 missing")


def test_a_gap_moves_the_expectation_past_the_received_number() -> None:
    sequencer = Sequencer()
    sequencer.accept("f-a", 0)
    sequencer.check("f-d", 3)
    assert sequencer.expected == 4
    assert sequencer.check("f-e", 4) is None


def test_a_refused_fragment_is_not_accepted() -> None:
    sequencer = Sequencer()
    sequencer.accept("f-a", 0)
    sequencer.check("f-d", 3)
    assert "f-d" not in sequencer
    assert sequencer.accepted_count == 1


def test_use_up_of_the_expected_number_moves_the_expectation() -> None:
    sequencer = Sequencer()
    sequencer.accept("f-a", 0)
    sequencer.use_up(1)
    assert sequencer.expected == 2


def test_use_up_of_another_number_leaves_the_expectation() -> None:
    sequencer = Sequencer()
    sequencer.accept("f-a", 0)
    sequencer.use_up(5)
    assert sequencer.expected == 1


def test_use_up_before_any_fragment_leaves_no_expectation() -> None:
    sequencer = Sequencer()
    sequencer.use_up(0)
    assert sequencer.expected is None


@pytest.mark.parametrize(
    ("number", "expected"),
    [(True, 1), (False, 0), (-1, -1), ("1", 1), (1.0, 1)],
)
def test_use_up_ignores_what_is_not_a_sequence_number(number: object, expected: int) -> None:
    sequencer = Sequencer()
    sequencer.expected = expected
    sequencer.use_up(number)
    assert sequencer.expected == expected


def test_accept_returns_ordinals_counting_from_one() -> None:
    sequencer = Sequencer()
    ordinals = [sequencer.accept(f"f-{n}", n) for n in (4, 5, 6)]
    assert ordinals == [1, 2, 3]
    assert sequencer.accepted_count == 3


def test_accepted_fragment_ids_are_in_the_sequencer() -> None:
    sequencer = Sequencer()
    sequencer.accept("f-a", 0)
    assert "f-a" in sequencer
    assert "f-b" not in sequencer


# OrderedInFlight.last_release


def test_last_release_is_none_when_empty() -> None:
    assert OrderedInFlight().last_release() is None


def test_last_release_is_the_latest_due_time() -> None:
    buffer = OrderedInFlight()
    buffer.add(entry(0, 7.0))
    buffer.add(entry(1, 3.0))
    assert buffer.last_release() == 7.0


def test_last_release_ignores_dropped_fragments() -> None:
    buffer = OrderedInFlight()
    buffer.add(entry(0, 5.0))
    buffer.add(entry(1, 9.0, dropped=True))
    assert buffer.last_release() == 5.0


def test_last_release_is_none_when_every_fragment_is_dropped() -> None:
    buffer = OrderedInFlight()
    buffer.add(entry(0, 5.0, dropped=True))
    assert buffer.last_release() is None


def accepted(window: int, ids: list[str]) -> Sequencer:
    sequencer = Sequencer(window)
    for number, fragment_id in enumerate(ids):
        assert sequencer.check(fragment_id, number) is None
        sequencer.accept(fragment_id, number)
    return sequencer


def test_an_id_inside_the_window_is_still_refused_as_a_repeat() -> None:
    sequencer = accepted(3, ["a", "b", "c"])
    problem = sequencer.check("a", 3)
    assert problem is not None
    assert "already accepted" in problem.message


def test_an_id_older_than_the_window_may_be_used_again() -> None:
    sequencer = accepted(3, ["a", "b", "c", "d"])
    assert sequencer.check("a", 4) is None
    assert "a" not in sequencer
    assert "b" in sequencer


def test_an_id_used_again_after_the_window_is_remembered_anew() -> None:
    sequencer = accepted(2, ["a", "b", "c", "a"])
    assert "a" in sequencer
    assert "b" not in sequencer
    sequencer.accept("d", 4)
    assert "a" in sequencer
    assert "c" not in sequencer


def test_a_long_stream_remembers_at_most_the_window() -> None:
    sequencer = accepted(100, [f"f-{number}" for number in range(5_000)])
    remembered = [f"f-{number}" for number in range(5_000) if f"f-{number}" in sequencer]
    assert remembered == [f"f-{number}" for number in range(4_900, 5_000)]
    assert sequencer.accepted_count == 5_000


def test_the_window_comes_from_the_setting() -> None:
    from tests.unit.driver import Driver  # noqa: PLC0415

    driver = Driver(fragment_id_window=2)
    driver.init("s")
    for number in range(3):
        driver.fragment(number)
    assert driver.connection.session is not None
    assert "f0" not in driver.connection.session.sequence
    assert "f1" in driver.connection.session.sequence
