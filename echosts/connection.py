"""The pure core of one Engine.IO connection: an event in, the outputs to emit out.

Each worker event goes: handler table -> payload check -> admission table (``state.py``) ->
the session's own method (``stream.py``) -> outputs (``outputs.py``). Nothing here does IO,
awaits or reads a clock: every entry point takes ``now`` (monotonic seconds), and
``next_deadline()`` says when ``on_timer`` must be called next. The connection, not the
session, owns the deadlines: the auto-disconnect outlives a completed session, and
``simulate:disconnect`` needs no session at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from echosts import outputs
from echosts import protocol as p
from echosts.config import Settings
from echosts.context import Capabilities
from echosts.errors import ErrorCode, Rejection, metric_label
from echosts.hangup import Hangup
from echosts.journal import JournalBook, SessionJournal
from echosts.outputs import Close, Emit, Output
from echosts.plans import PlanBook
from echosts.state import UNNAMED, Phase, State, Trigger, admit
from echosts.stream import StreamSession

log = logging.getLogger("echosts.session")

IDLE = "idle: no stream:init since connecting (ECHO_IDLE_TIMEOUT_S)"
MAX_EARLIER_JOURNALS = 16
"""Completed sessions of one open connection whose journals wait for it to close; an older
one ends at once, as completed, so a connection streaming for days holds bounded memory."""


@dataclass(frozen=True, slots=True)
class PendingInit:
    """A stream:init a fault plan answers late (section 11.5): ready, or refused, at ``due``."""

    due: float
    init: p.StreamInit
    error_code: str | None


CONFIG_EVENTS: dict[str, tuple[str, Callable[..., list[Output]]]] = {
    p.CONFIG_PROCESSING_DELAY: ("ProcessingDelay", StreamSession.configure_delay),
    p.CONFIG_ERROR_SIMULATION: ("ErrorSimulation", StreamSession.configure_errors),
    p.CONFIG_BACKPRESSURE: ("Backpressure", StreamSession.configure_backpressure),
}
"""Each ``config:*`` event: the name of the model its payload must fit (the models load on
first use), and the session's method for it."""


