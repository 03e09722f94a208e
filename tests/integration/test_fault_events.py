"""The seeds' US4 and US5 over a real Socket.IO connection, and a combined scenario."""

from __future__ import annotations

import asyncio
import random
import statistics

import pytest
import socketio

from tests.integration.http import call
from tests.workers import fragment


async def test_backpressure_fires_when_inflight_exceeds_the_threshold(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s", max_inflight=10)
    await worker.configure("config:processing_delay", {"delay_ms": 300})
    ack = await worker.configure(
        "config:backpressure",
        {"enabled": True, "threshold": 2, "severity": "high", "action": "pause"},
    )
    assert ack == {"status": "accepted"}
    for seq in range(3):
        await worker.emit("fragment:data", fragment("s", seq))
    raised = await worker.next("backpressure")
    assert (raised["severity"], raised["action"], raised["current_inflight"]) == (
        "high",
        "pause",
        3,
    )
    acks_before = [name for name in worker.names() if name in ("fragment:ack", "backpressure")]
    assert acks_before == ["fragment:ack"] * 3 + ["backpressure"]


async def test_backpressure_clears_with_low_none_when_the_queue_drains(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s", max_inflight=10)
    await worker.configure("config:processing_delay", {"delay_ms": 200})
    await worker.configure(
        "config:backpressure",
        {"enabled": True, "threshold": 1, "severity": "high", "action": "pause"},
    )
    for seq in range(2):
        await worker.emit("fragment:data", fragment("s", seq))
    await worker.next("backpressure")
    cleared = await worker.next("backpressure")
    assert (cleared["severity"], cleared["action"]) == ("low", "none")
    assert cleared["current_inflight"] == 1
    processed_before_clear = worker.names().index("fragment:processed")
    assert processed_before_clear < len(worker.names()) - 1


async def test_simulated_error_fails_fragment_n_with_its_details(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s")
    ack = await worker.configure(
        "config:error_simulation",
        {
            "enabled": True,
            "rules": [
                {
                    "trigger": "sequence_number",
                    "value": 5,
                    "error_code": "TIMEOUT",
                    "error_message": "Simulated timeout",
                    "retryable": True,
                },
                {
                    "trigger": "nth_fragment",
                    "value": 10,
                    "error_code": "MODEL_ERROR",
                    "error_message": "Simulated TTS failure",
                    "stage": "tts",
                },
            ],
        },
    )
    assert ack == {"status": "accepted", "rules_count": 2}
    for seq in range(10):
        await worker.emit("fragment:data", fragment("s", seq))
    processed = await worker.wait_count("fragment:processed", 10)
    failed = {p["sequence_number"]: p["error"] for p in processed if p["status"] == "failed"}
    assert failed == {
        5: {
            "code": "TIMEOUT",
            "message": "Simulated timeout",
            "stage": "asr",
            "retryable": True,
            "severity": "error",
        },
        9: {
            "code": "MODEL_ERROR",
            "message": "Simulated TTS failure",
            "stage": "tts",
            "retryable": True,
            "severity": "error",
        },
    }


async def test_simulated_timeout_is_retryable(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s")
    await worker.configure(
        "config:error_simulation",
        {"rules": [{"trigger": "fragment_id", "value": "s-f0", "error_code": "TIMEOUT"}]},
    )
    await worker.emit("fragment:data", fragment("s", 0))
    assert (await worker.next("fragment:processed"))["error"]["retryable"] is True


async def test_invalid_error_simulation_gets_a_rejected_ack(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s")
    ack = await worker.configure(
        "config:error_simulation",
        {"rules": [{"trigger": "nth_fragment", "value": 0, "error_code": "TIMEOUT"}]},
    )
    assert ack["status"] == "rejected"
    assert ack["rules_count"] == 0
    assert "rules[0].value" in ack["message"]


async def test_auth_failed_on_connection_through_a_plan(make_worker, server) -> None:
    await call(server.url, "PUT", "/admin/streams/s-9/plan", {"refuse_connections": {"count": 1}})
    worker = make_worker()
    seen: list = []
    worker.sio.on("connect_error", seen.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await worker.connect(headers={"X-Stream-ID": "s-9"})
    assert seen[0]["data"] == {
        "code": "AUTH_FAILED",
        "message": "refused by the fault plan of stream s-9",
        "severity": "fatal",
        "retryable": False,
    }


async def test_simulated_disconnect_is_acknowledged_then_drops_the_connection(
    make_worker, server
) -> None:
    worker = await make_worker().connect()
    await worker.emit("simulate:disconnect", {"delay_ms": 150, "reason": "chaos"})
    ack = await worker.next("simulate:disconnect:ack")
    assert ack["status"] == "scheduled"
    assert isinstance(ack["disconnect_at_ms"], int)
    await asyncio.wait_for(worker.disconnected.wait(), 5)
    assert worker.disconnect_reason == socketio.AsyncClient.reason.SERVER_DISCONNECT


async def test_combined_jitter_error_and_backpressure_add_up(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("combo", max_inflight=4)
    await worker.configure(
        "config:processing_delay",
        {"delay_ms": 20, "jitter_ms": 200, "distribution": "uniform", "seed": 11},
    )
    await worker.configure(
        "config:error_simulation",
        {"rules": [{"trigger": "sequence_number", "value": 3, "error_code": "GPU_OOM"}]},
    )
    for seq in range(8):
        await worker.emit("fragment:data", fragment("combo", seq, duration_ms=100 + seq))
    await worker.emit("stream:end", {"stream_id": "combo"})
    complete = await worker.next("stream:complete")

    acks = worker.received("fragment:ack")
    processed = worker.received("fragment:processed")
    assert [p["sequence_number"] for p in processed] == list(range(8))
    assert len(acks) == 8
    seeded = random.Random(11)
    delays = [20 + seeded.uniform(0, 200) for _ in range(8)]
    assert any(delays[i] - delays[j] > 50 for i in range(8) for j in range(i + 1, 8)), (
        "the seed must make some fragment finish well before an earlier one"
    )
    assert [p["status"] for p in processed].count("failed") == 1
    assert processed[3]["error"]["code"] == "GPU_OOM"

    levels = [(b["severity"], b["action"]) for b in worker.received("backpressure")]
    assert levels[0] == ("high", "pause")
    assert levels[-1] == ("low", "none")

    stats = complete["statistics"]
    times = [p["processing_time_ms"] for p in processed]
    assert complete["total_fragments"] == 8
    assert complete["total_duration_ms"] == sum(100 + seq for seq in range(8))
    assert (stats["success_count"], stats["failed_count"]) == (7, 1)
    assert stats["avg_processing_time_ms"] == pytest.approx(statistics.fmean(times))
    assert stats["p95_processing_time_ms"] == sorted(times)[7]
    names = worker.names()
    assert names.index("stream:complete") > max(
        index for index, name in enumerate(names) if name == "fragment:processed"
    )
