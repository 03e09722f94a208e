"""One Engine.IO connection as the server holds it: its core, one outbox, one timer.

Each core call runs with the loop's clock before anything can yield, so a connection's events
are handled in arrival order; the outputs go through one ordered outbox, drained by one
task, so a ``fragment:processed`` can never overtake its ``fragment:ack``; and the one IOLoop
timer is re-armed from the core's ``next_deadline()`` after every call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import socketio
from socketio.packet import EVENT
from tornado.ioloop import IOLoop

from echosts import transport
from echosts.connection import Connection
from echosts.outputs import Close, Emit, Output

log = logging.getLogger("echosts.gateway")

CoreCall = Callable[[float], list[Output]]

TRANSPORT_FAULTS: dict[str, Callable[[Any, int], None]] = {
    "close": lambda handler, _hang_ms: transport.close(handler),
    "reset": lambda handler, _hang_ms: transport.reset(handler),
    "hang": transport.hang,
}
"""Section 11.6's modes other than ``server_disconnect``, by name."""


class Link:
    __slots__ = (
        "_after_step",
        "_deadline",
        "_loop",
        "closed",
        "core",
        "eio_sid",
        "home_namespace",
        "namespaces",
        "outbox",
        "sender",
        "sio",
        "timer",
    )

    def __init__(
        self,
        sio: socketio.AsyncServer,
        eio_sid: str,
        core: Connection,
        home_namespace: str,
        after_step: Callable[[], None],
    ) -> None:
        self.sio = sio
        self.eio_sid = eio_sid
        self.core = core
        self.namespaces: dict[str, str] = {}
        """The Socket.IO sid of this connection in each namespace it joined."""
        self.home_namespace = home_namespace
        """Where events the timer causes go: the namespace of the latest stream:init."""
        self.sender: asyncio.Task[None] | None = None
        self.closed = False
        self._after_step = after_step
        self.outbox: list[tuple[str, Output]] = []
        """Outputs not yet sent, each with the namespace it goes to, in order (a few at most:
        a list, as an empty deque costs 600 bytes per idle connection)."""
        self._loop = IOLoop.current()
        self.timer: object | None = None
        """The one IOLoop timeout armed for the core's next deadline, or None."""
        self._deadline: float | None = None

    def output_backlog(self) -> int:
        """Bytes waiting to be written to this client; 0 on long-polling, where engine.io
        holds them until the client polls and its ping timeout bounds them."""
        handler = transport.websocket_of(self.sio, self.eio_sid)
        return 0 if handler is None else transport.pending_output_bytes(handler)

    def drop_slow_reader(self, backlog: int, limit: int) -> None:
        """The client stopped reading: its connection is reset, which releases its session."""
        handler = transport.websocket_of(self.sio, self.eio_sid)
        if handler is None or self.closed:
            return
        session = self.core.session
        log.warning(
            "dropping sid=%s stream_id=%s: %d bytes wait to be written to it, over the limit "
            "of %d (ECHO_MAX_OUTPUT_BUFFER_MB)",
            self.eio_sid,
            session.stream_id if session else None,
            backlog,
            limit,
            extra={"stream_id": session.stream_id if session else None},
        )
        self.core.capabilities.observer.limit_reached("output_buffer")
        self.core.closing = True
        self.outbox.clear()
        transport.reset(handler)

    def sid_for(self, namespace: str) -> tuple[str, str] | None:
        """Where to send for ``namespace``; falls back to any namespace still joined."""
        if namespace in self.namespaces:
            return namespace, self.namespaces[namespace]
        for other, sid in self.namespaces.items():
            return other, sid
        return None

    def step(self, call: CoreCall, what: str, namespace: str | None = None) -> None:
        """Runs one core call, queues its outputs in order, and re-arms the timer.

        Our own bug in the core is logged with its traceback; the connection stays up.
        """
        try:
            outputs = call(self._loop.time())
        except Exception:
            session = self.core.session
            log.exception(
                "internal error while handling %s: sid=%s stream_id=%s",
                what,
                self.eio_sid,
                session.stream_id if session else None,
            )
            outputs = []
        if outputs:
            target = namespace or self.home_namespace
            self.outbox.extend((target, output) for output in outputs)
            if self.sender is None or self.sender.done():
                self.sender = asyncio.ensure_future(self._send())
        self._arm()
        self._after_step()

    def release(self) -> None:
        """The connection is gone: no timer fires and nothing queued is sent any more."""
        self.closed = True
        if self.timer is not None:
            self._loop.remove_timeout(self.timer)
            self.timer = None
        self.outbox.clear()

    async def close(self, close: Close) -> None:
        """Ends the connection the way ``close.mode`` says (section 11.6)."""
        mode = close.mode
        log.info("disconnecting sid=%s (%s): %s", self.eio_sid, mode, close.reason)
        if mode != "server_disconnect":
            if transport.websocket_of(self.sio, self.eio_sid) is not None:
                await transport.flush(self.sio, self.eio_sid)
                # The client may have gone while what was queued went out.
                handler = transport.websocket_of(self.sio, self.eio_sid)
                if handler is not None:
                    TRANSPORT_FAULTS[mode](handler, close.hang_ms)
                return
            log.warning(
                "sid=%s is not on a WebSocket: %s falls back to a Socket.IO disconnect",
                self.eio_sid,
                mode,
            )
        for namespace, sid in list(self.namespaces.items()):
            await self.sio.disconnect(sid, namespace=namespace)

    def _arm(self) -> None:
        deadline = None if self.closed else self.core.next_deadline()
        if deadline == self._deadline and (deadline is None or self.timer is not None):
            return
        loop = self._loop
        if self.timer is not None:
            loop.remove_timeout(self.timer)
            self.timer = None
        self._deadline = deadline
        if deadline is not None:
            self.timer = loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        deadline = self._deadline
        self.timer = None
        self._deadline = None
        if self.closed:
            return
        # asyncio may fire a timer a hair early; the core must see the deadline as reached.
        now = max(self._loop.time(), deadline or 0.0)
        self.step(lambda _: self.core.on_timer(now), "timer")

    def _encode(self, output: Emit, namespace: str) -> list[str | bytes]:
        """The Socket.IO packets of one event to this one client.

        ``AsyncServer.emit`` would also look the recipient up in its rooms, scan every payload
        for binary parts and start a task per recipient; a link knows its one recipient, and
        only an echo of a worker's own binary attachment (which JSON cannot encode) needs the
        scan: a binary event, then its attachments.
        """
        data = [output.event, output.data]
        try:
            packet = self.sio.packet_class(EVENT, data=data, namespace=namespace, binary=False)
            return [packet.encode()]
        except TypeError:
            packet = self.sio.packet_class(EVENT, data=data, namespace=namespace)
            encoded = packet.encode()
            return encoded if isinstance(encoded, list) else [encoded]

    async def _send(self) -> None:
        while self.outbox:
            namespace, output = self.outbox.pop(0)
            try:
                if isinstance(output, Emit):
                    target = self.sid_for(namespace)
                    if target is None:
                        continue
                    for part in self._encode(output, target[0]):
                        await self.sio.eio.send(self.eio_sid, part)
                elif isinstance(output, Close):
                    await self.close(output)
            except Exception:
                log.exception("could not send to sid=%s", self.eio_sid)
