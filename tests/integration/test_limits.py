"""Section 14's limits on a real server: idle connections, and a client that stops reading."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
from typing import Any

import pytest

from tests.integration.raw import joined
from tests.workers import fragment, stream_init, until

MIB = 1024 * 1024


def text_frame(text: str) -> bytes:
    """A client's WebSocket text frame; a zero mask leaves the payload as it is."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes([0x81, 0x80 | size])
    elif size < 65536:
        header = bytes([0x81, 0x80 | 126]) + struct.pack("!H", size)
    else:
        header = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", size)
    return header + b"\x00\x00\x00\x00" + payload


class StalledReader:
    """Speaks just enough Engine.IO and Socket.IO to start a stream, then never reads again.

    Its receive buffer is made small, so what the server writes piles up on the server.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def open(self, stream_id: str) -> None:
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.setblocking(False)
        await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", self.port))
        self.reader, self.writer = await asyncio.open_connection(sock=raw)
        self.writer.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await self.reader.readuntil(b"\r\n\r\n")
        assert (await self.read_text()).startswith("0")
        self.writer.write(text_frame("40"))
        assert (await self.read_text()).startswith("40")
        self.send("stream:init", stream_init(stream_id, max_inflight=10))
        assert "stream:ready" in await self.read_text()

    async def read_text(self) -> str:
        _opcode, second = await self.reader.readexactly(2)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return (await self.reader.readexactly(size)).decode()

    def send(self, event: str, data: dict[str, Any]) -> None:
        self.writer.write(text_frame("42" + json.dumps([event, data])))

    def close(self) -> None:
        self.writer.transport.abort()


def limit_count(server, limit: str) -> float:
    return server.service.registry.get_sample_value(
        "echosts_limit_disconnects_total", {"limit": limit}
    )


async def test_a_client_that_stops_reading_is_dropped_and_others_go_on(
    start_server, settings, make_worker, caplog
) -> None:
    server = start_server(settings, max_output_buffer_mb=1)
    healthy = await make_worker(url=server.url).connect()
    await healthy.start("healthy")
    stalled = StalledReader(server.port)
    await stalled.open("stalled")
    caplog.set_level(logging.WARNING, logger="echosts.gateway")
    try:
        for number in range(12):
            stalled.send("fragment:data", fragment("stalled", number, payload=bytes(512 * 1024)))
        await stalled.writer.drain()
        for number in range(20):
            await healthy.emit("fragment:data", fragment("healthy", number))
            assert (await healthy.next("fragment:processed"))["sequence_number"] == number
        assert await until(lambda: server.service.fleet.session_count == 1, 5.0)
        assert server.service.fleet.connection_count == 1
        assert limit_count(server, "output_buffer") == 1
        assert "ECHO_MAX_OUTPUT_BUFFER_MB" in caplog.text
    finally:
        stalled.close()
    await healthy.emit("fragment:data", fragment("healthy", 20))
    assert (await healthy.next("fragment:processed"))["status"] == "success"


async def test_a_slow_reader_under_the_limit_is_kept(start_server, settings) -> None:
    server = start_server(settings, max_output_buffer_mb=64)
    stalled = StalledReader(server.port)
    await stalled.open("stalled")
    try:
        for number in range(4):
            stalled.send("fragment:data", fragment("stalled", number, payload=bytes(256 * 1024)))
        await stalled.writer.drain()
        await asyncio.sleep(1.5)
        assert server.service.fleet.session_count == 1
        assert limit_count(server, "output_buffer") == 0
    finally:
        stalled.close()


async def test_a_connection_that_never_inits_is_told_and_dropped(
    start_server, settings, make_worker
) -> None:
    server = start_server(settings, idle_timeout_s=0.3)
    idle = await make_worker(url=server.url).connect()
    busy = await make_worker(url=server.url).connect()
    await busy.start("s-1")
    report = await idle.next("error", timeout=3)
    assert report["code"] == "TIMEOUT"
    await asyncio.wait_for(idle.disconnected.wait(), 3)
    assert idle.disconnect_reason == "server disconnect"
    await asyncio.sleep(0.5)
    assert not busy.disconnected.is_set()
    assert server.service.fleet.connection_count == 1
    assert limit_count(server, "idle") == 1


@pytest.mark.parametrize("idle_timeout_s", [0.0])
async def test_an_idle_timeout_of_zero_keeps_every_connection(
    start_server, settings, make_worker, idle_timeout_s: float
) -> None:
    server = start_server(settings, idle_timeout_s=idle_timeout_s)
    idle = await make_worker(url=server.url).connect()
    await asyncio.sleep(0.5)
    assert not idle.disconnected.is_set()
    assert server.service.fleet.connection_count == 1


async def test_a_message_over_the_buffer_size_closes_its_connection_and_is_counted(
    start_server, settings, make_worker
) -> None:
    """Tornado refuses it unread (close 1009); the adapter in echosts.transport counts it.

    Fails loudly if a Tornado upgrade stops closing through its protocol object's close()."""
    server = start_server(settings, max_buffer_size=2 * MIB)
    healthy = await make_worker(url=server.url).connect()
    await healthy.start("healthy")
    big = await joined(server.port)
    await big.write_message("42" + json.dumps(["fragment:data", "x" * (3 * MIB)]))
    assert await big.read_message() is None
    assert big.close_code == 1009
    assert await until(lambda: limit_count(server, "message_size") == 1, 2.0)
    assert await until(lambda: server.service.fleet.connection_count == 1, 2.0)
    await healthy.emit("fragment:data", fragment("healthy", 0))
    assert (await healthy.next("fragment:processed"))["status"] == "success"
