"""The control API: fault plans, forced disconnects and reset over plain HTTP.

A real end-to-end test cannot send ``config:*`` events on the worker's own connection; these
routes let it arrange faults for a stream_id before or while the worker streams. JSON in and
out; with API keys configured every route needs ``Authorization: Bearer <key>``. A bad
request raises ``JsonError``: 400 naming the field, 404, 429.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from tornado.ioloop import IOLoop

from echosts import protocol as p
from echosts.auth import KeyRing, bearer_token
from echosts.config import Settings
from echosts.errors import ErrorCode
from echosts.fleet import Fleet
from echosts.outputs import Emit
from echosts.plans import PlanLimitError
from echosts.web import JsonError, JsonHandler

if TYPE_CHECKING:
    from echosts.models import Inbound

log = logging.getLogger("echosts.control")

STREAM = r"(?P<stream_id>[^/]{1,256})"


class ControlHandler(JsonHandler):
    def initialize(self, fleet: Fleet, settings: Settings, keys: KeyRing) -> None:
        self.fleet = fleet
        self.plans = fleet.plans
        self.service_settings = settings
        self.keys = keys

    def prepare(self) -> None:
        if self.keys.enabled:
            token = bearer_token(self.request.headers.get("Authorization"))
            if not self.keys.matches(token):
                self.set_header("WWW-Authenticate", 'Bearer realm="echosts"')
                self.reply(401, {"error": "Authorization: Bearer <api key> is required"})

    def body(self, model: type[Inbound], *, empty_ok: bool = False) -> Any:
        """The request body parsed into ``model``; a 400 naming the field otherwise."""
        raw = self.request.body
        if not raw.strip() and empty_ok:
            raw = b"{}"
        try:
            payload = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as problem:
            raise JsonError(400, f"the body is not valid JSON: {problem}", field="") from None
        parsed = p.validate(model, payload)
        if isinstance(parsed, tuple):
            field, message = parsed
            raise JsonError(400, message, field=field)
        return parsed

    def now(self) -> float:
        return IOLoop.current().time()


def _no_plan(stream_id: str) -> JsonError:
    return JsonError(404, f"no fault plan for stream_id {stream_id!r}")


class PlanHandler(ControlHandler):
    def put(self, stream_id: str) -> None:
        plan = self.body(p.FaultPlan)
        try:
            stored = self.plans.put(stream_id, plan, self.now())
        except PlanLimitError as problem:
            raise JsonError(429, str(problem)) from None
        applied = self.fleet.apply_plan(stream_id, plan)
        log.info(
            "fault plan stored: stream_id=%s keys=%s active_sessions=%d",
            stream_id,
            ",".join(sorted(stored.as_json())),
            applied,
            extra={"stream_id": stream_id},
        )
        self.set_header("X-Echosts-Applied-Sessions", str(applied))
        self.reply(200, stored.as_json())

    def get(self, stream_id: str) -> None:
        stored = self.plans.get(stream_id, self.now())
        if stored is None:
            raise _no_plan(stream_id)
        self.reply(200, stored.as_json())

    def delete(self, stream_id: str) -> None:
        if not self.plans.delete(stream_id, self.now()):
            raise _no_plan(stream_id)
        log.info("fault plan deleted: stream_id=%s", stream_id, extra={"stream_id": stream_id})
        self.reply(200, {"deleted": stream_id})


class DisconnectHandler(ControlHandler):
    def post(self, stream_id: str) -> None:
        request = self.body(p.DisconnectRequest, empty_ok=True)
        count = self.fleet.disconnect_stream(
            stream_id, request.delay_ms, request.mode, request.hang_ms
        )
        log.info(
            "disconnect requested: stream_id=%s delay_ms=%d mode=%s connections=%d",
            stream_id,
            request.delay_ms,
            request.mode,
            count,
            extra={"stream_id": stream_id},
        )
        self.reply(200, {"connections": count})


class EmitHandler(ControlHandler):
    """Section 11.8: any server-to-worker event, as it is, to a stream's connections."""

    def post(self, stream_id: str) -> None:
        request = self.body(p.PushedEvent)
        count = self.fleet.push(stream_id, Emit(request.event, request.data))
        log.info(
            "event pushed: stream_id=%s event=%s connections=%d",
            stream_id,
            request.event,
            count,
            extra={"stream_id": stream_id},
        )
        self.reply(200, {"connections": count})


class RefuseHandler(ControlHandler):
    """Section 11.7: refuse the next connection attempts, whatever their headers."""

    def post(self) -> None:
        request = self.body(p.RefuseAll)
        self.fleet.refusals.set(request.count, ErrorCode(request.code))
        log.info("connection refusals set: count=%d code=%s", request.count, request.code)
        self.get()

    def get(self) -> None:
        self.reply(200, {"pending": self.fleet.refusals.count})

    def delete(self) -> None:
        self.fleet.refusals.clear()
        log.info("connection refusals cleared")
        self.get()


class ResetHandler(ControlHandler):
    def post(self) -> None:
        removed = self.plans.reset()
        self.fleet.refusals.clear()
        forgotten = self.fleet.journals.reset()
        log.info("control state reset: plans_removed=%d sessions_forgotten=%d", removed, forgotten)
        self.reply(200, {"plans_removed": removed, "sessions_forgotten": forgotten})


def control_routes(
    fleet: Fleet, settings: Settings, keys: KeyRing
) -> list[tuple[str, type[ControlHandler], dict[str, Any]]]:
    init = {"fleet": fleet, "settings": settings, "keys": keys}
    return [
        (rf"/admin/streams/{STREAM}/plan", PlanHandler, init),
        (rf"/admin/streams/{STREAM}/disconnect", DisconnectHandler, init),
        (rf"/admin/streams/{STREAM}/emit", EmitHandler, init),
        (r"/admin/connections/refuse", RefuseHandler, init),
        (r"/admin/reset", ResetHandler, init),
    ]
