"""Every server-to-worker payload, built where its fields are spelled."""

from __future__ import annotations

import pytest

from echosts import outputs
from echosts.errors import ErrorCode, Rejection


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
