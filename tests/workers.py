"""A recording Socket.IO worker for integration tests: emits, and waits for what comes back."""

from __future__ import annotations

import asyncio
import base64
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import socketio

MAX_MESSAGE = 64 * 1024 * 1024


def audio_bytes(size: int, seed: int = 0) -> bytes:
    return bytes((seed + index * 31) % 256 for index in range(size))


def fragment(
    stream_id: str,
    sequence_number: int,
    *,
    payload: bytes = b"\x01\x02\x03\x04",
    fragment_id: str | None = None,
    duration_ms: int = 1000,
    **audio: Any,
) -> dict[str, Any]:
    body = {
        "format": "pcm_s16le",
        "sample_rate_hz": 48000,
        "channels": 2,
        "duration_ms": duration_ms,
        "data_base64": base64.b64encode(payload).decode(),
    }
    body.update(audio)
    return {
        "fragment_id": fragment_id or f"{stream_id}-f{sequence_number}",
        "stream_id": stream_id,
        "sequence_number": sequence_number,
        "timestamp": int(time.time() * 1000),
        "audio": body,
    }


def stream_init(stream_id: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"stream_id": stream_id, "worker_id": "worker-test", "config": {}}
    body.update(extra)
    return body


class Worker:
    """One Socket.IO client that records every event it receives, in order."""

    def __init__(self, base_url: str, *, path: str = "socket.io", namespace: str = "/") -> None:
        self.base_url = base_url
        self.path = path
        self.namespace = namespace
        self.sio = socketio.AsyncClient(
            reconnection=False, websocket_extra_options={"max_msg_size": MAX_MESSAGE}
        )
        self.events: list[tuple[str, Any]] = []
        self.disconnect_reason: str | None = None
        self.disconnected = asyncio.Event()
        self._cursor: dict[str, int] = defaultdict(int)
        self._arrived = asyncio.Condition()
        self.sio.on("*", self._record, namespace=namespace)
        self.sio.on("disconnect", self._on_disconnect, namespace=namespace)

    async def _record(self, event: str, *args: Any) -> None:
        async with self._arrived:
            self.events.append((event, args[0] if args else None))
            self._arrived.notify_all()

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnect_reason = str(reason)
        self.disconnected.set()

    async def connect(
        self, *, headers: dict[str, str] | None = None, auth: dict[str, Any] | None = None
    ) -> Worker:
        await self.sio.connect(
            self.base_url,
            headers=headers or {},
            auth=auth,
            transports=["websocket"],
            namespaces=[self.namespace],
            socketio_path=self.path,
            wait_timeout=5,
        )
        return self

    async def emit(self, event: str, *args: Any) -> None:
        """Emits ``args`` as the event's arguments: none, one (which may be null), or several."""
        await self.sio.emit(event, tuple(args), namespace=self.namespace)

    def received(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    async def next(self, event: str, timeout: float = 5.0) -> Any:
        """The next event of this name that no earlier ``next`` returned."""
        index = self._cursor[event]

        def arrived() -> bool:
            return len(self.received(event)) > index

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(arrived), timeout)
        self._cursor[event] = index + 1
        return self.received(event)[index]

    async def wait_count(self, event: str, count: int, timeout: float = 5.0) -> list[Any]:
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.received(event)) >= count), timeout
            )
        return self.received(event)

    async def configure(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Sends a ``config:*`` or ``simulate:*`` event and returns its ack."""
        await self.emit(event, payload)
        return await self.next(f"{event}:ack")

    async def start(self, stream_id: str, **extra: Any) -> dict[str, Any]:
        await self.emit("stream:init", stream_init(stream_id, **extra))
        return await self.next("stream:ready")

    async def close(self) -> None:
        await self.sio.shutdown()


async def until(condition: Callable[[], bool], timeout: float) -> bool:
    """Whether ``condition`` came true within ``timeout`` seconds, checked every 10 ms."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True
