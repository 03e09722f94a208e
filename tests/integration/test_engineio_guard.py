"""A frame python-engineio cannot decode must not keep a closed connection counted.

python-engineio 4.15 decodes a WebSocket packet outside its error handling: an empty text
frame (or one whose first character is no packet type) ends its handler without the
disconnect callback, and the connection stays counted until the ping timeout (35 s by
default). ``echosts.transport`` closes such a connection itself. The last test runs a bare
python-socketio server to tell when an upgrade makes that guard needless.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
import socketio
import tornado.web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from echosts.transport import undecodable
from tests.integration.raw import joined
from tests.workers import fragment, until

HOSTILE_FRAMES = ["", "x", "bA", "\u00e9", " 4"]


@pytest.mark.parametrize("frame", HOSTILE_FRAMES)
async def test_a_closed_connection_is_released_at_once_whatever_its_last_frame(
    server, frame: str
) -> None:
    connection = await joined(server.port)
    assert server.service.fleet.connection_count == 1
    connection.write_message(frame)
    await asyncio.sleep(0.05)
    connection.close()
    assert await until(lambda: server.service.fleet.connection_count == 0, 2.0)


async def test_an_undecodable_frame_closes_only_its_own_connection(server, make_worker) -> None:
    healthy = await make_worker().connect()
    await healthy.start("s-1")
    hostile = await joined(server.port)
    await hostile.write_message("")
    assert await hostile.read_message() is None
    assert await until(lambda: server.service.fleet.connection_count == 1, 2.0)
    await healthy.emit("fragment:data", fragment("s-1", 0))
    assert (await healthy.next("fragment:processed"))["status"] == "success"


@pytest.mark.parametrize(
    ("frame", "refused"),
    [
        ("", True),
        ("x", True),
        ("bA", True),
        ("4", False),
        ('42["stream:init",{}]', False),
        ("bAAEC", False),
        (b"", False),
        (b"\x00\x01", False),
    ],
)
def test_undecodable_matches_what_engineio_refuses(frame: str | bytes, refused: bool) -> None:
    from engineio.packet import Packet  # noqa: PLC0415

    assert undecodable(frame) is refused
    try:
        Packet(encoded_packet=frame)
    except ValueError:
        assert refused
    else:
        assert not refused


async def test_engineio_still_leaks_the_connection_an_empty_frame_ends(io_loop) -> None:
    """Fails once python-engineio releases such a connection itself: then the guard in
    ``echosts.transport.FaultableWebSocket.on_message`` is no longer needed."""
    sio = socketio.AsyncServer(async_mode="tornado", ping_interval=25, ping_timeout=10)
    disconnected: list[str] = []
    sio.on("disconnect", lambda sid, *_reason: disconnected.append(sid))
    app = tornado.web.Application([(r"/socket.io/", socketio.get_tornado_handler(sio))])
    sock, port = bind_unused_port()
    http = HTTPServer(app)
    http.add_sockets([sock])
    try:
        connection = await joined(port)
        await connection.write_message("")
        await asyncio.sleep(0.05)
        connection.close()
        released = await until(lambda: bool(disconnected), 1.0)
        assert not released, (
            "python-engineio now releases a connection that sent an empty frame: the guard in "
            "echosts.transport can go"
        )
    finally:
        http.stop()
        await sio.shutdown()


async def test_a_binary_frame_no_packet_announced_logs_one_warning_line(server, caplog) -> None:
    connection = await joined(server.port)
    caplog.set_level(logging.WARNING, logger="engineio.server")
    await connection.write_message(b"\x04garbage", binary=True)
    assert await until(lambda: bool(caplog.records), 2.0)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "could not be handled: ValueError" in record.getMessage()
    connection.close()
