"""Section 11.2: sequence_range, next_n and probability triggers, and which rule wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from echosts.faults import seeded_fraction
from echosts.models import FaultPlan, validate
from tests.unit.driver import Driver, of, only

ROOT = Path(__file__).resolve().parents[2]


def rule(trigger: str, value: object, code: str = "ASR_FAILED", **extra: object) -> dict:
    return {"trigger": trigger, "value": value, "error_code": code, **extra}


def simulate(driver: Driver, *rules: dict) -> dict:
    (ack,) = driver.send("config:error_simulation", {"rules": list(rules)})
    return ack.data


def started(*rules: dict) -> Driver:
    driver = Driver(queue_limit=1000)
    driver.init("s")
    assert simulate(driver, *rules)["status"] == "accepted"
    return driver


def codes(driver: Driver, seqs: range) -> list[str | None]:
    """Sends each fragment; its fragment:processed error code, None for a success."""
    found = []
    for seq in seqs:
        processed = only(driver.fragment(seq), "fragment:processed")
        found.append(processed["error"]["code"] if "error" in processed else None)
    return found


def rejected_field(rules: list[dict]) -> str:
    driver = Driver()
    driver.init("s")
    data = simulate(driver, *rules)
    assert data["status"] == "rejected"
    assert data["rules_count"] == 0
    return data["message"]


F = "ASR_FAILED"


# sequence_range


def test_sequence_range_fails_every_number_in_the_range_bounds_included() -> None:
    driver = started(rule("sequence_range", [1, 3]))
    assert codes(driver, range(5)) == [None, F, F, F, None]


def test_sequence_range_of_one_number_fails_only_that_number() -> None:
    driver = started(rule("sequence_range", [2, 2]))
    assert codes(driver, range(4)) == [None, None, F, None]


@pytest.mark.parametrize(
    "value",
    [[3, 1], [-1, 2], [1], [1, 2, 3], [], "1-3", [1.0, 2], [1, "2"], [True, 2], {"first": 1}, 1],
)
def test_an_invalid_sequence_range_is_refused_naming_the_value(value: object) -> None:
    assert "rules[0].value" in rejected_field([rule("sequence_range", value)])


# next_n


def test_next_n_fails_exactly_k_fragments_then_recovers() -> None:
    driver = started(rule("next_n", 3))
    assert codes(driver, range(7)) == [F, F, F, None, None, None, None]


def test_next_n_does_not_count_fragments_accepted_before_the_rule() -> None:
    driver = Driver()
    driver.init("s")
    driver.fragment(0)
    driver.fragment(1)
    simulate(driver, rule("next_n", 2))
    assert codes(driver, range(2, 6)) == [F, F, None, None]


def test_next_n_counts_fragments_another_rule_wins() -> None:
    driver = started(rule("sequence_number", 0, "GPU_OOM"), rule("next_n", 2, "MODEL_ERROR"))
    assert codes(driver, range(4)) == ["GPU_OOM", "MODEL_ERROR", None, None]


def test_next_n_does_not_count_a_refused_fragment() -> None:
    driver = started(rule("next_n", 2))
    assert codes(driver, range(1)) == [F]
    assert only(driver.fragment(5), "error")["code"] == "INVALID_SEQUENCE"
    assert codes(driver, range(6, 8)) == [F, None]


def test_setting_the_rules_again_by_config_event_restarts_next_n() -> None:
    driver = started(rule("next_n", 1))
    assert codes(driver, range(3)) == [F, None, None]
    simulate(driver, rule("next_n", 1))
    assert codes(driver, range(3, 6)) == [F, None, None]


def test_applying_the_plan_again_restarts_next_n() -> None:
    plan = FaultPlan.model_validate({"error_simulation": {"rules": [rule("next_n", 2)]}})
    driver = Driver()
    driver.plans.put("s", plan, driver.now)
    driver.init("s")
    assert codes(driver, range(3)) == [F, F, None]
    driver.connection.apply_plan(plan, driver.now)
    assert codes(driver, range(3, 6)) == [F, F, None]


def test_a_plan_without_error_simulation_leaves_next_n_counting() -> None:
    driver = started(rule("next_n", 2))
    assert codes(driver, range(1)) == [F]
    driver.connection.apply_plan(FaultPlan.model_validate({"drop_processed": [99]}), driver.now)
    assert codes(driver, range(1, 3)) == [F, None]


@pytest.mark.parametrize("value", [0, -1, 1.5, "2", True, None])
def test_an_invalid_next_n_is_refused_naming_the_value(value: object) -> None:
    assert "rules[0].value" in rejected_field([rule("next_n", value)])


# probability


def pattern(seed: int, count: int, *, accepted_before: int = 0, p: float = 0.5) -> list[bool]:
    """Which of the ``count`` fragments accepted after the rule fail, in a new session."""
    driver = Driver(queue_limit=1000)
    driver.init("s")
    for seq in range(accepted_before):
        driver.fragment(seq)
    simulate(driver, rule("probability", p, seed=seed))
    first = accepted_before
    return [code is not None for code in codes(driver, range(first, first + count))]


def test_seeded_probability_repeats_its_pattern_in_another_session() -> None:
    first = pattern(1234, 40)
    assert first == pattern(1234, 40)
    assert True in first
    assert False in first


def test_seeded_probability_counts_from_when_the_rule_took_effect() -> None:
    assert pattern(1234, 40, accepted_before=3) == pattern(1234, 40)


def test_seeded_probability_follows_seeded_fraction_of_the_index() -> None:
    expected = [seeded_fraction(99, k) < 0.3 for k in range(1, 41)]
    assert pattern(99, 40, p=0.3) == expected


def test_another_seed_gives_another_pattern() -> None:
    assert pattern(1, 40) != pattern(2, 40)


SCRIPT = """
import json, sys
from tests.unit.driver import Driver, of
driver = Driver(queue_limit=1000)
driver.init("s")
rule = {"trigger": "probability", "value": 0.5, "seed": 4321, "error_code": "ASR_FAILED"}
driver.send("config:error_simulation", {"rules": [rule]})
for seq in range(40):
    driver.fragment(seq)
