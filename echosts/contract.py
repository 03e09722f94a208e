"""The Socket.IO interface as a contract: server-to-worker models and the AsyncAPI document.

``echosts.models`` holds what a worker sends; this module adds what the server sends, as
pydantic models, so both directions of ``echosts asyncapi`` come from models. A unit test
validates every event the core emits against these models, so the document cannot drift
from what echosts does. Loaded only by ``echosts asyncapi`` and the tests.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from echosts import __version__, models
from echosts import protocol as p

SEVERITY = Literal["info", "warning", "error", "fatal"]


class Outbound(BaseModel):
    """What the server sends: exactly these fields (a new one fails the contract test)."""

    model_config = ConfigDict(extra="forbid")


class Capabilities(Outbound):
    batch_processing: bool
    async_delivery: bool


class StreamReady(Outbound):
    stream_id: str
    session_id: str
    max_inflight: int
    capabilities: Capabilities


class FragmentAck(Outbound):
    fragment_id: str
    status: Literal["queued"]
    queue_position: int = Field(ge=0)
    estimated_completion_ms: int = Field(ge=0)


class EchoedAudio(BaseModel):
    """The worker's own audio object, returned as it came (any extra field included)."""

    model_config = ConfigDict(extra="allow")

    format: str
    sample_rate_hz: int
    channels: int
    duration_ms: int
    data_base64: str


class ProcessingError(Outbound):
    code: str
    message: str
    stage: Literal["asr", "translation", "tts"]
    retryable: bool
    severity: SEVERITY


class StageTimings(Outbound):
    asr_ms: int
    translation_ms: int
    tts_ms: int


class ModelMetadata(Outbound):
    asr_model: str
    translation_model: str
    tts_model: str


class FragmentProcessed(Outbound):
    fragment_id: str
    stream_id: str
    sequence_number: int
    status: Literal["success", "partial", "failed"]
    dubbed_audio: EchoedAudio | None = None
    transcript: str | None = None
    translated_text: str | None = None
    processing_time_ms: int
    stage_timings: StageTimings
    error: ProcessingError | None = None
    metadata: ModelMetadata


class BackpressureEvent(Outbound):
    stream_id: str
    severity: Literal["low", "medium", "high"]
    current_inflight: int
    queue_depth: int
    action: Literal["slow_down", "pause", "none"]
    recommended_delay_ms: int | None = None


class Statistics(Outbound):
    success_count: int
    partial_count: int
    failed_count: int
    dropped_count: int
    avg_processing_time_ms: float
    p95_processing_time_ms: int


class StreamComplete(Outbound):
    stream_id: str
    total_fragments: int
    total_duration_ms: int
    statistics: Statistics


class ErrorEvent(Outbound):
    error_id: str
    stream_id: str | None = None
    fragment_id: str | None = None
    code: str
    message: str
    severity: SEVERITY
    retryable: bool
    metadata: dict[str, Any] | None = None


class ProcessingDelayAck(Outbound):
    status: Literal["accepted", "rejected"]
    delay_ms: int | None = None
    jitter_ms: int | None = None
    distribution: str | None = None
    enforce_timeout: bool | None = None
    mode: Literal["parallel", "serial"] | None = None
    message: str | None = None


class ErrorSimulationAck(Outbound):
    status: Literal["accepted", "rejected"]
    rules_count: int
    message: str | None = None


class BackpressureAck(Outbound):
    status: Literal["accepted", "rejected"]
    message: str | None = None


class DisconnectAck(Outbound):
    status: Literal["scheduled", "rejected"]
    disconnect_at_ms: int | None = None
    message: str | None = None


RECEIVED: dict[str, type[BaseModel]] = {
    p.STREAM_INIT: models.StreamInit,
    p.FRAGMENT_DATA: models.FragmentData,
    p.FRAGMENT_ACK: models.WorkerAck,
    p.STREAM_PAUSE: models.StreamControl,
    p.STREAM_RESUME: models.StreamControl,
    p.STREAM_END: models.StreamControl,
    p.CONFIG_PROCESSING_DELAY: models.ProcessingDelay,
    p.CONFIG_ERROR_SIMULATION: models.ErrorSimulation,
    p.CONFIG_BACKPRESSURE: models.Backpressure,
    p.SIMULATE_DISCONNECT: models.SimulateDisconnect,
}
"""Each worker event and the model of its payload."""

