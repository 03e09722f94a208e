"""Section 11's faults through the control API, seen from a real python-socketio client.

Each test is a path of a real media worker's resilience code: a breaker that opens and closes
again, a late success its own timer must catch, a pause that never clears, an init that fails
or is slow, a service that refuses its connections whatever its headers.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import socketio

from tests.integration.http import call
from tests.workers import fragment


async def plan(server, stream_id: str, body: dict[str, Any]) -> dict[str, Any]:
    code, stored, _ = await call(server.url, "PUT", f"/admin/streams/{stream_id}/plan", body)
    assert code == 200, stored
    return stored


def faults(server, kind: str) -> float:
    value = server.service.registry.get_sample_value(
        "echosts_simulated_faults_total", {"kind": kind}
    )
    return value or 0.0


async def test_a_breaker_opens_on_five_real_service_failures_then_closes(
    server, make_worker
) -> None:
    rule = {"trigger": "next_n", "value": 5, "error_code": "ASR_FAILED"}
    await plan(server, "s-1", {"error_simulation": {"rules": [rule]}})
    worker = await make_worker().connect()
    await worker.start("s-1", max_inflight=10)
    for number in range(8):
        await worker.emit("fragment:data", fragment("s-1", number))
    processed = await worker.wait_count("fragment:processed", 8)
    assert [event["status"] for event in processed] == ["failed"] * 5 + ["success"] * 3
    error = processed[0]["error"]
    assert (error["code"], error["retryable"], error["severity"]) == ("ASR_FAILED", False, "error")


async def test_a_late_success_arrives_after_the_workers_own_timeout(server, make_worker) -> None:
    delay = {"delay_ms": 1300, "enforce_timeout": False}
    await plan(server, "s-1", {"processing_delay": delay})
    worker = await make_worker().connect()
    await worker.start("s-1", timeout_ms=1000)
    sent = time.monotonic()
    await worker.emit("fragment:data", fragment("s-1", 0))
    processed = await worker.next("fragment:processed")
    assert processed["status"] == "success"
    assert processed["processing_time_ms"] >= 1300
    assert time.monotonic() - sent >= 1.25
    assert faults(server, "late") == 1


async def test_serial_processing_makes_latency_grow_with_the_backlog(server, make_worker) -> None:
    await plan(server, "s-1", {"processing_delay": {"delay_ms": 100, "mode": "serial"}})
    worker = await make_worker().connect()
    await worker.start("s-1", max_inflight=10)
    for number in range(4):
        await worker.emit("fragment:data", fragment("s-1", number))
    processed = await worker.wait_count("fragment:processed", 4)
    times = [event["processing_time_ms"] for event in processed]
    assert times == sorted(times)
    assert times[3] - times[0] >= 250, times
    assert times[3] >= 380, times


async def test_a_pushed_pause_reaches_the_worker_as_sent_and_never_clears(
    server, make_worker
) -> None:
    worker = await make_worker().connect()
    await worker.start("s-1")
    pause = {
        "stream_id": "s-1",
        "severity": "high",
        "current_inflight": 12,
        "queue_depth": 12,
        "action": "pause",
    }
    code, answer, _ = await call(
        server.url, "POST", "/admin/streams/s-1/emit", {"event": "backpressure", "data": pause}
    )
    assert (code, answer) == (200, {"connections": 1})
    assert await worker.next("backpressure") == pause
    await worker.emit("fragment:data", fragment("s-1", 0))
    await worker.next("fragment:processed")
    assert worker.received("backpressure") == [pause]
    assert faults(server, "push") == 1


async def test_a_pushed_event_reaches_only_sessions_of_that_stream(server, make_worker) -> None:
    ours = await make_worker().connect()
    await ours.start("s-1")
    other = await make_worker().connect()
    await other.start("s-2")
    idle = await make_worker().connect()
    body = {"event": "error", "data": {"code": "ASR_FAILED", "message": "stray"}}
    code, answer, _ = await call(server.url, "POST", "/admin/streams/s-1/emit", body)
    assert (code, answer) == (200, {"connections": 1})
    assert (await ours.next("error"))["message"] == "stray"
    await asyncio.sleep(0.1)
    assert other.received("error") == idle.received("error") == []


async def test_pushing_an_event_no_worker_receives_is_refused_naming_the_field(server) -> None:
    for body, field in (
        ({"event": "stream:init", "data": {}}, "event"),
        ({"event": "backpressure", "data": [1]}, "data"),
        ({"event": "backpressure"}, "data"),
    ):
        code, answer, _ = await call(server.url, "POST", "/admin/streams/s-1/emit", body)
        assert (code, answer["field"]) == (400, field)


async def test_a_slow_init_answers_ready_after_its_delay(server, make_worker) -> None:
    await plan(server, "s-1", {"init": {"delay_ms": 400}})
    worker = await make_worker().connect()
    sent = time.monotonic()
    ready = await worker.start("s-1")
    assert time.monotonic() - sent >= 0.38
    assert ready["stream_id"] == "s-1"
    assert faults(server, "init_delay") == 1


async def test_a_failing_init_answers_its_code_then_the_next_one_succeeds(
    server, make_worker
) -> None:
    await plan(server, "s-1", {"init": {"error_code": "INVALID_VOICE_PROFILE", "count": 1}})
    worker = await make_worker().connect()
    await worker.emit("stream:init", {"stream_id": "s-1", "config": {}})
    error = await worker.next("error")
    assert (error["code"], error["stream_id"], error["retryable"]) == (
        "INVALID_VOICE_PROFILE",
        "s-1",
        False,
    )
    code, stored, _ = await call(server.url, "GET", "/admin/streams/s-1/plan")
    assert (code, stored) == (200, {})
    assert (await worker.start("s-1"))["stream_id"] == "s-1"


async def test_a_queue_limit_refuses_with_the_real_services_code(server, make_worker) -> None:
    body = {
        "queue": {"limit": 2, "error_code": "BACKPRESSURE_EXCEEDED"},
        "processing_delay": {"delay_ms": 500},
    }
    await plan(server, "s-1", body)
    worker = await make_worker().connect()
    await worker.start("s-1", max_inflight=10)
    for number in range(3):
        await worker.emit("fragment:data", fragment("s-1", number))
    error = await worker.next("error")
    assert (error["code"], error["severity"], error["retryable"]) == (
        "BACKPRESSURE_EXCEEDED",
        "warning",
        True,
    )
    assert error["fragment_id"] == "s-1-f2"
    await worker.wait_count("fragment:processed", 2)
    await worker.emit("fragment:data", fragment("s-1", 2))
    assert len(await worker.wait_count("fragment:processed", 3)) == 3


async def test_a_worker_with_no_headers_is_refused_n_times_then_admitted(server) -> None:
    code, answer, _ = await call(server.url, "POST", "/admin/connections/refuse", {"count": 2})
    assert (code, answer) == (200, {"pending": 2})
    client = socketio.AsyncClient()
    refusals: list[Any] = []
    client.on("connect_error", refusals.append)
    try:
        for _attempt in range(5):
            try:
                await client.connect(server.url, wait_timeout=5)
                break
            except socketio.exceptions.ConnectionError:
                await asyncio.sleep(0.05)
        assert client.connected
    finally:
        await client.shutdown()
    assert [refusal["data"]["code"] for refusal in refusals] == ["RATE_LIMIT", "RATE_LIMIT"]
    assert (await call(server.url, "GET", "/admin/connections/refuse"))[1]["pending"] == 0
    assert faults(server, "refusal") == 2


async def test_refusals_are_cleared_by_delete_and_by_reset(server) -> None:
    await call(server.url, "POST", "/admin/connections/refuse", {"count": 5, "code": "AUTH_FAILED"})
    code, answer, _ = await call(server.url, "DELETE", "/admin/connections/refuse")
    assert (code, answer) == (200, {"pending": 0})
    await call(server.url, "POST", "/admin/connections/refuse", {"count": 5})
    await call(server.url, "POST", "/admin/reset")
    assert (await call(server.url, "GET", "/admin/connections/refuse"))[1]["pending"] == 0


async def test_a_refusal_count_out_of_range_is_400_naming_the_field(server) -> None:
    for body, field in (({"count": 0}, "count"), ({"count": 1, "code": "NOPE"}, "code")):
        code, answer, _ = await call(server.url, "POST", "/admin/connections/refuse", body)
        assert (code, answer["field"]) == (400, field)
    assert (await call(server.url, "GET", "/admin/connections/refuse"))[1]["pending"] == 0


async def test_an_invalid_new_plan_key_is_400_and_leaves_the_plan_unchanged(server) -> None:
    stored = await plan(server, "s-1", {"queue": {"limit": 3}})
    for body, field in (
        ({"queue": {"limit": 0}}, "queue.limit"),
        ({"queue": {"limit": 2, "error_code": "bad code"}}, "queue.error_code"),
        ({"init": {"count": 2}}, "init"),
        ({"init": {"delay_ms": 10, "colour": "red"}}, "init.colour"),
    ):
        code, answer, _ = await call(server.url, "PUT", "/admin/streams/s-1/plan", body)
        assert (code, answer["field"]) == (400, field), answer
    assert (await call(server.url, "GET", "/admin/streams/s-1/plan"))[1] == stored


async def test_one_connection_joining_two_namespaces_is_one_attempt(server) -> None:
    await call(server.url, "POST", "/admin/connections/refuse", {"count": 3})
    client = socketio.AsyncClient()
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server.url, namespaces=["/", "/sts"], wait_timeout=5)
    finally:
        await client.shutdown()
    assert (await call(server.url, "GET", "/admin/connections/refuse"))[1] == {"pending": 2}
    refused = server.service.registry.get_sample_value(
        "echosts_connections_refused_total", {"reason": "refuse_all"}
    )
    assert refused == 1


async def test_a_push_to_a_hung_connection_reaches_nobody(server, make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s-1")
    await call(server.url, "POST", "/admin/streams/s-1/disconnect", {"mode": "hang"})
    await asyncio.sleep(0.1)
    body = {"event": "error", "data": {"code": "ASR_FAILED"}}
    code, answer, _ = await call(server.url, "POST", "/admin/streams/s-1/emit", body)
    assert (code, answer) == (200, {"connections": 0})
