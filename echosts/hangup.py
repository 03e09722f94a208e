"""When the server drops a connection on its own: after stream:complete, or when asked.

The connection owns these deadlines, not the session: the auto-disconnect outlives a
completed session, and a scheduled disconnect needs no session at all.
"""

from __future__ import annotations

from echosts.outputs import Close

AUTO_DISCONNECT = "auto-disconnect after stream:complete"


class Hangup:
    __slots__ = ("_auto_at", "_scheduled")

    def __init__(self) -> None:
        self._auto_at: float | None = None
        self._scheduled: tuple[float, Close] | None = None
        """The earliest scheduled disconnect and how; a later one cannot come first."""

    def auto_at(self, due: float) -> None:
        """The stream completed: drop the connection at ``due`` unless a new stream starts."""
        self._auto_at = due

    def cancel_auto(self) -> None:
        self._auto_at = None

    def schedule(self, due: float, close: Close) -> None:
        """A requested disconnect; only the earliest is kept, so a flood cannot grow state."""
        if self._scheduled is None or due < self._scheduled[0]:
            self._scheduled = (due, close)

    def next_deadline(self) -> float | None:
        scheduled = self._scheduled[0] if self._scheduled is not None else None
        return min((d for d in (self._auto_at, scheduled) if d is not None), default=None)

    def due(self, now: float) -> Close | None:
        """The disconnect due at ``now``, a requested one first; None when not yet."""
        closes = []
        if self._scheduled is not None and self._scheduled[0] <= now:
            closes.append(self._scheduled[1])
        if self._auto_at is not None and self._auto_at <= now:
            closes.append(Close(AUTO_DISCONNECT))
        if not closes:
            return None
        self._auto_at = None
        self._scheduled = None
        return closes[0]
