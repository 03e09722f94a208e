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

    def session_rng(self) -> random.Random:
        """A generator of the session's own, seeded from the service's one."""
        return random.Random(self.rng.getrandbits(64))
