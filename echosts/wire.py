"""JSON on the wire: orjson encodes outgoing events when it is installed.

python-socketio encodes every event with its packet class's ``json``. The standard library
escapes a 128,000-character base64 string one character at a time (about 210 us a
``fragment:processed``); orjson copies it (about 8 us). The packet class here is this
server's own (``AsyncServer(serializer=...)``), so a client in the same process keeps the
standard encoder. Decoding stays engine.io's standard one: orjson would refuse ``NaN`` and
lone surrogates outright (engine.io drops such a packet without a word) and turn integers
beyond 64 bits into floats, where the standard decoder hands both to validation, which
answers them. What orjson cannot encode (an integer beyond 64 bits or a lone surrogate in
the worker's own fields that the echo returns) falls back to the standard encoder.
"""

from __future__ import annotations

import json
from typing import Any

import socketio
from engineio import json as engineio_json

try:
    import orjson
except ImportError:  # pragma: no cover - the fallback where no wheel exists
    orjson = None


def _standard_dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class WireJson:
    """The ``json`` interface python-socketio expects: ``dumps`` returning str, ``loads``."""

    @staticmethod
    def dumps(value: Any, **_options: Any) -> str:
        if orjson is None:  # pragma: no cover - exercised where orjson is not installed
            return _standard_dumps(value)
        try:
            return orjson.dumps(value).decode()
        except TypeError:
            return _standard_dumps(value)

    @staticmethod
    def loads(text: str, **_options: Any) -> Any:
        return engineio_json.loads(text)


class WirePacket(socketio.packet.Packet):
    json = WireJson
