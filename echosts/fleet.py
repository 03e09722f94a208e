"""Every open connection, and what the rest of the service asks of them all.

``/health``, ``/metrics``, the control API and shutdown depend on this registry, not on the
gateway: counts and sessions to read, plans and disconnects to apply to a stream's
connections, and waiting until nothing is in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from echosts.admission import PendingRefusals
from echosts.connection import Connection
from echosts.journal import JournalBook
from echosts.link import Link
from echosts.outputs import Close, Emit, Output
from echosts.plans import PlanBook
from echosts.protocol import DEFAULT_HANG_MS
from echosts.stream import StreamSession

if TYPE_CHECKING:
    from echosts.models import FaultPlan


class Fleet:
    def __init__(self, plans: PlanBook, journals: JournalBook) -> None:
        self.plans = plans
        self.journals = journals
        self.refusals = PendingRefusals()
        self.draining = False
        """Set once on shutdown: new connections and streams are refused from then on."""
        self._links: dict[str, Link] = {}
        self._idle: asyncio.Event | None = None
        self._changed: asyncio.Event | None = None
        """Set by the next core call anywhere, for the journal's long polls."""

    def add(self, link: Link) -> None:
        self._links[link.eio_sid] = link

    def remove(self, link: Link) -> None:
        self._links.pop(link.eio_sid, None)
        self.after_step()

    def get(self, eio_sid: str) -> Link | None:
        return self._links.get(eio_sid)

    def links(self) -> list[Link]:
        return list(self._links.values())

    @property
    def connection_count(self) -> int:
        return len(self._links)

    def sessions(self) -> list[StreamSession]:
        """The session of every open connection that has one, in any state."""
        return [link.core.session for link in self._links.values() if link.core.session is not None]

    @property
    def session_count(self) -> int:
        return len(self.sessions())

    @property
    def inflight_count(self) -> int:
        return sum(len(session.inflight) for session in self.sessions())

    def status(self) -> str:
        """One line of live counts, for systemd's STATUS= and the logs."""
        state = "draining" if self.draining else "serving"
        return (
            f"{state}: {self.connection_count} connections, {self.session_count} sessions, "
            f"{self.inflight_count} fragments in flight"
        )

    def streams(self, stream_id: str) -> list[Link]:
        """Every open connection whose session has ``stream_id``, whatever its state."""
        return [
            link
            for link in self._links.values()
            if link.core.session is not None and link.core.session.stream_id == stream_id
        ]

    def apply_plan(self, stream_id: str, plan: FaultPlan) -> int:
        """Applies a freshly stored plan at once to the stream's sessions; returns how many."""
        return self._for_stream(stream_id, lambda core, now: core.apply_plan(plan, now), "plan")

    def disconnect_stream(
        self,
        stream_id: str,
        delay_ms: int,
        mode: str = "server_disconnect",
        hang_ms: int = DEFAULT_HANG_MS,
    ) -> int:
        """Drops every connection of ``stream_id`` after ``delay_ms``, the way ``mode`` says;
        returns how many."""
        close = Close("disconnect requested through the control API", mode, hang_ms)
        return self._for_stream(
            stream_id,
            lambda core, now: core.schedule_disconnect(now, delay_ms, close),
            "control disconnect",
        )

    def push(self, stream_id: str, emit: Emit) -> int:
        """Sends ``emit`` as it is on every connection of ``stream_id`` that still takes events
        (not one closing or hung); returns how many."""
        links = [link for link in self.streams(stream_id) if not link.core.closing]
        for link in links:
            link.step(partial(_push, link.core, emit), "pushed event")
        return len(links)

    def _for_stream(
        self, stream_id: str, call: Callable[[Connection, float], list[Output]], what: str
    ) -> int:
        links = self.streams(stream_id)
        for link in links:
            link.step(partial(call, link.core), what)
        return len(links)

    def drop_slow_readers(self, limit_bytes: int) -> int:
        """Resets every connection with more than ``limit_bytes`` waiting for it (section 14);
        returns how many. Each costs a lookup, so one sweep a second over 500 is nothing."""
        dropped = 0
        for link in self.links():
            backlog = link.output_backlog()
            if backlog > limit_bytes:
                link.drop_slow_reader(backlog, limit_bytes)
                dropped += 1
        return dropped

    def expire_all(self, message: str) -> None:
        """Ends every connection's unfinished fragments now as TIMEOUT failures."""
        for link in self.links():
            link.step(partial(link.core.expire_inflight, message=message), "drain deadline")

    async def wait_idle(self, timeout: float) -> bool:
        """Waits until no fragment is in flight anywhere; False when ``timeout`` ran out."""
        self._idle = asyncio.Event()
        self.check_idle()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def after_step(self) -> None:
        """After every core call of any connection: wakes who waits for a change."""
        self.check_idle()
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()

    async def changed(self, timeout: float) -> None:
        """Waits until some connection's core has run again, or ``timeout`` seconds."""
        if self._changed is None:
            self._changed = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def check_idle(self) -> None:
        if self._idle is not None and not self._idle.is_set() and self.inflight_count == 0:
            self._idle.set()

    async def flush(self) -> None:
        """Waits until every connection's outbox is sent."""
        while pending := [
            link.sender
            for link in self._links.values()
            if link.sender is not None and not link.sender.done()
        ]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def disconnect_all(self, reason: str) -> None:
        for link in self.links():
            await link.close(Close(reason))


def _push(core: Connection, emit: Emit, _now: float) -> list[Output]:
    return core.push(emit)
