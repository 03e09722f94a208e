"""Strict pydantic models of everything a worker or a test sends: events and control bodies.

Inbound models are strict (``"48000"``, ``48000.0`` and ``true`` are not integers), ignore
unknown extra fields, and refuse ``null`` for every field: an optional field is omitted, not
nulled. ``validate`` turns pydantic's first complaint into a message that names the field.

This module is loaded on first use (see ``echosts.protocol``), never at start: importing
pydantic and building these validators costs more than the rest of echosts' start-up.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from echosts.errors import is_well_formed
from echosts.protocol import (
    DEFAULT_HANG_MS,
    MAX_DELAY_MS,
    MAX_DROPPED,
    MAX_FRAGMENT_CHARS,
    MAX_HANG_MS,
    MAX_RULES,
    MAX_SCHEDULED_DISCONNECT_MS,
    MIN_HANG_MS,
    SERVER_EVENTS,
    is_padded_base64,
    not_an_object,
    show,
)

M = TypeVar("M", bound="Inbound")


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
    enforce_timeout: bool = True
    """False: a fragment slower than the session's timeout_ms still succeeds, late."""
    mode: Literal["parallel", "serial"] = "parallel"
    """serial: one fragment at a time, each due after the one before it (section 11.3)."""


def _well_formed_code(value: str) -> str:
    if not is_well_formed(value):
        raise PydanticCustomError(
            "error_code",
            "{value} is not an error code: a code of the protocol's tables, or one matching "
            "^[A-Z][A-Z0-9_]{1,63}$",
            {"value": show(value)},
        )
    return value


Code = Annotated[str, AfterValidator(_well_formed_code)]
"""An error code a fault may use: section 5's, the real service's, or any well-formed one."""

STRICT_RARELY_USED = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)
"""For control API bodies and section 11's fault models: a misspelt key is refused, naming it."""


class ErrorRule(Inbound):
    model_config = STRICT_RARELY_USED

    trigger: Literal[
        "sequence_number", "fragment_id", "nth_fragment", "sequence_range", "next_n", "probability"
    ]
    value: Any
    error_code: Code
    error_message: str | None = Field(default=None, min_length=1, max_length=1024)
    retryable: bool | None = None
    severity: Literal["info", "warning", "error", "fatal"] | None = None
    stage: Literal["asr", "translation", "tts"] = "asr"
    status: Literal["failed", "partial"] = "failed"
    seed: int | None = None

    @field_validator("value")
    @classmethod
    def _fits_trigger(cls, value: Any, info: ValidationInfo) -> Any:
        trigger = info.data.get("trigger")
        if trigger is None:
            return value
        if trigger == "fragment_id":
            if not isinstance(value, str) or not 1 <= len(value) <= 256:
                raise PydanticCustomError(
                    "trigger_value", "fragment_id trigger needs a string of 1-256 characters"
                )
        elif trigger == "sequence_range":
            if not (
                isinstance(value, list)
                and len(value) == 2
                and all(_is_int(bound) and bound >= 0 for bound in value)
                and value[0] <= value[1]
            ):
                raise PydanticCustomError(
                    "trigger_value",
                    "sequence_range trigger needs [first, last], integers with 0 <= first <= last",
                )
        elif trigger == "probability":
            if not (_is_number(value) and 0 <= value <= 1):
                raise PydanticCustomError(
                    "trigger_value", "probability trigger needs a number from 0 to 1"
                )
        else:
            lowest = 0 if trigger == "sequence_number" else 1
            if not _is_int(value) or value < lowest:
                raise PydanticCustomError(
                    "trigger_value",
                    "{trigger} trigger needs an integer >= {lowest}",
                    {"trigger": trigger, "lowest": lowest},
                )
        return value

    @model_validator(mode="after")
    def _seed_only_for_probability(self) -> ErrorRule:
        if self.seed is not None and self.trigger != "probability":
            raise PydanticCustomError(
                "seed_without_probability",
                "seed belongs to the probability trigger only",
                {"field": "seed"},
            )
        return self


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


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


