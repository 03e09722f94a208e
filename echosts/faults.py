"""Simulated latency, simulated errors, and the backpressure policy of one session.

``SessionFaults`` holds what a session's ``config:*`` events and fault plans set, and decides
each accepted fragment's delay and outcome. Randomness comes from an injected
``random.Random``, so a seed (or a test) makes every delay reproducible.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from echosts.context import SessionRandom
from echosts.errors import ErrorCode, traits
from echosts.outputs import DROPPED, SUCCESS, Outcome, failure
from echosts.protocol import MAX_DELAY_MS

if TYPE_CHECKING:
    from echosts.models import Backpressure, ErrorSimulation, ProcessingDelay, QueueLimit

LOGNORMAL_SIGMA = 1.0
"""Shape of the lognormal jitter: median ``jitter_ms``, p90 about 3.6 times it, p99 about 10."""


@dataclass(frozen=True, slots=True)
class DelaySpec:
    delay_ms: int = 0
    jitter_ms: int = 0
    distribution: str = "uniform"
    enforce_timeout: bool = True
    """False: a fragment slower than the session's timeout_ms is a late success."""
    serial: bool = False
    """One fragment at a time: each starts when the one before it is done."""


LATE = Outcome(fault="late")
"""A success after the session's timeout_ms, with ``enforce_timeout: false``."""


class DelayModel:
    """Per-fragment processing time: a fixed delay plus uniform or lognormal jitter, capped."""

    __slots__ = ("_rng", "spec")

    def __init__(self, spec: DelaySpec, rng: random.Random | SessionRandom) -> None:
        self.spec = spec
        self._rng = rng

    def sample_ms(self) -> float:
        jitter = self.spec.jitter_ms
        extra = 0.0
        if jitter > 0:
            if self.spec.distribution == "lognormal":
                extra = self._rng.lognormvariate(math.log(jitter), LOGNORMAL_SIGMA)
            else:
                extra = self._rng.uniform(0, jitter)
        return min(self.spec.delay_ms + extra, MAX_DELAY_MS)


SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3}
ACTION_RANK = {"none": 0, "slow_down": 1, "pause": 2}


@dataclass(frozen=True, slots=True)
class Level:
    """One backpressure level; the most severe of a session's rules is the one it reports."""

    severity: str
    action: str
    recommended_delay_ms: int | None = None

    @property
    def rank(self) -> tuple[int, int]:
        return SEVERITY_RANK[self.severity], ACTION_RANK[self.action]


CLEAR = Level("low", "none")
MAX_INFLIGHT_LEVEL = Level("high", "pause")
LADDER: tuple[tuple[float, Level], ...] = (
    (0.9, Level("high", "pause")),
    (0.7, Level("medium", "slow_down")),
    (0.5, Level("low", "slow_down")),
)


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    """Above ``threshold`` fragments in flight, the configured level applies."""

    threshold: int
    level: Level


@dataclass(frozen=True, slots=True)
class BackpressurePolicy:
    max_inflight: int
    threshold_rule: ThresholdRule | None = None
    ladder: bool = False

    def level(self, inflight: int) -> Level | None:
        """The level for ``inflight`` fragments in flight, or None when no rule applies."""
        if inflight <= self.max_inflight and self.threshold_rule is None and not self.ladder:
            return None
        levels: list[Level] = []
        if inflight > self.max_inflight:
            levels.append(MAX_INFLIGHT_LEVEL)
        rule = self.threshold_rule
        if rule is not None and inflight > rule.threshold:
            levels.append(rule.level)
        if self.ladder:
            fraction = inflight / self.max_inflight
            for step, level in LADDER:
                if fraction >= step:
                    levels.append(level)
                    break
        return max(levels, key=lambda level: level.rank, default=None)


def seeded_fraction(seed: int, index: int) -> float:
    """A number in [0, 1) that depends only on ``seed`` and ``index``, in every process.

    Each draw is its own hash, not the next step of a generator: whether the k-th fragment
    matches does not depend on how many draws came before it, nor on ``PYTHONHASHSEED``.
    """
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True, slots=True)
class SimulatedError:
    """One error simulation rule, resolved against the error-code tables."""

    trigger: str
    value: Any
    """An int, a fragment_id, ``(first, last)`` or a probability, as the trigger needs."""
    code: str
    message: str
    retryable: bool
    severity: str
    stage: str
    status: str
    seed: int | None = None

    def matches(
        self,
        fragment_id: str,
        sequence_number: int,
        ordinal: int,
        since: int,
        rng: random.Random | SessionRandom,
    ) -> bool:
        """``ordinal`` counts the session's accepted fragments from 1, this one included;
        ``since`` is how many it had accepted when the rules took effect."""
        trigger = self.trigger
        if trigger == "sequence_number":
            return sequence_number == self.value
        if trigger == "fragment_id":
            return fragment_id == self.value
        if trigger == "nth_fragment":
            return ordinal % int(self.value) == 0
        if trigger == "sequence_range":
            first, last = self.value
            return first <= sequence_number <= last
        index = ordinal - since
        if trigger == "next_n":
            return index <= int(self.value)
        chance = float(self.value)
        draw = rng.random() if self.seed is None else seeded_fraction(self.seed, index)
        return draw < chance

    def outcome(self) -> Outcome:
        return failure(
            self.code,
            self.message,
            stage=self.stage,
            retryable=self.retryable,
            severity=self.severity,
            status=self.status,
            fault="partial" if self.status == "partial" else "error",
        )


