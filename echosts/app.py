"""Assembles the service on one IOLoop: python-socketio, the gateway, the HTTP handlers."""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import socketio
import tornado.web
from tornado.httpserver import HTTPServer
from tornado.ioloop import PeriodicCallback
from tornado.netutil import bind_sockets

from echosts.auth import KeyRing
from echosts.config import Settings
from echosts.context import Capabilities
from echosts.control import control_routes
from echosts.counting import CountingObserver
from echosts.fleet import Fleet
from echosts.gateway import Gateway
from echosts.journal import JournalBook
from echosts.logs import tame_engineio_errors
from echosts.plans import PlanBook
from echosts.sessions_api import session_routes
from echosts.web import (
    Exposition,
    HealthHandler,
    MetricsHandler,
    NotFoundHandler,
    log_request,
    socketio_handler,
)
from echosts.wire import WirePacket

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = logging.getLogger("echosts.app")

SOCKETIO_PATHS = (r"/socket\.io/?", r"/ws/sts/?")
MIB = 1024 * 1024
SWEEP_MS = 1000


def make_socketio_server(settings: Settings) -> socketio.AsyncServer:
    tame_engineio_errors()
    return socketio.AsyncServer(
        async_mode="tornado",
        ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout,
        max_http_buffer_size=settings.max_buffer_size,
        cors_allowed_origins="*",
        serializer=WirePacket,
        # Handlers are plain functions that never wait: no task per incoming event.
        async_handlers=False,
        # Both libraries log every packet, audio included, when their loggers are on.
        logger=False,
        engineio_logger=False,
    )


def make_app(
    settings: Settings,
    sio: socketio.AsyncServer,
    fleet: Fleet,
    *,
    exposition: Exposition,
    keys: KeyRing,
    started: float,
) -> tornado.web.Application:
    websocket = socketio_handler(
        sio, compression=settings.compression, observer=exposition.observer
    )
    routes: list[tuple[Any, ...]] = [(path, websocket) for path in SOCKETIO_PATHS]
    routes.append((r"/health", HealthHandler, {"fleet": fleet, "started": started}))
    routes.append((r"/metrics", MetricsHandler, {"exposition": exposition}))
    routes.extend(control_routes(fleet, settings, keys))
    routes.extend(session_routes({"fleet": fleet, "settings": settings, "keys": keys}))
    return tornado.web.Application(
        routes,
        websocket_max_message_size=settings.max_buffer_size,
        default_handler_class=NotFoundHandler,
        log_function=log_request,
    )


@dataclass
class EchoService:
    """Everything one running echosts owns; ``listen`` binds it, ``stop`` releases it."""

    settings: Settings
    capabilities: Capabilities
    fleet: Fleet
    sio: socketio.AsyncServer
    gateway: Gateway
    keys: KeyRing
    exposition: Exposition
    app: tornado.web.Application
    http_server: HTTPServer | None = None
    port: int | None = None
    sweeper: PeriodicCallback | None = None
    """Once a second, drops clients that stopped reading (ECHO_MAX_OUTPUT_BUFFER_MB)."""

    @classmethod
    def create(
        cls,
        settings: Settings,
        capabilities: Capabilities | None = None,
        keys: KeyRing | None = None,
    ) -> EchoService:
        """The service, with its metrics observer in place of ``capabilities``' own.

        Without ``keys`` it reads the settings' keys and key file itself (KeyFileError when
        that file cannot be read).
        """
        keys = keys or KeyRing(settings.api_keys, settings.api_keys_file)
        observer = CountingObserver()
        capabilities = dataclasses.replace(capabilities or Capabilities(), observer=observer)
        fleet = Fleet(
            PlanBook(settings.max_plans, settings.plan_idle_expiry_s),
            JournalBook(settings.journal_events, settings.journal_sessions),
        )
        sio = make_socketio_server(settings)
        gateway = Gateway(sio, settings, capabilities, fleet, keys)
        exposition = Exposition(observer, fleet)
        app = make_app(
            settings, sio, fleet, exposition=exposition, keys=keys, started=time.monotonic()
        )
        return cls(settings, capabilities, fleet, sio, gateway, keys, exposition, app)

    @property
    def registry(self) -> CollectorRegistry:
        """The Prometheus registry ``/metrics`` serves (built on first use)."""
        return self.exposition.registry

    def listen(self, sockets: list[socket.socket] | None = None) -> int:
        """Starts accepting connections; returns the bound port (useful with port 0)."""
        if sockets is None:
            sockets = bind_sockets(self.settings.port, self.settings.host)
        self.http_server = HTTPServer(
            self.app,
            max_body_size=self.settings.max_buffer_size,
            max_buffer_size=self.settings.max_buffer_size,
        )
        self.http_server.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        limit = self.settings.max_output_buffer_mb * MIB
        self.sweeper = PeriodicCallback(lambda: self.fleet.drop_slow_readers(limit), SWEEP_MS)
        self.sweeper.start()
        return self.port

    async def drain(self) -> None:
        """Refuses new work, lets in-flight fragments finish, fails the rest at the deadline."""
        timeout = self.settings.drain_timeout_s
        fleet = self.fleet
        fleet.draining = True
        log.info("draining for shutdown, at most %.1f s: %s", timeout, fleet.status())
        if not await fleet.wait_idle(timeout):
            log.warning("drain timeout reached: %s", fleet.status())
            fleet.expire_all(f"server shutting down: the drain timeout of {timeout:g} s ran out")
        await fleet.flush()
        log.info("drained: %s", fleet.status())

    async def stop(self) -> None:
        """Stops listening, disconnects every client, and ends python-socketio's tasks."""
        if self.sweeper is not None:
            self.sweeper.stop()
        if self.http_server is not None:
            self.http_server.stop()
        await self.fleet.disconnect_all("server shutting down")
        await self.sio.shutdown()
        if self.http_server is not None:
            await self.http_server.close_all_connections()
