"""Every server-to-worker payload, built where its fields are spelled."""

from __future__ import annotations

from typing import Any

import pytest

from echosts import outputs
from echosts.errors import ERROR_TRAITS, ErrorCode, Rejection
from echosts.faults import Level


def test_rejection_payload_has_the_protocol_fields() -> None:
    rejection = Rejection(
        ErrorCode.QUEUE_FULL, "full", stream_id="s", fragment_id="f", metadata={"limit": 2}
    )
    emitted = outputs.error(rejection, "e-1")
    assert emitted.event == "error"
    payload = emitted.data
    assert payload == {
        "error_id": "e-1",
        "stream_id": "s",
        "fragment_id": "f",
        "code": "QUEUE_FULL",
        "message": "full",
        "severity": "warning",
        "retryable": True,
        "metadata": {"limit": 2},
    }


def test_rejection_payload_leaves_out_unknown_ids() -> None:
    payload = outputs.error(Rejection(ErrorCode.INVALID_CONFIG, "bad"), "e").data
    assert set(payload) == {"error_id", "code", "message", "severity", "retryable"}


def test_refusal_data_is_structured() -> None:
    assert outputs.refusal(ErrorCode.AUTH_FAILED, "no") == {
        "code": "AUTH_FAILED",
        "message": "no",
        "severity": "fatal",
        "retryable": False,
    }


@pytest.mark.parametrize("total", [0, 1, 7, 10, 99, 1234])
def test_stage_timings_split_30_30_40_and_add_up(total: int) -> None:
    timings = outputs.stage_timings(total)
    assert sum(timings.values()) == total
    assert timings["asr_ms"] == timings["translation_ms"] == total * 30 // 100


# fragment:processed


def processed(outcome: outputs.Outcome, audio: dict[str, Any] | None = None) -> dict[str, Any]:
    return outputs.fragment_processed(
        fragment_id="f-1",
        stream_id="s-1",
        sequence_number=3,
        audio=audio if audio is not None else {"format": "m4a"},
        outcome=outcome,
        processing_time_ms=100,
    ).data


def test_a_failed_fragment_carries_no_audio_or_texts() -> None:
    data = processed(outputs.failure(ErrorCode.MODEL_ERROR, "boom"))
    assert data["status"] == "failed"
    assert not {"dubbed_audio", "transcript", "translated_text"} & set(data)


def test_a_failed_fragment_carries_its_error() -> None:
    data = processed(outputs.failure(ErrorCode.MODEL_ERROR, "boom", stage="tts"))
    assert data["error"] == {
        "code": "MODEL_ERROR",
        "message": "boom",
        "stage": "tts",
        "retryable": True,
        "severity": "error",
    }


def test_a_successful_fragment_echoes_the_given_audio() -> None:
    audio = {"format": "wav", "sample_rate_hz": 16000, "channels": 1, "data_base64": "AAAA"}
    data = processed(outputs.SUCCESS, audio)
    assert data["status"] == "success"
    assert data["dubbed_audio"] == audio


def test_a_successful_fragment_carries_the_mock_texts_and_no_error() -> None:
    data = processed(outputs.SUCCESS)
    assert data["transcript"] == "[ECHO] Original audio"
    assert data["translated_text"] == "[ECHO] Translated audio"
    assert "error" not in data


def test_a_partial_fragment_carries_both_the_audio_and_the_error() -> None:
    audio = {"format": "m4a", "data_base64": "AAAA"}
    data = processed(outputs.failure(ErrorCode.GPU_OOM, "half", status="partial"), audio)
    assert data["status"] == "partial"
    assert data["dubbed_audio"] == audio
    assert data["error"]["code"] == "GPU_OOM"


# backpressure


def test_backpressure_includes_the_recommended_delay_when_the_level_has_one() -> None:
    data = outputs.backpressure("s-1", Level("medium", "slow_down", 250), 4, 6).data
    assert data == {
        "stream_id": "s-1",
        "severity": "medium",
        "current_inflight": 4,
        "queue_depth": 6,
        "action": "slow_down",
        "recommended_delay_ms": 250,
    }


def test_backpressure_leaves_out_the_recommended_delay_when_the_level_has_none() -> None:
    data = outputs.backpressure("s-1", Level("high", "pause"), 4, 6).data
    assert "recommended_delay_ms" not in data


def test_backpressure_includes_a_recommended_delay_of_zero() -> None:
    data = outputs.backpressure("s-1", Level("low", "slow_down", 0), 1, 1).data
    assert data["recommended_delay_ms"] == 0


# config acks


def test_a_rejected_error_simulation_says_no_rule_is_active() -> None:
    emitted = outputs.config_rejected("config:error_simulation", "rules: bad")
    assert emitted.event == "config:error_simulation:ack"
    assert emitted.data == {
        "status": "rejected",
        "rules_count": 0,
        "message": "config:error_simulation: rules: bad",
    }


@pytest.mark.parametrize("event", ["config:processing_delay", "config:backpressure"])
def test_other_rejected_configs_carry_no_rules_count(event: str) -> None:
    emitted = outputs.config_rejected(event, "bad")
    assert emitted.event == f"{event}:ack"
    assert emitted.data == {"status": "rejected", "message": f"{event}: bad"}


# failure()


@pytest.mark.parametrize("code", list(ErrorCode))
def test_failure_defaults_retryable_and_severity_from_the_table(code: ErrorCode) -> None:
    error = outputs.failure(code, "m").error
    assert error is not None
    assert error["retryable"] is ERROR_TRAITS[code].retryable
    assert error["severity"] == ERROR_TRAITS[code].severity


def test_failure_defaults_to_a_failed_asr_error() -> None:
    outcome = outputs.failure(ErrorCode.TIMEOUT, "slow")
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error["stage"] == "asr"
    assert outcome.fault is None
    assert not outcome.dropped


def test_failure_honours_a_retryable_override() -> None:
    error = outputs.failure(ErrorCode.TIMEOUT, "slow", retryable=False).error
    assert error is not None
    assert error["retryable"] is False
    assert error["severity"] == "error"


def test_failure_honours_a_retryable_override_to_true() -> None:
    error = outputs.failure(ErrorCode.INVALID_SEQUENCE, "m", retryable=True).error
    assert error is not None
    assert error["retryable"] is True


def test_failure_honours_stage_status_and_fault() -> None:
    outcome = outputs.failure(
        ErrorCode.MODEL_ERROR, "m", stage="translation", status="partial", fault="partial"
    )
    assert outcome.status == "partial"
    assert outcome.fault == "partial"
    assert outcome.error is not None
    assert outcome.error["stage"] == "translation"