class Connection:
    """At most one session at a time, and the connection's own deadlines."""

    __slots__ = (
        "_earlier_journals",
        "_hangup",
        "_idle_deadline",
        "_pending_init",
        "capabilities",
        "closing",
        "draining",
        "header_stream_id",
        "header_worker_id",
        "journal",
        "journals",
        "plans",
        "session",
        "settings",
    )

    def __init__(
        self,
        settings: Settings,
        capabilities: Capabilities,
        plans: PlanBook,
        *,
        journals: JournalBook,
        draining: Callable[[], bool],
        header_stream_id: str | None = None,
        header_worker_id: str | None = None,
        connected_at: float | None = None,
    ) -> None:
        self.settings = settings
        self.capabilities = capabilities
        self.plans = plans
        self.journals = journals
        self.journal: SessionJournal | None = None
        """The journal of the connection's latest session (section 12)."""
        self._earlier_journals: list[SessionJournal] = []
        """Journals of sessions this connection started before its latest: they end, as
        closed, when the connection does (the oldest ends at once past a bound)."""
        self.draining = draining
        self.header_stream_id = header_stream_id
        self.header_worker_id = header_worker_id
        self.session: StreamSession | None = None
        self.closing = False
        self._hangup = Hangup()
        self._pending_init: PendingInit | None = None
        idle = settings.idle_timeout_s
        self._idle_deadline = connected_at + idle if connected_at is not None and idle else None
        """When a connection that never started a session is dropped (section 14)."""

    @property
    def phase(self) -> Phase:
        return self.session.state if self.session is not None else None

    # entry points

    def receive(self, event: str, args: tuple[Any, ...], now: float) -> list[Output]:
        """Handles one event the worker sent; its payload is the first argument."""
        payload = args[0] if args else p.NO_PAYLOAD
        journal = self.journal
        if self.closing:
            if journal is not None:
                journal.received(event, payload, self._wall_ms())
            return []
        handler = HANDLERS.get(event)
        self.capabilities.observer.event_received(event if handler is not None else "unknown")
        if handler is None:
            message = f"unknown event {p.show(event)}: this server does not define it"
            unknown = Rejection(
                ErrorCode.INVALID_CONFIG, message, self._stream_id(), metadata={"event": event}
            )
            out = self._reject(unknown)
        else:
            out = handler(self, payload, now)
        if journal is not None and (event != p.STREAM_INIT or self.journal is journal):
            journal.received(event, payload, self._wall_ms())
        out.extend(self._settle(now))
        return self._journaled(out)

    def on_timer(self, now: float) -> list[Output]:
        """Handles every deadline that has passed by ``now``."""
        if self.closing:
            return []
        return self._journaled(self._settle(now))

    def closed(self) -> None:
        """The connection is gone: its sessions' journals end (section 12)."""
        wall_ms = self._wall_ms()
        for journal in self._earlier_journals:
            self.journals.end(journal, wall_ms, closed=True)
        self._earlier_journals = []
        if self.journal is not None:
            self.journals.end(self.journal, wall_ms, closed=True)

    def next_deadline(self) -> float | None:
        if self.closing:
            return None
        deadlines = [self._hangup.next_deadline()]
        if self._pending_init is not None:
            deadlines.append(self._pending_init.due)
        elif self.session is None:
            deadlines.append(self._idle_deadline)
        if self.session is not None:
            deadlines.append(self.session.inflight.next_due())
        return min((d for d in deadlines if d is not None), default=None)

    def expire_inflight(self, now: float, message: str) -> list[Output]:
        """Fails every unfinished fragment at once with TIMEOUT (the shutdown deadline)."""
        if self.session is not None and not self.closing:
            self.session.expire(now, message)
        return self.on_timer(now)

    def apply_plan(self, plan: p.FaultPlan, now: float) -> list[Output]:
        """A fault plan stored for this connection's stream applies at once; last writer wins."""
        session = self.session
        if session is None or session.state is State.COMPLETED or self.closing:
            return []
        out = session.apply_plan(plan, now)
        out.extend(self._settle(now))
        return self._journaled(out)

    def schedule_disconnect(self, now: float, delay_ms: int, close: Close) -> list[Output]:
        """Drops the connection ``delay_ms`` from now, as ``close`` says, session or not."""
        if self.closing:
            return []
        self._schedule_disconnect(now + delay_ms / 1000, close)
        return self._journaled(self._settle(now))

    def push(self, emit: Emit) -> list[Output]:
        """An event a test pushes (section 11.8): sent as it is, the session left as it was."""
        if self.session is None or self.closing:
            return []
        log.info(
            "event pushed through the control API: %s",
            emit.event,
            extra={"stream_id": self.session.stream_id},
        )
        self.capabilities.observer.fault_injected("push")
        return self._journaled([emit])

    # worker events

    def _stream_init(self, payload: Any, now: float) -> list[Output]:
        event = p.STREAM_INIT
        if self.draining():
            return self._refuse_draining()
        parsed = p.validate(p.StreamInit, payload)
        if isinstance(parsed, tuple):
            return self._invalid(event, parsed)
        if self._pending_init is not None:
            pending = self._pending_init.init.stream_id
            message = f"{event}: the stream:init of stream {p.show(pending)} is still pending"
            rejection = Rejection(ErrorCode.INVALID_CONFIG, message, metadata={"event": event})
            return self._reject(rejection)
        if (rejection := self._admit(event)) is not None:
            return self._reject(rejection)
        self._hangup.cancel_auto()
        fault = self.plans.take_init(parsed.stream_id, now)
        if fault is None:
            return self._start(parsed, now)
        self.session = None
        self._pending_init = PendingInit(now + fault.delay_ms / 1000, parsed, fault.error_code)
        self.capabilities.observer.fault_injected(
            "init_error" if fault.error_code is not None else "init_delay"
        )
        log.info(
            "stream:init held by the fault plan: stream_id=%s delay_ms=%d error_code=%s",
            parsed.stream_id,
            fault.delay_ms,
            fault.error_code,
            extra={"stream_id": parsed.stream_id},
        )
        return []

    def _refuse_draining(self) -> list[Output]:
        message = "stream:init refused: the server is draining for shutdown"
        return self._reject(
            Rejection(ErrorCode.RATE_LIMIT, message, metadata={"event": p.STREAM_INIT})
        )

    def _start(self, init: p.StreamInit, now: float) -> list[Output]:
        """A new session for ``init``: stream:ready, then what its stream's plan does at once."""
        worker_id = init.worker_id or self.header_worker_id or "unknown"
        session_id = self.capabilities.new_id()
        session = StreamSession(init, worker_id, session_id, self.settings, self.capabilities)
        self.session = session
        self._idle_deadline = None
        wall_ms = self._wall_ms()
        if self.journal is not None:
            self._keep_earlier(self.journal, wall_ms)
        self.journal = self.journals.start(
            session_id,
            stream_id=session.stream_id,
            worker_id=worker_id,
            t_ms=wall_ms,
            session=session,
        )
        self.journal.received(p.STREAM_INIT, None, wall_ms)
        out: list[Output] = [
            outputs.stream_ready(session.stream_id, session_id, session.max_inflight)
        ]
        plan = self.plans.use(session.stream_id, now)
        if plan is not None:
            out.extend(session.apply_plan(plan, now))
        self.capabilities.observer.stream_started()
        session.log.info(
            "stream started: worker_id=%s max_inflight=%d", worker_id, session.max_inflight
        )
        return out

    def _fragment_data(self, payload: Any, now: float) -> list[Output]:
        event = p.FRAGMENT_DATA
        if not isinstance(payload, dict):
            return self._invalid(event, p.not_an_object(payload))
        fragment_id = p.readable_id(payload.get("fragment_id"))
        rejection = self._admit(event, payload.get("stream_id"), fragment_id)
        if rejection is not None:
            return self._reject(rejection)
        result = self._admitted_session().receive_fragment(payload, fragment_id, now)
        return self._reject(result) if isinstance(result, Rejection) else result

    def _worker_ack(self, payload: Any, now: float) -> list[Output]:
        parsed = p.validate(p.WorkerAck, payload)
        if isinstance(parsed, tuple):
            return self._invalid(p.FRAGMENT_ACK, parsed)
        if self.journal is not None:
            self.journal.ack_received()
        if self.session is not None:
            self.session.record_ack(parsed)
        else:
            log.debug(
                "worker ack for an unknown fragment ignored: fragment_id=%s",
                parsed.fragment_id,
                extra={"fragment_id": parsed.fragment_id},
            )
        return []

    def _control(self, payload: Any, now: float, event: str, trigger: Trigger) -> list[Output]:
        """``stream:pause``, ``stream:resume`` and ``stream:end``: the whole payload first."""
        parsed = p.validate(p.StreamControl, payload)
        if isinstance(parsed, tuple):
            return self._invalid(event, parsed)
        if (rejection := self._admit(event, parsed.stream_id)) is not None:
            return self._reject(rejection)
        self._admitted_session().move(trigger, parsed.reason)
        return []

    def _configure(
        self,
        payload: Any,
        now: float,
        event: str,
        model: str,
        apply: Callable[[StreamSession, Any, float], list[Output]],
    ) -> list[Output]:
        """A ``config:*`` event: the session first, then the payload, then its own ack."""
        if (rejection := self._admit(event)) is not None:
            return self._reject(rejection)
        parsed = p.validate(getattr(p, model), payload)
        if isinstance(parsed, tuple):
            log.info("%s rejected: %s", event, parsed[1], extra={"stream_id": self._stream_id()})
            return [outputs.config_rejected(event, parsed[1])]
        return apply(self._admitted_session(), parsed, now)

    def _simulate_disconnect(self, payload: Any, now: float) -> list[Output]:
        event = p.SIMULATE_DISCONNECT
        parsed = p.validate(p.SimulateDisconnect, payload)
        if isinstance(parsed, tuple):
            return self._invalid(event, parsed)
        reason = parsed.reason or event
        close = Close(reason, parsed.mode, parsed.hang_ms)
        self._schedule_disconnect(now + parsed.delay_ms / 1000, close)
        at_ms = round(self.capabilities.wall_time() * 1000) + parsed.delay_ms
        log.info(
            "disconnect scheduled: stream_id=%s delay_ms=%d mode=%s reason=%s",
            self._stream_id(),
            parsed.delay_ms,
            parsed.mode,
            reason,
            extra={"stream_id": self._stream_id()},
        )
        return [outputs.disconnect_scheduled(at_ms)]

    # helpers

    def _keep_earlier(self, journal: SessionJournal, wall_ms: float) -> None:
        earlier = self._earlier_journals
        earlier.append(journal)
        if len(earlier) > MAX_EARLIER_JOURNALS:
            self.journals.end(earlier.pop(0), wall_ms, closed=False)

    def _wall_ms(self) -> float:
        return round(self.capabilities.wall_time() * 1000, 3)

    def _journaled(self, out: list[Output]) -> list[Output]:
        """``out``, each event of it written to the session's journal first."""
        journal = self.journal
        if journal is not None and out:
            wall_ms = self._wall_ms()
            for output in out:
                if isinstance(output, Emit):
                    journal.sent(output.event, output.data, wall_ms)
        return out

    def _settle(self, now: float) -> list[Output]:
        """Releases what is due, completes an ending stream, and closes when it is time."""
        out: list[Output] = []
        pending = self._pending_init
        if pending is not None and pending.due <= now:
            self._pending_init = None
            out.extend(self._answer_pending(pending, now))
        session = self.session
        if session is not None:
            out.extend(session.release_due(now))
            if session.state is State.ENDING and not session.inflight:
                out.append(session.complete(now))
                self._hangup.auto_at(now + self.settings.auto_disconnect_s)
        close = self._hangup.due(now)
        if close is None and self._idle(now):
            out.extend(self._drop_idle())
            close = Close(IDLE)
        if close is not None:
            self.closing = True
            out.append(close)
        return out

    def _idle(self, now: float) -> bool:
        deadline = self._idle_deadline
        return (
            deadline is not None
            and deadline <= now
            and self.session is None
            and self._pending_init is None
        )

    def _drop_idle(self) -> list[Output]:
        """The error that tells an idle client why it is dropped, counted as a limit."""
        self.capabilities.observer.limit_reached("idle")
        timeout = self.settings.idle_timeout_s
        message = f"no stream:init within {timeout:g} s of connecting: disconnecting"
        log.info("dropping an idle connection: %s", message)
        return [outputs.error(Rejection(ErrorCode.TIMEOUT, message), self.capabilities.new_id())]

    def _answer_pending(self, pending: PendingInit, now: float) -> list[Output]:
        """A held stream:init's answer; the server may have begun draining meanwhile."""
        if pending.error_code is None:
            if self.draining():
                return self._refuse_draining()
            return self._start(pending.init, now)
        stream_id = pending.init.stream_id
        message = f"stream:init refused by the fault plan of stream {p.show(stream_id)}"
        rejection = Rejection(
            pending.error_code, message, stream_id, metadata={"event": p.STREAM_INIT}
        )
        return self._reject(rejection)

    def _schedule_disconnect(self, due: float, close: Close) -> None:
        kind = "disconnect" if close.mode == "server_disconnect" else close.mode
        self.capabilities.observer.fault_injected(kind)
        self._hangup.schedule(due, close)

    def _stream_id(self) -> str | None:
        return self.session.stream_id if self.session is not None else None

    def _admitted_session(self) -> StreamSession:
        """The session of an event the admission table let in: only phases with one do."""
        assert self.session is not None, "the admission table admitted an event with no session"
        return self.session

    def _admit(
        self, event: str, claimed: Any = UNNAMED, fragment_id: str | None = None
    ) -> Rejection | None:
        return admit(event, self.phase, self._stream_id(), claimed, fragment_id)

    def _invalid(self, event: str, problem: tuple[str, str]) -> list[Output]:
        field, message = problem
        metadata = {"event": event, "field": field} if field else {"event": event}
        code = ErrorCode.INVALID_CONFIG
        return self._reject(
            Rejection(code, f"{event}: {message}", self._stream_id(), None, metadata)
        )

    def _reject(self, rejection: Rejection) -> list[Output]:
        event = rejection.event
        self.capabilities.observer.event_rejected(
            event if event in HANDLERS else "unknown", metric_label(rejection.code)
        )
        log.info(
            "rejected %s: code=%s stream_id=%s fragment_id=%s: %s",
            event,
            rejection.code,
            rejection.stream_id,
            rejection.fragment_id,
            rejection.message,
            extra={"stream_id": rejection.stream_id, "fragment_id": rejection.fragment_id},
        )
        return [outputs.error(rejection, self.capabilities.new_id())]


Handler = Callable[[Connection, Any, float], list[Output]]
HANDLERS: dict[str, Handler] = {
    p.STREAM_INIT: Connection._stream_init,
    p.FRAGMENT_DATA: Connection._fragment_data,
    p.FRAGMENT_ACK: Connection._worker_ack,
    p.STREAM_PAUSE: partial(Connection._control, event=p.STREAM_PAUSE, trigger=Trigger.PAUSE),
    p.STREAM_RESUME: partial(Connection._control, event=p.STREAM_RESUME, trigger=Trigger.RESUME),
    p.STREAM_END: partial(Connection._control, event=p.STREAM_END, trigger=Trigger.END),
    p.SIMULATE_DISCONNECT: Connection._simulate_disconnect,
    **{
        event: partial(Connection._configure, event=event, model=model, apply=apply)
        for event, (model, apply) in CONFIG_EVENTS.items()
    },
}
"""Every worker event this server defines and the method that handles it: one table, shared."""
