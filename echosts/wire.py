"""JSON on the wire: orjson when it is installed, with the standard library's answers.

python-socketio encodes and decodes every event with its packet class's ``json``. The
standard library escapes a 128,000-character base64 string one character at a time (about
210 us a ``fragment:processed``); orjson copies it (about 8 us), and decodes a fragment in
half the time. The packet class here is this server's own (``AsyncServer(serializer=...)``),
so a client in the same process keeps the standard library.

Where orjson would answer differently, engine.io's standard decoder and encoder do the
work: orjson refuses ``NaN`` and lone surrogates (engine.io would drop such a packet without
a word) and reads integers beyond 64 bits as floats, so a packet it refuses, or one in which
it found a float, is decoded again by the standard decoder; what orjson cannot encode (an
integer beyond 64 bits, a lone surrogate in the worker's own fields the echo returns) is
encoded by the standard encoder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import socketio
from engineio import json as engineio_json

try:
    import orjson
except ImportError:  # pragma: no cover - the fallback where no wheel exists
    orjson = None


def _standard_dumps(value: Any) -> str:
    """The standard encoder, writing a non-finite float as null, as orjson does."""
    return json.dumps(
        _finite(value) if _holds(value, _non_finite) else value, separators=(",", ":")
    )


def _non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _holds(value: Any, wanted: Callable[[Any], bool]) -> bool:
    """Whether ``wanted`` is true of a value anywhere inside; iterative, so depth costs no
    stack (orjson decodes 1,024 levels, more than the interpreter would recurse through)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif wanted(item):
            return True
    return False


def _finite(value: Any) -> Any:
    """A copy with every non-finite float replaced by None (rare: only the fallback path)."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return None if _non_finite(value) else value


def _is_float(value: Any) -> bool:
    """A number orjson may have rounded: it reads integers beyond 64 bits as floats."""
    return isinstance(value, float)


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
        if orjson is None:  # pragma: no cover - exercised where orjson is not installed
            return engineio_json.loads(text)
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return engineio_json.loads(text)
        return engineio_json.loads(text) if _holds(value, _is_float) else value


class WirePacket(socketio.packet.Packet):
    json = WireJson
