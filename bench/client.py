"""A lean Socket.IO worker for load: Engine.IO v4 over one aiohttp websocket, by hand.

python-socketio's own client would spend more CPU per fragment than the server under test;
this one sends each fragment from a prebuilt text frame and parses what comes back with
orjson, so one core can load a server well past its limit. It checks what a worker must: an
ack for every fragment, every echo byte for byte, every ``fragment:processed`` in order.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

PAYLOADS = {
    "pcm96k": 96_000,
    "m4a98k": 98_304,
    "pcm1k": 1_000,
}
"""Fragment payload sizes in bytes: 1 s of 48 kHz 16-bit mono PCM, a 6 s M4A chunk, 1 KB."""


def audio_base64(size: int) -> str:
    return base64.b64encode(bytes((index * 31 + 7) % 256 for index in range(size))).decode()


@dataclass
class Tally:
    """What one stream saw; the runner adds them up."""

    sent: int = 0
    processed: int = 0
    rtt_s: list[float] = field(default_factory=list)
    ack_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Worker:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, stream_id: str) -> None:
        self._http = http
        self._url = base_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.stream_id = stream_id
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiters: dict[str, asyncio.Future[Any]] = {}
        self.on_event: Callable[[str, Any], None] = lambda _event, _data: None

    async def connect(self) -> None:
        self._ws = await self._http.ws_connect(self._url, max_msg_size=0, compress=0)
        opening = await self._ws.receive_str()
        if not opening.startswith("0"):
            raise RuntimeError(f"no Engine.IO open packet: {opening[:60]!r}")
        await self._ws.send_str("40")
        joined = await self._ws.receive_str()
        if not joined.startswith("40"):
            raise RuntimeError(f"namespace refused: {joined[:120]!r}")
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            text = message.data
            if text == "2":
                await self._ws.send_str("3")
            elif text.startswith("42"):
                event, data = orjson.loads(text[2:])
                waiter = self._waiters.pop(event, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(data)
                else:
                    self.on_event(event, data)

    async def emit_text(self, frame: str) -> None:
        assert self._ws is not None
        await self._ws.send_str(frame)

    async def emit(self, event: str, data: Any) -> None:
        await self.emit_text("42" + orjson.dumps([event, data]).decode())

    async def request(self, event: str, data: Any, answer: str, timeout: float = 30) -> Any:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters[answer] = waiter
        await self.emit(event, data)
        return await asyncio.wait_for(waiter, timeout)

    async def start(self, max_inflight: int) -> None:
        init = {
            "stream_id": self.stream_id,
            "worker_id": "bench",
            "max_inflight": max_inflight,
            "config": {"chunk_duration_ms": 1000, "sample_rate_hz": 48000, "format": "pcm"},
        }
        ready = await self.request("stream:init", init, "stream:ready")
        if ready.get("stream_id") != self.stream_id:
            raise RuntimeError(f"stream:ready for another stream: {ready}")

    async def end(self) -> None:
        await self.request("stream:end", {"stream_id": self.stream_id}, "stream:complete")

    async def abort(self, reset: bool = False) -> None:
        """Ends the TCP connection with no WebSocket close frame: a FIN, or with ``reset`` an
        RST, as a worker that crashes or loses its network does."""
        transport = self._ws._response.connection.transport if self._ws is not None else None
        if transport is not None:
            raw = transport.get_extra_info("socket")
            if reset and raw is not None:
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        await self.close()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


class ClosedLoop:
    """One stream keeping ``window`` fragments in flight until told to stop."""

    def __init__(self, worker: Worker, b64: str, window: int, tally: Tally) -> None:
        self.worker = worker
        self.b64 = b64
        self.window = window
        self.tally = tally
        self.measuring = False
        self._stopping = False
        self._next = 0
        self._expected = 0
        self._sent_at: dict[int, float] = {}
        self._acked: set[int] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._sends: set[asyncio.Task[None]] = set()
        worker.on_event = self._on_event
        head = (
            f'"stream_id":"{worker.stream_id}","timestamp":1700000000000,'
            '"audio":{"format":"pcm_s16le","sample_rate_hz":48000,"channels":1,'
            f'"duration_ms":1000,"data_base64":"{b64}"}}'
        )
        self._body_tail = head + "}]"

    def _frame(self, number: int) -> str:
        return (
            f'42["fragment:data",{{"fragment_id":"{self.worker.stream_id}-{number}",'
            f'"sequence_number":{number},' + self._body_tail
        )

    async def _send_one(self) -> None:
        number = self._next
        self._next += 1
        self._sent_at[number] = time.perf_counter()
        self._idle.clear()
        if self.measuring:
            self.tally.sent += 1
        await self.worker.emit_text(self._frame(number))

    async def begin(self) -> None:
        for _ in range(self.window):
            await self._send_one()

    def _on_event(self, event: str, data: Any) -> None:
        now = time.perf_counter()
        if event == "fragment:ack":
            number = int(str(data["fragment_id"]).rsplit("-", 1)[1])
            self._acked.add(number)
            if self.measuring and number in self._sent_at:
                self.tally.ack_s.append(now - self._sent_at[number])
            return
        if event == "fragment:processed":
            self._processed(data, now)
            return
        if event == "backpressure":
            return
        self.tally.errors.append(f"{self.worker.stream_id}: unexpected {event}: {str(data)[:200]}")

    def _processed(self, data: dict[str, Any], now: float) -> None:
        number = data.get("sequence_number")
        if number != self._expected:
            self.tally.errors.append(
                f"{self.worker.stream_id}: processed {number} out of order, "
                f"expected {self._expected}"
            )
        self._expected = (number if isinstance(number, int) else self._expected) + 1
        audio = data.get("dubbed_audio") or {}
        if data.get("status") != "success" or audio.get("data_base64") != self.b64:
            self.tally.errors.append(f"{self.worker.stream_id}: echo of {number} differs")
        if number not in self._acked:
            self.tally.errors.append(f"{self.worker.stream_id}: processed {number} before ack")
        self._acked.discard(number)
        sent = self._sent_at.pop(number, None)
        if self.measuring and sent is not None:
            self.tally.processed += 1
            self.tally.rtt_s.append(now - sent)
        if not self._stopping:
            send = asyncio.ensure_future(self._send_one())
            self._sends.add(send)
            send.add_done_callback(self._sends.discard)
        elif not self._sent_at:
            self._idle.set()

    async def stop(self) -> None:
        """Sends nothing more and waits until every fragment in flight came back."""
        self._stopping = True
        if not self._sent_at:
            self._idle.set()
        await asyncio.wait_for(self._idle.wait(), 60)
