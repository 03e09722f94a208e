"""Fault plans: faults arranged over HTTP for a stream_id, before or while a worker streams.

In a real end-to-end test the worker owns the Socket.IO connection, so the test reaches
echosts from the side. The book is bounded in size and forgets plans nobody used for a while,
so a shared instance that runs for weeks cannot grow without limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from echosts.errors import ErrorCode

if TYPE_CHECKING:
    from echosts.models import FaultPlan, InitFault


class PlanLimitError(Exception):
    """The book holds ``max_plans`` plans that are all still in use."""


@dataclass
class StoredPlan:
    plan: FaultPlan
    refusals_left: int
    last_used: float
    inits_left: int | None = None
    """How many more stream:init the plan's ``init`` key answers; None: every one."""

    def as_json(self) -> dict[str, Any]:
        """The plan as GET shows it: counts as they stand, an ``init`` key used up gone."""
        body = self.plan.model_dump(exclude_none=True)
        if self.plan.refuse_connections is not None:
            body["refuse_connections"]["count"] = self.refusals_left
        if self.inits_left is not None:
            if self.inits_left > 0:
                body["init"]["count"] = self.inits_left
            else:
                del body["init"]
        return body


class PlanBook:
    def __init__(self, max_plans: int, idle_expiry_s: float) -> None:
        self.max_plans = max_plans
        self.idle_expiry_s = idle_expiry_s
        self._plans: dict[str, StoredPlan] = {}

    def __len__(self) -> int:
        return len(self._plans)

    def put(self, stream_id: str, plan: FaultPlan, now: float) -> StoredPlan:
        """Stores ``plan`` for ``stream_id``, replacing any earlier one."""
        self.expire(now)
        if stream_id not in self._plans and len(self._plans) >= self.max_plans:
            raise PlanLimitError(
                f"{self.max_plans} fault plans are stored: delete one or wait for one to expire"
            )
        refusals = plan.refuse_connections.count if plan.refuse_connections else 0
        inits = plan.init.count if plan.init is not None else None
        stored = StoredPlan(plan, refusals, now, inits)
        self._plans[stream_id] = stored
        return stored

    def get(self, stream_id: str, now: float) -> StoredPlan | None:
        self.expire(now)
        return self._plans.get(stream_id)

    def delete(self, stream_id: str, now: float) -> bool:
        self.expire(now)
        return self._plans.pop(stream_id, None) is not None

    def use(self, stream_id: str, now: float) -> FaultPlan | None:
        """The plan a new session of ``stream_id`` starts with; using it keeps it alive."""
        stored = self.get(stream_id, now)
        if stored is None:
            return None
        stored.last_used = now
        return stored.plan

    def take_refusal(self, stream_id: str | None, now: float) -> ErrorCode | None:
        """The code to refuse this handshake with, counting it down, or None to admit it."""
        stored = self.get(stream_id, now) if stream_id is not None else None
        if stored is None or stored.refusals_left <= 0 or stored.plan.refuse_connections is None:
            return None
        stored.refusals_left -= 1
        stored.last_used = now
        return ErrorCode(stored.plan.refuse_connections.code)

    def take_init(self, stream_id: str, now: float) -> InitFault | None:
        """How to answer this stream:init of ``stream_id``, counting it down; None: at once."""
        stored = self.get(stream_id, now)
        if stored is None or stored.plan.init is None or stored.inits_left == 0:
            return None
        if stored.inits_left is not None:
            stored.inits_left -= 1
        stored.last_used = now
        return stored.plan.init

    def reset(self) -> int:
        removed = len(self._plans)
        self._plans.clear()
        return removed

    def expire(self, now: float) -> None:
        idle = [
            stream_id
            for stream_id, stored in self._plans.items()
            if now - stored.last_used >= self.idle_expiry_s
        ]
        for stream_id in idle:
            del self._plans[stream_id]
