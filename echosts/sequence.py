"""Sequence numbers in, sequence order out.

``Sequencer`` decides which number and fragment_id a session accepts next (section 3's rules
on repeats and gaps); ``OrderedInFlight`` releases accepted fragments in sequence order,
whatever order their processing ends in.

Accepted fragments arrive in strictly increasing sequence order, so the in-flight buffer is a
queue in acceptance order. The first fragment that will be emitted gates everything behind
it; a fragment whose ``fragment:processed`` is dropped by a fault plan is not part of that
chain: it leaves at its own due time and holds nothing back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from echosts.outputs import SUCCESS, Outcome
from echosts.protocol import readable_sequence, show


@dataclass(frozen=True)
class OutOfSequence:
    """Why a fragment's number or id is refused (INVALID_SEQUENCE), with the error metadata."""

    message: str
    metadata: dict[str, int | None]


NONE_ACCEPTED: frozenset[str] = frozenset()
"""Until a session accepts a fragment: an idle session need not hold an empty set."""
NO_RING: list[str] = []
"""Likewise for the ring; never written to (``accept`` replaces it with the set)."""


class Sequencer:
    """The expected sequence number and the fragment_ids a session accepted lately.

    The ids form a window of the last ``window`` accepted (section 14), so a stream that runs
    for days holds bounded memory, and an id older than the window may be used again. The
    window is a ring: the slot a new id takes holds the id accepted ``window`` fragments
    before it, which leaves the set.
    """

    __slots__ = ("_accepted_ids", "_ring", "accepted_count", "expected", "window")

    def __init__(self, window: int = 10_000) -> None:
        self.expected: int | None = None
        self.accepted_count = 0
        self.window = window
        self._accepted_ids: set[str] | frozenset[str] = NONE_ACCEPTED
        self._ring: list[str] = NO_RING

    def __contains__(self, fragment_id: object) -> bool:
        return fragment_id in self._accepted_ids

    def check(self, fragment_id: str, number: int) -> OutOfSequence | None:
        """None when the fragment may be accepted; a gap moves the expectation past it.

        A repeated fragment_id wins over a gap, so the expectation stays where it was.
        """
        expected = self.expected
        numbers: dict[str, int | None] = {"expected": expected, "received": number}
        if fragment_id in self._accepted_ids:
            return OutOfSequence(
                f"fragment_id {show(fragment_id)} was already accepted in this session", numbers
            )
        if expected is None or number == expected:
            return None
        if number < expected:
            return OutOfSequence(
                f"expected {expected}, got {number}: {number} was already used", numbers
            )
        self.expected = number + 1
        missing = f"{expected}" if number == expected + 1 else f"{expected}-{number - 1}"
        return OutOfSequence(
            f"expected {expected}, got {number}: {missing} missing",
            {**numbers, "missing_from": expected, "missing_to": number - 1},
        )

    def accept(self, fragment_id: str, number: int) -> int:
        """Records an accepted fragment; returns its ordinal in the session, counting from 1."""
        self.expected = number + 1
        ids = self._accepted_ids
        if not isinstance(ids, set):
            ids = self._accepted_ids = set()
            self._ring = []
        ids.add(fragment_id)
        ring = self._ring
        if len(ring) < self.window:
            ring.append(fragment_id)
        else:
            slot = self.accepted_count % self.window
            ids.discard(ring[slot])
            ring[slot] = fragment_id
        self.accepted_count += 1
        return self.accepted_count

    def use_up(self, number: Any) -> None:
        """A non-retryable rejection of the expected number moves the expectation past it."""
        readable = readable_sequence(number)
        if readable is not None and readable == self.expected:
            self.expected = readable + 1


@dataclass(slots=True)
class InFlightFragment:
    fragment_id: str
    sequence_number: int
    arrival: float
    due: float
    audio: dict[str, Any]
    duration_ms: int
    outcome: Outcome = field(default=SUCCESS)


class OrderedInFlight:
    __slots__ = ("_queue",)

    def __init__(self) -> None:
        self._queue: list[InFlightFragment] = []
        """In acceptance order; a list, as an empty deque costs 600 bytes per idle session."""

    def __len__(self) -> int:
        return len(self._queue)

    def __iter__(self) -> Iterator[InFlightFragment]:
        return iter(self._queue)

    def add(self, fragment: InFlightFragment) -> None:
        self._queue.append(fragment)

    def unfinished(self, now: float) -> int:
        """How many are still being processed (the rest are done and held back for order)."""
        return sum(1 for fragment in self._queue if fragment.due > now)

    def last_release(self) -> float | None:
        """When the last fragment that will be emitted can go out, order included."""
        return max(
            (fragment.due for fragment in self._queue if not fragment.outcome.dropped),
            default=None,
        )

    def _candidates(self) -> Iterator[InFlightFragment]:
        """Every fragment that may leave next: the first emitted one and all dropped ones."""
        gate_seen = False
        for fragment in self._queue:
            if fragment.outcome.dropped:
                yield fragment
            elif not gate_seen:
                gate_seen = True
                yield fragment

    def next_due(self) -> float | None:
        return min((fragment.due for fragment in self._candidates()), default=None)

    def pop_ready(self, now: float) -> InFlightFragment | None:
        """The next fragment that can leave at ``now``, in emit order, or None."""
        for fragment in self._candidates():
            if fragment.due <= now:
                self._queue.remove(fragment)
                return fragment
        return None

    def expire(self, now: float, outcome: Outcome) -> None:
        """Ends every unfinished fragment at ``now`` with ``outcome`` (shutdown's deadline)."""
        for fragment in self._queue:
            if fragment.due > now:
                fragment.due = now
                if not fragment.outcome.dropped:
                    fragment.outcome = outcome
