"""Inbound models are strict and name the failing field; outbound helpers add up."""

from __future__ import annotations

import pytest

from echosts import protocol as p


@pytest.mark.parametrize("value", ["48000", 48000.0, True, None])
def test_int_fields_take_json_integers_only(value: object) -> None:
    result = p.validate(p.StreamConfig, {"sample_rate_hz": value})
    assert isinstance(result, tuple)
    assert result[0] == "sample_rate_hz"


def test_null_is_refused_with_a_hint_to_omit_the_field() -> None:
    field, message = p.validate(p.StreamInit, {"stream_id": "s", "config": {}, "worker_id": None})
    assert field == "worker_id"
    assert "omit the field" in message


def test_list_positions_appear_in_the_field_path() -> None:
    class Holder(p.Inbound):
        items: list[p.WorkerAck]

    field, _ = p.validate(Holder, {"items": [{"fragment_id": "a", "status": "x", "timestamp": 1}]})
    assert field == "items[0].status"


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "null"),
        (True, "boolean"),
        (1.5, "number"),
        ("x", "string"),
        ([], "array"),
        ({}, "object"),
        (p.NO_PAYLOAD, "no payload"),
    ],
)
def test_json_type_names_what_was_sent(value: object, name: str) -> None:
    assert p.json_type(value) == name


@pytest.mark.parametrize("data", ["", "QUJD", "QUI=", "QQ=="])
def test_padded_base64_is_valid(data: str) -> None:
    audio = {"format": "m4a", "sample_rate_hz": 8000, "channels": 1, "duration_ms": 0}
    assert isinstance(p.validate(p.Audio, audio | {"data_base64": data}), p.Audio)


@pytest.mark.parametrize("data", ["QUI", "QUJD=", "QU=I", "Q===", "QUJD\n", "é===", "QU-_"])
def test_malformed_base64_is_invalid(data: str) -> None:
    audio = {"format": "m4a", "sample_rate_hz": 8000, "channels": 1, "duration_ms": 0}
    assert p.validate(p.Audio, audio | {"data_base64": data})[0] == "data_base64"
