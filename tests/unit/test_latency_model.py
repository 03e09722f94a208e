"""Section 11.3: enforce_timeout and the serial latency model, through the connection core."""

from __future__ import annotations

import pytest

from echosts.models import FaultPlan
from tests.unit.driver import START, Driver, Tally, of, only


def processed(driver: Driver) -> list[dict]:
    return of(driver.log, "fragment:processed")


def test_the_ack_echoes_mode_and_enforce_timeout() -> None:
    driver = Driver()
    driver.init("s")
    assert driver.delay(100, mode="serial", enforce_timeout=False) == {
        "status": "accepted",
        "delay_ms": 100,
        "jitter_ms": 0,
        "distribution": "uniform",
        "enforce_timeout": False,
        "mode": "serial",
    }


def test_the_ack_gives_the_defaults_parallel_and_enforced() -> None:
    driver = Driver()
    driver.init("s")
    ack = driver.delay(100)
    assert (ack["mode"], ack["enforce_timeout"]) == ("parallel", True)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"mode": "batch"}, "mode"),
        ({"mode": 1}, "mode"),
        ({"enforce_timeout": "false"}, "enforce_timeout"),
        ({"enforce_timeout": 0}, "enforce_timeout"),
    ],
)
def test_an_invalid_mode_or_enforce_timeout_is_rejected_naming_it(extra: dict, field: str) -> None:
    driver = Driver()
    driver.init("s")
    (ack,) = driver.send("config:processing_delay", {"delay_ms": 1, **extra})
    assert ack.data["status"] == "rejected"
    assert field in ack.data["message"]


# enforce_timeout


def test_without_enforce_timeout_a_slow_fragment_succeeds_at_its_own_due_time() -> None:
    driver = Driver()
    driver.init("s", timeout_ms=1000)
    driver.delay(1500, enforce_timeout=False)
    driver.fragment(0)
    assert of(driver.advance(1.0), "fragment:processed") == []
    assert of(driver.advance(0.49), "fragment:processed") == []
    late = only(driver.advance(0.01), "fragment:processed")
    assert late["status"] == "success"
    assert "error" not in late
    assert late["dubbed_audio"]["data_base64"]
    assert late["processing_time_ms"] == 1500


def test_a_late_success_is_counted_as_a_late_fault_and_a_success() -> None:
    tally = Tally()
    driver = Driver(observer=tally)
    driver.init("s", timeout_ms=1000)
    driver.delay(1500, enforce_timeout=False)
    driver.fragment(0)
    driver.advance(1.5)
    assert tally.faults == ["late"]
    complete = only(driver.send("stream:end", {"stream_id": "s"}), "stream:complete")
    assert complete["statistics"]["success_count"] == 1


def test_with_enforce_timeout_the_same_fragment_times_out_at_timeout_ms() -> None:
    driver = Driver()
    driver.init("s", timeout_ms=1000)
    driver.delay(1500, enforce_timeout=True)
    driver.fragment(0)
    timed_out = only(driver.advance(1.0), "fragment:processed")
    assert timed_out["error"]["code"] == "TIMEOUT"
    assert timed_out["processing_time_ms"] == 1000


def test_enforce_timeout_from_a_plan_applies_to_the_session() -> None:
    driver = Driver()
    plan = {"processing_delay": {"delay_ms": 1500, "enforce_timeout": False}}
    driver.plans.put("s", FaultPlan.model_validate(plan), driver.now)
    driver.init("s", timeout_ms=1000)
    driver.fragment(0)
    assert of(driver.advance(1.0), "fragment:processed") == []
    assert only(driver.advance(0.5), "fragment:processed")["status"] == "success"


# serial mode


def test_parallel_mode_processes_fragments_side_by_side() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(100)
    for seq in range(3):
        driver.fragment(seq)
    out = driver.advance(0.1)
    assert [p["processing_time_ms"] for p in of(out, "fragment:processed")] == [100, 100, 100]


def test_serial_mode_latency_grows_with_the_backlog() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(100, mode="serial")
    acks = [only(driver.fragment(seq), "fragment:ack") for seq in range(3)]
    assert [a["estimated_completion_ms"] for a in acks] == [100, 200, 300]
    assert len(of(driver.advance(0.1), "fragment:processed")) == 1
    assert len(of(driver.advance(0.1), "fragment:processed")) == 1
    assert len(of(driver.advance(0.1), "fragment:processed")) == 1
    assert [p["processing_time_ms"] for p in processed(driver)] == [100, 200, 300]


def test_serial_mode_a_fragment_arriving_at_an_idle_pipeline_waits_only_its_delay() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(100, mode="serial")
    driver.fragment(0)
    driver.advance(1.0)
    driver.fragment(1)
    assert only(driver.advance(0.1), "fragment:processed")["processing_time_ms"] == 100


def test_serial_mode_waiting_counts_toward_the_timeout() -> None:
    driver = Driver()
    driver.init("s", timeout_ms=1000)
    driver.delay(400, mode="serial")
    for seq in range(3):
        driver.fragment(seq)
    assert [p["status"] for p in of(driver.advance(0.8), "fragment:processed")] == [
        "success",
        "success",
    ]
    assert driver.connection.next_deadline() == pytest.approx(START + 1.0)
    timed_out = only(driver.advance(0.2), "fragment:processed")
    assert timed_out["error"]["code"] == "TIMEOUT"
    assert timed_out["processing_time_ms"] == 1000


def test_serial_mode_a_timed_out_fragment_still_occupies_the_pipeline() -> None:
    driver = Driver()
    driver.init("s", timeout_ms=1000)
    driver.delay(1500, mode="serial")
    driver.fragment(0)
    assert only(driver.advance(1.0), "fragment:processed")["error"]["code"] == "TIMEOUT"
    driver.delay(100, mode="serial")
    driver.fragment(1)
    assert of(driver.advance(0.5), "fragment:processed") == []
    after = only(driver.advance(0.1), "fragment:processed")
    assert after["status"] == "success"
    assert after["processing_time_ms"] == 600


def test_serial_mode_without_enforce_timeout_lets_the_backlog_finish_late() -> None:
    driver = Driver()
    driver.init("s", timeout_ms=1000)
    driver.delay(400, mode="serial", enforce_timeout=False)
    for seq in range(3):
        driver.fragment(seq)
    driver.advance(1.2)
    assert [(p["status"], p["processing_time_ms"]) for p in processed(driver)] == [
        ("success", 400),
        ("success", 800),
        ("success", 1200),
    ]
