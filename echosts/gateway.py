"""The Socket.IO side: translates handshakes, events and hang-ups for the core.

It decides nothing about the protocol. The handlers are plain functions registered from a
table, once per namespace, so nothing can interleave inside one; admission is asked of
``admission.py``, every event goes to the connection's ``Link``, and the ``Fleet`` keeps the
links for everything else that asks.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import socketio
from tornado.ioloop import IOLoop

from echosts import outputs
from echosts.admission import Admission, Handshake, Refused, auth_token
from echosts.auth import KeyRing
from echosts.config import Settings
from echosts.connection import Connection
from echosts.context import Capabilities
from echosts.fleet import Fleet
from echosts.link import Link
from echosts.protocol import STREAM_INIT

log = logging.getLogger("echosts.gateway")

NAMESPACES = ("/", "/sts")


class Gateway:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        settings: Settings,
        capabilities: Capabilities,
        fleet: Fleet,
        keys: KeyRing,
    ) -> None:
        self.sio = sio
        self.settings = settings
        self.capabilities = capabilities
        self.fleet = fleet
        self.admission = Admission(
            settings, fleet.plans, capabilities.observer, fleet.refusals, keys
        )
        self._draining = lambda: fleet.draining
        """One callable for every connection's core, not a closure per connection."""
        self._by_sid: dict[tuple[str, str], Link] = {}
        self._refused: dict[str, Refused] = {}
        """Refusals by Engine.IO sid, for the other namespaces of a refused connection."""
        for namespace in NAMESPACES:
            for name, handler in (
                ("connect", self._on_connect),
                ("disconnect", self._on_disconnect),
                ("*", self._on_event),
            ):
                sio.on(name, partial(handler, namespace), namespace=namespace)

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
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, namespace)
        link = self.fleet.get(eio_sid)
        header_stream_id = environ.get("HTTP_X_STREAM_ID")
        handshake = Handshake(
            token=auth_token(args[1] if len(args) > 1 else None),
            header_stream_id=header_stream_id,
            opens_connection=link is None,
            open_connections=self.fleet.connection_count,
            draining=self.fleet.draining,
        )
        refused = self._refused.get(eio_sid) if link is None else None
        if refused is None:
            refused = self.admission.decide(handshake, IOLoop.current().time())
            if refused is not None:
                self._remember_refusal(eio_sid, refused)
        remote = _remote(environ)
        if refused is not None:
            log.info(
                "connection refused: code=%s remote=%s x_stream_id=%s: %s",
                refused.code.value,
                remote,
                header_stream_id,
                refused.message,
                extra={"stream_id": header_stream_id},
            )
            raise socketio.exceptions.ConnectionRefusedError(
                refused.code.value, outputs.refusal(refused.code, refused.message)
            )
        if link is None:
            link = Link(
                self.sio, eio_sid, self._new_core(environ), namespace, self.fleet.after_step
            )
            self.fleet.add(link)
            log.info(
                "connection opened: sid=%s remote=%s namespace=%s x_stream_id=%s x_worker_id=%s",
                eio_sid,
                remote,
                namespace,
                header_stream_id,
                link.core.header_worker_id,
                extra={"stream_id": header_stream_id},
            )
        link.namespaces[namespace] = sid
        self._by_sid[(namespace, sid)] = link
        # Arms the link's timer for the idle limit of a connection that never inits.
        link.step(link.core.on_timer, "connect")

    def _remember_refusal(self, eio_sid: str, refused: Refused) -> None:
        """One Engine.IO connection is one attempt, whatever namespaces it asks to join: its
        other namespaces get the same refusal, not counted again (section 11.9). Entries of
        connections that are gone are dropped here, so the map holds live ones only."""
        sockets = self.sio.eio.sockets
        for gone in [sid for sid in self._refused if sid not in sockets]:
            del self._refused[gone]
        self._refused[eio_sid] = refused

    def _new_core(self, environ: dict[str, Any]) -> Connection:
        return Connection(
            self.settings,
            self.capabilities,
            self.fleet.plans,
            journals=self.fleet.journals,
            draining=self._draining,
            header_stream_id=environ.get("HTTP_X_STREAM_ID"),
            header_worker_id=environ.get("HTTP_X_WORKER_ID"),
            connected_at=IOLoop.current().time(),
        )

    def _on_disconnect(self, namespace: str, sid: str, *args: Any) -> None:
        if self._reserved_event(namespace, sid):
            self._on_event(namespace, "disconnect", sid, *args)
            return
        link = self._by_sid.pop((namespace, sid), None)
        if link is None:
            return
        link.namespaces.pop(namespace, None)
        if link.namespaces:
            return
        link.release()
        link.core.closed()
        self.fleet.remove(link)
        session = link.core.session
        log.info(
            "connection closed: sid=%s reason=%s stream_id=%s inflight=%d",
            link.eio_sid,
            args[0] if args else None,
            session.stream_id if session else None,
            len(session.inflight) if session else 0,
            extra={"stream_id": session.stream_id if session else None},
        )

    def _on_event(self, namespace: str, event: str, sid: str, *args: Any) -> None:
        link = self._by_sid.get((namespace, sid))
        if link is None:
            return
        if event == STREAM_INIT:
            link.home_namespace = namespace
        link.step(partial(link.core.receive, event, args), event, namespace)


def _remote(environ: dict[str, Any]) -> str:
    handler = environ.get("tornado.handler")
    return handler.request.remote_ip if handler is not None else "?"
