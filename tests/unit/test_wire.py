"""JSON on the wire: orjson's speed with the standard library's answers."""

from __future__ import annotations

import json

import pytest
import socketio

from echosts.app import make_socketio_server
from echosts.config import Settings
from echosts.wire import WireJson, WirePacket

PROCESSED = {
    "fragment_id": "f-1",
    "dubbed_audio": {"format": "m4a", "data_base64": "QUJD" * 32000, "name": "café ☕"},
    "processing_time_ms": 3,
}


def test_encoding_decodes_to_what_the_standard_encoder_gives() -> None:
    encoded = WireJson.dumps(PROCESSED, separators=(",", ":"))
    assert isinstance(encoded, str)
    assert json.loads(encoded) == json.loads(json.dumps(PROCESSED))


def test_what_orjson_cannot_encode_falls_back_to_the_standard_encoder() -> None:
    for odd in ({"big": 2**70}, {"text": "\ud800"}):
        assert WireJson.dumps(odd) == json.dumps(odd, separators=(",", ":"))


def test_decoding_keeps_big_integers_exact_and_accepts_nan() -> None:
    decoded = WireJson.loads('{"big": 1180591620717411303424, "odd": NaN}')
    assert decoded["big"] == 2**70
    assert decoded["odd"] != decoded["odd"]


def test_the_server_uses_its_own_packet_class_and_leaves_clients_alone() -> None:
    server = make_socketio_server(Settings())
    assert server.packet_class is WirePacket
    assert socketio.packet.Packet.json is not WireJson


def test_decoding_matches_the_standard_decoder_where_orjson_differs() -> None:
    for text in (
        '["e", {"big": 1180591620717411303424}]',
        '["e", {"odd": 1.5, "n": [1, 2.0]}]',
        '["e", {"s": "\\ud800"}]',
        '["e", {"a": 1, "a": 2}]',
        '["e", {"audio": {"data_base64": "QUJD"}, "n": 7}]',
    ):
        assert WireJson.loads(text) == json.loads(text)


def test_an_integer_of_over_a_hundred_digits_is_refused_as_engine_io_refuses_it() -> None:
    with pytest.raises(ValueError, match="too large"):
        WireJson.loads("[" + "9" * 101 + "]")


def test_deep_nesting_decodes_as_the_standard_decoder_decodes_it() -> None:
    text = '["e", {"x": ' + "[" * 600 + "1.5" + "]" * 600 + "}]"
    assert WireJson.loads(text) == json.loads(text)


def test_a_non_finite_float_is_encoded_as_null_on_both_paths() -> None:
    assert WireJson.dumps({"a": float("nan")}) == '{"a":null}'
    assert WireJson.dumps({"a": float("inf"), "big": 2**70}) == (
        '{"a":null,"big":1180591620717411303424}'
    )
