"""Tornado handlers: the Socket.IO endpoint's transport tuning, and ``/health``."""

from __future__ import annotations

import importlib
import json
import logging
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

import socketio
import tornado.web

from echosts import __version__
from echosts.counting import CountingObserver
from echosts.fleet import Fleet
from echosts.observe import Observer
from echosts.transport import FaultableWebSocket

if TYPE_CHECKING:
    from types import ModuleType

    from prometheus_client import CollectorRegistry

access_log = logging.getLogger("echosts.access")

QUIET_PATHS = ("/health", "/metrics")


def socketio_handler(
    sio: socketio.AsyncServer, *, compression: bool, observer: Observer
) -> type[Any]:
    """python-socketio's Tornado handler with Nagle off and compression only when enabled.

    engine.io's handler accepts permessage-deflate from every client and leaves Nagle's
    algorithm on, so a small fragment waits about 40 ms for a delayed ACK.
    """
    base = socketio.get_tornado_handler(sio)

    class EchoSocketHandler(FaultableWebSocket, base):  # type: ignore[misc, valid-type]
        async def open(self, *args: Any, **kwargs: Any) -> None:
            self.set_nodelay(True)
            await super().open(*args, **kwargs)

        def message_too_big(self) -> None:
            access_log.warning(
                "closing a WebSocket from %s: a message over WS_MAX_BUFFER_SIZE",
                self.request.remote_ip,
            )
            observer.limit_reached("message_size")

        def get_compression_options(self) -> dict[str, Any] | None:
            return {} if compression else None

    return EchoSocketHandler


class JsonError(tornado.web.HTTPError):
    """An HTTP error that answers a JSON body: the message, and what else names the problem."""

    def __init__(self, status_code: int, message: str, **details: Any) -> None:
        super().__init__(status_code)
        self.body = {"error": message, **details}


class JsonHandler(tornado.web.RequestHandler):
    """Answers JSON that no cache keeps: every HTTP route but /metrics."""

    def reply(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        problem = kwargs.get("exc_info", (None, None, None))[1]
        body = problem.body if isinstance(problem, JsonError) else {"error": self._reason}
        self.reply(status_code, body)


class HealthHandler(JsonHandler):
    def initialize(self, fleet: Fleet, started: float) -> None:
        self.fleet = fleet
        self.started = started

    def get(self) -> None:
        draining = self.fleet.draining
        body = {
            "status": "draining" if draining else "healthy",
            "sessions": self.fleet.session_count,
            "connections": self.fleet.connection_count,
            "uptime_seconds": round(time.monotonic() - self.started, 3),
            "version": __version__,
        }
        self.reply(503 if draining else 200, body)


class Exposition:
    """What ``/metrics`` serves, with prometheus_client loaded and the registry built on the
    first scrape: a process that is never scraped, or not yet, does not pay for them."""

    def __init__(self, observer: CountingObserver, fleet: Fleet) -> None:
        self.observer = observer
        self.fleet = fleet

    @cached_property
    def _metrics(self) -> ModuleType:
        return importlib.import_module("echosts.metrics")

    @cached_property
    def registry(self) -> CollectorRegistry:
        registry: CollectorRegistry = self._metrics.make_registry(self.observer, self.fleet)
        return registry

    def render(self, accept: str) -> tuple[bytes, str]:
        """The exposition body and its content type, in the format ``accept`` asks for."""
        body, content_type = self._metrics.render(self.registry, accept)
        return body, content_type


class MetricsHandler(tornado.web.RequestHandler):
    def initialize(self, exposition: Exposition) -> None:
        self.exposition = exposition

    def get(self) -> None:
        body, content_type = self.exposition.render(self.request.headers.get("Accept", ""))
        self.set_header("Content-Type", content_type)
        self.finish(body)


class NotFoundHandler(JsonHandler):
    """Every unknown path answers JSON, like the rest of the HTTP surface."""

    def prepare(self) -> None:
        self.reply(404, {"error": f"no route for {self.request.path}"})


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Tornado's access log, with health checks and scrapes at debug so they do not flood it."""
    request = handler.request
    status = handler.get_status()
    if status >= 500:
        level = logging.ERROR
    elif status >= 400:
        level = logging.INFO
    elif request.path in QUIET_PATHS or request.path.startswith(("/socket.io", "/ws/sts")):
        level = logging.DEBUG
    else:
        level = logging.INFO
    access_log.log(
        level,
        "%d %s %s %.1fms",
        status,
        request.method,
        request.uri if not request.path.startswith(("/socket.io", "/ws/sts")) else request.path,
        1000.0 * request.request_time(),
    )
