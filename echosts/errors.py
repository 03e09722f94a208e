"""The protocol's error codes, their severity and retryability, and the peer-fault type.

The tables are copied from the protocol description (section 5 for echosts' own codes,
section 11.1 for the real STS service's) and tested row by row. A simulated fault may use any
well-formed code; one in neither table is an error, not retryable.
"""

from __future__ import annotations

import re
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


STS_TRAITS: dict[str, CodeTraits] = {
    "INVALID_VOICE_PROFILE": CodeTraits("error", False),
    "UNSUPPORTED_LANGUAGE": CodeTraits("error", False),
    "INVALID_AUDIO_FORMAT": CodeTraits("error", False),
    "ASR_FAILED": CodeTraits("error", False),
    "TRANSLATION_FAILED": CodeTraits("error", False),
    "TTS_SYNTHESIS_FAILED": CodeTraits("error", False),
    "DURATION_MISMATCH_EXCEEDED": CodeTraits("error", False),
    "TRANSLATION_API_UNAVAILABLE": CodeTraits("error", True),
    "RATE_LIMIT_EXCEEDED": CodeTraits("warning", True),
    "BACKPRESSURE_EXCEEDED": CodeTraits("warning", True),
}
"""The real STS service's own codes, which a simulated fault may use as the service would."""

OTHER_TRAITS = CodeTraits("error", False)
SEVERITIES = ("info", "warning", "error", "fatal")
CODE_PATTERN = re.compile(r"[A-Z][A-Z0-9_]{1,63}")
"""What any other code a test simulates must look like (matched whole)."""

KNOWN_CODES: tuple[str, ...] = (*(code.value for code in ErrorCode), *STS_TRAITS)
OTHER_CODE = "OTHER"
"""The metric label of a code in neither table: a test may invent any number of them."""


def traits(code: str) -> CodeTraits:
    """Severity and retryability of ``code``: from its table, else error and not retryable."""
    return ERROR_TRAITS.get(code) or STS_TRAITS.get(code, OTHER_TRAITS)


def is_well_formed(code: str) -> bool:
    return code in KNOWN_CODES or CODE_PATTERN.fullmatch(code) is not None


def metric_label(code: str) -> str:
    """``code`` itself when a table has it, else ``OTHER``: labels stay a closed set."""
    return code if code in KNOWN_CODES else OTHER_CODE


@dataclass(frozen=True)
class Rejection:
    """A peer fault: what the worker sent was refused, reported as one ``error`` event.

    The core returns it, never raises it: a worker's mistake is part of the protocol, our own
    bugs are the only exceptions.
    """

    code: str
    """An ``ErrorCode``, or the code a fault plan chose (section 11.1)."""
    message: str
    stream_id: str | None = None
    fragment_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def event(self) -> str:
        """The worker event that was refused, as ``metadata["event"]`` names it."""
        return str(self.metadata.get("event", "event"))
