from __future__ import annotations

from echosts.outputs import Outcome
from echosts.sequence import InFlightFragment, OrderedInFlight


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
