"""The per-connection state machine: events and the current time in, events to emit out.

Nothing here does IO, awaits, or reads a clock. Every entry point takes ``now`` (monotonic
seconds) and returns the ordered outputs; ``next_deadline()`` says when ``on_timer`` must be
called next. The connection, not the session, owns the deadlines: the auto-disconnect outlives
a completed session.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from echosts import protocol as p
from echosts.context import ServiceContext
from echosts.errors import ErrorCode, Rejection
from echosts.faults import (
    CLEAR,
    BackpressurePolicy,
    DelayModel,
    DelaySpec,
    Level,
    SimulatedError,
    ThresholdRule,
    error_outcome,
    first_match,
    simulated_errors,
)
from echosts.ordering import InFlightFragment, OrderedInFlight, Outcome
from echosts.plans import FaultPlan
from echosts.stats import SessionStatistics

log = logging.getLogger("echosts.session")


class State(Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDING = "ending"
    COMPLETED = "completed"


class Trigger(Enum):
    PAUSE = "pause"
    RESUME = "resume"
    END = "end"
    DRAINED = "drained"


TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (State.ACTIVE, Trigger.PAUSE): State.PAUSED,
    (State.PAUSED, Trigger.PAUSE): State.PAUSED,
    (State.PAUSED, Trigger.RESUME): State.ACTIVE,
    (State.ACTIVE, Trigger.RESUME): State.ACTIVE,
    (State.ACTIVE, Trigger.END): State.ENDING,
    (State.PAUSED, Trigger.END): State.ENDING,
    (State.ENDING, Trigger.DRAINED): State.COMPLETED,
}
"""Every legal move of a session; anything else is a peer fault or our bug."""

ENDED = (State.ENDING, State.COMPLETED)


@dataclass(frozen=True)
class Emit:
    event: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Close:
    reason: str


Output = Emit | Close


def _show(value: Any, limit: int = 64) -> str:
    """A short repr for messages: a worker's values may be arbitrarily long."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _readable_id(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 256 else None


