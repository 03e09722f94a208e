"""Everything the server sends a worker, built in one place.

The core returns these typed outputs and the gateway serialises them as they are, so a field
name of the protocol's section 4 is spelled here and nowhere else. ``Outcome`` is how a
fragment's processing ends; ``fragment_processed`` turns it into the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from echosts import protocol as p
from echosts.errors import Rejection, traits

if TYPE_CHECKING:
    from echosts.faults import DelaySpec, Level
    from echosts.stats import SessionStatistics

TRANSCRIPT = "[ECHO] Original audio"
TRANSLATED_TEXT = "[ECHO] Translated audio"
MODEL_METADATA = {"asr_model": "echo", "translation_model": "echo", "tts_model": "echo"}
CAPABILITIES = {"batch_processing": False, "async_delivery": True}


@dataclass(frozen=True, slots=True)
class Emit:
    """One Socket.IO event to send, with its JSON payload."""

    event: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Close:
    """Disconnect the client; ``reason`` goes to the log.

    ``mode`` is how (section 11.6): a Socket.IO disconnect, a WebSocket close with no
    goodbye, a TCP reset, or a hang of ``hang_ms`` in which the server sends nothing.
    """

    reason: str
    mode: str = "server_disconnect"
    hang_ms: int = p.DEFAULT_HANG_MS


Output = Emit | Close


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a fragment's processing ends: a status and, unless it succeeded, an error body."""

    status: str = "success"
    error: dict[str, Any] | None = None
    dropped: bool = False
    fault: str | None = None
    """The simulated fault that decided it (error, partial, timeout), counted when it leaves."""


SUCCESS = Outcome()
DROPPED = Outcome(dropped=True)


def failure(
    code: str,
    message: str,
    *,
    stage: str = "asr",
    retryable: bool | None = None,
    severity: str | None = None,
    status: str = "failed",
    fault: str | None = None,
) -> Outcome:
    """A fragment's end with an ``error`` body; retryable and severity default to the table."""
    table = traits(code)
    return Outcome(
        status=status,
        error={
            "code": str(code),
            "message": message,
            "stage": stage,
            "retryable": table.retryable if retryable is None else retryable,
            "severity": table.severity if severity is None else severity,
        },
        fault=fault,
    )


def stage_timings(processing_time_ms: int) -> dict[str, int]:
    """30/30/40 per cent of the processing time, in integers that add up to it."""
    asr = processing_time_ms * 30 // 100
    translation = processing_time_ms * 30 // 100
    tts = processing_time_ms - asr - translation
    return {"asr_ms": asr, "translation_ms": translation, "tts_ms": tts}


def stream_ready(stream_id: str, session_id: str, max_inflight: int) -> Emit:
    return Emit(
        p.STREAM_READY,
        {
            "stream_id": stream_id,
            "session_id": session_id,
            "max_inflight": max_inflight,
            "capabilities": dict(CAPABILITIES),
        },
    )


def fragment_ack(fragment_id: str, queue_position: int, estimated_completion_ms: int) -> Emit:
    return Emit(
        p.FRAGMENT_ACK,
        {
            "fragment_id": fragment_id,
            "status": "queued",
            "queue_position": queue_position,
            "estimated_completion_ms": estimated_completion_ms,
        },
    )


def fragment_processed(
    *,
    fragment_id: str,
    stream_id: str,
    sequence_number: int,
    audio: dict[str, Any],
    outcome: Outcome,
    processing_time_ms: int,
) -> Emit:
    """The echo: the worker's own audio object unless the fragment failed."""
    data: dict[str, Any] = {
        "fragment_id": fragment_id,
        "stream_id": stream_id,
        "sequence_number": sequence_number,
        "status": outcome.status,
    }
    if outcome.status != "failed":
        data["dubbed_audio"] = audio
        data["transcript"] = TRANSCRIPT
        data["translated_text"] = TRANSLATED_TEXT
    data["processing_time_ms"] = processing_time_ms
    data["stage_timings"] = stage_timings(processing_time_ms)
    if outcome.error is not None:
        data["error"] = dict(outcome.error)
    data["metadata"] = dict(MODEL_METADATA)
    return Emit(p.FRAGMENT_PROCESSED, data)


def backpressure(stream_id: str, level: Level, inflight: int, queue_depth: int) -> Emit:
    data: dict[str, Any] = {
        "stream_id": stream_id,
        "severity": level.severity,
        "current_inflight": inflight,
        "queue_depth": queue_depth,
        "action": level.action,
    }
    if level.recommended_delay_ms is not None:
        data["recommended_delay_ms"] = level.recommended_delay_ms
    return Emit(p.BACKPRESSURE, data)


def stream_complete(stream_id: str, stats: SessionStatistics) -> Emit:
    return Emit(
        p.STREAM_COMPLETE,
        {
            "stream_id": stream_id,
            "total_fragments": stats.total_fragments,
            "total_duration_ms": stats.total_duration_ms,
            "statistics": stats.summary(),
        },
    )


def error(rejection: Rejection, error_id: str) -> Emit:
    """The ``error`` event that reports a rejected input."""
    table = traits(rejection.code)
    body: dict[str, Any] = {"error_id": error_id}
    if rejection.stream_id is not None:
        body["stream_id"] = rejection.stream_id
    if rejection.fragment_id is not None:
        body["fragment_id"] = rejection.fragment_id
    body.update(
        code=str(rejection.code),
        message=rejection.message,
        severity=table.severity,
        retryable=table.retryable,
    )
    if rejection.metadata:
        body["metadata"] = dict(rejection.metadata)
    return Emit(p.ERROR, body)


def refusal(code: str, message: str) -> dict[str, Any]:
    """The structured ``data`` of a refused handshake, as the client's connect_error shows it."""
    table = traits(code)
    return {
        "code": str(code),
        "message": message,
        "severity": table.severity,
        "retryable": table.retryable,
    }


def processing_delay_accepted(spec: DelaySpec) -> Emit:
    return Emit(
        f"{p.CONFIG_PROCESSING_DELAY}:ack",
        {
            "status": "accepted",
            "delay_ms": spec.delay_ms,
            "jitter_ms": spec.jitter_ms,
            "distribution": spec.distribution,
            "enforce_timeout": spec.enforce_timeout,
            "mode": "serial" if spec.serial else "parallel",
        },
    )


def error_simulation_accepted(rules_count: int) -> Emit:
    return Emit(
        f"{p.CONFIG_ERROR_SIMULATION}:ack", {"status": "accepted", "rules_count": rules_count}
    )


def backpressure_accepted() -> Emit:
    return Emit(f"{p.CONFIG_BACKPRESSURE}:ack", {"status": "accepted"})


def config_rejected(event: str, message: str) -> Emit:
    """A ``config:*`` event's rejected ack; error simulation's also says no rule is active."""
    body: dict[str, Any] = {"status": "rejected"}
    if event == p.CONFIG_ERROR_SIMULATION:
        body["rules_count"] = 0
    body["message"] = f"{event}: {message}"
    return Emit(f"{event}:ack", body)


def disconnect_scheduled(disconnect_at_ms: int) -> Emit:
    return Emit(
        f"{p.SIMULATE_DISCONNECT}:ack",
        {"status": "scheduled", "disconnect_at_ms": disconnect_at_ms},
    )
