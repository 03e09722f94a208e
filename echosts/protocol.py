"""Event names and strict models of what a worker sends.

Inbound models are strict (``"48000"``, ``48000.0`` and ``true`` are not integers), ignore
unknown extra fields, and refuse ``null`` for every field: an optional field is omitted, not
nulled. ``validate`` turns pydantic's first complaint into a message that names the field.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from echosts.errors import ErrorCode

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

M = TypeVar("M", bound="Inbound")

NO_PAYLOAD: Any = type("NoPayload", (), {"__repr__": lambda _self: "<no payload>"})()
"""Stands for the payload of an event that was sent with no argument at all."""

MAX_FRAGMENT_CHARS = 10 * 1024 * 1024
"""The protocol's own ceiling on ``audio.data_base64``, in characters."""
MAX_DELAY_MS = 60_000


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


class Inbound(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("null_value", "Input should not be null; omit the field")
        return value


RARELY_USED = ConfigDict(strict=True, extra="ignore", frozen=True, defer_build=True)
"""For what the fragment path never meets: its validator is built on first use, not at start."""


def _text(max_length: int) -> Any:
    return Field(min_length=1, max_length=max_length)


class StreamConfig(Inbound):
    source_language: str = Field(default="en", min_length=1, max_length=35)
    target_language: str = Field(default="es", min_length=1, max_length=35)
    voice_profile: str = Field(default="default", min_length=1, max_length=256)
    chunk_duration_ms: int = Field(default=1000, ge=100, le=60000)
    sample_rate_hz: int = Field(default=48000, ge=8000, le=192000)
    channels: int = Field(default=1, ge=1, le=2)
    format: str = Field(default="m4a", min_length=1, max_length=32)


class StreamInit(Inbound):
    stream_id: str = _text(256)
    worker_id: str | None = Field(default=None, min_length=1, max_length=256)
    config: StreamConfig
    max_inflight: int = Field(default=3, ge=1, le=10)
    timeout_ms: int = Field(default=8000, ge=1000, le=30000)


class Audio(Inbound):
    format: str = _text(32)
    sample_rate_hz: int = Field(ge=8000, le=192000)
    channels: int = Field(ge=1, le=2)
    duration_ms: int = Field(ge=0, le=60000)
    data_base64: str = Field(max_length=MAX_FRAGMENT_CHARS)

    @field_validator("data_base64")
    @classmethod
    def _is_base64(cls, value: str) -> str:
        if not is_padded_base64(value):
            raise PydanticCustomError("base64", "Input should be valid padded base64")
        return value


class FragmentData(Inbound):
    fragment_id: str = _text(256)
    stream_id: str
    sequence_number: int = Field(ge=0)
    timestamp: int
    audio: Audio
    metadata: dict[str, Any] = Field(default_factory=dict)


class WorkerAck(Inbound):
    fragment_id: str = _text(256)
    status: Literal["received", "applied"]
    timestamp: int


class StreamControl(Inbound):
    """``stream:pause``, ``stream:resume`` and ``stream:end``."""

    model_config = RARELY_USED

    stream_id: str
    reason: str | None = Field(default=None, max_length=1024)


class ProcessingDelay(Inbound):
    model_config = RARELY_USED

    delay_ms: int = Field(ge=0, le=MAX_DELAY_MS)
    jitter_ms: int = Field(default=0, ge=0, le=MAX_DELAY_MS)
    distribution: Literal["uniform", "lognormal"] = "uniform"
    seed: int | None = None


MAX_RULES = 1000
MAX_SCHEDULED_DISCONNECT_MS = 3_600_000
ERROR_CODES = tuple(code.value for code in ErrorCode)


class ErrorRule(Inbound):
    model_config = RARELY_USED

    trigger: Literal["sequence_number", "fragment_id", "nth_fragment"]
    value: Any
    error_code: str
    error_message: str | None = Field(default=None, min_length=1, max_length=1024)
    retryable: bool | None = None
    stage: Literal["asr", "translation", "tts"] = "asr"
    status: Literal["failed", "partial"] = "failed"

    @field_validator("value")
    @classmethod
    def _fits_trigger(cls, value: Any, info: ValidationInfo) -> Any:
        trigger = info.data.get("trigger")
        if trigger == "fragment_id":
            if not isinstance(value, str) or not 1 <= len(value) <= 256:
                raise PydanticCustomError(
                    "trigger_value", "fragment_id trigger needs a string of 1-256 characters"
                )
        elif trigger is not None:
            lowest = 1 if trigger == "nth_fragment" else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
                raise PydanticCustomError(
                    "trigger_value",
                    "{trigger} trigger needs an integer >= {lowest}",
                    {"trigger": trigger, "lowest": lowest},
                )
        return value

    @field_validator("error_code")
    @classmethod
    def _known_code(cls, value: str) -> str:
        if value not in ERROR_CODES:
            raise PydanticCustomError(
                "error_code",
                "unknown error code; one of {codes}",
                {"codes": ", ".join(ERROR_CODES)},
            )
        return value


class ErrorSimulation(Inbound):
    model_config = RARELY_USED

    enabled: bool = True
    rules: list[ErrorRule] = Field(default_factory=list, max_length=MAX_RULES)


class Backpressure(Inbound):
    model_config = RARELY_USED

    enabled: bool
    threshold: int | None = Field(default=None, ge=1, le=10000)
    severity: Literal["low", "medium", "high"] | None = None
    action: Literal["slow_down", "pause", "none"] | None = None
    recommended_delay_ms: int | None = Field(default=None, ge=0, le=MAX_DELAY_MS)

    @model_validator(mode="after")
    def _threshold_needs_a_level(self) -> Backpressure:
        if self.enabled and self.threshold is not None:
            missing = [name for name in ("severity", "action") if getattr(self, name) is None]
            if missing:
                raise PydanticCustomError(
                    "missing_level",
                    "required when threshold is set",
                    {"field": missing[0]},
                )
        return self


class SimulateDisconnect(Inbound):
    model_config = RARELY_USED

    delay_ms: int = Field(ge=0, le=MAX_SCHEDULED_DISCONNECT_MS)
    reason: str | None = Field(default=None, max_length=1024)


def describe(problem: ValidationError) -> tuple[str, str]:
    """The first failing field of ``problem`` as ``(field path, message naming it)``."""
    first = problem.errors(include_url=False)[0]
    path = ""
    named = (first.get("ctx") or {}).get("field")
    for part in (*first["loc"], *([named] if named else [])):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if first["type"] == "missing":
        return path, f"{path}: required field is missing"
    return path, f"{path}: {first['msg']}" if path else first["msg"]


def not_an_object(payload: Any) -> tuple[str, str]:
    """The ``(field, message)`` for a payload that is not a JSON object."""
    return "", f"payload must be a JSON object, got {json_type(payload)}"


def validate(model: type[M], payload: Any) -> M | tuple[str, str]:
    """``model`` parsed from ``payload``, or ``(field, message)`` naming what is wrong."""
    if not isinstance(payload, dict):
        return not_an_object(payload)
    try:
        return model.model_validate(payload)
    except ValidationError as problem:
        return describe(problem)


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
