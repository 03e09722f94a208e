"""What the service reports as it goes, for metrics; the default observer ignores it all.

The core calls these at its decision points, so counters and histograms see exactly what the
protocol did. Label values the core passes are drawn from closed sets (event names the
protocol defines, error codes, statuses): never a stream_id, never a client's own string.
"""

from __future__ import annotations

LIMITS = ("idle", "output_buffer", "message_size")
"""Section 14's limits that end a connection."""
REFUSAL_REASONS = ("auth_failed", "refuse_all", "draining", "connection_limit", "fault_plan")
FINISH_STATUSES = ("success", "partial", "failed", "dropped")
FAULT_KINDS = (
    "error",
    "partial",
    "timeout",
    "late",
    "drop",
    "disconnect",
    "close",
    "reset",
    "hang",
    "refusal",
    "init_delay",
    "init_error",
    "push",
)


class Observer:
    def connection_accepted(self) -> None:
        """A Socket.IO handshake opened a new connection."""

    def connection_refused(self, reason: str) -> None:
        """A handshake was refused; ``reason`` is one of ``REFUSAL_REASONS``."""

    def event_received(self, event: str) -> None:
        """A worker event arrived; ``event`` is a protocol name or ``unknown``."""

    def event_rejected(self, event: str, code: str) -> None:
        """An event was answered with an ``error`` event."""

    def fragment_accepted(self, payload_bytes: int) -> None:
        """A fragment was acknowledged; ``payload_bytes`` is its decoded audio size."""

    def fragment_finished(self, status: str, processing_s: float, queue_wait_s: float) -> None:
        """A fragment left in-flight: success, partial, failed (emitted) or dropped (not)."""

    def backpressure_changed(self, severity: str, action: str) -> None:
        """A ``backpressure`` event was emitted."""

    def fault_injected(self, kind: str) -> None:
        """A simulated fault happened; ``kind`` is one of ``FAULT_KINDS``."""

    def limit_reached(self, limit: str) -> None:
        """A connection was dropped by a limit of ``LIMITS``."""

    def stream_started(self) -> None:
        """``stream:ready`` was sent."""

    def stream_completed(self) -> None:
        """``stream:complete`` was sent."""
