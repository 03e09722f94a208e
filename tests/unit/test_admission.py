"""Whether a Socket.IO handshake may open a connection: ``echosts.admission``."""

from __future__ import annotations

from typing import Any

import pytest

from echosts.admission import Admission, Handshake, PendingRefusals, auth_token
from echosts.auth import KeyRing
from echosts.config import Settings
from echosts.errors import ErrorCode
from echosts.models import FaultPlan, RefuseAll, validate
from echosts.observe import REFUSAL_REASONS, Observer
from echosts.plans import PlanBook

NOW = 100.0
STREAM = "s-1"


class Recorder(Observer):
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def connection_accepted(self) -> None:
        self.calls.append(("connection_accepted",))

    def connection_refused(self, reason: str) -> None:
        self.calls.append(("connection_refused", reason))

    def fault_injected(self, kind: str) -> None:
        self.calls.append(("fault_injected", kind))


def handshake(
    *,
    token: str | None = None,
    opens_connection: bool = True,
    open_connections: int = 0,
    draining: bool = False,
    header_stream_id: str | None = STREAM,
) -> Handshake:
    return Handshake(
        token=token,
        header_stream_id=header_stream_id,
        opens_connection=opens_connection,
        open_connections=open_connections,
        draining=draining,
    )


def admission(
    *, api_keys: tuple[str, ...] = (), max_connections: int = 10
) -> tuple[Admission, PlanBook, Recorder]:
    plans = PlanBook(max_plans=10, idle_expiry_s=3600.0)
    observer = Recorder()
    settings = Settings(api_keys=api_keys, max_connections=max_connections)
    keys = KeyRing(settings.api_keys)
    return Admission(settings, plans, observer, PendingRefusals(), keys), plans, observer


def plan_refusals(plans: PlanBook, count: int, code: str = "RATE_LIMIT") -> None:
    plan = FaultPlan.model_validate({"refuse_connections": {"count": count, "code": code}})
    plans.put(STREAM, plan, NOW)


# auth


@pytest.mark.parametrize("opens_connection", [True, False])
def test_a_wrong_token_is_refused_auth_failed_when_keys_are_set(opens_connection: bool) -> None:
    gate, _, _ = admission(api_keys=("k1",))
    refused = gate.decide(handshake(token="nope", opens_connection=opens_connection), NOW)
    assert refused is not None
    assert (refused.code, refused.reason) == (ErrorCode.AUTH_FAILED, "auth_failed")


def test_a_missing_token_is_refused_when_keys_are_set() -> None:
    gate, _, _ = admission(api_keys=("k1",))
    refused = gate.decide(handshake(token=None), NOW)
    assert refused is not None
    assert refused.code is ErrorCode.AUTH_FAILED


def test_an_auth_refusal_is_counted_with_its_reason() -> None:
    gate, _, observer = admission(api_keys=("k1",))
    gate.decide(handshake(token="nope", opens_connection=False), NOW)
    assert observer.calls == [("connection_refused", "auth_failed")]


def test_a_matching_token_is_admitted_when_keys_are_set() -> None:
    gate, _, _ = admission(api_keys=("k1", "k2"))
    assert gate.decide(handshake(token="k2"), NOW) is None


def test_no_keys_admit_any_token() -> None:
    gate, _, _ = admission()
    assert gate.decide(handshake(token="anything"), NOW) is None


# a handshake that joins a second namespace


def test_a_joining_handshake_skips_draining() -> None:
    gate, _, _ = admission()
    assert gate.decide(handshake(opens_connection=False, draining=True), NOW) is None


def test_a_joining_handshake_skips_the_connection_limit() -> None:
    gate, _, _ = admission(max_connections=1)
    assert gate.decide(handshake(opens_connection=False, open_connections=5), NOW) is None


def test_a_joining_handshake_skips_and_keeps_the_plans_refusals() -> None:
    gate, plans, observer = admission()
    plan_refusals(plans, 1)
    assert gate.decide(handshake(opens_connection=False), NOW) is None
    assert observer.calls == []
    assert gate.decide(handshake(), NOW) is not None


def test_a_joining_handshake_is_not_counted_as_a_connection() -> None:
    gate, _, observer = admission(api_keys=("k1",))
    gate.decide(handshake(token="k1", opens_connection=False), NOW)
    assert observer.calls == []


# order of the checks


def test_auth_is_checked_before_draining() -> None:
    gate, _, _ = admission(api_keys=("k1",))
    refused = gate.decide(handshake(token="nope", draining=True), NOW)
    assert refused is not None
    assert refused.reason == "auth_failed"


def test_draining_is_checked_before_the_connection_limit_and_the_plan() -> None:
    gate, plans, _ = admission(max_connections=1)
    plan_refusals(plans, 1)
    refused = gate.decide(handshake(draining=True, open_connections=1), NOW)
    assert refused is not None
    assert (refused.code, refused.reason) == (ErrorCode.RATE_LIMIT, "draining")


