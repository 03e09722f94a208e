"""Transport faults seen by a real media worker's client: python-socketio with reconnection on.

Like the real worker, the client sends no headers and lets python-socketio pick its transport
(polling, then an upgrade to WebSocket) unless a test says otherwise. It must reconnect on its
own after ``close``, ``reset`` and ``hang``, and must not after ``server_disconnect``.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
import socketio
from tornado.websocket import websocket_connect

from echosts import transport
from tests.integration.http import call
from tests.workers import stream_init

TRANSPORTS = {"upgraded": ["polling", "websocket"], "websocket": ["websocket"]}


class MediaWorker:
    """A reconnecting client that counts its connections and records what it receives."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = socketio.AsyncClient(
            reconnection=True, reconnection_delay=0.05, reconnection_delay_max=0.1
        )
        self.connects = 0
        self.disconnects: list[str] = []
        self.events: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("*", self._on_event)

    async def _on_connect(self) -> None:
        self.connects += 1
        self._changed.set()

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnects.append(str(reason))
        self._changed.set()

    async def _on_event(self, event: str, *args: Any) -> None:
        self.events.append((event, args[0] if args else None))
        self._changed.set()

    async def until(self, condition: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            self._changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                continue

    async def connect(self, transports: list[str]) -> None:
        await self.sio.connect(self.url, transports=transports, wait_timeout=5)
        await self.until(lambda: self.connects == 1, 5)

    async def start(self, stream_id: str) -> None:
        await self.sio.emit("stream:init", stream_init(stream_id))
        await self.until(lambda: any(name == "stream:ready" for name, _ in self.events), 5)

    async def close(self) -> None:
        await self.sio.shutdown()


@pytest.fixture
def media_worker(io_loop, server):
    workers: list[MediaWorker] = []

    def make(url: str | None = None) -> MediaWorker:
        worker = MediaWorker(url or server.url)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        io_loop.run_sync(worker.close, timeout=10)


async def sessions_become(server, count: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while server.service.fleet.session_count != count:
        assert time.monotonic() < deadline, f"sessions: {server.service.fleet.session_count}"
        await asyncio.sleep(0.01)


async def disconnect(server, stream_id: str, **body: Any) -> dict[str, Any]:
    code, answer, _ = await call(server.url, "POST", f"/admin/streams/{stream_id}/disconnect", body)
    assert code == 200, answer
    return answer


@pytest.mark.parametrize("mode", ["close", "reset"])
@pytest.mark.parametrize("kind", sorted(TRANSPORTS))
async def test_the_worker_reconnects_on_its_own_after_a_transport_fault(
    server, media_worker, mode: str, kind: str
) -> None:
    worker = media_worker()
    await worker.connect(TRANSPORTS[kind])
    await worker.start("s-1")
    assert await disconnect(server, "s-1", mode=mode) == {"connections": 1}
    await worker.until(lambda: worker.connects == 2, 5)
    assert len(worker.disconnects) == 1
    await sessions_become(server, 0)
    assert server.service.fleet.connection_count == 1


async def test_the_worker_does_not_reconnect_after_a_server_disconnect(
    server, media_worker
) -> None:
    worker = media_worker()
    await worker.connect(TRANSPORTS["upgraded"])
    await worker.start("s-1")
    await disconnect(server, "s-1", mode="server_disconnect")
    await worker.until(lambda: len(worker.disconnects) == 1, 5)
    await asyncio.sleep(0.5)
    assert worker.connects == 1
    assert server.service.fleet.connection_count == 0


async def test_a_close_sends_no_socketio_goodbye_and_nothing_after_it(server, media_worker) -> None:
    worker = media_worker()
    await worker.connect(TRANSPORTS["websocket"])
    await worker.start("s-1")
    await worker.sio.emit("config:processing_delay", {"delay_ms": 300})
    await worker.sio.emit(
        "fragment:data",
        {
            "fragment_id": "f-0",
            "stream_id": "s-1",
            "sequence_number": 0,
            "timestamp": 1,
            "audio": {
                "format": "pcm_s16le",
                "sample_rate_hz": 48000,
                "channels": 1,
                "duration_ms": 100,
                "data_base64": "AAAA",
            },
        },
    )
    await worker.until(lambda: any(name == "fragment:ack" for name, _ in worker.events), 5)
    await disconnect(server, "s-1", mode="close")
    await worker.until(lambda: worker.connects == 2, 5)
    await asyncio.sleep(0.5)
    assert "fragment:processed" not in [name for name, _ in worker.events]
    assert worker.disconnects == ["transport error"]


async def test_a_hang_is_detected_by_the_workers_ping_timeout_and_it_reconnects(
    start_server, settings, media_worker
) -> None:
    server = start_server(settings, ping_interval=1, ping_timeout=1)
    worker = media_worker(server.url)
    await worker.connect(TRANSPORTS["upgraded"])
    await worker.start("s-1")
    hung_at = time.monotonic()
    await disconnect(server, "s-1", mode="hang", hang_ms=60_000)
    await worker.until(lambda: worker.connects == 2, 10)
    detected_after = time.monotonic() - hung_at
    assert detected_after <= 1 + 1 + 1.5, detected_after
    assert worker.disconnects == ["transport error"]
    await sessions_become(server, 0)


async def test_a_hung_connection_answers_nothing_it_receives(
    start_server, settings, media_worker
) -> None:
    server = start_server(settings, ping_interval=5, ping_timeout=5)
    worker = media_worker(server.url)
    await worker.connect(TRANSPORTS["websocket"])
    await worker.start("s-1")
    await disconnect(server, "s-1", mode="hang", hang_ms=2_000)
    await asyncio.sleep(0.1)
    seen = len(worker.events)
    await worker.sio.emit("stream:pause", {"stream_id": "s-1"})
    await worker.sio.emit("no:such_event", {})
    await asyncio.sleep(0.5)
    assert len(worker.events) == seen
    assert worker.connects == 1


async def test_a_hang_ends_with_a_closed_tcp_connection_after_hang_ms(
    start_server, settings, media_worker
) -> None:
    server = start_server(settings, ping_interval=30, ping_timeout=30)
    worker = media_worker(server.url)
    await worker.connect(TRANSPORTS["websocket"])
    await worker.start("s-1")
    hung_at = time.monotonic()
    await disconnect(server, "s-1", mode="hang", hang_ms=300)
    await worker.until(lambda: worker.connects == 2, 5)
    assert time.monotonic() - hung_at < 5
    await sessions_become(server, 0)


async def test_simulate_disconnect_takes_a_mode_and_the_worker_reconnects(
    server, media_worker
) -> None:
    worker = media_worker()
    await worker.connect(TRANSPORTS["upgraded"])
    await worker.start("s-1")
    await worker.sio.emit("simulate:disconnect", {"delay_ms": 0, "mode": "reset"})
    await worker.until(lambda: worker.connects == 2, 5)
    acks = [data for name, data in worker.events if name == "simulate:disconnect:ack"]
    assert acks[0]["status"] == "scheduled"


async def test_an_unknown_mode_is_refused_naming_the_field(server) -> None:
    code, answer, _ = await call(
        server.url, "POST", "/admin/streams/s-1/disconnect", {"mode": "explode"}
    )
    assert code == 400
    assert answer["field"] == "mode"


@pytest.mark.parametrize("kind", sorted(TRANSPORTS))
async def test_the_adapter_finds_the_websocket_handler_and_its_socket(
    server, media_worker, kind: str
) -> None:
    """Fails loudly when a python-engineio or Tornado upgrade moves what the adapter uses."""
    worker = media_worker()
    await worker.connect(TRANSPORTS[kind])
    await worker.start("s-1")
    (link,) = server.service.fleet.streams("s-1")
    handler = transport.websocket_of(server.service.sio, link.eio_sid)
    assert handler is not None, "no WebSocket handler under the Engine.IO socket"
    assert isinstance(handler, transport.FaultableWebSocket)
    raw = handler.ws_connection.stream.socket
    assert isinstance(raw, socket.socket)
    assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert "tornado.handler" in server.service.sio.environ[link.eio_sid]
    assert callable(server.service.sio.eio.sockets[link.eio_sid].queue.join)
    assert transport.pending_output_bytes(handler) == 0


async def test_a_polling_only_client_falls_back_to_a_socketio_disconnect(
    server, media_worker
) -> None:
    worker = media_worker()
    await worker.connect(["polling"])
    await worker.start("s-1")
    await disconnect(server, "s-1", mode="close")
    await worker.until(lambda: len(worker.disconnects) == 1, 5)
    await asyncio.sleep(0.3)
    assert worker.connects == 1


async def test_a_second_websocket_naming_the_same_sid_does_not_take_the_connection_over(
    server, media_worker
) -> None:
    worker = media_worker()
    await worker.connect(TRANSPORTS["upgraded"])
    await worker.start("s-1")
    (link,) = server.service.fleet.streams("s-1")
    url = f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket&sid={link.eio_sid}"
    intruder = await websocket_connect(url)
    intruder.close()
    await asyncio.sleep(0.2)
    await disconnect(server, "s-1", mode="close")
    await worker.until(lambda: worker.connects == 2, 5)
