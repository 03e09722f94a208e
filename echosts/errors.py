"""The protocol's error codes, their severity and retryability, and the peer-fault type.

The table is copied from the protocol description (section 5) and tested row by row. Payloads
and logs always carry the code's ``.value``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    AUTH_FAILED = "AUTH_FAILED"
    STREAM_NOT_FOUND = "STREAM_NOT_FOUND"
    INVALID_CONFIG = "INVALID_CONFIG"
    FRAGMENT_TOO_LARGE = "FRAGMENT_TOO_LARGE"
    TIMEOUT = "TIMEOUT"
    MODEL_ERROR = "MODEL_ERROR"
    GPU_OOM = "GPU_OOM"
    QUEUE_FULL = "QUEUE_FULL"
    INVALID_SEQUENCE = "INVALID_SEQUENCE"
    RATE_LIMIT = "RATE_LIMIT"
    STREAM_PAUSED = "STREAM_PAUSED"


@dataclass(frozen=True)
class CodeTraits:
    severity: str
    retryable: bool


ERROR_TRAITS: dict[ErrorCode, CodeTraits] = {
    ErrorCode.AUTH_FAILED: CodeTraits("fatal", False),
    ErrorCode.STREAM_NOT_FOUND: CodeTraits("error", False),
    ErrorCode.INVALID_CONFIG: CodeTraits("error", False),
    ErrorCode.FRAGMENT_TOO_LARGE: CodeTraits("error", False),
    ErrorCode.TIMEOUT: CodeTraits("error", True),
    ErrorCode.MODEL_ERROR: CodeTraits("error", True),
    ErrorCode.GPU_OOM: CodeTraits("error", True),
    ErrorCode.QUEUE_FULL: CodeTraits("warning", True),
    ErrorCode.INVALID_SEQUENCE: CodeTraits("error", False),
    ErrorCode.RATE_LIMIT: CodeTraits("warning", True),
    ErrorCode.STREAM_PAUSED: CodeTraits("warning", True),
}


@dataclass(frozen=True)
class Rejection:
    """A peer fault: what the worker sent was refused, reported as one ``error`` event.

    The core returns it, never raises it: a worker's mistake is part of the protocol, our own
    bugs are the only exceptions.
    """

    code: ErrorCode
    message: str
    stream_id: str | None = None
    fragment_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def event(self) -> str:
        """The worker event that was refused, as ``metadata["event"]`` names it."""
        return str(self.metadata.get("event", "event"))