def test_the_connection_limit_is_checked_before_the_plan() -> None:
    gate, plans, _ = admission(max_connections=1)
    plan_refusals(plans, 1, code="AUTH_FAILED")
    refused = gate.decide(handshake(open_connections=1), NOW)
    assert refused is not None
    assert (refused.code, refused.reason) == (ErrorCode.RATE_LIMIT, "connection_limit")


def test_an_earlier_refusal_does_not_use_up_a_planned_one() -> None:
    gate, plans, _ = admission(max_connections=1)
    plan_refusals(plans, 1)
    gate.decide(handshake(open_connections=1), NOW)
    stored = plans.get(STREAM, NOW)
    assert stored is not None
    assert stored.refusals_left == 1


# connection limit


def test_below_the_connection_limit_is_admitted() -> None:
    gate, _, _ = admission(max_connections=3)
    assert gate.decide(handshake(open_connections=2), NOW) is None


@pytest.mark.parametrize("open_connections", [3, 4])
def test_the_connection_limit_refuses_at_max_connections(open_connections: int) -> None:
    gate, _, observer = admission(max_connections=3)
    refused = gate.decide(handshake(open_connections=open_connections), NOW)
    assert refused is not None
    assert (refused.code, refused.reason) == (ErrorCode.RATE_LIMIT, "connection_limit")
    assert observer.calls == [("connection_refused", "connection_limit")]


# planned refusals


def test_a_plan_refuses_count_times_with_its_code_then_admits() -> None:
    gate, plans, _ = admission()
    plan_refusals(plans, 2, code="RATE_LIMIT")
    decisions = [gate.decide(handshake(), NOW) for _ in range(3)]
    assert [(d.code, d.reason) if d else None for d in decisions] == [
        (ErrorCode.RATE_LIMIT, "fault_plan"),
        (ErrorCode.RATE_LIMIT, "fault_plan"),
        None,
    ]


def test_a_plan_refusal_defaults_to_auth_failed() -> None:
    gate, plans, _ = admission()
    plans.put(STREAM, FaultPlan.model_validate({"refuse_connections": {"count": 1}}), NOW)
    refused = gate.decide(handshake(), NOW)
    assert refused is not None
    assert refused.code is ErrorCode.AUTH_FAILED


def test_each_planned_refusal_counts_a_refusal_fault() -> None:
    gate, plans, observer = admission()
    plan_refusals(plans, 2)
    for _ in range(3):
        gate.decide(handshake(), NOW)
    assert observer.calls == [
        ("fault_injected", "refusal"),
        ("connection_refused", "fault_plan"),
        ("fault_injected", "refusal"),
        ("connection_refused", "fault_plan"),
        ("connection_accepted",),
    ]


def test_a_plan_for_another_stream_does_not_refuse() -> None:
    gate, plans, _ = admission()
    plan_refusals(plans, 1)
    assert gate.decide(handshake(header_stream_id="s-2"), NOW) is None


def test_a_handshake_without_a_stream_header_is_not_refused_by_a_plan() -> None:
    gate, plans, _ = admission()
    plan_refusals(plans, 1)
    assert gate.decide(handshake(header_stream_id=None), NOW) is None


# an admitted connection


def test_an_admitted_new_connection_is_counted_once() -> None:
    gate, _, observer = admission()
    assert gate.decide(handshake(), NOW) is None
    assert observer.calls == [("connection_accepted",)]


# auth_token()


@pytest.mark.parametrize(
    ("auth", "token"),
    [
        ({"token": "abc"}, "abc"),
        ({"token": ""}, ""),
        ({"token": 5}, None),
        ({"token": None}, None),
        ({"token": ["abc"]}, None),
        ({}, None),
        ("abc", None),
        (None, None),
        (["token", "abc"], None),
    ],
)
def test_auth_token_reads_only_a_string_token_from_a_dict(auth: Any, token: str | None) -> None:
    assert auth_token(auth) == token


# section 11.7: refusals whatever the headers


def refusing(
    count: int,
    code: ErrorCode = ErrorCode.RATE_LIMIT,
    **settings: Any,
) -> tuple[Admission, PlanBook, Recorder]:
    gate, plans, observer = admission(**settings)
    gate.refusals.set(count, code)
    return gate, plans, observer


def test_pending_refusals_start_at_zero_and_let_everything_through() -> None:
    refusals = PendingRefusals()
    assert refusals.count == 0
    assert refusals.take() is None


def test_pending_refusals_count_down_then_let_through() -> None:
    refusals = PendingRefusals()
    refusals.set(2, ErrorCode.AUTH_FAILED)
    assert [refusals.take() for _ in range(3)] == [
        ErrorCode.AUTH_FAILED,
        ErrorCode.AUTH_FAILED,
        None,
    ]
    assert refusals.count == 0


def test_pending_refusals_default_to_rate_limit() -> None:
    assert PendingRefusals().code is ErrorCode.RATE_LIMIT


