"""Simulated latency, simulated errors, and the backpressure policy of one session.

``SessionFaults`` holds what a session's ``config:*`` events and fault plans set, and decides
each accepted fragment's delay and outcome. Randomness comes from an injected
``random.Random``, so a seed (or a test) makes every delay reproducible.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from echosts.context import SessionRandom
from echosts.errors import ERROR_TRAITS, ErrorCode
from echosts.outputs import DROPPED, SUCCESS, Outcome, failure
from echosts.protocol import MAX_DELAY_MS

if TYPE_CHECKING:
    from echosts.models import Backpressure, ErrorSimulation, ProcessingDelay

LOGNORMAL_SIGMA = 1.0
"""Shape of the lognormal jitter: median ``jitter_ms``, p90 about 3.6 times it, p99 about 10."""


@dataclass(frozen=True, slots=True)
class DelaySpec:
    delay_ms: int = 0
    jitter_ms: int = 0
    distribution: str = "uniform"


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


@dataclass(frozen=True, slots=True)
class SimulatedError:
    """One ``config:error_simulation`` rule, resolved against the error-code table."""

    trigger: str
    value: int | str
    code: ErrorCode
    message: str
    retryable: bool
    stage: str
    status: str

    def matches(self, fragment_id: str, sequence_number: int, ordinal: int) -> bool:
        """``ordinal`` counts the session's accepted fragments from 1, this one included."""
        if self.trigger == "sequence_number":
            return sequence_number == self.value
        if self.trigger == "fragment_id":
            return fragment_id == self.value
        return ordinal % int(self.value) == 0

    def outcome(self) -> Outcome:
        return failure(
            self.code,
            self.message,
            stage=self.stage,
            retryable=self.retryable,
            status=self.status,
            fault="partial" if self.status == "partial" else "error",
        )


def simulated_errors(config: ErrorSimulation) -> tuple[SimulatedError, ...]:
    if not config.enabled:
        return ()
    rules = []
    for rule in config.rules:
        code = ErrorCode(rule.error_code)
        retryable = ERROR_TRAITS[code].retryable if rule.retryable is None else rule.retryable
        rules.append(
            SimulatedError(
                trigger=rule.trigger,
                value=rule.value,
                code=code,
                message=rule.error_message or f"Simulated {code.value}",
                retryable=retryable,
                stage=rule.stage,
                status=rule.status,
            )
        )
    return tuple(rules)


def first_match(
    rules: tuple[SimulatedError, ...], fragment_id: str, sequence_number: int, ordinal: int
) -> SimulatedError | None:
    """The first rule, in configuration order, that this fragment triggers."""
    for rule in rules:
        if rule.matches(fragment_id, sequence_number, ordinal):
            return rule
    return None


NO_DROPS: frozenset[int] = frozenset()
"""Shared by every session that drops nothing: an empty frozenset of its own is 216 bytes."""


class SessionFaults:
    """What one session simulates: its delay model, error rules, drops and backpressure rules.

    A fragment's fate is fixed when it is accepted (``decide``); a later setting changes only
    later fragments, except drops, which the session also applies to what is in flight.
    """

    __slots__ = ("_rng", "backpressure", "delay", "drops", "rules")

    def __init__(
        self,
        default_delay: DelaySpec,
        rng: random.Random | SessionRandom,
        max_inflight: int,
        ladder: bool,
    ) -> None:
        self._rng = rng
        self.delay = DelayModel(default_delay, rng)
        self.rules: tuple[SimulatedError, ...] = ()
        self.drops = NO_DROPS
        self.backpressure = BackpressurePolicy(max_inflight, ladder=ladder)

    def set_delay(self, config: ProcessingDelay) -> DelaySpec:
        rng = self._rng if config.seed is None else random.Random(config.seed)
        spec = DelaySpec(config.delay_ms, config.jitter_ms, config.distribution)
        self.delay = DelayModel(spec, rng)
        return spec

    def set_rules(self, config: ErrorSimulation) -> int:
        """Replaces the error rules; returns how many are active."""
        self.rules = simulated_errors(config)
        return len(self.rules)

    def set_drops(self, sequences: frozenset[int]) -> None:
        self.drops = sequences

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
        self, fragment_id: str, sequence_number: int, ordinal: int, timeout_ms: int
    ) -> tuple[float, Outcome]:
        """Seconds until the fragment is due, and how it ends.

        Precedence: a drop over a matching rule over the session's timeout; a fragment slower
        than ``timeout_ms`` is due at ``timeout_ms``.
        """
        delay_ms = self.delay.sample_ms()
        outcome = SUCCESS
        if delay_ms > timeout_ms:
            outcome = failure(
                ErrorCode.TIMEOUT,
                f"processing would take {round(delay_ms)} ms, over the session's "
                f"timeout_ms of {timeout_ms}",
                fault="timeout",
            )
        rule = first_match(self.rules, fragment_id, sequence_number, ordinal)
        if rule is not None:
            outcome = rule.outcome()
        if sequence_number in self.drops:
            outcome = DROPPED
        return min(delay_ms, timeout_ms) / 1000, outcome
