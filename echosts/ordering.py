"""Fragments in flight, released in sequence order whatever order their processing ends in.

Accepted fragments arrive in strictly increasing sequence order, so the buffer is a queue in
acceptance order. The first fragment that will be emitted gates everything behind it; a
fragment whose ``fragment:processed`` is dropped by a fault plan is not part of that chain: it
leaves at its own due time and holds nothing back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    """How a fragment's processing ends: a status and, unless it succeeded, an error body."""

    status: str = "success"
    error: dict[str, Any] | None = None
    dropped: bool = False
    fault: str | None = None
    """The simulated fault that decided it (error, partial, timeout), counted when it leaves."""


@dataclass
class InFlightFragment:
    fragment_id: str
    sequence_number: int
    arrival: float
    due: float
    audio: dict[str, Any]
    duration_ms: int
    outcome: Outcome = field(default_factory=Outcome)


class OrderedInFlight:
    def __init__(self) -> None:
        self._queue: deque[InFlightFragment] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    def __iter__(self) -> Iterator[InFlightFragment]:
        return iter(self._queue)

    def add(self, fragment: InFlightFragment) -> None:
        self._queue.append(fragment)

    def unfinished(self, now: float) -> int:
        """How many are still being processed (the rest are done and held back for order)."""
        return sum(1 for fragment in self._queue if fragment.due > now)

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
