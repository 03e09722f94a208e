"""The floor: the cheapest echo python-socketio can serve in tornado mode.

No validation, no sessions, no ordering, no metrics: each event is answered with the same
shapes echosts sends, so one load generator drives both. The transport is tuned as echosts
tunes it (TCP_NODELAY on, permessage-deflate refused, 50 MiB messages). ``--fast`` swaps in
orjson as python-socketio's JSON and runs the loop on uvloop: what the stack alone gains.

    python bench/floor.py --port 8100 [--fast]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import socketio
import tornado.web
from tornado.httpserver import HTTPServer

MAX_MESSAGE = 52_428_800
MOCK = {"asr_model": "echo", "translation_model": "echo", "tts_model": "echo"}


class OrjsonModule:
    """python-socketio's ``json=``: orjson's speed behind the stdlib's str interface."""

    def __init__(self) -> None:
        import orjson  # noqa: PLC0415

        self._orjson = orjson

    def dumps(self, value: Any, **_: Any) -> str:
        return self._orjson.dumps(value).decode()

    def loads(self, text: str | bytes, **_: Any) -> Any:
        return self._orjson.loads(text)


def make_server(fast: bool) -> socketio.AsyncServer:
    extra: dict[str, Any] = {"json": OrjsonModule()} if fast else {}
    sio = socketio.AsyncServer(
        async_mode="tornado",
        max_http_buffer_size=MAX_MESSAGE,
        logger=False,
        engineio_logger=False,
        **extra,
    )

    async def stream_init(sid: str, data: dict[str, Any]) -> None:
        ready = {
            "stream_id": data["stream_id"],
            "session_id": sid,
            "max_inflight": data.get("max_inflight", 3),
            "capabilities": {"batch_processing": False, "async_delivery": True},
        }
        await sio.emit("stream:ready", ready, to=sid)

    async def fragment_data(sid: str, data: dict[str, Any]) -> None:
        arrived = time.monotonic()
        ack = {
            "fragment_id": data["fragment_id"],
            "status": "queued",
            "queue_position": 0,
            "estimated_completion_ms": 0,
        }
        await sio.emit("fragment:ack", ack, to=sid)
        took = round((time.monotonic() - arrived) * 1000)
        processed = {
            "fragment_id": data["fragment_id"],
            "stream_id": data["stream_id"],
            "sequence_number": data["sequence_number"],
            "status": "success",
            "dubbed_audio": data["audio"],
            "transcript": "[ECHO] Original audio",
            "translated_text": "[ECHO] Translated audio",
            "processing_time_ms": took,
            "stage_timings": {"asr_ms": 0, "translation_ms": 0, "tts_ms": took},
            "metadata": MOCK,
        }
        await sio.emit("fragment:processed", processed, to=sid)

    async def stream_end(sid: str, data: dict[str, Any]) -> None:
        complete = {"stream_id": data["stream_id"], "total_fragments": 0, "statistics": {}}
        await sio.emit("stream:complete", complete, to=sid)

    sio.on("stream:init", stream_init)
    sio.on("fragment:data", fragment_data)
    sio.on("stream:end", stream_end)
    return sio


def make_app(sio: socketio.AsyncServer) -> tornado.web.Application:
    base = socketio.get_tornado_handler(sio)

    class TunedHandler(base):  # type: ignore[misc, valid-type]
        async def open(self, *args: Any, **kwargs: Any) -> None:
            self.set_nodelay(True)
            await super().open(*args, **kwargs)

        def get_compression_options(self) -> None:
            return None

    class Health(tornado.web.RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"status": "healthy"}))

    return tornado.web.Application(
        [(r"/socket\.io/?", TunedHandler), (r"/health", Health)],
        websocket_max_message_size=MAX_MESSAGE,
    )


async def serve(port: int, fast: bool) -> None:
    sio = make_server(fast)
    server = HTTPServer(make_app(sio), max_body_size=MAX_MESSAGE, max_buffer_size=MAX_MESSAGE)
    server.listen(port, "127.0.0.1")
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fast", action="store_true", help="orjson and uvloop")
    arguments = parser.parse_args()
    if arguments.fast:
        import uvloop  # noqa: PLC0415

        uvloop.run(serve(arguments.port, fast=True))
    else:
        asyncio.run(serve(arguments.port, fast=False))


if __name__ == "__main__":
    main()
