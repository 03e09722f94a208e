"""Whether a Socket.IO handshake may open a connection.

Pure: the gateway gathers the handshake's facts, asks ``Admission.decide``, and raises the
refusal it gets back. Checks run in the protocol's order: the API key on every namespace a
connection joins; then, once per Engine.IO connection, the refusals a test asked for whatever
the headers, draining, the connection limit and a fault plan's planned refusals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from echosts.auth import KeyRing
from echosts.config import Settings
from echosts.errors import ErrorCode
from echosts.observe import Observer
from echosts.plans import PlanBook


def auth_token(auth: Any) -> str | None:
    """The ``token`` of a Socket.IO ``auth`` object, when it has a string one."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return auth["token"]
    return None


@dataclass(frozen=True)
class Handshake:
    """What a connecting client told us, and where the service stands."""

    token: str | None
    header_stream_id: str | None
    opens_connection: bool
    """True for the first namespace of an Engine.IO connection; False when it joins another."""
    open_connections: int
    draining: bool


class PendingRefusals:
    """Section 11.7: the next ``count`` connection attempts are refused, whatever their headers.

    The real worker sends no ``X-Stream-ID``, so a plan's ``refuse_connections`` never matches
    it; this count does.
    """

    def __init__(self) -> None:
        self.count = 0
        self.code = ErrorCode.RATE_LIMIT

    def set(self, count: int, code: ErrorCode) -> None:
        """Replaces any earlier count."""
        self.count = count
        self.code = code

    def clear(self) -> None:
        self.count = 0

    def take(self) -> ErrorCode | None:
        """The code to refuse this attempt with, counting it down; None to let it through."""
        if self.count <= 0:
            return None
        self.count -= 1
        return self.code


@dataclass(frozen=True)
class Refused:
    code: ErrorCode
    reason: str
    """The metric label: one of ``observe.REFUSAL_REASONS``."""
    message: str


class Admission:
    def __init__(
        self,
        settings: Settings,
        plans: PlanBook,
        observer: Observer,
        refusals: PendingRefusals,
        keys: KeyRing,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.plans = plans
        self.observer = observer
        self.refusals = refusals

    def decide(self, handshake: Handshake, now: float) -> Refused | None:
        """None to admit; a refusal, counted, otherwise. A planned refusal is used up."""
        settings = self.settings
        if self.keys.enabled and not self.keys.matches(handshake.token):
            return self._refuse(
                ErrorCode.AUTH_FAILED,
                "auth_failed",
                "authentication failed: auth.token matches no configured API key",
            )
        if not handshake.opens_connection:
            return None
        pending = self.refusals.take()
        if pending is not None:
            self.observer.fault_injected("refusal")
            return self._refuse(
                pending,
                "refuse_all",
                f"refused by POST /admin/connections/refuse ({self.refusals.count} more to refuse)",
            )
        if handshake.draining:
            return self._refuse(
                ErrorCode.RATE_LIMIT,
                "draining",
                "the server is draining for shutdown: connect to another instance",
            )
        if handshake.open_connections >= settings.max_connections:
            return self._refuse(
                ErrorCode.RATE_LIMIT,
                "connection_limit",
                f"connection limit reached: {settings.max_connections} connections are open",
            )
        stream_id = handshake.header_stream_id
        planned = self.plans.take_refusal(stream_id, now)
        if planned is not None:
            self.observer.fault_injected("refusal")
            return self._refuse(
                planned, "fault_plan", f"refused by the fault plan of stream {stream_id}"
            )
        self.observer.connection_accepted()
        return None

    def _refuse(self, code: ErrorCode, reason: str, message: str) -> Refused:
        self.observer.connection_refused(reason)
        return Refused(code, reason, message)
