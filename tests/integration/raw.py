"""A raw WebSocket client that speaks Engine.IO and Socket.IO by hand, frame by frame."""

from __future__ import annotations

from tornado.websocket import WebSocketClientConnection, websocket_connect


async def joined(port: int, namespace: str = "/") -> WebSocketClientConnection:
    """A raw WebSocket that opened an Engine.IO session and joined ``namespace``."""
    url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    connection = await websocket_connect(url, max_message_size=64 * 1024 * 1024)
    opening = await connection.read_message()
    assert isinstance(opening, str)
    assert opening.startswith("0"), opening
    join = "40" if namespace == "/" else f"40{namespace},"
    await connection.write_message(join)
    answer = await connection.read_message()
    assert isinstance(answer, str)
    assert answer.startswith(join.rstrip(",")), answer
    return connection
