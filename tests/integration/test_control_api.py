"""The control API over real HTTP, and its effect on real Socket.IO sessions."""

from __future__ import annotations

import asyncio

import pytest
import socketio
from tornado.ioloop import IOLoop

from tests.integration.http import call
from tests.workers import fragment

PLAN = {
    "error_simulation": {
        "rules": [{"trigger": "sequence_number", "value": 2, "error_code": "TIMEOUT"}]
    },
    "processing_delay": {"delay_ms": 50},
    "drop_processed": [4],
}


async def test_plan_can_be_stored_read_and_deleted(server) -> None:
    code, stored, _ = await call(server.url, "PUT", "/admin/streams/s-42/plan", PLAN)
    assert code == 200
    assert stored["drop_processed"] == [4]
    assert stored["processing_delay"]["delay_ms"] == 50
    code, read, _ = await call(server.url, "GET", "/admin/streams/s-42/plan")
    assert (code, read) == (200, stored)
    code, body, _ = await call(server.url, "DELETE", "/admin/streams/s-42/plan")
    assert (code, body) == (200, {"deleted": "s-42"})
    assert (await call(server.url, "GET", "/admin/streams/s-42/plan"))[0] == 404
    assert (await call(server.url, "DELETE", "/admin/streams/s-42/plan"))[0] == 404


async def test_stream_ids_in_paths_are_url_decoded(server) -> None:
    await call(server.url, "PUT", "/admin/streams/s%2042/plan", {"drop_processed": [1]})
    now = IOLoop.current().time()
    assert server.service.fleet.plans.get("s 42", now).plan.dropped() == frozenset({1})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"drop_processed": [-1]}, "drop_processed[0]"),
        ({"refuse_connections": {"count": 1, "code": "NOPE"}}, "refuse_connections.code"),
        (
            {
                "error_simulation": {
                    "rules": [{"trigger": "nth_fragment", "value": 0, "error_code": "TIMEOUT"}]
                }
            },
            "error_simulation.rules[0].value",
        ),
        ({"unknown_key": 1}, "unknown_key"),
        ([1, 2], ""),
    ],
)
async def test_invalid_plan_is_400_naming_the_field(server, body, field: str) -> None:
    code, answer, _ = await call(server.url, "PUT", "/admin/streams/s/plan", body)
    assert code == 400
    assert answer["field"] == field
    assert field in answer["error"]


async def test_body_that_is_not_json_is_400(server) -> None:
    code, answer, _ = await call(server.url, "PUT", "/admin/streams/s/plan", raw=b"{nope")
    assert code == 400
    assert "not valid JSON" in answer["error"]


async def test_plan_limit_is_429(start_server) -> None:
    server = start_server(max_plans=1)
    assert (await call(server.url, "PUT", "/admin/streams/a/plan", {}))[0] == 200
    code, answer, _ = await call(server.url, "PUT", "/admin/streams/b/plan", {})
    assert code == 429
    assert "1 fault plans" in answer["error"]
    assert (await call(server.url, "PUT", "/admin/streams/a/plan", {"drop_processed": []}))[
        0
    ] == 200


async def test_control_api_requires_a_bearer_key_when_keys_are_set(start_server) -> None:
    server = start_server(api_keys=("k1",))
    for token in (None, "wrong"):
        code, answer, headers = await call(server.url, "POST", "/admin/reset", token=token)
        assert code == 401
        assert "Bearer" in answer["error"]
        assert headers["Www-Authenticate"].startswith("Bearer")
    assert (await call(server.url, "POST", "/admin/reset", token="k1"))[0] == 200


async def test_unknown_admin_route_answers_json(server) -> None:
    code, answer, _ = await call(server.url, "PATCH", "/admin/streams/s/plan", {})
    assert code == 405
    assert answer["error"]


async def test_unknown_path_answers_json_404(server) -> None:
    code, answer, _ = await call(server.url, "GET", "/admin/nope")
    assert (code, answer) == (404, {"error": "no route for /admin/nope"})


async def test_reset_removes_every_plan(server) -> None:
    await call(server.url, "PUT", "/admin/streams/a/plan", {})
    await call(server.url, "PUT", "/admin/streams/b/plan", {})
    code, body, _ = await call(server.url, "POST", "/admin/reset")
    assert (code, body) == (200, {"plans_removed": 2, "sessions_forgotten": 0})
    assert (await call(server.url, "GET", "/admin/streams/a/plan"))[0] == 404