TransportMode = Literal["server_disconnect", "close", "reset", "hang"]
HangMs = Annotated[int, Field(ge=MIN_HANG_MS, le=MAX_HANG_MS)]


class TransportFault(Inbound):
    """How a requested disconnect ends the connection (section 11.6)."""

    model_config = RARELY_USED

    mode: TransportMode = "server_disconnect"
    hang_ms: HangMs = DEFAULT_HANG_MS


class SimulateDisconnect(TransportFault):
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


class RefuseConnections(Inbound):
    model_config = RARELY_USED

    count: int = Field(ge=0, le=1_000_000)
    code: Literal["AUTH_FAILED", "RATE_LIMIT"] = "AUTH_FAILED"


class QueueLimit(Inbound):
    """Plan key ``queue``: the stream's own queue limit and the code its refusals carry."""

    model_config = STRICT_RARELY_USED

    limit: int = Field(ge=1, le=1000)
    error_code: Code = "QUEUE_FULL"


class InitFault(Inbound):
    """Plan key ``init``: each ``stream:init`` of the stream answered late, or with an error."""

    model_config = STRICT_RARELY_USED

    delay_ms: int = Field(default=0, ge=0, le=MAX_DELAY_MS)
    error_code: Code | None = None
    count: int | None = Field(default=None, ge=1, le=1_000_000)

    @model_validator(mode="before")
    @classmethod
    def _does_something(cls, data: Any) -> Any:
        if isinstance(data, dict) and "delay_ms" not in data and "error_code" not in data:
            raise PydanticCustomError(
                "init_without_fault", "init needs delay_ms, error_code or both"
            )
        return data


class FaultPlan(Inbound):
    """The body of ``PUT /admin/streams/{stream_id}/plan``; unknown keys are refused."""

    model_config = STRICT_RARELY_USED

    error_simulation: ErrorSimulation | None = None
    processing_delay: ProcessingDelay | None = None
    backpressure: Backpressure | None = None
    refuse_connections: RefuseConnections | None = None
    drop_processed: list[Annotated[int, Field(ge=0)]] | None = Field(
        default=None, max_length=MAX_DROPPED
    )
    queue: QueueLimit | None = None
    init: InitFault | None = None

    def dropped(self) -> frozenset[int]:
        return frozenset(self.drop_processed or ())


class DisconnectRequest(TransportFault):
    """The body of ``POST /admin/streams/{stream_id}/disconnect``."""

    model_config = STRICT_RARELY_USED

    delay_ms: int = Field(default=0, ge=0, le=MAX_SCHEDULED_DISCONNECT_MS)


class RefuseAll(Inbound):
    """The body of ``POST /admin/connections/refuse``: the next attempts, whatever headers."""

    model_config = STRICT_RARELY_USED

    count: int = Field(ge=1, le=1_000_000)
    code: Literal["AUTH_FAILED", "RATE_LIMIT"] = "RATE_LIMIT"


class PushedEvent(Inbound):
    """The body of ``POST /admin/streams/{stream_id}/emit``: any server-to-worker event."""

    model_config = STRICT_RARELY_USED

    event: str
    data: dict[str, Any]

    @field_validator("event")
    @classmethod
    def _server_event(cls, value: str) -> str:
        if value not in SERVER_EVENTS:
            raise PydanticCustomError(
                "server_event",
                "{value} is not a server-to-worker event; one of {events}",
                {"value": show(value), "events": ", ".join(SERVER_EVENTS)},
            )
        return value


def validate(model: type[M], payload: Any) -> M | tuple[str, str]:
    """``model`` parsed from ``payload``, or ``(field, message)`` naming what is wrong."""
    if not isinstance(payload, dict):
        return not_an_object(payload)
    try:
        return model.model_validate(payload)
    except ValidationError as problem:
        return describe(problem)