SENT: dict[str, type[BaseModel]] = {
    p.STREAM_READY: StreamReady,
    p.FRAGMENT_ACK: FragmentAck,
    p.FRAGMENT_PROCESSED: FragmentProcessed,
    p.BACKPRESSURE: BackpressureEvent,
    p.STREAM_COMPLETE: StreamComplete,
    p.ERROR: ErrorEvent,
    f"{p.CONFIG_PROCESSING_DELAY}:ack": ProcessingDelayAck,
    f"{p.CONFIG_ERROR_SIMULATION}:ack": ErrorSimulationAck,
    f"{p.CONFIG_BACKPRESSURE}:ack": BackpressureAck,
    f"{p.SIMULATE_DISCONNECT}:ack": DisconnectAck,
}
"""Each server-to-worker event and the model of its payload."""

REF = "#/components/schemas/{model}"


def _key(event: str, direction: str) -> str:
    words = event.replace(":", " ").replace("_", " ").split()
    return direction + "".join(word.capitalize() for word in words)


def _summary(model: type[BaseModel], event: str) -> str:
    doc = (model.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else event


def _without_null(schema: Any) -> Any:
    """The schema with ``null`` taken out of every ``anyOf``: an optional field is left out,
    never null, both ways (echosts refuses a null from a worker and never sends one)."""
    if isinstance(schema, list):
        return [_without_null(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned = {key: _without_null(value) for key, value in schema.items()}
    choices = cleaned.get("anyOf")
    if isinstance(choices, list):
        kept = [choice for choice in choices if choice != {"type": "null"}]
        cleaned.pop("anyOf")
        if len(kept) == 1:
            cleaned.update(kept[0])
        else:
            cleaned["anyOf"] = kept
        if cleaned.get("default", "") is None:
            del cleaned["default"]
    return cleaned


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = _without_null(model.model_json_schema(ref_template=REF, mode="validation"))
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of echosts' Socket.IO interface."""
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for direction, action, table in (("receive", "receive", RECEIVED), ("send", "send", SENT)):
        for event, model in table.items():
            key = _key(event, direction)
            messages[key] = {
                "name": event,
                "title": event,
                "summary": _summary(model, event),
                "payload": _schema(model, schemas),
            }
            operations[key] = {
                "action": action,
                "channel": {"$ref": "#/channels/sts"},
                "messages": [{"$ref": f"#/channels/sts/messages/{key}"}],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "echosts",
            "version": __version__,
            "description": (
                "The Echo STS service's Socket.IO interface (docs/protocol.md). Each message is "
                "a Socket.IO event: its name is the message name, its payload the event's one "
                "argument. 'receive' operations are what a media worker sends, 'send' what "
                "echosts answers."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "localhost:8000",
                "protocol": "ws",
                "pathname": "/socket.io/",
                "description": "Socket.IO over Engine.IO v4; also at /ws/sts/ and namespace /sts",
            }
        },
        "channels": {
            "sts": {
                "address": "/",
                "title": "Socket.IO namespace /",
                "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in messages},
            }
        },
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def yaml(value: Any, indent: int = 0) -> str:
    """``value`` as YAML: mappings and lists in block style, scalars as JSON (valid YAML)."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        lines = []
        for key, item in value.items():
            name = json.dumps(key) if not key.replace("_", "").isalnum() else key
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{name}:\n{yaml(item, indent + 1)}")
            else:
                lines.append(f"{pad}{name}: {json.dumps(item)}\n")
        return "".join(lines)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        lines = []
        for item in value:
            if isinstance(item, dict | list) and item:
                block = yaml(item, indent + 1)
                lines.append(f"{pad}- {block.lstrip()}")
            else:
                lines.append(f"{pad}- {json.dumps(item)}\n")
        return "".join(lines)
    return pad + json.dumps(value) + "\n"


def asyncapi_yaml() -> str:
    return "# Generated by `echosts asyncapi`; a test fails when it is stale.\n" + yaml(document())
