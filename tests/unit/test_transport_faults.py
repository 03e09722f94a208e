"""Section 11.6 (core part): how a scheduled disconnect drops the connection."""

from __future__ import annotations

from typing import Any

import pytest

from echosts import protocol as p
from echosts.outputs import Close
from tests.unit.driver import Driver, Tally, closes, error, of

MODES = ["server_disconnect", "close", "reset", "hang"]


def disconnect(driver: Driver, **body: Any) -> list:
    return driver.send("simulate:disconnect", {"delay_ms": 500, **body})


@pytest.mark.parametrize("mode", ["close", "reset", "hang"])
def test_simulated_disconnect_closes_with_its_mode_at_the_due_time(mode: str) -> None:
    driver = Driver()
    driver.init("s")
    disconnect(driver, mode=mode, reason="chaos")
    assert closes(driver.advance(0.49)) == []
    (close,) = closes(driver.advance(0.01))
    assert (close.reason, close.mode) == ("chaos", mode)


def test_simulated_disconnect_defaults_to_a_server_disconnect() -> None:
    driver = Driver()
    disconnect(driver)
    (close,) = closes(driver.advance(0.5))
    assert close.mode == "server_disconnect"
    assert close.hang_ms == 120_000


def test_a_hang_carries_its_hang_ms() -> None:
    driver = Driver()
    disconnect(driver, mode="hang", hang_ms=5000)
    (close,) = closes(driver.advance(0.5))
    assert (close.mode, close.hang_ms) == ("hang", 5000)


def test_a_hang_without_hang_ms_waits_the_default() -> None:
    driver = Driver()
    disconnect(driver, mode="hang")
    (close,) = closes(driver.advance(0.5))
    assert close.hang_ms == p.DEFAULT_HANG_MS == 120_000


@pytest.mark.parametrize("mode", MODES)
def test_the_ack_is_unchanged_by_the_mode(mode: str) -> None:
    driver = Driver()
    (ack,) = disconnect(driver, mode=mode)
    assert ack.data == {"status": "scheduled", "disconnect_at_ms": 1_700_000_000_500}


@pytest.mark.parametrize("mode", ["CLOSE", "rst", "", "server-disconnect", 1, ["close"]])
def test_an_unknown_mode_is_rejected_naming_mode(mode: object) -> None:
    driver = Driver()
    refused = error(disconnect(driver, mode=mode))
    assert refused["code"] == "INVALID_CONFIG"
    assert refused["metadata"]["field"] == "mode"
    assert driver.connection.next_deadline() is None


@pytest.mark.parametrize("hang_ms", [99, 600_001, 0, -1, "1000", 1000.0])
def test_hang_ms_out_of_bounds_is_rejected_naming_hang_ms(hang_ms: object) -> None:
    refused = error(disconnect(Driver(), mode="hang", hang_ms=hang_ms))
    assert refused["metadata"]["field"] == "hang_ms"


@pytest.mark.parametrize("hang_ms", [100, 600_000])
def test_hang_ms_at_its_bounds_is_accepted(hang_ms: int) -> None:
    driver = Driver()
    disconnect(driver, mode="hang", hang_ms=hang_ms)
    (close,) = closes(driver.advance(0.5))
    assert close.hang_ms == hang_ms


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "rst"}, "mode"),
        ({"mode": "hang", "hang_ms": 99}, "hang_ms"),
        ({"mode": "hang", "hang_ms": 600_001}, "hang_ms"),
        ({"mode": "close", "reason": "x"}, "reason"),
    ],
)
def test_an_invalid_disconnect_request_is_refused_naming_the_field(body: dict, field: str) -> None:
    assert p.validate(p.DisconnectRequest, body)[0] == field


@pytest.mark.parametrize("mode", MODES)
def test_a_disconnect_request_takes_every_mode(mode: str) -> None:
    request = p.validate(p.DisconnectRequest, {"mode": mode, "hang_ms": 100})
    assert (request.mode, request.hang_ms) == (mode, 100)


def test_a_disconnect_request_defaults_to_server_disconnect_now() -> None:
    request = p.validate(p.DisconnectRequest, {})
    assert (request.delay_ms, request.mode, request.hang_ms) == (0, "server_disconnect", 120_000)


@pytest.mark.parametrize(
    ("mode", "kind"),
    [("server_disconnect", "disconnect"), ("close", "close"), ("reset", "reset"), ("hang", "hang")],
)
def test_a_simulated_disconnect_counts_a_fault_of_its_mode(mode: str, kind: str) -> None:
    tally = Tally()
    driver = Driver(observer=tally)
    disconnect(driver, mode=mode)
    assert tally.faults == [kind]


@pytest.mark.parametrize(
    ("mode", "kind"),
    [("server_disconnect", "disconnect"), ("close", "close"), ("reset", "reset"), ("hang", "hang")],
)
def test_a_control_disconnect_counts_a_fault_of_its_mode(mode: str, kind: str) -> None:
    tally = Tally()
    driver = Driver(observer=tally)
    driver.init("s")
    driver.connection.schedule_disconnect(driver.now, 100, Close("asked", mode, 200))
    assert tally.faults == [kind]


@pytest.mark.parametrize("mode", MODES)
def test_a_control_disconnect_closes_with_the_close_it_was_given(mode: str) -> None:
    driver = Driver()
    driver.init("s")
    driver.connection.schedule_disconnect(driver.now, 100, Close("asked", mode, 250))
    (close,) = closes(driver.advance(0.1))
    assert close == Close("asked", mode, 250)


@pytest.mark.parametrize("mode", MODES)
def test_nothing_in_flight_is_emitted_after_the_close(mode: str) -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(1000)
    driver.fragment(0)
    disconnect(driver, mode=mode)
    driver.advance(0.5)
    assert driver.connection.closing
    assert driver.advance(2.0) == []
    assert driver.send("fragment:data", {}) == []
    assert of(driver.log, "fragment:processed") == []


def test_the_earliest_disconnect_wins_with_its_own_mode() -> None:
    driver = Driver()
    disconnect(driver, mode="reset", delay_ms=2000)
    disconnect(driver, mode="hang", delay_ms=1000, hang_ms=300)
    disconnect(driver, mode="close", delay_ms=1500)
    (close,) = closes(driver.advance(5))
    assert (close.mode, close.hang_ms) == ("hang", 300)
