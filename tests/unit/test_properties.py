"""Property-based tests of the pure session core: random event sequences through one Driver.

A hypothesis state machine sends one connection valid and invalid worker events, fires its
timers at random and changes fault plans under it, and keeps a model of what docs/protocol.md
says must happen. After every step the core's outputs and its session are checked against the
model: each answer is the one section 3 prescribes, every acknowledged fragment is reported
exactly once and in sequence order, statistics equal the counts, in-flight stays within the
queue limit and the fragment_id window within its size.

Profiles: ``default`` (CI, well under a minute) and ``soak`` (``HYPOTHESIS_PROFILE=soak``).
Neither keeps an example database.
"""

from __future__ import annotations

import base64
import itertools
import math
import os
import sys
import tracemalloc
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from echosts.models import FaultPlan
from echosts.outputs import Close, Emit, Output
from echosts.sequence import Sequencer
from tests.unit.driver import Driver, fragment

settings.register_profile(
    "default",
    max_examples=300,
    stateful_step_count=50,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("soak", settings.get_profile("default"), max_examples=5000)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.load_profile(PROFILE)

pytestmark = [pytest.mark.timeout(0)] if PROFILE == "soak" else []
"""A soak run takes minutes: past setup.cfg's per-test timeout."""

WINDOW = 8
JOURNAL_EVENTS = 64
"""The journal keeps this many entries here, so the memory test sees it full from the start."""
"""A small fragment_id window, so that eviction happens within a few dozen steps."""
STREAMS = ("s", "t")
OTHER_STREAM = "other"

RETRYABLE = {
    "QUEUE_FULL": True,
    "BACKPRESSURE_EXCEEDED": True,
    "RATE_LIMIT_EXCEEDED": True,
    "ASR_FAILED": False,
    "MY_OWN_CODE": False,
}
"""Queue codes a plan may set, with section 5 / 11.1's retryability (the model's own copy)."""

STATUSES = ("success", "partial", "failed")
SEVERITIES = ("low", "medium", "high")
ACTIONS = ("slow_down", "pause", "none")
ERROR_CODES = ("TIMEOUT", "MODEL_ERROR", "GPU_OOM", "ASR_FAILED", "RATE_LIMIT_EXCEEDED", "X_1")
CLEAR = ("low", "none", None)
DIRECT = ("error", "fragment:ack", "stream:ready")
"""Events that answer a worker event at once (with the ``*:ack`` of config and disconnect)."""


def is_direct(output: Output) -> bool:
    return isinstance(output, Emit) and (output.event in DIRECT or output.event.endswith(":ack"))


def readable_id(value: Any) -> str | None:
    return value if isinstance(value, str) and 1 <= len(value) <= 256 else None


def readable_number(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None


def nearest_rank_p95(values: list[int]) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[max(1, math.ceil(95 / 100 * len(ordered))) - 1]


# strategies of payloads


def optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


valid_delay = st.fixed_dictionaries(
    {"delay_ms": st.sampled_from([0, 0, 50, 300, 1200, 2500])},
    optional={
        "jitter_ms": st.sampled_from([0, 100, 900, 2000]),
        "distribution": st.sampled_from(["uniform", "lognormal"]),
        "seed": st.integers(0, 2**32),
        "enforce_timeout": st.booleans(),
        "mode": st.sampled_from(["parallel", "serial"]),
    },
)
invalid_delay = st.sampled_from(
    [
        {"delay_ms": -1},
        {"delay_ms": 60_001},
        {"delay_ms": "100"},
        {"delay_ms": None},
        {"delay_ms": 10, "jitter_ms": None},
        {"delay_ms": 10, "mode": "batch"},
        {"delay_ms": 10, "distribution": "normal"},
        {"jitter_ms": 10},
        [],
        "delay",
    ]
)


def error_rule() -> st.SearchStrategy[dict[str, Any]]:
    value = {
        "sequence_number": st.integers(0, 20),
        "fragment_id": st.builds(lambda n: f"f{n}", st.integers(0, 40)),
        "nth_fragment": st.integers(1, 4),
        "sequence_range": st.tuples(st.integers(0, 10), st.integers(0, 10)).map(sorted),
        "next_n": st.integers(1, 4),
        "probability": st.sampled_from([0, 0.3, 0.5, 1, 1.0]),
    }

    def build(trigger: str) -> st.SearchStrategy[dict[str, Any]]:
        extra = {
            "error_message": st.text(min_size=1, max_size=10),
            "retryable": st.booleans(),
            "severity": st.sampled_from(["info", "warning", "error", "fatal"]),
            "stage": st.sampled_from(["asr", "translation", "tts"]),
            "status": st.sampled_from(["failed", "partial"]),
        }
        if trigger == "probability":
            extra["seed"] = st.integers(0, 1000)
        return st.fixed_dictionaries(
            {
                "trigger": st.just(trigger),
                "value": value[trigger],
                "error_code": st.sampled_from(ERROR_CODES),
            },
            optional=extra,
        )

    return st.sampled_from(sorted(value)).flatmap(build)


valid_errors = st.fixed_dictionaries(
    {"rules": st.lists(error_rule(), max_size=3)}, optional={"enabled": st.booleans()}
)
invalid_errors = st.sampled_from(
    [
        {"rules": [{"trigger": "sometimes", "value": 1, "error_code": "TIMEOUT"}]},
        {"rules": [{"trigger": "sequence_number", "value": "1", "error_code": "TIMEOUT"}]},
        {"rules": [{"trigger": "next_n", "value": 0, "error_code": "TIMEOUT"}]},
        {"rules": [{"trigger": "nth_fragment", "value": 2, "error_code": "lower"}]},
        {"rules": [{"trigger": "next_n", "value": 2, "error_code": "TIMEOUT", "seed": 1}]},
        {"rules": [{"trigger": "next_n", "value": 2, "error_code": "TIMEOUT", "colour": 1}]},
        {"rules": [{"trigger": "sequence_range", "value": [3, 1], "error_code": "TIMEOUT"}]},
        {"rules": [{"trigger": "probability", "value": 1.5, "error_code": "TIMEOUT"}]},
        {"rules": "all"},
        {"enabled": None},
        None,
    ]
)
valid_backpressure = st.one_of(
    st.fixed_dictionaries({"enabled": st.booleans()}),
    st.fixed_dictionaries(
        {
            "enabled": st.just(True),
            "threshold": st.integers(1, 6),
            "severity": st.sampled_from(SEVERITIES),
            "action": st.sampled_from(ACTIONS),
        },
        optional={"recommended_delay_ms": st.integers(0, 5000)},
    ),
)
invalid_backpressure = st.sampled_from(
    [
        {"enabled": True, "threshold": 2},
        {"enabled": True, "threshold": 2, "severity": "low"},
        {"enabled": True, "threshold": 0, "severity": "low", "action": "pause"},
        {"enabled": "yes"},
        {"threshold": 2},
        {"enabled": True, "threshold": 2, "severity": "extreme", "action": "pause"},
        3,
    ]
)
plans = st.fixed_dictionaries(
    {},
    optional={
        "error_simulation": valid_errors,
        "processing_delay": valid_delay,
        "backpressure": valid_backpressure,
        "drop_processed": st.lists(st.integers(-4, 6), max_size=6),
        "queue": st.fixed_dictionaries(
            {"limit": st.integers(1, 6)}, optional={"error_code": st.sampled_from(list(RETRYABLE))}
        ),
    },
)
valid_init = st.fixed_dictionaries(
    {
        "stream_id": st.sampled_from(STREAMS),
        "config": st.one_of(
            st.just({}), optional(channels=st.sampled_from([1, 2]), format=st.just("pcm"))
        ),
    },
    optional={
        "worker_id": st.just("w"),
        "max_inflight": st.integers(1, 10),
        "timeout_ms": st.sampled_from([1000, 2000, 8000]),
    },
)
invalid_init = st.sampled_from(
    [
        {"stream_id": "s"},
        {"stream_id": "", "config": {}},
        {"stream_id": "s", "config": {}, "max_inflight": 0},
        {"stream_id": "s", "config": {}, "max_inflight": 11},
        {"stream_id": "s", "config": {}, "timeout_ms": 999},
        {"stream_id": "s", "config": {"channels": 3}},
        {"stream_id": "s", "config": None},
        {"stream_id": 5, "config": {}},
        "s",
        None,
    ]
)

CORRUPTIONS: dict[str, Any] = {
    "null fragment_id": ("fragment_id", None),
    "empty fragment_id": ("fragment_id", ""),
    "long fragment_id": ("fragment_id", "x" * 257),
    "int fragment_id": ("fragment_id", 7),
    "string number": ("sequence_number", "3"),
    "negative number": ("sequence_number", -1),
    "float number": ("sequence_number", 3.0),
    "bool number": ("sequence_number", True),
    "null number": ("sequence_number", None),
    "string timestamp": ("timestamp", "now"),
    "null timestamp": ("timestamp", None),
    "no audio": ("audio", ...),
    "audio not an object": ("audio", "abcd"),
    "null audio": ("audio", None),
    "metadata not an object": ("metadata", "m"),
    "bad base64 length": ("audio.data_base64", "abc"),
    "bad base64 alphabet": ("audio.data_base64", "ab!="),
    "only padding": ("audio.data_base64", "===="),
    "low sample rate": ("audio.sample_rate_hz", 7999),
    "string sample rate": ("audio.sample_rate_hz", "48000"),
    "three channels": ("audio.channels", 3),
    "long audio": ("audio.duration_ms", 60_001),
    "null format": ("audio.format", None),
}
"""Each makes an otherwise valid fragment:data fail validation (check 5 of section 3)."""


# the model


@dataclass
class Sent:
    """A fragment the core acknowledged, as the model remembers it."""

    fragment_id: str
    sequence_number: int
    duration_ms: int
    audio: dict[str, Any]
    acked_at: float = 0.0
    estimate_ms: int = 0
    droppable: bool = False
    """A drop_processed set named its number while it was in flight (or when accepted)."""
    exact: bool = True
    """No drop plan changed the queue ahead of it, so its estimate must be exact."""


@dataclass
class SessionModel:
    stream_id: str
    session_id: str
    max_inflight: int
    limit: int
    limit_code: str
    drops: frozenset[int]
    state: str = "active"
    expected: int | None = None
    window: deque[str] = field(default_factory=lambda: deque(maxlen=WINDOW))
    accepted_ids: list[str] = field(default_factory=list)
    outstanding: list[Sent] = field(default_factory=list)
    """Acknowledged and not yet reported, in acceptance order."""
    last_processed: int | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    dropped: int = 0
    duration_ms: int = 0
    times: list[int] = field(default_factory=list)
    worker_acks: dict[str, int] = field(default_factory=lambda: {"received": 0, "applied": 0})
    cap: int = 0
    """The in-flight count the queue limit allows now (a plan may lower it below what flies)."""
    last_level: tuple[Any, ...] | None = None


@dataclass
class Answer:
    """What section 3 says the event just sent is answered with at once."""

    event: str | None
    """``error``, ``fragment:ack``, ``stream:ready``, a ``*:ack``, or None: no answer."""
    code: str | None = None
    status: str | None = None
    fragment_id: str | None = None


NO_ANSWER = Answer(None)


class SessionMachine(RuleBasedStateMachine):
    """One connection, driven at random; the model says what must come out."""

    def __init__(self) -> None:
        super().__init__()
        self.driver: Driver | None = None
        self.model: SessionModel | None = None
        self.closed = False
        self.plans: dict[str, FaultPlan] = {}
        self.queue_limit = 20
        self.ids = itertools.count()
        self.pending: Sent | None = None
        """The fragment just sent, if the model expects it acknowledged."""

    # setup

    @initialize(
        queue_limit=st.integers(1, 6),
        delay_ms=st.sampled_from([0, 0, 200, 1500]),
        jitter_ms=st.sampled_from([0, 0, 700]),
        ladder=st.booleans(),
        start=st.one_of(valid_init, valid_init, valid_init, st.none()),
    )
    def connect(
        self,
        queue_limit: int,
        delay_ms: int,
        jitter_ms: int,
        ladder: bool,
        start: dict[str, Any] | None,
    ) -> None:
        self.queue_limit = queue_limit
        self.driver = Driver(
            fragment_id_window=WINDOW,
            queue_limit=queue_limit,
            processing_delay_ms=delay_ms,
            processing_jitter_ms=jitter_ms,
            backpressure_enabled=ladder,
            auto_disconnect_s=60.0,
            plan_idle_expiry_s=1e9,
        )
        if start is not None:
            self.send(Answer("stream:ready"), "stream:init", start)

    # driving the core

    @property
    def d(self) -> Driver:
        assert self.driver is not None
        return self.driver

    def send(self, answer: Answer, event: str, *args: Any) -> None:
        now = self.d.now
        before = len(self.model.outstanding) if self.model else 0
        out = self.d.send(event, *args)
        if self.closed:
            assert out == [], "a closing connection still answered"
            return
        direct = [o for o in out if is_direct(o)]
        if answer.event is None:
            assert direct == [], f"{event} got an answer: {direct}"
        else:
            assert len(direct) == 1, f"{event} got {len(direct)} answers: {out}"
            assert out[0] is direct[0], f"the answer to {event} is not first: {out}"
            self.check_answer(answer, direct[0])
        self.absorb([(now, o) for o in out], before)

    def check_answer(self, answer: Answer, got: Output) -> None:
        assert isinstance(got, Emit)
        assert got.event == answer.event, (answer, got)
        if answer.event == "error":
            assert got.data["code"] == answer.code, (answer, got)
            assert got.data.get("fragment_id") == answer.fragment_id, (answer, got)
        if answer.status is not None:
            assert got.data["status"] == answer.status, (answer, got)

    def advance(self, seconds: float) -> None:
        """Driver.advance, keeping the time each output came out at."""
        driver = self.d
        target = driver.now + seconds
        before = len(self.model.outstanding) if self.model else 0
        timed: list[tuple[float, Output]] = []
        for _ in range(10_000):
            deadline = driver.connection.next_deadline()
            if deadline is None or deadline > target:
                break
            driver.now = max(driver.now, deadline)
            timed.extend((driver.now, o) for o in driver.connection.on_timer(driver.now))
        else:
            raise AssertionError("timers make no progress: next_deadline() stays due")
        driver.now = target
        if self.closed:
            assert timed == [], "a closing connection still sent something"
            return
        assert not any(is_direct(o) for _, o in timed), f"a timer answered an event: {timed}"
        self.absorb(timed, before)

    def drain(self) -> None:
        """Fires every deadline until nothing is in flight (or the connection closes)."""
        for _ in range(1000):
            session = self.d.connection.session
            if self.closed or session is None or not session.inflight:
                return
            deadline = self.d.connection.next_deadline()
            assert deadline is not None, "fragments in flight but no deadline to release them"
            self.advance(max(0.0, deadline - self.d.now))
        raise AssertionError("in-flight never drains")

    # what came out

    def absorb(self, timed: list[tuple[float, Output]], inflight_before: int) -> None:
        assert len(timed) <= 2 * inflight_before + 4, f"too many outputs for one step: {timed}"
        for index, (at, output) in enumerate(timed):
            if isinstance(output, Close):
                assert index == len(timed) - 1, "outputs after a Close"
                self.closed = True
                continue
            assert isinstance(output, Emit)
            handler = getattr(self, "on_" + output.event.replace(":", "_"), None)
            if handler is not None:
                handler(at, output.data)
            else:
                assert is_direct(output), f"unexpected output {output}"
        self.reconcile()

    def on_stream_ready(self, at: float, data: dict[str, Any]) -> None:
        previous = self.model
        assert previous is None or previous.state == "completed", "stream:ready over a live one"
        plan = self.plans.get(data["stream_id"])
        queue = plan.queue if plan is not None else None
        limit = queue.limit if queue is not None else self.queue_limit
        self.model = SessionModel(
            stream_id=data["stream_id"],
            session_id=data["session_id"],
            max_inflight=data["max_inflight"],
            limit=limit,
            limit_code=queue.error_code if queue is not None else "QUEUE_FULL",
            drops=plan.dropped() if plan is not None else frozenset(),
            cap=limit,
        )

    def on_fragment_ack(self, at: float, data: dict[str, Any]) -> None:
        model, sent = self.model, self.pending
        assert model is not None
        assert sent is not None, f"fragment:ack the model did not expect: {data}"
        self.pending = None
        assert data["fragment_id"] == sent.fragment_id
        assert data["status"] == "queued"
        assert data["queue_position"] == len(model.outstanding), "queue_position is not in-flight"
        assert data["queue_position"] < model.limit, "accepted over the queue limit in force"
        estimate = data["estimated_completion_ms"]
        assert isinstance(estimate, int)
        assert estimate >= 0
        sent.acked_at, sent.estimate_ms = at, estimate
        sent.droppable = sent.sequence_number in model.drops
        model.outstanding.append(sent)
        model.window.append(sent.fragment_id)
        model.accepted_ids.append(sent.fragment_id)
        model.expected = sent.sequence_number + 1

    def on_fragment_processed(self, at: float, data: dict[str, Any]) -> None:
        model = self.model
        assert model is not None
        assert model.state != "completed", "fragment:processed after stream:complete"
        assert data["stream_id"] == model.stream_id
        head = next((sent for sent in model.outstanding if not sent.droppable), None)
        assert head is not None, f"fragment:processed for no acknowledged fragment: {data}"
        reported = {"fragment_id": data["fragment_id"], "seq": data["sequence_number"]}
        assert reported == {"fragment_id": head.fragment_id, "seq": head.sequence_number}, (
            "fragment:processed out of acceptance order, repeated, or for a dropped fragment"
        )
        if model.last_processed is not None:
            assert data["sequence_number"] > model.last_processed, "sequence order broken"
        model.last_processed = data["sequence_number"]
        model.outstanding.remove(head)
        status = data["status"]
        assert status in STATUSES
        if status == "failed":
            assert "dubbed_audio" not in data
            assert "error" in data
        else:
            assert data["dubbed_audio"] == head.audio, "the echo is not the audio sent"
        if status == "partial":
            assert "error" in data
        elapsed_ms = (at - head.acked_at) * 1000
        time_ms = data["processing_time_ms"]
        assert abs(time_ms - elapsed_ms) <= 0.5 + 1e-6, (time_ms, elapsed_ms)
        assert sum(data["stage_timings"].values()) == time_ms
        assert elapsed_ms <= head.estimate_ms + 0.5 + 1e-6, "later than estimated_completion_ms"
        if head.exact:
            assert abs(elapsed_ms - head.estimate_ms) <= 0.5 + 1e-6, (
                f"estimated_completion_ms {head.estimate_ms} but came after {elapsed_ms} ms"
            )
        model.counts[status] += 1
        model.times.append(time_ms)
        model.duration_ms += head.duration_ms

    def on_backpressure(self, at: float, data: dict[str, Any]) -> None:
        model = self.model
        assert model is not None
        assert data["stream_id"] == model.stream_id
        assert data["severity"] in SEVERITIES
        assert data["action"] in ({"none"} | set(ACTIONS))
        surely_inflight = sum(1 for sent in model.outstanding if not sent.droppable)
        assert surely_inflight <= data["current_inflight"] <= len(model.outstanding)
        assert 0 <= data["queue_depth"] <= data["current_inflight"]
        level = (data["severity"], data["action"], data.get("recommended_delay_ms"))
        if level != CLEAR:
            # (low, none) is both the clear and a level a rule may set: it may follow itself.
            assert level != model.last_level, f"backpressure repeated without a change: {level}"
        model.last_level = level

    def on_stream_complete(self, at: float, data: dict[str, Any]) -> None:
        model = self.model
        assert model is not None
        assert model.state == "ending", "stream:complete without stream:end"
        for sent in model.outstanding:
            assert sent.droppable, f"stream:complete before {sent.fragment_id} was reported"
            model.dropped += 1
            model.duration_ms += sent.duration_ms
        model.outstanding.clear()
        model.state = "completed"
        times = model.times
        assert data == {
            "stream_id": model.stream_id,
            "total_fragments": sum(model.counts.values()) + model.dropped,
            "total_duration_ms": model.duration_ms,
            "statistics": {
                "success_count": model.counts["success"],
                "partial_count": model.counts["partial"],
                "failed_count": model.counts["failed"],
                "dropped_count": model.dropped,
                "avg_processing_time_ms": sum(times) / len(times) if times else 0,
                "p95_processing_time_ms": nearest_rank_p95(times),
            },
        }

    def reconcile(self) -> None:
        """Fragments that left in-flight without a fragment:processed were dropped by a plan."""
        model, session = self.model, self.d.connection.session
        if model is None or session is None:
            return
        live = {entry.fragment_id for entry in session.inflight}
        for sent in [sent for sent in model.outstanding if sent.fragment_id not in live]:
            assert sent.droppable, f"{sent.fragment_id} left in-flight without being reported"
            model.outstanding.remove(sent)
            model.dropped += 1
            model.duration_ms += sent.duration_ms

    # invariants

    @invariant()
    def session_is_the_one_the_model_knows(self) -> None:
        if self.driver is None:
            return
        session, model = self.d.connection.session, self.model
        if model is None:
            assert session is None
            return
        assert session is not None
        assert session.session_id == model.session_id
        assert session.state.value == model.state

    @invariant()
    def inflight_is_exactly_the_unreported_fragments(self) -> None:
        session, model = self.driver and self.d.connection.session, self.model
        if session is None or model is None:
            return
        live = [entry.fragment_id for entry in session.inflight]
        assert live == [sent.fragment_id for sent in model.outstanding]
        if model.state == "ending" and not self.closed:
            assert live, "an ending stream with nothing in flight did not complete"

    @invariant()
    def inflight_stays_within_the_queue_limit(self) -> None:
        session, model = self.driver and self.d.connection.session, self.model
        if session is None or model is None:
            return
        assert 0 <= len(session.inflight) <= model.cap
        model.cap = max(model.limit, len(session.inflight))

    @invariant()
    def statistics_equal_the_counts(self) -> None:
        session, model = self.driver and self.d.connection.session, self.model
        if session is None or model is None:
            return
        assert session.stats.counts == model.counts
        assert session.stats.dropped_count == model.dropped
        assert session.stats.total_fragments == sum(model.counts.values()) + model.dropped
        assert session.stats.total_duration_ms == model.duration_ms
        assert session.worker_acks == model.worker_acks

    @invariant()
    def fragment_id_memory_is_the_window(self) -> None:
        session, model = self.driver and self.d.connection.session, self.model
        if session is None or model is None:
            return
        remembered = {fid for fid in model.accepted_ids if fid in session.sequence}
        assert remembered == set(model.window), "the fragment_id window is not the last N"
        assert len(remembered) <= WINDOW

    def teardown(self) -> None:
        if self.driver is None or sys.exc_info()[1] is not None:
            return  # a step failed already: that failure is the one to report
        self.drain()
        model = self.model
        if model is not None and model.state in ("active", "paused") and not self.closed:
            model.state = "ending"
            self.send(NO_ANSWER, "stream:end", {"stream_id": model.stream_id})
            self.drain()
        if model is not None and not self.closed:
            assert model.state == "completed", "the stream did not complete after draining"
            assert model.outstanding == [], "acknowledged fragments never reported"
        self.session_is_the_one_the_model_knows()
        self.inflight_is_exactly_the_unreported_fragments()
        self.statistics_equal_the_counts()

    # rules: stream:init

    @rule(
        payload=st.one_of(
            valid_init.map(lambda p: (True, p)), invalid_init.map(lambda p: (False, p))
        )
    )
    def stream_init(self, payload: tuple[bool, Any]) -> None:
        valid, body = payload
        model = self.model
        if not valid or (model is not None and model.state != "completed"):
            answer = Answer("error", "INVALID_CONFIG")
        else:
            answer = Answer("stream:ready")
        self.send(answer, "stream:init", body)

    # rules: fragment:data

    def fresh_id(self, long: bool = False) -> str:
        fid = f"f{next(self.ids)}"
        return fid.rjust(256, "x") if long else fid

    @rule(
        data=st.data(),
        pauses=st.lists(st.sampled_from([0.0, 0.0, 0.01, 0.2, 0.7]), min_size=1, max_size=4),
    )
    def fragments_in_sequence(self, data: st.DataObject, pauses: list[float]) -> None:
        """The worker's normal case: the next fragments, a little time between them."""
        for pause in pauses:
            self.fragment_data(data, "next")
            self.advance(pause)

    @rule(
        data=st.data(),
        kind=st.sampled_from(
            [
                *("gap", "repeat", "dup_id", "evicted_id", "long_id", "malformed"),
                *("wrong_stream", "not_an_object", "no_payload"),
            ]
        ),
    )
    def fragment_out_of_line(self, data: st.DataObject, kind: str) -> None:
        self.fragment_data(data, kind)

    def fragment_data(self, data: st.DataObject, kind: str) -> None:
        payload_bytes = data.draw(st.binary(max_size=9), label="audio bytes")
        duration_ms = data.draw(st.integers(0, 60_000), label="duration_ms")
        extra = data.draw(
            optional(metadata=st.just({"pts_ns": 1}), timestamp=st.integers(0, 2**70)),
            label="extra fields",
        )
        model = self.model
        expected = model.expected if model is not None else None
        stream_id = model.stream_id if model is not None else "s"
        fid = self.fresh_id(long=kind == "long_id")
        if expected is None:
            seq = data.draw(st.one_of(st.just(0), st.integers(0, 2**70)), label="start")
        else:
            seq = expected
        if kind == "gap":
            seq += data.draw(st.one_of(st.integers(1, 3), st.integers(1, 2**64)), label="gap")
        elif kind == "repeat" and expected:
            seq = data.draw(st.integers(0, expected - 1), label="repeat")
        elif kind == "dup_id" and model is not None and model.window:
            fid = data.draw(st.sampled_from(list(model.window)), label="dup")
            seq += data.draw(st.integers(0, 2), label="dup_seq")
        elif kind == "evicted_id" and model is not None:
            evicted = [f for f in model.accepted_ids if f not in model.window]
            if evicted:
                fid = data.draw(st.sampled_from(evicted), label="evicted")
        body = fragment(seq, stream_id, fragment_id=fid, **extra)
        body["audio"]["data_base64"] = base64.b64encode(payload_bytes).decode()
        body["audio"]["duration_ms"] = duration_ms
        valid = True
        if kind == "malformed":
            valid = False
            name = data.draw(st.sampled_from(sorted(CORRUPTIONS)), label="corruption")
            path, value = CORRUPTIONS[name]
            target = body
            *parents, leaf = path.split(".")
            for parent in parents:
                target = target[parent]
            if value is ...:
                del target[leaf]
            else:
                target[leaf] = value
        elif kind == "wrong_stream":
            body["stream_id"] = data.draw(st.sampled_from([OTHER_STREAM, "", 5, None, ...]))
            if body["stream_id"] is ...:
                del body["stream_id"]
        elif kind == "not_an_object":
            body = data.draw(st.sampled_from([None, [], [body], "fragment", 3, True]))
        if kind == "no_payload":
            answer = Answer("error", "INVALID_CONFIG")
            self.send(answer, "fragment:data")
            return
        answer = self.predict_fragment(body, valid)
        if answer.event == "fragment:ack":
            self.pending = Sent(fid, seq, duration_ms, body["audio"])
        self.send(answer, "fragment:data", body)
        assert self.pending is None or self.closed, "the model expected a fragment:ack"
        self.pending = None

    def predict_fragment(self, body: Any, valid: bool) -> Answer:
        """Section 3's checks, in order; moves the model's expected number as they say."""
        if not isinstance(body, dict):
            return Answer("error", "INVALID_CONFIG")
        fid = readable_id(body.get("fragment_id"))
        model = self.model

        def refused(code: str) -> Answer:
            return Answer("error", code, fragment_id=fid)

        if model is None or body.get("stream_id") != model.stream_id:
            return refused("STREAM_NOT_FOUND")
        if model.state == "paused":
            return refused("STREAM_PAUSED")
        if model.state in ("ending", "completed"):
            return refused("STREAM_NOT_FOUND")
        seq = body.get("sequence_number")
        if not valid:
            if readable_number(seq) is not None and seq == model.expected:
                model.expected = seq + 1
            return refused("INVALID_CONFIG")
        if fid in model.window:
            return refused("INVALID_SEQUENCE")
        if model.expected is not None and seq != model.expected:
            if seq > model.expected:
                model.expected = seq + 1
            return refused("INVALID_SEQUENCE")
        if len(model.outstanding) + 1 > model.limit:
            if not RETRYABLE[model.limit_code] and model.expected is not None:
                model.expected = seq + 1
            return refused(model.limit_code)
        return Answer("fragment:ack")

    # rules: the worker's fragment:ack

    @rule(
        data=st.data(),
        status=st.sampled_from(["received", "applied"]),
        broken=st.sampled_from([None, None, None, "status", "timestamp", "id", "object"]),
        unknown=st.sampled_from([None, None, "connect", "message", "stream:foo", ""])
        | st.just("fragment:processed"),
    )
    def stray_event(
        self, data: st.DataObject, status: str, broken: str | None, unknown: str | None
    ) -> None:
        """The worker's own fragment:ack, well-formed or not, or an event nobody defined."""
        if unknown is not None:
            self.send(Answer("error", "INVALID_CONFIG"), unknown, {"stream_id": "s"})
            return
        model = self.model
        known = list(model.accepted_ids) if model is not None else []
        fid = data.draw(st.sampled_from([*known[-WINDOW - 2 :], "unknown"]), label="acked")
        body: Any = {"fragment_id": fid, "status": status, "timestamp": 1}
        if broken == "status":
            body["status"] = "done"
        elif broken == "timestamp":
            body["timestamp"] = None
        elif broken == "id":
            body["fragment_id"] = ""
        elif broken == "object":
            body = [body]
        if broken is not None:
            self.send(Answer("error", "INVALID_CONFIG"), "fragment:ack", body)
            return
        if model is not None and not self.closed and fid in model.window:
            model.worker_acks[status] += 1
        self.send(NO_ANSWER, "fragment:ack", body)

    # rules: stream:pause, stream:resume, stream:end

    @rule(
        event=st.sampled_from(["stream:pause", "stream:resume", "stream:end"]),
        shape=st.sampled_from(["ok", "ok", "ok", "other", "reason", "long_reason", "null_reason"])
        | st.sampled_from(["int_stream", "no_stream", "not_an_object"]),
    )
    def control(self, event: str, shape: str) -> None:
        model = self.model
        stream_id = model.stream_id if model is not None else "s"
        body: Any = {"stream_id": stream_id}
        valid = True
        if shape == "other":
            body["stream_id"] = OTHER_STREAM
        elif shape == "reason":
            body["reason"] = "r" * 1024
        elif shape in ("long_reason", "null_reason", "int_stream", "no_stream", "not_an_object"):
            valid = False
            body = {
                "long_reason": {"stream_id": stream_id, "reason": "r" * 1025},
                "null_reason": {"stream_id": stream_id, "reason": None},
                "int_stream": {"stream_id": 1},
                "no_stream": {"reason": "x"},
                "not_an_object": stream_id,
            }[shape]
        if not valid:
            answer = Answer("error", "INVALID_CONFIG")
        elif (
            model is None
            or body["stream_id"] != model.stream_id
            or model.state in ("ending", "completed")
        ):
            answer = Answer("error", "STREAM_NOT_FOUND")
        else:
            answer = NO_ANSWER
            if not self.closed:
                model.state = {
                    "stream:pause": "paused",
                    "stream:resume": "active",
                    "stream:end": "ending",
                }[event]
        self.send(answer, event, body)

    # rules: config:* events

    def configure(self, event: str, valid: bool, body: Any) -> Emit | None:
        model = self.model
        if model is None or model.state == "completed":
            answer = Answer("error", "STREAM_NOT_FOUND")
        else:
            answer = Answer(f"{event}:ack", status="accepted" if valid else "rejected")
        log = len(self.d.log)
        self.send(answer, event, body)
        first = self.d.log[log] if len(self.d.log) > log else None
        ok = isinstance(first, Emit) and first.event == f"{event}:ack" and valid
        return first if ok else None

    @rule(
        payload=st.one_of(
            valid_delay.map(lambda p: ("config:processing_delay", True, p)),
            invalid_delay.map(lambda p: ("config:processing_delay", False, p)),
            valid_errors.map(lambda p: ("config:error_simulation", True, p)),
            invalid_errors.map(lambda p: ("config:error_simulation", False, p)),
            valid_backpressure.map(lambda p: ("config:backpressure", True, p)),
            invalid_backpressure.map(lambda p: ("config:backpressure", False, p)),
        )
    )
    def configure_session(self, payload: tuple[str, bool, Any]) -> None:
        event, valid, body = payload
        ack = self.configure(event, valid, body)
        if ack is None:
            return
        if event == "config:processing_delay":
            assert ack.data == {
                "status": "accepted",
                "delay_ms": body["delay_ms"],
                "jitter_ms": body.get("jitter_ms", 0),
                "distribution": body.get("distribution", "uniform"),
                "enforce_timeout": body.get("enforce_timeout", True),
                "mode": body.get("mode", "parallel"),
            }
        elif event == "config:error_simulation":
            count = len(body["rules"]) if body.get("enabled", True) else 0
            assert ack.data == {"status": "accepted", "rules_count": count}
        else:
            assert ack.data == {"status": "accepted"}

    # rules: fault plans, as the control API stores and applies them

    @rule(data=st.data(), body=plans)
    def apply_plan(self, data: st.DataObject, body: dict[str, Any]) -> None:
        model = self.model
        streams = [model.stream_id] if model is not None else []
        stream_id = data.draw(st.sampled_from([*streams, *STREAMS]), label="plan stream")
        if "drop_processed" in body:
            # Numbers near the stream's own, so that drops hit fragments in flight.
            base = model.expected or 0 if model is not None else 0
            body["drop_processed"] = sorted({max(0, base + n) for n in body["drop_processed"]})
        plan = FaultPlan.model_validate(body)
        self.d.plans.put(stream_id, plan, self.d.now)
        self.plans[stream_id] = plan
        if model is None or model.stream_id != stream_id:
            return
        before = len(model.outstanding)
        out = self.d.connection.apply_plan(plan, self.d.now)
        if self.closed or model.state == "completed":
            assert out == [], "a plan changed a completed session or a closing connection"
            return
        if plan.queue is not None:
            model.limit, model.limit_code = plan.queue.limit, plan.queue.error_code
            model.cap = max(model.limit, len(model.outstanding))
        if plan.drop_processed is not None:
            model.drops = plan.dropped()
            for sent in model.outstanding:
                sent.droppable = sent.droppable or sent.sequence_number in model.drops
                sent.exact = False
        assert not any(is_direct(o) for o in out), f"a plan answered like an event: {out}"
        self.absorb([(self.d.now, o) for o in out], before)

    # rules: other events

    @precondition(lambda self: self.model is not None and len(self.model.accepted_ids) >= 5)
    @rule(
        delay_ms=st.integers(0, 5000) | st.integers(0, 600_000),
        mode=st.sampled_from(["server_disconnect", "close"]),
    )
    def simulate_disconnect(self, delay_ms: int, mode: str) -> None:
        self.send(
            Answer("simulate:disconnect:ack"),
            "simulate:disconnect",
            {
                "delay_ms": delay_ms,
                "mode": mode,
            },
        )

    # rules: time

    @rule(seconds=st.one_of(st.sampled_from([0.0, 0.001, 0.05]), st.floats(0, 3)))
    def time_passes(self, seconds: float) -> None:
        self.advance(seconds)

    @rule()
    def next_deadline_falls_due(self) -> None:
        deadline = self.d.connection.next_deadline()
        if deadline is not None:
            self.advance(max(0.0, deadline - self.d.now))


TestSessionCore = SessionMachine.TestCase


# the fragment_id window on its own


@given(
    window=st.integers(1, 10),
    ids=st.lists(st.integers(0, 15).map(lambda n: f"f{n}"), max_size=60),
)
def test_fragment_id_window_remembers_exactly_the_last_n_accepted(
    window: int, ids: list[str]
) -> None:
    sequencer = Sequencer(window)
    recent: deque[str] = deque(maxlen=window)
    for number, fid in enumerate(ids):
        if sequencer.check(fid, sequencer.expected or number) is not None:
            assert fid in recent
            continue
        assert fid not in recent
        sequencer.accept(fid, sequencer.expected or number)
        recent.append(fid)
        assert all(f in sequencer for f in recent)
        assert sum(1 for f in {*ids} if f in sequencer) == len(recent) <= window


# memory of a long stream


def test_session_memory_does_not_grow_with_the_number_of_fragments() -> None:
    """Section 14: a stream that runs for days holds bounded memory, whatever it is sent."""
    driver = Driver(fragment_id_window=WINDOW, journal_events=JOURNAL_EVENTS)
    driver.init("s")
    session = driver.connection.session
    assert session is not None

    def stream(first: int, count: int) -> None:
        for seq in range(first, first + count):
            driver.fragment(seq)
            driver.log.clear()

    stream(0, 200)
    tracemalloc.start()
    try:
        start = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*/echosts/*")])
        stream(200, 10_000)
        end = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*/echosts/*")])
    finally:
        tracemalloc.stop()
    grown = [stat for stat in end.compare_to(start, "lineno") if stat.size_diff > 16_384]
    assert grown == [], "session memory grows with every fragment:\n" + "\n".join(map(str, grown))
