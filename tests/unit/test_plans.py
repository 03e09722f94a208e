from __future__ import annotations

import pytest

from echosts.errors import ErrorCode
from echosts.models import FaultPlan, validate
from echosts.plans import PlanBook, PlanLimitError


def plan(**keys: object) -> FaultPlan:
    return FaultPlan.model_validate(keys)


def test_put_get_delete_round_trip() -> None:
    book = PlanBook(max_plans=5, idle_expiry_s=60)
    stored = book.put("s", plan(drop_processed=[3, 1]), now=0)
    assert stored.as_json() == {"drop_processed": [3, 1]}
    assert book.get("s", now=1).plan.dropped() == frozenset({1, 3})
    assert book.delete("s", now=1)
    assert book.get("s", now=1) is None
    assert not book.delete("s", now=1)


def test_put_replaces_an_earlier_plan() -> None:
    book = PlanBook(max_plans=1, idle_expiry_s=60)
    book.put("s", plan(drop_processed=[1]), now=0)
    book.put("s", plan(processing_delay={"delay_ms": 5}), now=1)
    assert book.get("s", now=1).as_json() == {
        "processing_delay": {
            "delay_ms": 5,
            "jitter_ms": 0,
            "distribution": "uniform",
            "enforce_timeout": True,
            "mode": "parallel",
        }
    }


def test_book_refuses_a_new_plan_when_full() -> None:
    book = PlanBook(max_plans=2, idle_expiry_s=60)
    book.put("a", plan(), now=0)
    book.put("b", plan(), now=0)
    with pytest.raises(PlanLimitError):
        book.put("c", plan(), now=1)
    assert len(book) == 2


def test_unused_plans_expire_and_make_room() -> None:
    book = PlanBook(max_plans=1, idle_expiry_s=60)
    book.put("a", plan(), now=0)
    book.put("b", plan(), now=60)
    assert book.get("a", now=60) is None
    assert len(book) == 1


def test_a_session_using_a_plan_keeps_it_alive() -> None:
    book = PlanBook(max_plans=5, idle_expiry_s=60)
    book.put("a", plan(), now=0)
    assert book.use("a", now=50) is not None
    assert book.get("a", now=100) is not None
    assert book.get("a", now=110) is None
    assert book.use("a", now=110) is None


def test_refusals_count_down_and_show_in_the_stored_plan() -> None:
    book = PlanBook(max_plans=5, idle_expiry_s=60)
    book.put("s", plan(refuse_connections={"count": 2, "code": "RATE_LIMIT"}), now=0)
    assert book.take_refusal("s", now=1) is ErrorCode.RATE_LIMIT
    assert book.get("s", now=1).as_json()["refuse_connections"] == {
        "count": 1,
        "code": "RATE_LIMIT",
    }
    assert book.take_refusal("s", now=1) is ErrorCode.RATE_LIMIT
    assert book.take_refusal("s", now=1) is None
    assert book.take_refusal(None, now=1) is None
    assert book.take_refusal("other", now=1) is None


def test_refusal_code_defaults_to_auth_failed() -> None:
    book = PlanBook(max_plans=5, idle_expiry_s=60)
    book.put("s", plan(refuse_connections={"count": 1}), now=0)
    assert book.take_refusal("s", now=0) is ErrorCode.AUTH_FAILED


def test_reset_removes_every_plan() -> None:
    book = PlanBook(max_plans=5, idle_expiry_s=60)
    book.put("a", plan(), now=0)
    book.put("b", plan(), now=0)
    assert book.reset() == 2
    assert len(book) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"error_simulaton": {}}, "error_simulaton"),
        ({"drop_processed": [-1]}, "drop_processed[0]"),
        ({"drop_processed": ["1"]}, "drop_processed[0]"),
        ({"refuse_connections": {"count": 1, "code": "GPU_OOM"}}, "refuse_connections.code"),
        ({"refuse_connections": {"code": "RATE_LIMIT"}}, "refuse_connections.count"),
        ({"processing_delay": {"delay_ms": -1}}, "processing_delay.delay_ms"),
        ({"error_simulation": {"rules": [{"trigger": "x"}]}}, "error_simulation.rules[0].trigger"),
        ({"backpressure": {"enabled": True, "threshold": 1}}, "backpressure.severity"),
    ],
)
def test_invalid_plan_names_the_failing_field(body: dict, field: str) -> None:
    assert validate(FaultPlan, body)[0] == field


# section 11.5: the init key


def test_take_init_counts_down_and_gives_the_plans_init() -> None:
    book = PlanBook(max_plans=5, idle_expiry_s=60)
    book.put("s", plan(init={"delay_ms": 10, "count": 2}), now=0)
    taken = [book.take_init("s", now=1) for _ in range(3)]
    assert [t.delay_ms if t else None for t in taken] == [10, 10, None]
    assert book.get("s", now=1).inits_left == 0


def test_take_init_without_a_count_never_runs_out() -> None:
    book = PlanBook(max_plans=5, idle_expiry_s=60)
    book.put("s", plan(init={"error_code": "ASR_FAILED"}), now=0)
    for _ in range(5):
        taken = book.take_init("s", now=1)
        assert taken is not None
        assert taken.error_code == "ASR_FAILED"
    assert book.get("s", now=1).as_json() == {"init": {"delay_ms": 0, "error_code": "ASR_FAILED"}}


def test_take_init_is_none_without_an_init_key_or_a_plan() -> None:
    book = PlanBook(max_plans=5, idle_expiry_s=60)
    book.put("s", plan(drop_processed=[1]), now=0)
    assert book.take_init("s", now=1) is None
    assert book.take_init("other", now=1) is None


def test_take_init_keeps_the_plan_alive() -> None:
    book = PlanBook(max_plans=5, idle_expiry_s=60)
    book.put("s", plan(init={"delay_ms": 1}), now=0)
    book.take_init("s", now=50)
    assert book.get("s", now=100) is not None


def test_as_json_shows_the_inits_left_and_drops_the_key_at_zero() -> None:
    book = PlanBook(max_plans=5, idle_expiry_s=60)
    book.put("s", plan(init={"delay_ms": 5, "count": 2}, queue={"limit": 3}), now=0)
    book.take_init("s", now=1)
    assert book.get("s", now=1).as_json()["init"] == {"delay_ms": 5, "count": 1}
    book.take_init("s", now=1)
    assert book.get("s", now=1).as_json() == {"queue": {"limit": 3, "error_code": "QUEUE_FULL"}}


def test_a_plan_whose_last_key_is_used_up_stays_stored_until_delete() -> None:
    book = PlanBook(max_plans=5, idle_expiry_s=60)
    book.put("s", plan(init={"delay_ms": 5, "count": 1}), now=0)
    book.take_init("s", now=1)
    assert book.get("s", now=1).as_json() == {}
    assert len(book) == 1
    assert book.delete("s", now=1)


def test_as_json_does_not_change_the_stored_plan() -> None:
    book = PlanBook(max_plans=5, idle_expiry_s=60)
    book.put("s", plan(init={"delay_ms": 5, "count": 1}), now=0)
    book.take_init("s", now=1)
    stored = book.get("s", now=1)
    stored.as_json()
    assert stored.plan.init is not None
    assert stored.plan.init.count == 1
