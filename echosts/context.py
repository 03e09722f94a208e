"""What every connection's core shares with the rest of the service.

Clock, randomness and ids are injected here, so a test can make the whole core deterministic.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from echosts.config import Settings
from echosts.observe import Observer
from echosts.plans import PlanBook


def new_uuid() -> str:
    return str(uuid.uuid4())


@dataclass
class ServiceContext:
    settings: Settings = field(default_factory=Settings)
    rng: random.Random = field(default_factory=random.Random)
    new_id: Callable[[], str] = new_uuid
    wall_time: Callable[[], float] = time.time
    observer: Observer = field(default_factory=Observer)
    draining: bool = False
    """Set once on shutdown: new streams are refused with RATE_LIMIT from then on."""
    plans: PlanBook = field(init=False)

    def __post_init__(self) -> None:
        self.plans = PlanBook(self.settings.max_plans, self.settings.plan_idle_expiry_s)

    def session_rng(self) -> random.Random:
        """A generator of the session's own, seeded from the service's one."""
        return random.Random(self.rng.getrandbits(64))