def _readable_sequence(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _decoded_size(data_base64: str) -> int:
    """Bytes of audio a padded base64 string carries, without decoding it."""
    padding = 2 if data_base64.endswith("==") else 1 if data_base64.endswith("=") else 0
    return len(data_base64) // 4 * 3 - padding


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class StreamSession:
    """One stream on one connection, from its stream:init until the connection closes."""

    def __init__(
        self,
        init: p.StreamInit,
        worker_id: str,
        session_id: str,
        context: ServiceContext,
        started: float,
    ) -> None:
        settings = context.settings
        self.stream_id = init.stream_id
        self.worker_id = worker_id
        self.session_id = session_id
        self.config = init.config
        self.max_inflight = init.max_inflight
        self.timeout_ms = init.timeout_ms
        self.started = started
        self.state = State.ACTIVE
        self.inflight = OrderedInFlight()
        self.stats = SessionStatistics()
        self.expected_sequence: int | None = None
        self.accepted_ids: set[str] = set()
        self.accepted_count = 0
        self.worker_acks = {"received": 0, "applied": 0}
        self.rng = context.session_rng()
        self.delay = DelayModel(
            DelaySpec(settings.processing_delay_ms, settings.processing_jitter_ms), self.rng
        )
        self.backpressure = BackpressurePolicy(
            max_inflight=init.max_inflight, ladder=settings.backpressure_enabled
        )
        self.level: Level | None = None
        self.error_rules: tuple[SimulatedError, ...] = ()
        self.drop_sequences: frozenset[int] = frozenset()

    def move(self, trigger: Trigger) -> None:
        self.state = TRANSITIONS[(self.state, trigger)]


class Connection:
    """The core of one Engine.IO connection: at most one session, and the connection's timers."""

    def __init__(
        self,
        context: ServiceContext,
        *,
        header_stream_id: str | None = None,
        header_worker_id: str | None = None,
    ) -> None:
        self.context = context
        self.header_stream_id = header_stream_id
        self.header_worker_id = header_worker_id
        self.session: StreamSession | None = None
        self.closing = False
        self._auto_disconnect_at: float | None = None
        self._disconnect: tuple[float, str] | None = None
        """The earliest scheduled disconnect and its reason; a later one cannot come first."""
        self._handlers: dict[str, Callable[[Any, float], list[Output]]] = {
            p.STREAM_INIT: self._stream_init,
            p.FRAGMENT_DATA: self._fragment_data,
            p.FRAGMENT_ACK: self._worker_ack,
            p.STREAM_PAUSE: self._stream_pause,
            p.STREAM_RESUME: self._stream_resume,
            p.STREAM_END: self._stream_end,
            p.CONFIG_PROCESSING_DELAY: self._config_processing_delay,
            p.CONFIG_ERROR_SIMULATION: self._config_error_simulation,
            p.CONFIG_BACKPRESSURE: self._config_backpressure,
            p.SIMULATE_DISCONNECT: self._simulate_disconnect,
        }

    # entry points

    def receive(self, event: str, args: tuple[Any, ...], now: float) -> list[Output]:
        """Handles one event the worker sent; its payload is the first argument."""
        if self.closing:
            return []
        payload = args[0] if args else p.NO_PAYLOAD
        handler = self._handlers.get(event)
        self.context.observer.event_received(event if handler is not None else "unknown")
        if handler is None:
            out = self._reject(
                Rejection(
                    ErrorCode.INVALID_CONFIG,
                    f"unknown event {_show(event)}: this server does not define it",
                    stream_id=self._stream_id(),
                    metadata={"event": event},
                ),
            )
        else:
            out = handler(payload, now)
        out.extend(self._settle(now))
        return out

    def on_timer(self, now: float) -> list[Output]:
        """Handles every deadline that has passed by ``now``."""
        if self.closing:
            return []
        return self._settle(now)

    def next_deadline(self) -> float | None:
        if self.closing:
            return None
        deadlines = [self._auto_disconnect_at, self._disconnect[0] if self._disconnect else None]
        if self.session is not None:
            deadlines.append(self.session.inflight.next_due())
        return min((d for d in deadlines if d is not None), default=None)

    def expire_inflight(self, now: float, message: str) -> list[Output]:
        """Fails every unfinished fragment at once with TIMEOUT (the shutdown deadline)."""
        session = self.session
        if session is not None and not self.closing:
            session.inflight.expire(now, error_outcome(ErrorCode.TIMEOUT, message))
        return self.on_timer(now)

    def apply_plan(self, plan: FaultPlan, now: float) -> list[Output]:
        """A fault plan stored for this connection's stream applies at once; last writer wins."""
        session = self.session
        if session is None or session.state is State.COMPLETED or self.closing:
            return []
        out = self._apply_plan(session, plan, now)
        out.extend(self._settle(now))
        return out

    def schedule_disconnect(self, now: float, delay_ms: int, reason: str) -> list[Output]:
        """Drops the connection ``delay_ms`` from now, session or not."""
        if self.closing:
            return []
        self._schedule_disconnect(now + delay_ms / 1000, reason)
        return self._settle(now)

    # worker events

    def _stream_init(self, payload: Any, now: float) -> list[Output]:
        event = p.STREAM_INIT
        if self.context.draining:
            return self._reject(
                Rejection(
                    ErrorCode.RATE_LIMIT,
                    "stream:init refused: the server is draining for shutdown",
                    metadata={"event": event},
                ),
            )
        parsed = p.validate(p.StreamInit, payload)
        if isinstance(parsed, tuple):
            return self._invalid(event, parsed)
        current = self.session
        if current is not None and current.state is not State.COMPLETED:
            return self._reject(
                Rejection(
                    ErrorCode.INVALID_CONFIG,
                    f"stream:init refused: stream {_show(current.stream_id)} on this connection "
                    "has not completed; send stream:end and wait for stream:complete first",
                    stream_id=current.stream_id,
                    metadata={"event": event},
                ),
            )
        worker_id = parsed.worker_id or self.header_worker_id or "unknown"
        session = StreamSession(parsed, worker_id, self.context.new_id(), self.context, now)
        self.session = session
        self._auto_disconnect_at = None
        plan = self.context.plans.use(session.stream_id, now)
        if plan is not None:
            self._apply_plan(session, plan, now)
        self.context.observer.stream_started()
        log.info(
            "stream started: stream_id=%s session_id=%s worker_id=%s max_inflight=%d",
            session.stream_id,
            session.session_id,
            worker_id,
            session.max_inflight,
            extra={"stream_id": session.stream_id, "session_id": session.session_id},
        )
        return [
            Emit(
                p.STREAM_READY,
                {
                    "stream_id": session.stream_id,
                    "session_id": session.session_id,
                    "max_inflight": session.max_inflight,
                    "capabilities": dict(p.CAPABILITIES),
                },
            )
        ]

    def _fragment_data(self, payload: Any, now: float) -> list[Output]:
        event = p.FRAGMENT_DATA
        session = self.session
        if not isinstance(payload, dict):
            return self._invalid(
                event, ("", f"payload must be a JSON object, got {p.json_type(payload)}")
            )
        fragment_id = _readable_id(payload.get("fragment_id"))
        claimed = payload.get("stream_id")

        def reject(code: ErrorCode, message: str, **metadata: Any) -> list[Output]:
            stream_id = session.stream_id if session is not None else _readable_id(claimed)
            return self._reject(
                Rejection(code, message, stream_id, fragment_id, {"event": event, **metadata})
            )

        if session is None:
            return reject(
                ErrorCode.STREAM_NOT_FOUND, "no stream on this connection: send stream:init first"
            )
        if claimed != session.stream_id or not isinstance(claimed, str):
            return reject(
                ErrorCode.STREAM_NOT_FOUND,
                f"stream_id {_show(claimed)} is not this connection's stream "
                f"{_show(session.stream_id)}",
            )
        if session.state is State.PAUSED:
            return reject(
                ErrorCode.STREAM_PAUSED,
                f"stream {_show(session.stream_id)} is paused: send stream:resume first",
            )
        if session.state in ENDED:
            return reject(
                ErrorCode.STREAM_NOT_FOUND,
                f"stream {_show(session.stream_id)} is ending: "
                "no fragment is accepted after stream:end",
            )
        audio = payload.get("audio")
        data = audio.get("data_base64") if isinstance(audio, dict) else None
        if isinstance(data, str) and len(data) > p.MAX_FRAGMENT_CHARS:
            self._use_up(session, payload.get("sequence_number"))
            return reject(
                ErrorCode.FRAGMENT_TOO_LARGE,
                f"audio.data_base64 has {len(data)} characters, over the limit of "
                f"{p.MAX_FRAGMENT_CHARS}",
                field="audio.data_base64",
                size=len(data),
                limit=p.MAX_FRAGMENT_CHARS,
            )
        parsed = p.validate(p.FragmentData, payload)
        if isinstance(parsed, tuple):
            self._use_up(session, payload.get("sequence_number"))
            field, message = parsed
            return reject(ErrorCode.INVALID_CONFIG, f"{event}: {message}", field=field)

        number = parsed.sequence_number
        expected = session.expected_sequence
        if parsed.fragment_id in session.accepted_ids:
            return reject(
                ErrorCode.INVALID_SEQUENCE,
                f"fragment_id {_show(parsed.fragment_id)} was already accepted in this session",
                expected=expected,
                received=number,
            )
        if expected is not None and number < expected:
            return reject(
                ErrorCode.INVALID_SEQUENCE,
                f"expected {expected}, got {number}: {number} was already used",
                expected=expected,
                received=number,
            )
        if expected is not None and number > expected:
            session.expected_sequence = number + 1
            missing = f"{expected}" if number == expected + 1 else f"{expected}-{number - 1}"
            return reject(
                ErrorCode.INVALID_SEQUENCE,
                f"expected {expected}, got {number}: {missing} missing",
                expected=expected,
                received=number,
                missing_from=expected,
                missing_to=number - 1,
            )
        limit = self.context.settings.queue_limit
        if len(session.inflight) + 1 > limit:
            return reject(
                ErrorCode.QUEUE_FULL,
                f"{len(session.inflight)} fragments in flight: the queue limit is {limit}",
                inflight=len(session.inflight),
                limit=limit,
            )
        return self._accept(session, parsed, payload["audio"], now)

    def _accept(
        self, session: StreamSession, fragment: p.FragmentData, audio: dict[str, Any], now: float
    ) -> list[Output]:
        queue_position = len(session.inflight)
        delay_ms = session.delay.sample_ms()
        due = now + min(delay_ms, session.timeout_ms) / 1000
        outcome = Outcome()
        if delay_ms > session.timeout_ms:
            outcome = error_outcome(
                ErrorCode.TIMEOUT,
                f"processing would take {round(delay_ms)} ms, over the session's "
                f"timeout_ms of {session.timeout_ms}",
                fault="timeout",
            )
        ordinal = session.accepted_count + 1
        rule = first_match(
            session.error_rules, fragment.fragment_id, fragment.sequence_number, ordinal
        )
        if rule is not None:
            outcome = rule.outcome()
        if fragment.sequence_number in session.drop_sequences:
            outcome = Outcome(dropped=True)
        self.context.observer.fragment_accepted(_decoded_size(fragment.audio.data_base64))
        session.inflight.add(
            InFlightFragment(
                fragment_id=fragment.fragment_id,
                sequence_number=fragment.sequence_number,
                arrival=now,
                due=due,
                audio=audio,
                duration_ms=fragment.audio.duration_ms,
                outcome=outcome,
            )
        )
        session.expected_sequence = fragment.sequence_number + 1
        session.accepted_ids.add(fragment.fragment_id)
        session.accepted_count += 1
        release = max((f.due for f in session.inflight if not f.outcome.dropped), default=due)
        log.debug(
            "fragment accepted: stream_id=%s fragment_id=%s sequence_number=%d due_in_ms=%d",
            session.stream_id,
            fragment.fragment_id,
            fragment.sequence_number,
            _ms(due - now),
            extra={"stream_id": session.stream_id, "fragment_id": fragment.fragment_id},
        )
        out: list[Output] = [
            Emit(
                p.FRAGMENT_ACK,
                {
                    "fragment_id": fragment.fragment_id,
                    "status": "queued",
                    "queue_position": queue_position,
                    "estimated_completion_ms": max(0, _ms(release - now)),
                },
            )
        ]
        out.extend(self._backpressure(session, now))
        return out

    def _worker_ack(self, payload: Any, now: float) -> list[Output]:
        parsed = p.validate(p.WorkerAck, payload)
        if isinstance(parsed, tuple):
            return self._invalid(p.FRAGMENT_ACK, parsed)
        session = self.session
        if session is not None and parsed.fragment_id in session.accepted_ids:
            session.worker_acks[parsed.status] += 1
            log.debug(
                "worker ack: stream_id=%s fragment_id=%s status=%s",
                session.stream_id,
                parsed.fragment_id,
                parsed.status,
                extra={"stream_id": session.stream_id, "fragment_id": parsed.fragment_id},
            )
        else:
            log.debug(
                "worker ack for an unknown fragment ignored: fragment_id=%s",
                parsed.fragment_id,
                extra={"fragment_id": parsed.fragment_id},
            )
        return []

    def _stream_pause(self, payload: Any, now: float) -> list[Output]:
        return self._control(p.STREAM_PAUSE, Trigger.PAUSE, payload)

    def _stream_resume(self, payload: Any, now: float) -> list[Output]:
        return self._control(p.STREAM_RESUME, Trigger.RESUME, payload)

    def _stream_end(self, payload: Any, now: float) -> list[Output]:
        return self._control(p.STREAM_END, Trigger.END, payload)

    def _control(self, event: str, trigger: Trigger, payload: Any) -> list[Output]:
        parsed = p.validate(p.StreamControl, payload)
        if isinstance(parsed, tuple):
            return self._invalid(event, parsed)
        session = self._session_for(event, parsed.stream_id)
        if isinstance(session, list):
            return session
        before = session.state
        session.move(trigger)
        if session.state is not before:
            log.info(
                "stream %s: stream_id=%s reason=%s inflight=%d",
                session.state.value,
                session.stream_id,
                parsed.reason,
                len(session.inflight),
                extra={"stream_id": session.stream_id, "session_id": session.session_id},
            )
        return []

    def _config_processing_delay(self, payload: Any, now: float) -> list[Output]:
        def apply(session: StreamSession, config: p.ProcessingDelay) -> list[Output]:
            self._set_processing_delay(session, config)
            spec = session.delay.spec
            accepted = {
                "status": "accepted",
                "delay_ms": spec.delay_ms,
                "jitter_ms": spec.jitter_ms,
                "distribution": spec.distribution,
            }
            return [Emit(f"{p.CONFIG_PROCESSING_DELAY}:ack", accepted)]

        return self._configure(p.CONFIG_PROCESSING_DELAY, p.ProcessingDelay, payload, apply)

    def _config_error_simulation(self, payload: Any, now: float) -> list[Output]:
        def apply(session: StreamSession, config: p.ErrorSimulation) -> list[Output]:
            self._set_error_simulation(session, config)
            accepted = {"status": "accepted", "rules_count": len(session.error_rules)}
            return [Emit(f"{p.CONFIG_ERROR_SIMULATION}:ack", accepted)]

        return self._configure(
            p.CONFIG_ERROR_SIMULATION, p.ErrorSimulation, payload, apply, rules_count=0
        )

    def _config_backpressure(self, payload: Any, now: float) -> list[Output]:
        def apply(session: StreamSession, config: p.Backpressure) -> list[Output]:
            ack = Emit(f"{p.CONFIG_BACKPRESSURE}:ack", {"status": "accepted"})
            return [ack, *self._set_backpressure(session, config, now)]

        return self._configure(p.CONFIG_BACKPRESSURE, p.Backpressure, payload, apply)

    def _configure(
        self,
        event: str,
        model: type[p.M],
        payload: Any,
        apply: Callable[[StreamSession, p.M], list[Output]],
        **rejected: Any,
    ) -> list[Output]:
        """A ``config:*`` event: session first, then the payload, then its own ack."""
        session = self._configurable_session(event)
        if isinstance(session, list):
            return session
        parsed = p.validate(model, payload)
        if isinstance(parsed, tuple):
            return [self._config_rejected(event, parsed[1], **rejected)]
        return apply(session, parsed)

    def _simulate_disconnect(self, payload: Any, now: float) -> list[Output]:
        event = p.SIMULATE_DISCONNECT
        parsed = p.validate(p.SimulateDisconnect, payload)
        if isinstance(parsed, tuple):
            return self._invalid(event, parsed)
        reason = parsed.reason or "simulate:disconnect"
        self._schedule_disconnect(now + parsed.delay_ms / 1000, reason)
        at_ms = round(self.context.wall_time() * 1000) + parsed.delay_ms
        log.info(
            "disconnect scheduled: stream_id=%s delay_ms=%d reason=%s",
            self._stream_id(),
            parsed.delay_ms,
            reason,
            extra={"stream_id": self._stream_id()},
        )
        return [Emit(f"{event}:ack", {"status": "scheduled", "disconnect_at_ms": at_ms})]

    # what a config event and a plan key do to a session

    def _apply_plan(self, session: StreamSession, plan: FaultPlan, now: float) -> list[Output]:
        out: list[Output] = []
        if plan.error_simulation is not None:
            self._set_error_simulation(session, plan.error_simulation)
        if plan.processing_delay is not None:
            self._set_processing_delay(session, plan.processing_delay)
        if plan.drop_processed is not None:
            self._set_drops(session, plan.dropped())
        if plan.backpressure is not None:
            out.extend(self._set_backpressure(session, plan.backpressure, now))
        log.info(
            "fault plan applied: stream_id=%s session_id=%s keys=%s",
            session.stream_id,
            session.session_id,
            ",".join(sorted(plan.model_dump(exclude_none=True))),
            extra={"stream_id": session.stream_id, "session_id": session.session_id},
        )
        return out

    def _set_error_simulation(self, session: StreamSession, config: p.ErrorSimulation) -> None:
        session.error_rules = simulated_errors(config)
        log.info(
            "error simulation set: stream_id=%s rules=%d",
            session.stream_id,
            len(session.error_rules),
            extra={"stream_id": session.stream_id},
        )

    def _set_processing_delay(self, session: StreamSession, config: p.ProcessingDelay) -> None:
        rng = session.rng if config.seed is None else random.Random(config.seed)
        spec = DelaySpec(config.delay_ms, config.jitter_ms, config.distribution)
        session.delay = DelayModel(spec, rng)
        log.info(
            "processing delay set: stream_id=%s delay_ms=%d jitter_ms=%d distribution=%s",
            session.stream_id,
            spec.delay_ms,
            spec.jitter_ms,
            spec.distribution,
            extra={"stream_id": session.stream_id},
        )

    def _set_backpressure(
        self, session: StreamSession, config: p.Backpressure, now: float
    ) -> list[Output]:
        rule = None
        ladder = self.context.settings.backpressure_enabled
        if not config.enabled:
            ladder = False
        elif config.threshold is None:
            ladder = True
        else:
            level = Level(str(config.severity), str(config.action), config.recommended_delay_ms)
            rule = ThresholdRule(config.threshold, level)
        session.backpressure = BackpressurePolicy(session.max_inflight, rule, ladder)
        return self._backpressure(session, now)

    def _set_drops(self, session: StreamSession, sequences: frozenset[int]) -> None:
        session.drop_sequences = sequences
        for fragment in session.inflight:
            if fragment.sequence_number in sequences:
                fragment.outcome = Outcome(dropped=True)

    # helpers

    def _settle(self, now: float) -> list[Output]:
        """Releases what is due, completes an ending stream, and closes when it is time."""
        out: list[Output] = []
        session = self.session
        if session is not None:
            while (fragment := session.inflight.pop_ready(now)) is not None:
                out.extend(self._release(session, fragment, now))
                out.extend(self._backpressure(session, now))
            if session.state is State.ENDING and not session.inflight:
                out.append(self._complete(session, now))
        reasons = []
        if self._disconnect is not None and self._disconnect[0] <= now:
            reasons.append(self._disconnect[1])
        if self._auto_disconnect_at is not None and self._auto_disconnect_at <= now:
            reasons.append("auto-disconnect after stream:complete")
        if reasons:
            self._auto_disconnect_at = None
            self._disconnect = None
            self.closing = True
            out.append(Close(reasons[0]))
        return out

    def _schedule_disconnect(self, due: float, reason: str) -> None:
        self.context.observer.fault_injected("disconnect")
        if self._disconnect is None or due < self._disconnect[0]:
            self._disconnect = (due, reason)

    def _release(
        self, session: StreamSession, fragment: InFlightFragment, now: float
    ) -> list[Output]:
        outcome = fragment.outcome
        observer = self.context.observer
        observer.fragment_finished(
            "dropped" if outcome.dropped else outcome.status,
            now - fragment.arrival,
            max(0.0, now - fragment.due),
        )
        fault = "drop" if outcome.dropped else outcome.fault
        if fault is not None:
            observer.fault_injected(fault)
        if outcome.dropped:
            session.stats.record_dropped(fragment.duration_ms)
            log.info(
                "fragment:processed dropped by plan: stream_id=%s fragment_id=%s",
                session.stream_id,
                fragment.fragment_id,
                extra={"stream_id": session.stream_id, "fragment_id": fragment.fragment_id},
            )
            return []
        processing_time_ms = _ms(now - fragment.arrival)
        session.stats.record_emitted(outcome.status, processing_time_ms, fragment.duration_ms)
        data: dict[str, Any] = {
            "fragment_id": fragment.fragment_id,
            "stream_id": session.stream_id,
            "sequence_number": fragment.sequence_number,
            "status": outcome.status,
        }
        if outcome.status != "failed":
            data["dubbed_audio"] = fragment.audio
            data["transcript"] = p.TRANSCRIPT
            data["translated_text"] = p.TRANSLATED_TEXT
        data["processing_time_ms"] = processing_time_ms
        data["stage_timings"] = p.stage_timings(processing_time_ms)
        if outcome.error is not None:
            data["error"] = dict(outcome.error)
        data["metadata"] = dict(p.MODEL_METADATA)
        log.debug(
            "fragment processed: stream_id=%s fragment_id=%s status=%s processing_time_ms=%d",
            session.stream_id,
            fragment.fragment_id,
            outcome.status,
            processing_time_ms,
            extra={"stream_id": session.stream_id, "fragment_id": fragment.fragment_id},
        )
        return [Emit(p.FRAGMENT_PROCESSED, data)]

    def _backpressure(self, session: StreamSession, now: float) -> list[Output]:
        inflight = len(session.inflight)
        level = session.backpressure.level(inflight)
        if level == session.level:
            return []
        session.level = level
        shown = level or CLEAR
        self.context.observer.backpressure_changed(shown.severity, shown.action)
        data: dict[str, Any] = {
            "stream_id": session.stream_id,
            "severity": shown.severity,
            "current_inflight": inflight,
            "queue_depth": session.inflight.unfinished(now),
            "action": shown.action,
        }
        if shown.recommended_delay_ms is not None:
            data["recommended_delay_ms"] = shown.recommended_delay_ms
        log.info(
            "backpressure: stream_id=%s severity=%s action=%s inflight=%d",
            session.stream_id,
            shown.severity,
            shown.action,
            inflight,
            extra={"stream_id": session.stream_id},
        )
        return [Emit(p.BACKPRESSURE, data)]

    def _complete(self, session: StreamSession, now: float) -> Emit:
        session.move(Trigger.DRAINED)
        self.context.observer.stream_completed()
        self._auto_disconnect_at = now + self.context.settings.auto_disconnect_s
        stats = session.stats
        log.info(
            "stream completed: stream_id=%s session_id=%s total_fragments=%d",
            session.stream_id,
            session.session_id,
            stats.total_fragments,
            extra={"stream_id": session.stream_id, "session_id": session.session_id},
        )
        return Emit(
            p.STREAM_COMPLETE,
            {
                "stream_id": session.stream_id,
                "total_fragments": stats.total_fragments,
                "total_duration_ms": stats.total_duration_ms,
                "statistics": stats.summary(),
            },
        )

    def _use_up(self, session: StreamSession, number: Any) -> None:
        """A non-retryable rejection of the expected number moves the expectation past it."""
        readable = _readable_sequence(number)
        if readable is not None and readable == session.expected_sequence:
            session.expected_sequence = readable + 1

    def _stream_id(self) -> str | None:
        return self.session.stream_id if self.session is not None else None

    def _session_for(self, event: str, stream_id: str) -> StreamSession | list[Output]:
        """The session a lifecycle event names, or the STREAM_NOT_FOUND that answers it."""
        session = self.session
        metadata = {"event": event}
        if session is None:
            return self._reject(
                Rejection(
                    ErrorCode.STREAM_NOT_FOUND,
                    f"{event}: no stream on this connection: send stream:init first",
                    _readable_id(stream_id),
                    metadata=metadata,
                )
            )
        if stream_id != session.stream_id:
            return self._reject(
                Rejection(
                    ErrorCode.STREAM_NOT_FOUND,
                    f"{event}: stream_id {_show(stream_id)} is not this connection's stream "
                    f"{_show(session.stream_id)}",
                    session.stream_id,
                    metadata=metadata,
                )
            )
        if session.state in ENDED:
            return self._reject(
                Rejection(
                    ErrorCode.STREAM_NOT_FOUND,
                    f"{event}: stream {_show(session.stream_id)} is "
                    f"{'ending' if session.state is State.ENDING else 'completed'}",
                    session.stream_id,
                    metadata=metadata,
                )
            )
        return session

    def _configurable_session(self, event: str) -> StreamSession | list[Output]:
        session = self.session
        if session is None or session.state is State.COMPLETED:
            what = "no stream on this connection" if session is None else "the stream completed"
            return self._reject(
                Rejection(
                    ErrorCode.STREAM_NOT_FOUND,
                    f"{event}: {what}: send stream:init first",
                    self._stream_id(),
                    metadata={"event": event},
                )
            )
        return session

    def _config_rejected(self, event: str, message: str, **extra: Any) -> Emit:
        log.info("%s rejected: %s", event, message, extra={"stream_id": self._stream_id()})
        body = {"status": "rejected", **extra, "message": f"{event}: {message}"}
        return Emit(f"{event}:ack", body)

    def _invalid(self, event: str, problem: tuple[str, str]) -> list[Output]:
        field, message = problem
        metadata: dict[str, Any] = {"event": event}
        if field:
            metadata["field"] = field
        return self._reject(
            Rejection(
                ErrorCode.INVALID_CONFIG,
                f"{event}: {message}",
                self._stream_id(),
                metadata=metadata,
            )
        )

    def _reject(self, rejection: Rejection) -> list[Output]:
        event = rejection.metadata.get("event")
        self.context.observer.event_rejected(
            event if event in self._handlers else "unknown", rejection.code.value
        )
        log.info(
            "rejected %s: code=%s stream_id=%s fragment_id=%s: %s",
            rejection.metadata.get("event", "event"),
            rejection.code.value,
            rejection.stream_id,
            rejection.fragment_id,
            rejection.message,
            extra={"stream_id": rejection.stream_id, "fragment_id": rejection.fragment_id},
        )
        return [Emit(p.ERROR, rejection.payload(self.context.new_id))]