def simulated_errors(config: ErrorSimulation) -> tuple[SimulatedError, ...]:
    if not config.enabled:
        return ()
    rules = []
    for rule in config.rules:
        table = traits(rule.error_code)
        value = tuple(rule.value) if rule.trigger == "sequence_range" else rule.value
        rules.append(
            SimulatedError(
                trigger=rule.trigger,
                value=value,
                code=rule.error_code,
                message=rule.error_message or f"Simulated {rule.error_code}",
                retryable=table.retryable if rule.retryable is None else rule.retryable,
                severity=table.severity if rule.severity is None else rule.severity,
                stage=rule.stage,
                status=rule.status,
                seed=rule.seed,
            )
        )
    return tuple(rules)


@dataclass(frozen=True, slots=True)
class QueueRule:
    """How many fragments may be in flight, and the code a fragment over it is refused with."""

    limit: int
    code: str = ErrorCode.QUEUE_FULL.value


NO_DROPS: frozenset[int] = frozenset()
"""Shared by every session that drops nothing: an empty frozenset of its own is 216 bytes."""


class SessionFaults:
    """What one session simulates: its delay model, error rules, drops, queue and backpressure.

    A fragment's fate is fixed when it is accepted (``decide``); a later setting changes only
    later fragments, except drops, which the session also applies to what is in flight.
    """

    __slots__ = (
        "_pipeline_free_at",
        "_rng",
        "backpressure",
        "delay",
        "drops",
        "queue",
        "rules",
        "rules_since",
    )

    def __init__(
        self,
        default_delay: DelaySpec,
        rng: random.Random | SessionRandom,
        max_inflight: int,
        ladder: bool,
        queue: QueueRule,
    ) -> None:
        self._rng = rng
        self.delay = DelayModel(default_delay, rng)
        self.rules: tuple[SimulatedError, ...] = ()
        self.rules_since = 0
        """How many fragments the session had accepted when the rules took effect."""
        self.drops = NO_DROPS
        self.backpressure = BackpressurePolicy(max_inflight, ladder=ladder)
        self.queue = queue
        self._pipeline_free_at = 0.0
        """In serial mode, when the fragment processed last is done."""

    def set_delay(self, config: ProcessingDelay) -> DelaySpec:
        rng = self._rng if config.seed is None else random.Random(config.seed)
        spec = DelaySpec(
            config.delay_ms,
            config.jitter_ms,
            config.distribution,
            config.enforce_timeout,
            config.mode == "serial",
        )
        self.delay = DelayModel(spec, rng)
        return spec

    def set_rules(self, config: ErrorSimulation, accepted: int) -> int:
        """Replaces the error rules; ``next_n`` and ``probability`` count from ``accepted``.

        Returns how many rules are active.
        """
        self.rules = simulated_errors(config)
        self.rules_since = accepted
        return len(self.rules)

    def set_drops(self, sequences: frozenset[int]) -> None:
        self.drops = sequences

    def set_queue(self, config: QueueLimit) -> None:
        self.queue = QueueRule(config.limit, config.error_code)

    def set_backpressure(self, config: Backpressure, service_ladder: bool) -> None:
        """``enabled: false`` also turns the ladder off, the service-wide one included."""
        rule = None
        ladder = service_ladder
        if not config.enabled:
            ladder = False
        elif config.threshold is None:
            ladder = True
        else:
            level = Level(str(config.severity), str(config.action), config.recommended_delay_ms)
            rule = ThresholdRule(config.threshold, level)
        self.backpressure = BackpressurePolicy(self.backpressure.max_inflight, rule, ladder)

    def decide(
        self, fragment_id: str, sequence_number: int, ordinal: int, timeout_ms: int, now: float
    ) -> tuple[float, Outcome]:
        """When the fragment is due, and how it ends.

        Precedence: a drop over a matching rule over the session's timeout. A fragment whose
        processing would end more than ``timeout_ms`` after its arrival (waiting for the
        pipeline included, in serial mode) is due at ``timeout_ms`` with TIMEOUT, or, with
        ``enforce_timeout: false``, succeeds late at its own time; either way it occupies a
        serial pipeline until its own processing is done.
        """
        spec = self.delay.spec
        delay_s = self.delay.sample_ms() / 1000
        start = now
        if spec.serial:
            start = max(now, self._pipeline_free_at)
            self._pipeline_free_at = start + delay_s
        done = start + delay_s
        due = done
        outcome = SUCCESS
        total_ms = (done - now) * 1000
        if total_ms > timeout_ms:
            if spec.enforce_timeout:
                due = now + timeout_ms / 1000
                waited = f" ({round((start - now) * 1000)} ms of it waiting)" if start > now else ""
                outcome = failure(
                    ErrorCode.TIMEOUT,
                    f"processing would take {round(total_ms)} ms{waited}, over the session's "
                    f"timeout_ms of {timeout_ms}",
                    fault="timeout",
                )
            else:
                outcome = LATE
        rule = self._first_match(fragment_id, sequence_number, ordinal)
        if rule is not None:
            outcome = rule.outcome()
        if sequence_number in self.drops:
            outcome = DROPPED
        return due, outcome

    def _first_match(
        self, fragment_id: str, sequence_number: int, ordinal: int
    ) -> SimulatedError | None:
        """The first rule, in configuration order, that this fragment triggers."""
        for rule in self.rules:
            if rule.matches(fragment_id, sequence_number, ordinal, self.rules_since, self._rng):
                return rule
        return None
