"""The one module that reaches below python-engineio: the Tornado WebSocket under a socket.

Two things need it. Transport faults (section 11.6): a python-socketio client reconnects only
when its transport is lost, and every way python-engineio offers to end a connection first
says goodbye (an Engine.IO close or a Socket.IO disconnect packet), after which the client
stays away; nor can one socket's pings be silenced. And frames python-engineio cannot decode:
it decodes a WebSocket packet outside its error handling, so one such frame ends its handler
without the disconnect callback, and the connection stays counted until the ping timeout.
``tests/integration/test_transport_faults.py`` checks every attribute relied on here, and
``tests/integration/test_engineio_guard.py`` tells when an upgrade makes the guard needless.

What each fault leaves to the stack: the closed stream makes Tornado call ``on_close``, the
engine.io driver turns that into a transport close, and python-socketio calls the service's
disconnect handler once, which releases the session as for any lost connection.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import socket
import struct
from typing import Any

import socketio
from tornado.ioloop import IOLoop

log = logging.getLogger("echosts.gateway")

FLUSH_TIMEOUT_S = 1.0
"""How long a fault waits for what was queued before it: a client that stopped reading
must not hold it back."""

CLOSE_CODE = 1011
"""WebSocket close code 1011, "internal error": what a crashing server would send."""
PROTOCOL_ERROR = 1002

_upgraded: dict[str, FaultableWebSocket] = {}
"""WebSocket handlers of connections that began on polling, by Engine.IO sid."""


MESSAGE_TOO_BIG = 1009
"""The close code Tornado sends when a message is over ``websocket_max_message_size``."""


def _count_messages_too_big(handler: FaultableWebSocket) -> None:
    """Tornado closes a connection whose message is too big from inside its protocol object
    and tells the handler only that the connection closed: wrapping that object's ``close``
    is the one way to know it, and to count it."""
    protocol = handler.ws_connection  # type: ignore[attr-defined]
    close = protocol.close

    def close_and_tell(code: int | None = None, reason: str | None = None) -> None:
        if code == MESSAGE_TOO_BIG:
            handler.message_too_big()
        close(code, reason)

    protocol.close = close_and_tell


def undecodable(message: str | bytes) -> bool:
    """Whether python-engineio's ``Packet.decode`` would raise on this WebSocket frame.

    A binary frame is always a message; a text frame must be non-empty and start with a
    packet type digit, or with ``b`` and valid base64.
    """
    if isinstance(message, bytes):
        return False
    if not message:
        return True
    if message[0] == "b":
        try:
            base64.b64decode(message[1:])
        except (binascii.Error, ValueError):
            return True
        return False
    try:
        int(message[0])
    except ValueError:
        return True
    return False


class FaultableWebSocket:
    """Mixed into engine.io's Tornado handler: can go silent (hang), be found by sid, and
    closes a connection whose client sent a frame python-engineio cannot decode."""

    hung = False
    _upgraded_sid: str | None = None
    _hang_timer: object | None = None

    def message_too_big(self) -> None:
        """Called when Tornado refuses a message over ``websocket_max_message_size``."""

    async def open(self, *args: Any, **kwargs: Any) -> None:
        _count_messages_too_big(self)
        # An upgrade from polling names its Engine.IO sid (a WebSocket-only connection's
        # handler is found through the environ python-socketio keeps for it). The first
        # WebSocket to name a sid keeps the entry: another request naming the same sid
        # (python-engineio refuses it) must not displace the real one.
        sid = self.get_query_argument("sid", None)  # type: ignore[attr-defined]
        if sid and _upgraded.setdefault(sid, self) is self:
            self._upgraded_sid = sid
        await super().open(*args, **kwargs)  # type: ignore[misc]

    async def on_message(self, message: str | bytes) -> None:
        if self.hung:
            return
        if undecodable(message):
            log.info(
                "closing a WebSocket whose client sent an undecodable Engine.IO packet (%d chars)",
                len(message),
            )
            self.close(PROTOCOL_ERROR, "undecodable Engine.IO packet")
            return
        await super().on_message(message)  # type: ignore[misc]

    def write_message(self, message: Any, binary: bool = False) -> Any:
        if self.hung:
            return None
        written = super().write_message(message, binary)  # type: ignore[misc]
        # The engine.io driver never awaits this future: when the connection is lost with
        # writes pending, each would log "Task exception was never retrieved".
        written.add_done_callback(_retrieve)
        return written

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if not self.hung:
            super().close(code, reason)  # type: ignore[misc]

    def on_close(self) -> None:
        if self._upgraded_sid is not None and _upgraded.get(self._upgraded_sid) is self:
            del _upgraded[self._upgraded_sid]
        if self._hang_timer is not None:
            IOLoop.current().remove_timeout(self._hang_timer)
            self._hang_timer = None
        super().on_close()  # type: ignore[misc]


def _retrieve(written: asyncio.Future[None]) -> None:
    if not written.cancelled():
        written.exception()


def websocket_of(sio: socketio.AsyncServer, eio_sid: str) -> Any | None:
    """The open WebSocket handler under Engine.IO socket ``eio_sid``; None on polling."""
    handler = _upgraded.get(eio_sid)
    if handler is None:
        handler = (sio.environ.get(eio_sid) or {}).get("tornado.handler")
    if handler is None or getattr(handler, "ws_connection", None) is None:
        return None
    return handler


async def flush(sio: socketio.AsyncServer, eio_sid: str) -> None:
    """Lets what the service queued for ``eio_sid`` before the fault reach the socket first:
    the ack of the very ``simulate:disconnect`` that asked for it, for one."""
    eio_socket = sio.eio.sockets.get(eio_sid)
    if eio_socket is None:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(eio_socket.queue.join(), FLUSH_TIMEOUT_S)
    await asyncio.sleep(0)


def pending_output_bytes(handler: Any) -> int:
    """Bytes written to this WebSocket that the client has not read yet, past the kernel's
    buffers: Tornado's write buffer, which has no bound of its own."""
    connection = handler.ws_connection
    if connection is None:
        return 0
    stream = connection.stream
    return int(stream._total_write_index - stream._total_write_done_index)


def close(handler: Any) -> None:
    """A WebSocket close frame (1011) and nothing of Engine.IO's or Socket.IO's goodbye."""
    handler.close(CLOSE_CODE, "echosts: simulated transport close")


def reset(handler: Any) -> None:
    """Aborts the TCP connection: SO_LINGER 0 makes the close an RST."""
    stream = handler.ws_connection.stream
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.close()


def hang(handler: FaultableWebSocket, hang_ms: int) -> None:
    """Sends nothing more, pings included, and reads nothing, until the client gives up or
    ``hang_ms`` passes; then closes the TCP connection without a close frame."""
    handler.hung = True

    def give_up() -> None:
        handler._hang_timer = None
        connection = getattr(handler, "ws_connection", None)
        if connection is not None:
            connection.stream.close()

    handler._hang_timer = IOLoop.current().call_later(hang_ms / 1000, give_up)