def test_setting_pending_refusals_replaces_the_count_and_the_code() -> None:
    refusals = PendingRefusals()
    refusals.set(5, ErrorCode.RATE_LIMIT)
    refusals.take()
    refusals.set(1, ErrorCode.AUTH_FAILED)
    assert refusals.count == 1
    assert [refusals.take(), refusals.take()] == [ErrorCode.AUTH_FAILED, None]


def test_clearing_pending_refusals_sets_the_count_to_zero() -> None:
    refusals = PendingRefusals()
    refusals.set(5, ErrorCode.RATE_LIMIT)
    refusals.clear()
    assert refusals.count == 0
    assert refusals.take() is None


def test_refuse_all_refuses_count_attempts_with_its_code_then_admits() -> None:
    gate, _, _ = refusing(2, ErrorCode.AUTH_FAILED)
    decisions = [gate.decide(handshake(), NOW) for _ in range(3)]
    assert [(d.code, d.reason) if d else None for d in decisions] == [
        (ErrorCode.AUTH_FAILED, "refuse_all"),
        (ErrorCode.AUTH_FAILED, "refuse_all"),
        None,
    ]


@pytest.mark.parametrize("header_stream_id", [None, STREAM, "anything"])
def test_refuse_all_refuses_whatever_the_headers(header_stream_id: str | None) -> None:
    gate, _, _ = refusing(1)
    refused = gate.decide(handshake(header_stream_id=header_stream_id), NOW)
    assert refused is not None
    assert (refused.code, refused.reason) == (ErrorCode.RATE_LIMIT, "refuse_all")


def test_auth_is_checked_before_refuse_all() -> None:
    gate, _, observer = refusing(1, api_keys=("k1",))
    refused = gate.decide(handshake(token="nope"), NOW)
    assert refused is not None
    assert refused.reason == "auth_failed"
    assert gate.refusals.count == 1
    assert observer.calls == [("connection_refused", "auth_failed")]


def test_refuse_all_applies_once_auth_succeeds() -> None:
    gate, _, _ = refusing(1, api_keys=("k1",))
    refused = gate.decide(handshake(token="k1"), NOW)
    assert refused is not None
    assert refused.reason == "refuse_all"


def test_refuse_all_is_checked_before_draining() -> None:
    gate, _, _ = refusing(1, ErrorCode.AUTH_FAILED)
    refused = gate.decide(handshake(draining=True), NOW)
    assert refused is not None
    assert (refused.code, refused.reason) == (ErrorCode.AUTH_FAILED, "refuse_all")


def test_refuse_all_is_checked_before_the_connection_limit() -> None:
    gate, _, _ = refusing(1, ErrorCode.AUTH_FAILED, max_connections=1)
    refused = gate.decide(handshake(open_connections=1), NOW)
    assert refused is not None
    assert refused.reason == "refuse_all"


def test_refuse_all_is_checked_before_the_plans_refusals_and_keeps_them() -> None:
    gate, plans, _ = refusing(1, ErrorCode.AUTH_FAILED)
    plan_refusals(plans, 1)
    refused = gate.decide(handshake(), NOW)
    assert refused is not None
    assert refused.reason == "refuse_all"
    assert plans.get(STREAM, NOW).refusals_left == 1
    refused = gate.decide(handshake(), NOW)
    assert refused is not None
    assert refused.reason == "fault_plan"


def test_a_joining_handshake_does_not_use_a_pending_refusal() -> None:
    gate, _, observer = refusing(1)
    assert gate.decide(handshake(opens_connection=False), NOW) is None
    assert gate.refusals.count == 1
    assert observer.calls == []
    assert gate.decide(handshake(), NOW) is not None


def test_a_refuse_all_refusal_is_counted_with_its_reason_and_a_refusal_fault() -> None:
    gate, _, observer = refusing(1)
    gate.decide(handshake(), NOW)
    gate.decide(handshake(), NOW)
    assert observer.calls == [
        ("fault_injected", "refusal"),
        ("connection_refused", "refuse_all"),
        ("connection_accepted",),
    ]


def test_refuse_all_is_a_refusal_reason() -> None:
    assert "refuse_all" in REFUSAL_REASONS


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "count"),
        ({"count": 0}, "count"),
        ({"count": 1_000_001}, "count"),
        ({"count": "5"}, "count"),
        ({"count": 1, "code": "GPU_OOM"}, "code"),
        ({"count": 1, "stream_id": "s"}, "stream_id"),
    ],
)
def test_an_invalid_refuse_all_body_is_refused_naming_the_field(body: dict, field: str) -> None:
    assert validate(RefuseAll, body)[0] == field


def test_a_refuse_all_body_defaults_to_rate_limit() -> None:
    body = validate(RefuseAll, {"count": 1_000_000})
    assert (body.count, body.code) == (1_000_000, "RATE_LIMIT")
