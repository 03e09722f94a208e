"""The error-code tables, row by row as the protocol's sections 5 and 11.1 give them."""

from __future__ import annotations

import pytest

from echosts.errors import ERROR_TRAITS, STS_TRAITS, ErrorCode, is_well_formed, metric_label, traits

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


# section 11.1: the real STS service's codes, and any other well-formed code

STS_TABLE = [
    ("INVALID_VOICE_PROFILE", "error", False),
    ("UNSUPPORTED_LANGUAGE", "error", False),
    ("INVALID_AUDIO_FORMAT", "error", False),
    ("ASR_FAILED", "error", False),
    ("TRANSLATION_FAILED", "error", False),
    ("TTS_SYNTHESIS_FAILED", "error", False),
    ("DURATION_MISMATCH_EXCEEDED", "error", False),
    ("TRANSLATION_API_UNAVAILABLE", "error", True),
    ("RATE_LIMIT_EXCEEDED", "warning", True),
    ("BACKPRESSURE_EXCEEDED", "warning", True),
]


@pytest.mark.parametrize(("code", "severity", "retryable"), STS_TABLE)
def test_sts_code_has_its_severity_and_retryability(
    code: str, severity: str, retryable: bool
) -> None:
    assert (traits(code).severity, traits(code).retryable) == (severity, retryable)


def test_sts_table_covers_every_real_service_code() -> None:
    assert {row[0] for row in STS_TABLE} == set(STS_TRAITS)


@pytest.mark.parametrize(("code", "severity", "retryable"), TABLE)
def test_traits_of_a_protocol_code_come_from_section_5(
    code: str, severity: str, retryable: bool
) -> None:
    assert (traits(code).severity, traits(code).retryable) == (severity, retryable)


@pytest.mark.parametrize("code", ["CUSTOM_FAILURE", "AB", "X9", "GPU_ON_FIRE_2"])
def test_any_other_well_formed_code_is_an_error_and_not_retryable(code: str) -> None:
    assert is_well_formed(code)
    assert (traits(code).severity, traits(code).retryable) == ("error", False)


@pytest.mark.parametrize("code", ["AB", "A" * 64, "A_", "Z0_9", *STS_TRAITS, *ErrorCode])
def test_well_formed_codes_are_accepted(code: str) -> None:
    assert is_well_formed(code)


@pytest.mark.parametrize(
    "code",
    ["", "A", "A" * 65, "not-a-code", "lower", "Timeout", "1ABC", "_ABC", "A-B", "A B", " AB"],
)
def test_malformed_codes_are_not_well_formed(code: str) -> None:
    assert not is_well_formed(code)


@pytest.mark.parametrize("code", [*(c.value for c in ErrorCode), *STS_TRAITS])
def test_metric_label_of_a_tabled_code_is_the_code(code: str) -> None:
    assert metric_label(code) == code


@pytest.mark.parametrize("code", ["CUSTOM_FAILURE", "AB", "A" * 64])
def test_metric_label_of_any_other_code_is_other(code: str) -> None:
    assert metric_label(code) == "OTHER"