print(json.dumps([p["status"] == "failed" for p in of(driver.log, "fragment:processed")]))
"""


def pattern_in_a_new_process(hash_seed: str) -> list[bool]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_seeded_probability_repeats_its_pattern_in_separate_processes() -> None:
    first = pattern_in_a_new_process("1")
    assert first == pattern_in_a_new_process("2")
    assert first == pattern(4321, 40)


def test_probability_zero_never_matches() -> None:
    driver = started(rule("probability", 0))
    assert codes(driver, range(50)) == [None] * 50


def test_probability_one_always_matches() -> None:
    driver = started(rule("probability", 1))
    assert codes(driver, range(50)) == [F] * 50


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_probability_bounds_hold_with_a_seed_too(p: float) -> None:
    assert pattern(7, 50, p=p) == [p == 1.0] * 50


def test_unseeded_probability_matches_some_and_not_others() -> None:
    driver = started(rule("probability", 0.5))
    found = codes(driver, range(60))
    assert F in found
    assert None in found


@pytest.mark.parametrize("value", [1.5, -0.1, "0.5", True, float("nan"), [0.5]])
def test_an_invalid_probability_is_refused_naming_the_value(value: object) -> None:
    assert "rules[0].value" in rejected_field([rule("probability", value)])


@pytest.mark.parametrize(
    ("trigger", "value"),
    [
        ("sequence_number", 1),
        ("fragment_id", "f1"),
        ("nth_fragment", 2),
        ("sequence_range", [0, 1]),
        ("next_n", 1),
    ],
)
def test_a_seed_on_another_trigger_is_refused_naming_seed(trigger: str, value: object) -> None:
    assert "rules[0].seed" in rejected_field([rule(trigger, value, seed=3)])


def test_a_seed_on_another_trigger_in_a_plan_is_refused_naming_seed() -> None:
    body = {"error_simulation": {"rules": [rule("next_n", 1, seed=3)]}}
    assert validate(FaultPlan, body)[0] == "error_simulation.rules[0].seed"


def test_a_non_integer_seed_is_refused_naming_seed() -> None:
    assert "rules[0].seed" in rejected_field([rule("probability", 0.5, seed="7")])


# which rule wins


def test_the_first_matching_rule_in_list_order_wins_among_the_new_triggers() -> None:
    driver = started(
        rule("next_n", 1, "MODEL_ERROR"),
        rule("sequence_range", [0, 1], "GPU_OOM"),
        rule("probability", 1, "TRANSLATION_FAILED"),
    )
    assert codes(driver, range(3)) == ["MODEL_ERROR", "GPU_OOM", "TRANSLATION_FAILED"]


def test_list_order_not_trigger_kind_decides_the_winner() -> None:
    driver = started(
        rule("probability", 1, "TRANSLATION_FAILED"),
        rule("next_n", 1, "MODEL_ERROR"),
        rule("sequence_range", [0, 1], "GPU_OOM"),
    )
    assert codes(driver, range(3)) == ["TRANSLATION_FAILED"] * 3


def test_the_winning_rule_gives_its_own_overrides() -> None:
    driver = started(
        rule("sequence_range", [0, 0], "RATE_LIMIT_EXCEEDED", severity="fatal"),
        rule("next_n", 5, "RATE_LIMIT_EXCEEDED", retryable=False),
    )
    driver.fragment(0)
    driver.fragment(1)
    errors = [p["error"] for p in of(driver.log, "fragment:processed")]
    assert [(e["severity"], e["retryable"]) for e in errors] == [
        ("fatal", True),
        ("warning", False),
    ]
