"""Event names, limits and payload helpers of the protocol, with its models one step away.

The pydantic models live in ``echosts.models`` and are reached through this module
(``protocol.FragmentData``, ``protocol.validate``): the first such access loads them, so a
process answers ``/health`` without paying for pydantic, and every later access is a plain
module attribute.
"""

from __future__ import annotations

import importlib
from typing import Any

STREAM_INIT = "stream:init"
FRAGMENT_DATA = "fragment:data"
FRAGMENT_ACK = "fragment:ack"
STREAM_PAUSE = "stream:pause"
STREAM_RESUME = "stream:resume"
STREAM_END = "stream:end"
CONFIG_ERROR_SIMULATION = "config:error_simulation"
CONFIG_PROCESSING_DELAY = "config:processing_delay"
CONFIG_BACKPRESSURE = "config:backpressure"
SIMULATE_DISCONNECT = "simulate:disconnect"

WORKER_EVENTS = (
    STREAM_INIT,
    FRAGMENT_DATA,
    FRAGMENT_ACK,
    STREAM_PAUSE,
    STREAM_RESUME,
    STREAM_END,
    CONFIG_ERROR_SIMULATION,
    CONFIG_PROCESSING_DELAY,
    CONFIG_BACKPRESSURE,
    SIMULATE_DISCONNECT,
)

STREAM_READY = "stream:ready"
FRAGMENT_PROCESSED = "fragment:processed"
STREAM_COMPLETE = "stream:complete"
BACKPRESSURE = "backpressure"
ERROR = "error"

SERVER_EVENTS = (
    BACKPRESSURE,
    ERROR,
    FRAGMENT_PROCESSED,
    FRAGMENT_ACK,
    STREAM_READY,
    STREAM_COMPLETE,
)
"""What the server sends a worker, and so what a test may push (section 11.8)."""

NO_PAYLOAD: Any = type("NoPayload", (), {"__repr__": lambda _self: "<no payload>"})()
"""Stands for the payload of an event that was sent with no argument at all."""

MAX_FRAGMENT_CHARS = 10 * 1024 * 1024
"""The protocol's own ceiling on ``audio.data_base64``, in characters."""
MAX_DELAY_MS = 60_000
MAX_RULES = 1000
MAX_SCHEDULED_DISCONNECT_MS = 3_600_000
MAX_DROPPED = 10_000
MIN_HANG_MS = 100
MAX_HANG_MS = 600_000
DEFAULT_HANG_MS = 120_000


BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def is_padded_base64(text: str) -> bool:
    """Standard alphabet, padded to a multiple of four, nothing else: checked, not decoded.

    Deleting the alphabet's bytes leaves nothing of a valid body; this costs about a fifth
    of ``binascii.a2b_base64(strict_mode=True)`` on a 128,000-character fragment.
    """
    if len(text) % 4 or not text.isascii():
        return False
    raw = text.encode("ascii")
    body = raw.rstrip(b"=")
    return len(raw) - len(body) <= 2 and not body.translate(None, BASE64_ALPHABET)


def not_an_object(payload: Any) -> tuple[str, str]:
    """The ``(field, message)`` for a payload that is not a JSON object."""
    return "", f"payload must be a JSON object, got {json_type(payload)}"


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "no payload" if value is NO_PAYLOAD else type(value).__name__


def show(value: Any, limit: int = 64) -> str:
    """A short repr for messages: a worker's values may be arbitrarily long."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def readable_id(value: Any) -> str | None:
    """An id from a payload not yet validated, when it could be a valid one; else None."""
    return value if isinstance(value, str) and 0 < len(value) <= 256 else None


def readable_sequence(value: Any) -> int | None:
    """A sequence number from a payload not yet validated, when it is one; else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def decoded_size(data_base64: str) -> int:
    """Bytes of audio a padded base64 string carries, without decoding it."""
    padding = 2 if data_base64.endswith("==") else 1 if data_base64.endswith("=") else 0
    return len(data_base64) // 4 * 3 - padding


MODELS = "echosts.models"
LAZY_NAMES = frozenset(
    {
        "Inbound",
        "StreamConfig",
        "StreamInit",
        "Audio",
        "FragmentData",
        "WorkerAck",
        "StreamControl",
        "ProcessingDelay",
        "ErrorRule",
        "ErrorSimulation",
        "Backpressure",
        "SimulateDisconnect",
        "RefuseConnections",
        "QueueLimit",
        "InitFault",
        "FaultPlan",
        "DisconnectRequest",
        "RefuseAll",
        "PushedEvent",
        "validate",
        "describe",
    }
)


def __getattr__(name: str) -> Any:
    """Loads ``echosts.models`` on the first access to one of its names, then keeps it here."""
    if name not in LAZY_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(MODELS), name)
    globals()[name] = value
    return value


def load_models() -> None:
    """Loads the models now, where waiting for the first event would be the wrong time."""
    importlib.import_module(MODELS)
