"""The journal and verification routes (section 12): what a test asks about its worker.

``GET /admin/sessions`` lists sessions, newest first, and can wait (``wait_ms``) until one
matches; a session's summary, its events page by page, and ``verify``. Same API keys as the
rest of ``/admin/``.
"""

from __future__ import annotations

import math
from typing import Any

from tornado.ioloop import IOLoop

from echosts.control import ControlHandler
from echosts.journal import STATES, SessionJournal
from echosts.verify import DEFAULT_GRACE_MS, verify
from echosts.web import JsonError

SESSION = r"(?P<session_id>[^/]{1,256})"
MAX_WAIT_MS = 60_000
MAX_PAGE = 10_000
DEFAULT_PAGE = 1000


class SessionsHandler(ControlHandler):
    def number(self, name: str, low: float, high: float, default: float) -> float:
        """Query parameter ``name`` as a number in ``[low, high]``; 400 naming it otherwise."""
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise JsonError(400, f"{name}: {raw!r} is not a number", field=name) from None
        if not math.isfinite(value) or not low <= value <= high:
            raise JsonError(400, f"{name}: {raw} is out of range ({low:g}-{high:g})", field=name)
        return value

    def integer(self, name: str, low: int, high: int, default: int) -> int:
        value = self.number(name, low, high, default)
        if value != int(value):
            raise JsonError(400, f"{name}: {value:g} is not an integer", field=name)
        return int(value)

    def journal(self, session_id: str) -> SessionJournal:
        journal = self.fleet.journals.get(session_id)
        if journal is None:
            raise JsonError(404, f"no session {session_id!r}: unknown, or forgotten")
        return journal


class SessionListHandler(SessionsHandler):
    async def get(self) -> None:
        stream_id = self.get_query_argument("stream_id", None)
        worker_id = self.get_query_argument("worker_id", None)
        state = self.get_query_argument("state", None)
        if state is not None and state not in STATES:
            message = f"state: {state!r} is not one of {', '.join(STATES)}"
            raise JsonError(400, message, field="state")
        wait_ms = self.integer("wait_ms", 0, MAX_WAIT_MS, 0)
        loop = IOLoop.current()
        deadline = loop.time() + wait_ms / 1000
        while True:
            found = self.fleet.journals.sessions(stream_id, worker_id, state)
            remaining = deadline - loop.time()
            if found or remaining <= 0 or self.request.connection.stream.closed():
                break
            await self.fleet.changed(remaining)
        self.reply(200, {"sessions": [journal.summary() for journal in found]})


class SessionHandler(SessionsHandler):
    def get(self, session_id: str) -> None:
        self.reply(200, self.journal(session_id).detail())


class EventsHandler(SessionsHandler):
    def get(self, session_id: str) -> None:
        journal = self.journal(session_id)
        after = self.integer("after", -1, 2**62, -1)
        limit = self.integer("limit", 1, MAX_PAGE, DEFAULT_PAGE)
        events, following = journal.page(after, limit)
        self.reply(200, {"events": events, "next": following})


class VerifyHandler(SessionsHandler):
    def get(self, session_id: str) -> None:
        journal = self.journal(session_id)
        grace_ms = self.number("grace_ms", 0, MAX_WAIT_MS, DEFAULT_GRACE_MS)
        self.reply(200, verify(journal, grace_ms))


def session_routes(init: dict[str, Any]) -> list[tuple[str, type[ControlHandler], dict[str, Any]]]:
    return [
        (r"/admin/sessions", SessionListHandler, init),
        (rf"/admin/sessions/{SESSION}", SessionHandler, init),
        (rf"/admin/sessions/{SESSION}/events", EventsHandler, init),
        (rf"/admin/sessions/{SESSION}/verify", VerifyHandler, init),
    ]
