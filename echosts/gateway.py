"""The Socket.IO side: admits connections, feeds events to each connection's core, emits.

It decides nothing about the protocol. Each handler reads the loop's clock and calls the core
before anything can yield, so a connection's events are handled in arrival order; the outputs
go through the connection's one ordered outbox, drained by one task, so a
``fragment:processed`` can never overtake its ``fragment:ack``. Every connection has exactly
one IOLoop timer, re-armed from the core's ``next_deadline()`` after every call.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import socketio
from tornado.ioloop import IOLoop

from echosts.auth import token_matches
from echosts.context import ServiceContext
from echosts.errors import ErrorCode, refusal_data
from echosts.plans import FaultPlan
from echosts.session import Close, Connection, Emit, Output, StreamSession

log = logging.getLogger("echosts.gateway")

NAMESPACES = ("/", "/sts")


@dataclass(eq=False)
class ConnectionHandle:
    """One Engine.IO connection as the gateway sees it: sids per namespace, timer, outbox."""

    eio_sid: str
    core: Connection
    remote: str
    namespaces: dict[str, str] = field(default_factory=dict)
    home_namespace: str = "/"
    timer: object | None = None
    timer_deadline: float | None = None
    outbox: deque[tuple[str, Output]] = field(default_factory=deque)
    sender: asyncio.Task[None] | None = None
    closed: bool = False

    def sid_for(self, namespace: str) -> tuple[str, str] | None:
        """Where to send for ``namespace``; falls back to any namespace still joined."""
        if namespace in self.namespaces:
            return namespace, self.namespaces[namespace]
        for other, sid in self.namespaces.items():
            return other, sid
        return None


def _token(auth: Any) -> str | None:
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return auth["token"]
    return None


class Gateway:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        context: ServiceContext,
    ) -> None:
        self.sio = sio
        self.context = context
        self.observer = context.observer
        self._connections: dict[str, ConnectionHandle] = {}
        self._idle: asyncio.Event | None = None
        self._by_sid: dict[tuple[str, str], ConnectionHandle] = {}
        for namespace in NAMESPACES:
            sio.on("connect", partial(self._on_connect, namespace), namespace=namespace)
            sio.on("disconnect", partial(self._on_disconnect, namespace), namespace=namespace)
            sio.on("*", partial(self._on_event, namespace), namespace=namespace)

    # what the rest of the service reads

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def sessions(self) -> list[StreamSession]:
        """The session of every open connection that has one, in any state."""
        return [h.core.session for h in self._connections.values() if h.core.session is not None]

    @property
    def session_count(self) -> int:
        return len(self.sessions())

    @property
    def inflight_count(self) -> int:
        return sum(len(session.inflight) for session in self.sessions())

    def handles(self) -> list[ConnectionHandle]:
        return list(self._connections.values())

    def status(self) -> str:
        """One line of live counts, for systemd's STATUS= and the logs."""
        state = "draining" if self.context.draining else "serving"
        return (
            f"{state}: {self.connection_count} connections, {self.session_count} sessions, "
            f"{self.inflight_count} fragments in flight"
        )

    async def wait_idle(self, timeout: float) -> bool:
        """Waits until no fragment is in flight anywhere; False when ``timeout`` ran out."""
        self._idle = asyncio.Event()
        self._check_idle()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def flush(self) -> None:
        """Waits until every connection's outbox is sent."""
        while pending := [
            handle.sender
            for handle in self._connections.values()
            if handle.sender is not None and not handle.sender.done()
        ]:
            await asyncio.gather(*pending, return_exceptions=True)

    def _check_idle(self) -> None:
        if self._idle is not None and not self._idle.is_set() and self.inflight_count == 0:
            self._idle.set()

    # python-socketio handlers: plain functions, so nothing can interleave inside one

    def _reserved_event(self, namespace: str, sid: str) -> bool:
        """Whether a connect/disconnect call is really a client event of that name.

        python-socketio hands a client's event named "connect" or "disconnect" to the same
        handlers as the real handshake and hang-up; only then is the sid fully connected.
        """
        return bool(self.sio.manager.is_connected(sid, namespace))

    def _on_connect(self, namespace: str, sid: str, *args: Any) -> None:
        if self._reserved_event(namespace, sid):
            self._on_event(namespace, "connect", sid, *args)
            return
        environ: dict[str, Any] = args[0]
        auth = args[1] if len(args) > 1 else None
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, namespace)
        header_stream_id = environ.get("HTTP_X_STREAM_ID")
        handler = environ.get("tornado.handler")
        remote = handler.request.remote_ip if handler is not None else "?"
        settings = self.context.settings
        if settings.auth_enabled and not token_matches(_token(auth), settings.api_keys):
            self._refuse(
                ErrorCode.AUTH_FAILED,
                "auth_failed",
                "authentication failed: auth.token matches no configured API key",
                remote,
                header_stream_id,
            )
        handle = self._connections.get(eio_sid)
        if handle is None:
            if self.context.draining:
                self._refuse(
                    ErrorCode.RATE_LIMIT,
                    "draining",
                    "the server is draining for shutdown: connect to another instance",
                    remote,
                    header_stream_id,
                )
            if len(self._connections) >= settings.max_connections:
                self._refuse(
                    ErrorCode.RATE_LIMIT,
                    "connection_limit",
                    f"connection limit reached: {settings.max_connections} connections are open",
                    remote,
                    header_stream_id,
                )
            planned = self.context.plans.take_refusal(header_stream_id, IOLoop.current().time())
            if planned is not None:
                self.observer.fault_injected("refusal")
                self._refuse(
                    planned,
                    "fault_plan",
                    f"refused by the fault plan of stream {header_stream_id}",
                    remote,
                    header_stream_id,
                )
            core = Connection(
                self.context,
                header_stream_id=header_stream_id,
                header_worker_id=environ.get("HTTP_X_WORKER_ID"),
            )
            handle = ConnectionHandle(eio_sid=eio_sid, core=core, remote=remote)
            handle.home_namespace = namespace
            self._connections[eio_sid] = handle
            self.observer.connection_accepted()
            log.info(
                "connection opened: sid=%s remote=%s namespace=%s x_stream_id=%s x_worker_id=%s",
                eio_sid,
                remote,
                namespace,
                header_stream_id,
                core.header_worker_id,
                extra={"stream_id": header_stream_id},
            )
        handle.namespaces[namespace] = sid
        self._by_sid[(namespace, sid)] = handle

    def _refuse(
        self,
        code: ErrorCode,
        reason: str,
        message: str,
        remote: str,
        header_stream_id: str | None,
    ) -> None:
        self.observer.connection_refused(reason)
        log.info(
            "connection refused: code=%s remote=%s x_stream_id=%s: %s",
            code.value,
            remote,
            header_stream_id,
            message,
            extra={"stream_id": header_stream_id},
        )
        raise socketio.exceptions.ConnectionRefusedError(code.value, refusal_data(code, message))

    def _on_disconnect(self, namespace: str, sid: str, *args: Any) -> None:
        if self._reserved_event(namespace, sid):
            self._on_event(namespace, "disconnect", sid, *args)
            return
        reason = args[0] if args else None
        handle = self._by_sid.pop((namespace, sid), None)
        if handle is None:
            return
        handle.namespaces.pop(namespace, None)
        if handle.namespaces:
            return
        self._release(handle, str(reason))

    def _release(self, handle: ConnectionHandle, reason: str) -> None:
        """Frees a connection for good: its timer, its outbox, its session."""
        handle.closed = True
        self._connections.pop(handle.eio_sid, None)
        if handle.timer is not None:
            IOLoop.current().remove_timeout(handle.timer)
            handle.timer = None
        handle.outbox.clear()
        self._check_idle()
        session = handle.core.session
        log.info(
            "connection closed: sid=%s reason=%s stream_id=%s inflight=%d",
            handle.eio_sid,
            reason,
            session.stream_id if session else None,
            len(session.inflight) if session else 0,
            extra={"stream_id": session.stream_id if session else None},
        )

    def _on_event(self, namespace: str, event: str, sid: str, *args: Any) -> None:
        handle = self._by_sid.get((namespace, sid))
        if handle is None:
            return
        if event == "stream:init":
            handle.home_namespace = namespace
        self._step(handle, namespace, lambda now: handle.core.receive(event, args, now), event)

    def _on_timer(self, handle: ConnectionHandle) -> None:
        deadline = handle.timer_deadline
        handle.timer = None
        handle.timer_deadline = None
        if handle.closed:
            return
        # asyncio may fire a timer a hair early; the core must see the deadline as reached.
        now = max(IOLoop.current().time(), deadline or 0.0)
        self._step(handle, handle.home_namespace, lambda _: handle.core.on_timer(now), "timer")

    def streams(self, stream_id: str) -> list[ConnectionHandle]:
        """Every open connection whose session has ``stream_id``, whatever its state."""
        return [
            handle
            for handle in self._connections.values()
            if handle.core.session is not None and handle.core.session.stream_id == stream_id
        ]

    def apply_plan(self, stream_id: str, plan: FaultPlan) -> int:
        """Applies a freshly stored plan at once to the stream's active sessions."""
        return self._for_stream(
            stream_id, lambda core, now: core.apply_plan(plan, now), "fault plan"
        )

    def disconnect_stream(self, stream_id: str, delay_ms: int) -> int:
        """Drops every connection of ``stream_id`` after ``delay_ms``; returns how many."""
        reason = "disconnect requested through the control API"
        return self._for_stream(
            stream_id,
            lambda core, now: core.schedule_disconnect(now, delay_ms, reason),
            "control disconnect",
        )

    def _for_stream(
        self, stream_id: str, call: Callable[[Connection, float], list[Output]], what: str
    ) -> int:
        handles = self.streams(stream_id)
        for handle in handles:
            self._step(handle, handle.home_namespace, partial(call, handle.core), what)
        return len(handles)

    def expire_all(self, message: str) -> None:
        """Ends every connection's unfinished fragments now as TIMEOUT failures."""
        for handle in self.handles():
            self._step(
                handle,
                handle.home_namespace,
                lambda now, h=handle: h.core.expire_inflight(now, message),
                "drain deadline",
            )

    def _step(
        self,
        handle: ConnectionHandle,
        namespace: str,
        call: Callable[[float], list[Output]],
        what: str,
    ) -> None:
        """Runs one core call, queues its outputs in order, and re-arms the timer."""
        loop = IOLoop.current()
        try:
            outputs = call(loop.time())
        except Exception:
            session = handle.core.session
            log.exception(
                "internal error while handling %s: sid=%s stream_id=%s",
                what,
                handle.eio_sid,
                session.stream_id if session else None,
            )
            outputs = []
        if outputs:
            handle.outbox.extend((namespace, output) for output in outputs)
            if handle.sender is None or handle.sender.done():
                handle.sender = asyncio.ensure_future(self._send(handle))
        self._arm(handle)
        self._check_idle()

    def _arm(self, handle: ConnectionHandle) -> None:
        deadline = None if handle.closed else handle.core.next_deadline()
        if deadline == handle.timer_deadline and (deadline is None or handle.timer is not None):
            return
        loop = IOLoop.current()
        if handle.timer is not None:
            loop.remove_timeout(handle.timer)
            handle.timer = None
        handle.timer_deadline = deadline
        if deadline is not None:
            handle.timer = loop.call_at(deadline, self._on_timer, handle)

    async def _send(self, handle: ConnectionHandle) -> None:
        while handle.outbox:
            namespace, output = handle.outbox.popleft()
            try:
                if isinstance(output, Emit):
                    target = handle.sid_for(namespace)
                    if target is None:
                        continue
                    await self.sio.emit(
                        output.event, output.data, to=target[1], namespace=target[0]
                    )
                elif isinstance(output, Close):
                    await self._close(handle, output.reason)
            except Exception:
                log.exception("could not send to sid=%s", handle.eio_sid)

    async def _close(self, handle: ConnectionHandle, reason: str) -> None:
        log.info("disconnecting sid=%s: %s", handle.eio_sid, reason)
        for namespace, sid in list(handle.namespaces.items()):
            await self.sio.disconnect(sid, namespace=namespace)

    async def disconnect_all(self, reason: str) -> None:
        for handle in self.handles():
            await self._close(handle, reason)
