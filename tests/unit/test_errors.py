"""The error-code table, row by row as the protocol's section 5 gives it."""

from __future__ import annotations

import pytest

from echosts.errors import ERROR_TRAITS, ErrorCode

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
