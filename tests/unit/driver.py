"""Drives one connection's core with plain calls and a virtual clock; nothing sleeps."""

from __future__ import annotations

import base64
import itertools
import random
from typing import Any

from echosts.config import Settings
from echosts.connection import Connection
from echosts.context import Capabilities
from echosts.journal import JournalBook
from echosts.observe import Observer
from echosts.outputs import Close, Emit, Output
from echosts.plans import PlanBook

START = 1000.0


def audio(payload: bytes = b"abcd", **fields: Any) -> dict[str, Any]:
    body = {
        "format": "m4a",
        "sample_rate_hz": 48000,
        "channels": 2,
        "duration_ms": 500,
        "data_base64": base64.b64encode(payload).decode(),
    }
    body.update(fields)
    return body


def fragment(seq: int, stream_id: str = "s", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "fragment_id": f"f{seq}",
        "stream_id": stream_id,
        "sequence_number": seq,
        "timestamp": 1_700_000_000_000 + seq,
        "audio": audio(),
    }
    body.update(fields)
    return body


class Driver:
    def __init__(
        self,
        *,
        headers: dict[str, str] | None = None,
        observer: Observer | None = None,
        plans: PlanBook | None = None,
        connected: bool = False,
        **settings: Any,
    ) -> None:
        """``connected``: the connection knows when it connected, so the idle limit runs."""
        self.now = START
        ids = itertools.count(1)
        self.settings = Settings(**settings)
        self.capabilities = Capabilities(
            rng=random.Random(42),
            new_id=lambda: f"id-{next(ids)}",
            wall_time=lambda: 1_700_000_000.0 + (self.now - START),
            observer=observer or Observer(),
        )
        if plans is None:
            plans = PlanBook(self.settings.max_plans, self.settings.plan_idle_expiry_s)
        self.plans = plans
        """Pass another Driver's to have two connections to one server."""
        self.journals = JournalBook(self.settings.journal_events, self.settings.journal_sessions)
        self.draining = False
        headers = headers or {}
        self.connection = Connection(
            self.settings,
            self.capabilities,
            self.plans,
            journals=self.journals,
            draining=lambda: self.draining,
            header_stream_id=headers.get("X-Stream-ID"),
            header_worker_id=headers.get("X-Worker-ID"),
            connected_at=START if connected else None,
        )
        self.log: list[Output] = []

    def send(self, event: str, *args: Any) -> list[Output]:
        out = self.connection.receive(event, args, self.now)
        self.log.extend(out)
        return out

    def advance(self, seconds: float) -> list[Output]:
        """Moves the clock, firing every deadline on the way exactly when it falls due."""
        target = self.now + seconds
        out: list[Output] = []
        while (deadline := self.connection.next_deadline()) is not None and deadline <= target:
            self.now = max(self.now, deadline)
            out.extend(self.connection.on_timer(self.now))
        self.now = target
        self.log.extend(out)
        return out

    def init(self, stream_id: str = "s", **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"stream_id": stream_id, "config": {}}
        body.update(extra)
        (ready,) = self.send("stream:init", body)
        assert isinstance(ready, Emit)
        assert ready.event == "stream:ready", ready
        return ready.data

    def fragment(self, seq: int, **fields: Any) -> list[Output]:
        stream_id = self.connection.session.stream_id if self.connection.session else "s"
        return self.send("fragment:data", fragment(seq, stream_id, **fields))

    def delay(self, delay_ms: int, **extra: Any) -> dict[str, Any]:
        (ack,) = self.send("config:processing_delay", {"delay_ms": delay_ms, **extra})
        assert isinstance(ack, Emit)
        return ack.data


def names(outputs: list[Output]) -> list[str]:
    return [o.event if isinstance(o, Emit) else "<close>" for o in outputs]


def of(outputs: list[Output], event: str) -> list[dict[str, Any]]:
    return [o.data for o in outputs if isinstance(o, Emit) and o.event == event]


def only(outputs: list[Output], event: str) -> dict[str, Any]:
    found = of(outputs, event)
    assert len(found) == 1, names(outputs)
    return found[0]


def error(outputs: list[Output]) -> dict[str, Any]:
    return only(outputs, "error")


def closes(outputs: list[Output]) -> list[Close]:
    return [o for o in outputs if isinstance(o, Close)]


class Tally(Observer):
    """Records the faults, rejections and limits the core reports, in order."""

    def __init__(self) -> None:
        self.faults: list[str] = []
        self.rejected: list[tuple[str, str]] = []
        self.limits: list[str] = []

    def fault_injected(self, kind: str) -> None:
        self.faults.append(kind)

    def event_rejected(self, event: str, code: str) -> None:
        self.rejected.append((event, code))

    def limit_reached(self, limit: str) -> None:
        self.limits.append(limit)
