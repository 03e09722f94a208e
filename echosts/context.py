"""What the core is given rather than reaching for: the clock, randomness, ids, an observer.

Injected, so a test can make the whole core deterministic; frozen, because the core never
swaps one for another. Settings live in ``config`` and the state connections share (plans,
the fleet) is passed on its own.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from echosts.observe import Observer


def new_uuid() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Capabilities:
    rng: random.Random = field(default_factory=random.Random)
    """The service's generator; each session draws its own seed from it."""
    new_id: Callable[[], str] = new_uuid
    """Session and error ids."""
    wall_time: Callable[[], float] = time.time
    """Unix seconds, for the timestamps the protocol sends."""
    observer: Observer = field(default_factory=Observer)
    """Where the core reports what it decided, for metrics."""

    def session_rng(self) -> SessionRandom:
        """A generator of the session's own, seeded from the service's one."""
        return SessionRandom(self.rng.getrandbits(64))


class SessionRandom:
    """A session's generator, made when it first draws a number.

    Most sessions never do, and a Mersenne Twister holds 2.5 KB: a thousand idle sessions
    would carry 2.5 MB of them. The seed is drawn at once, so the service's sequence of
    draws, and every session's numbers, stay the same.
    """

    __slots__ = ("_generator", "_seed")

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._generator: random.Random | None = None

    def __getattr__(self, name: str) -> Any:
        if self._generator is None:
            self._generator = random.Random(self._seed)
        return getattr(self._generator, name)