async def test_planned_faults_reach_a_worker_that_sends_no_config_event(
    make_worker, server
) -> None:
    code, _, _ = await call(server.url, "PUT", "/admin/streams/s-42/plan", PLAN)
    assert code == 200
    worker = await make_worker().connect(headers={"X-Stream-ID": "s-42"})
    await worker.start("s-42", max_inflight=10)
    for seq in range(6):
        await worker.emit("fragment:data", fragment("s-42", seq))
    await worker.emit("stream:end", {"stream_id": "s-42"})
    complete = await worker.next("stream:complete")
    processed = worker.received("fragment:processed")
    assert [p["sequence_number"] for p in processed] == [0, 1, 2, 3, 5]
    assert [p["status"] for p in processed] == [
        "success",
        "success",
        "failed",
        "success",
        "success",
    ]
    assert processed[2]["error"]["code"] == "TIMEOUT"
    assert processed[2]["error"]["retryable"] is True
    assert all(p["processing_time_ms"] >= 50 for p in processed)
    assert len(worker.received("fragment:ack")) == 6
    stats = complete["statistics"]
    assert complete["total_fragments"] == 6
    assert (stats["success_count"], stats["failed_count"], stats["dropped_count"]) == (4, 1, 1)
    assert worker.received("error") == []


async def test_plan_refuses_the_next_connections_of_its_stream(make_worker, server) -> None:
    plan = {"refuse_connections": {"count": 2, "code": "AUTH_FAILED"}}
    await call(server.url, "PUT", "/admin/streams/s-42/plan", plan)
    other = await make_worker().connect(headers={"X-Stream-ID": "s-7"})
    assert other.sio.connected
    for _ in range(2):
        worker = make_worker()
        seen: list = []
        worker.sio.on("connect_error", seen.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await worker.connect(headers={"X-Stream-ID": "s-42"})
        assert seen[0]["message"] == "AUTH_FAILED"
        assert seen[0]["data"]["code"] == "AUTH_FAILED"
    third = await make_worker().connect(headers={"X-Stream-ID": "s-42"})
    assert third.sio.connected
    code, stored, _ = await call(server.url, "GET", "/admin/streams/s-42/plan")
    assert (code, stored["refuse_connections"]["count"]) == (200, 0)


async def test_plan_applies_at_once_to_an_active_session(make_worker, server) -> None:
    worker = await make_worker().connect()
    await worker.start("live")
    await worker.emit("fragment:data", fragment("live", 0))
    await worker.next("fragment:processed")
    plan = {
        "error_simulation": {
            "rules": [{"trigger": "nth_fragment", "value": 1, "error_code": "GPU_OOM"}]
        }
    }
    code, _, headers = await call(server.url, "PUT", "/admin/streams/live/plan", plan)
    assert (code, headers["X-Echosts-Applied-Sessions"]) == (200, "1")
    await worker.emit("fragment:data", fragment("live", 1))
    assert (await worker.next("fragment:processed"))["error"]["code"] == "GPU_OOM"


async def test_forced_disconnect_drops_every_connection_of_the_stream(make_worker, server) -> None:
    first = await make_worker().connect()
    second = await make_worker().connect()
    bystander = await make_worker().connect()
    await first.start("s-42")
    await second.start("s-42")
    await bystander.start("s-1")
    code, body, _ = await call(
        server.url, "POST", "/admin/streams/s-42/disconnect", {"delay_ms": 100}
    )
    assert (code, body) == (200, {"connections": 2})
    await asyncio.wait_for(first.disconnected.wait(), 5)
    await asyncio.wait_for(second.disconnected.wait(), 5)
    assert bystander.sio.connected
    assert first.disconnect_reason == socketio.AsyncClient.reason.SERVER_DISCONNECT


async def test_forced_disconnect_of_an_unknown_stream_reports_zero(server) -> None:
    code, body, _ = await call(server.url, "POST", "/admin/streams/none/disconnect")
    assert (code, body) == (200, {"connections": 0})


async def test_forced_disconnect_rejects_a_bad_delay(server) -> None:
    code, body, _ = await call(server.url, "POST", "/admin/streams/s/disconnect", {"delay_ms": -1})
    assert (code, body["field"]) == (400, "delay_ms")


async def test_a_plan_nothing_uses_expires_after_the_idle_setting(start_server) -> None:
    server = start_server(plan_idle_expiry_s=1.0)
    await call(server.url, "PUT", "/admin/streams/s/plan", {})
    assert (await call(server.url, "GET", "/admin/streams/s/plan"))[0] == 200
    await asyncio.sleep(1.05)
    assert (await call(server.url, "GET", "/admin/streams/s/plan"))[0] == 404
