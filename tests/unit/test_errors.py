"""The error-code table, row by row as the protocol's section 5 gives it."""

from __future__ import annotations

import pytest

from echosts.errors import ERROR_TRAITS, ErrorCode, Rejection, refusal_data

TABLE = [
    ("AUTH_FAILED", "fatal", False),
    ("STREAM_NOT_FOUND", "error", False),
    ("INVALID_CONFIG", "error", False),
    ("FRAGMENT_TOO_LARGE", "error", False),
    ("TIMEOUT", "error", True),
    ("MODEL_ERROR", "error", True),
    ("GPU_OOM", "error", True),
    ("QUEUE_FULL", "warning", True),
    ("INVALID_SEQUENCE", "error", False),
    ("RATE_LIMIT", "warning", True),
    ("STREAM_PAUSED", "warning", True),
]


@pytest.mark.parametrize(("code", "severity", "retryable"), TABLE)
def test_code_has_its_severity_and_retryability(code: str, severity: str, retryable: bool) -> None:
    traits = ERROR_TRAITS[ErrorCode(code)]
    assert (traits.severity, traits.retryable) == (severity, retryable)


def test_table_covers_every_code() -> None:
    assert {row[0] for row in TABLE} == {code.value for code in ErrorCode}


def test_rejection_payload_has_the_protocol_fields() -> None:
    payload = Rejection(
        ErrorCode.QUEUE_FULL, "full", stream_id="s", fragment_id="f", metadata={"limit": 2}
    ).payload(lambda: "e-1")
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
    payload = Rejection(ErrorCode.INVALID_CONFIG, "bad").payload(lambda: "e")
    assert set(payload) == {"error_id", "code", "message", "severity", "retryable"}


def test_refusal_data_is_structured() -> None:
    assert refusal_data(ErrorCode.AUTH_FAILED, "no") == {
        "code": "AUTH_FAILED",
        "message": "no",
        "severity": "fatal",
        "retryable": False,
    }
