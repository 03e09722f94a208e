"""One stream on one connection: accept fragments, release them in order, complete.

A ``StreamSession`` owns its fields; the connection asks it to do things and emits what it
returns. Its checks run in the protocol's order (size, payload, sequence, queue) once the
connection's admission table has let the event in. Nothing here does IO or reads a clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from echosts import outputs
from echosts import protocol as p
from echosts.config import Settings
from echosts.context import Capabilities
from echosts.errors import ErrorCode, Rejection, traits
from echosts.faults import CLEAR, DelaySpec, Level, QueueRule, SessionFaults
from echosts.logs import StreamLog
from echosts.outputs import DROPPED, Emit, Output
from echosts.sequence import InFlightFragment, OrderedInFlight, Sequencer
from echosts.state import State, Trigger, after
from echosts.stats import SessionStatistics

log = logging.getLogger("echosts.session")


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _refused(
    stream_id: str, fragment_id: str | None, code: ErrorCode, message: str, **metadata: Any
) -> Rejection:
    """A refused fragment:data, naming its fragment_id when it has a readable one."""
    return Rejection(code, message, stream_id, fragment_id, {"event": p.FRAGMENT_DATA, **metadata})


@dataclass(frozen=True, slots=True)
class StreamParameters:
    """What a stream:init's ``config`` said, kept by the session for as long as it lives.

    Slotted: the pydantic model it comes from costs about 1 KB more per idle session.
    """

    source_language: str
    target_language: str
    voice_profile: str
    chunk_duration_ms: int
    sample_rate_hz: int
    channels: int
    format: str

    @classmethod
    def of(cls, config: p.StreamConfig) -> StreamParameters:
        return cls(
            config.source_language,
            config.target_language,
            config.voice_profile,
            config.chunk_duration_ms,
            config.sample_rate_hz,
            config.channels,
            config.format,
        )


class StreamSession:
    """From a stream:init until its connection closes, through every state of ``state.py``."""

    __slots__ = (
        "_observer",
        "_settings",
        "config",
        "faults",
        "inflight",
        "level",
        "log",
        "max_inflight",
        "sequence",
        "session_id",
        "state",
        "stats",
        "stream_id",
        "timeout_ms",
        "worker_acks",
        "worker_id",
    )

    def __init__(
        self,
        init: p.StreamInit,
        worker_id: str,
        session_id: str,
        settings: Settings,
        capabilities: Capabilities,
    ) -> None:
        self.stream_id = init.stream_id
        self.worker_id = worker_id
        self.session_id = session_id
        self.config = StreamParameters.of(init.config)
        self.max_inflight = init.max_inflight
        self.timeout_ms = init.timeout_ms
        self.state = State.ACTIVE
        self.inflight = OrderedInFlight()
        self.stats = SessionStatistics()
        self.sequence = Sequencer(settings.fragment_id_window)
        self.worker_acks = {"received": 0, "applied": 0}
        self.faults = SessionFaults(
            DelaySpec(settings.processing_delay_ms, settings.processing_jitter_ms),
            capabilities.session_rng(),
            init.max_inflight,
            settings.backpressure_enabled,
            QueueRule(settings.queue_limit),
        )
        self.level: Level | None = None
        """The backpressure level last reported; None before any."""
        self.log = StreamLog(log, self.stream_id, session_id)
        self._settings = settings
        self._observer = capabilities.observer

    def move(self, trigger: Trigger, reason: str | None = None) -> None:
        before = self.state
        self.state = after(before, trigger)
        if self.state is not before:
            self.log.info(
                "stream %s: reason=%s inflight=%d", self.state.value, reason, len(self.inflight)
            )

    # fragments in

    def receive_fragment(
        self, payload: dict[str, Any], fragment_id: str | None, now: float
    ) -> list[Output] | Rejection:
        """A ``fragment:data`` the admission table let in: checked, then accepted or refused.

        ``fragment_id`` is the payload's, when it is readable before validation.
        """
        refuse = partial(_refused, self.stream_id, fragment_id)
        audio = payload.get("audio")
        data = audio.get("data_base64") if isinstance(audio, dict) else None
        if isinstance(data, str) and len(data) > p.MAX_FRAGMENT_CHARS:
            self.sequence.use_up(payload.get("sequence_number"))
            return refuse(
                ErrorCode.FRAGMENT_TOO_LARGE,
                f"audio.data_base64 has {len(data)} characters, over the limit of "
                f"{p.MAX_FRAGMENT_CHARS}",
                field="audio.data_base64",
                size=len(data),
                limit=p.MAX_FRAGMENT_CHARS,
            )
        parsed = p.validate(p.FragmentData, payload)
        if isinstance(parsed, tuple):
            self.sequence.use_up(payload.get("sequence_number"))
            field, message = parsed
            return refuse(ErrorCode.INVALID_CONFIG, f"{p.FRAGMENT_DATA}: {message}", field=field)
        problem = self.sequence.check(parsed.fragment_id, parsed.sequence_number)
        if problem is not None:
            return refuse(ErrorCode.INVALID_SEQUENCE, problem.message, **problem.metadata)
        queue = self.faults.queue
        inflight = len(self.inflight)
        if inflight + 1 > queue.limit:
            if not traits(queue.code).retryable:
                self.sequence.use_up(parsed.sequence_number)
            return refuse(
                queue.code,
                f"{inflight} fragments in flight: the queue limit is {queue.limit}",
                inflight=inflight,
                limit=queue.limit,
            )
        return self._accept(parsed, payload["audio"], now)

    def _accept(self, fragment: p.FragmentData, audio: dict[str, Any], now: float) -> list[Output]:
        queue_position = len(self.inflight)
        fragment_id, number = fragment.fragment_id, fragment.sequence_number
        ordinal = self.sequence.accept(fragment_id, number)
        due, outcome = self.faults.decide(fragment_id, number, ordinal, self.timeout_ms, now)
        self._observer.fragment_accepted(p.decoded_size(fragment.audio.data_base64))
        self.inflight.add(
            InFlightFragment(
                fragment_id=fragment_id,
                sequence_number=number,
                arrival=now,
                due=due,
                audio=audio,
                duration_ms=fragment.audio.duration_ms,
                outcome=outcome,
            )
        )
        release = self.inflight.last_release()
        release = due if release is None else release
        self.log.debug(
            "fragment accepted: fragment_id=%s sequence_number=%d due_in_ms=%d",
            fragment_id,
            number,
            _ms(due - now),
            extra={"fragment_id": fragment_id},
        )
        ack = outputs.fragment_ack(fragment_id, queue_position, max(0, _ms(release - now)))
        return [ack, *self._backpressure(now)]

    def record_ack(self, ack: p.WorkerAck) -> None:
        """A worker's own fragment:ack; one for a fragment never accepted is ignored."""
        extra = {"fragment_id": ack.fragment_id}
        if ack.fragment_id not in self.sequence:
            self.log.debug(
                "worker ack for an unknown fragment ignored: fragment_id=%s",
                ack.fragment_id,
                extra=extra,
            )
            return
        self.worker_acks[ack.status] += 1
        self.log.debug(
            "worker ack: fragment_id=%s status=%s", ack.fragment_id, ack.status, extra=extra
        )

    # fault settings, from config events and plans

    def configure_delay(self, config: p.ProcessingDelay, now: float) -> list[Output]:
        spec = self.faults.set_delay(config)
        self.log.info(
            "processing delay set: delay_ms=%d jitter_ms=%d distribution=%s mode=%s "
            "enforce_timeout=%s",
            spec.delay_ms,
            spec.jitter_ms,
            spec.distribution,
            config.mode,
            spec.enforce_timeout,
        )
        return [outputs.processing_delay_accepted(spec)]

    def configure_errors(self, config: p.ErrorSimulation, now: float) -> list[Output]:
        rules = self.faults.set_rules(config, self.sequence.accepted_count)
        self.log.info("error simulation set: rules=%d", rules)
        return [outputs.error_simulation_accepted(rules)]

    def configure_backpressure(self, config: p.Backpressure, now: float) -> list[Output]:
        """The ack, then the level change the new rules cause, if any."""
        self.faults.set_backpressure(config, self._settings.backpressure_enabled)
        return [outputs.backpressure_accepted(), *self._backpressure(now)]

    def apply_plan(self, plan: p.FaultPlan, now: float) -> list[Output]:
        """A fault plan's keys, as their config events would set them, without the acks."""
        out: list[Output] = []
        if plan.error_simulation is not None:
            self.configure_errors(plan.error_simulation, now)
        if plan.processing_delay is not None:
            self.configure_delay(plan.processing_delay, now)
        if plan.drop_processed is not None:
            self._drop(plan.dropped())
        if plan.queue is not None:
            self.faults.set_queue(plan.queue)
        if plan.backpressure is not None:
            self.faults.set_backpressure(plan.backpressure, self._settings.backpressure_enabled)
            out.extend(self._backpressure(now))
        keys = ",".join(sorted(plan.model_dump(exclude_none=True)))
        self.log.info("fault plan applied: keys=%s", keys)
        return out

    def _drop(self, sequences: frozenset[int]) -> None:
        """Drops apply to later fragments and, unlike other faults, to those in flight."""
        self.faults.set_drops(sequences)
        for fragment in self.inflight:
            if fragment.sequence_number in sequences:
                fragment.outcome = DROPPED

    # fragments out

    def release_due(self, now: float) -> list[Output]:
        """Every fragment:processed that can go out at ``now``, in order, with backpressure."""
        out: list[Output] = []
        while (fragment := self.inflight.pop_ready(now)) is not None:
            out.extend(self._release(fragment, now))
            out.extend(self._backpressure(now))
        return out

    def expire(self, now: float, message: str) -> None:
        """Fails every unfinished fragment at once with TIMEOUT (the shutdown deadline)."""
        self.inflight.expire(now, outputs.failure(ErrorCode.TIMEOUT, message))

    def complete(self, now: float) -> Emit:
        """stream:complete, once an ending stream has nothing left in flight."""
        self.state = after(self.state, Trigger.DRAINED)
        self._observer.stream_completed()
        self.log.info("stream completed: total_fragments=%d", self.stats.total_fragments)
        return outputs.stream_complete(self.stream_id, self.stats)

    def _release(self, fragment: InFlightFragment, now: float) -> list[Output]:
        outcome = fragment.outcome
        observer = self._observer
        observer.fragment_finished(
            "dropped" if outcome.dropped else outcome.status,
            now - fragment.arrival,
            max(0.0, now - fragment.due),
        )
        fault = "drop" if outcome.dropped else outcome.fault
        if fault is not None:
            observer.fault_injected(fault)
        extra = {"fragment_id": fragment.fragment_id}
        if outcome.dropped:
            self.stats.record_dropped(fragment.duration_ms)
            self.log.info(
                "fragment:processed dropped by plan: fragment_id=%s",
                fragment.fragment_id,
                extra=extra,
            )
            return []
        processing_time_ms = _ms(now - fragment.arrival)
        self.stats.record_emitted(outcome.status, processing_time_ms, fragment.duration_ms)
        self.log.debug(
            "fragment processed: fragment_id=%s status=%s processing_time_ms=%d",
            fragment.fragment_id,
            outcome.status,
            processing_time_ms,
            extra=extra,
        )
        return [
            outputs.fragment_processed(
                fragment_id=fragment.fragment_id,
                stream_id=self.stream_id,
                sequence_number=fragment.sequence_number,
                audio=fragment.audio,
                outcome=outcome,
                processing_time_ms=processing_time_ms,
            )
        ]

    def _backpressure(self, now: float) -> list[Output]:
        """A backpressure event when the level for what is in flight changed."""
        inflight = len(self.inflight)
        level = self.faults.backpressure.level(inflight)
        if level == self.level:
            return []
        self.level = level
        shown = level or CLEAR
        self._observer.backpressure_changed(shown.severity, shown.action)
        self.log.info(
            "backpressure: severity=%s action=%s inflight=%d",
            shown.severity,
            shown.action,
            inflight,
        )
        return [
            outputs.backpressure(self.stream_id, shown, inflight, self.inflight.unfinished(now))
        ]
