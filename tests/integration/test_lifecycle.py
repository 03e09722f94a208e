"""Pause, resume, end, auto-disconnect, and cleanup at any moment."""

from __future__ import annotations

import asyncio

import socketio
from tornado.ioloop import IOLoop

from tests.workers import Worker, fragment


async def settle(condition, timeout: float = 5.0) -> None:
    deadline = IOLoop.current().time() + timeout
    while not condition():
        assert IOLoop.current().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_pause_resume_end_lifecycle(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s")
    await worker.configure("config:processing_delay", {"delay_ms": 100})
    await worker.emit("fragment:data", fragment("s", 0))
    await worker.emit("stream:pause", {"stream_id": "s", "reason": "test"})
    await worker.emit("fragment:data", fragment("s", 1))
    assert (await worker.next("error"))["code"] == "STREAM_PAUSED"
    assert (await worker.next("fragment:processed"))["sequence_number"] == 0
    await worker.emit("stream:resume", {"stream_id": "s"})
    await worker.emit("fragment:data", fragment("s", 1))
    assert (await worker.next("fragment:processed"))["sequence_number"] == 1
    await worker.emit("stream:end", {"stream_id": "s"})
    complete = await worker.next("stream:complete")
    assert complete["statistics"]["success_count"] == 2


async def test_complete_comes_after_every_inflight_fragment(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s", max_inflight=5)
    await worker.configure("config:processing_delay", {"delay_ms": 150})
    for seq in range(3):
        await worker.emit("fragment:data", fragment("s", seq))
    await worker.emit("stream:end", {"stream_id": "s"})
    await worker.next("stream:complete")
    tail = [name for name in worker.names() if name in ("fragment:processed", "stream:complete")]
    assert tail == ["fragment:processed"] * 3 + ["stream:complete"]


async def completed(worker: Worker) -> Worker:
    """Connects ``worker`` and runs one empty stream to its stream:complete."""
    await worker.connect()
    await worker.start("s")
    await worker.emit("stream:end", {"stream_id": "s"})
    await worker.next("stream:complete")
    return worker


async def test_server_disconnects_after_complete(start_server) -> None:
    server = start_server(auto_disconnect_s=0.3)
    worker = Worker(server.url)
    try:
        await completed(worker)
        began = IOLoop.current().time()
        await asyncio.wait_for(worker.disconnected.wait(), 5)
        assert IOLoop.current().time() - began >= 0.25
        assert worker.disconnect_reason == socketio.AsyncClient.reason.SERVER_DISCONNECT
        await settle(lambda: server.service.fleet.connection_count == 0)
    finally:
        await worker.close()


async def test_new_init_after_complete_cancels_the_auto_disconnect(start_server) -> None:
    server = start_server(auto_disconnect_s=0.3)
    worker = Worker(server.url)
    try:
        await completed(worker)
        await worker.start("t")
        await asyncio.sleep(0.5)
        assert not worker.disconnected.is_set()
    finally:
        await worker.close()


async def test_disconnect_mid_delay_frees_the_session_and_its_timer(make_worker, server) -> None:
    fleet = server.service.fleet
    worker = await make_worker().connect()
    await worker.start("s")
    await worker.configure("config:processing_delay", {"delay_ms": 300})
    await worker.emit("fragment:data", fragment("s", 0))
    await worker.next("fragment:ack")
    (handle,) = fleet.links()
    assert handle.timer is not None
    await worker.sio.disconnect()
    await settle(lambda: fleet.connection_count == 0)
    assert handle.timer is None
    assert handle.closed
    assert fleet.session_count == 0
    await asyncio.sleep(0.4)
    assert list(handle.outbox) == []


async def test_disconnect_after_end_before_complete_is_clean(make_worker, server) -> None:
    fleet = server.service.fleet
    worker = await make_worker().connect()
    await worker.start("s")
    await worker.configure("config:processing_delay", {"delay_ms": 200})
    await worker.emit("fragment:data", fragment("s", 0))
    await worker.emit("stream:end", {"stream_id": "s"})
    await worker.next("fragment:ack")
    await worker.sio.disconnect()
    await settle(lambda: fleet.connection_count == 0)
    await asyncio.sleep(0.3)
    assert fleet.session_count == 0


async def test_health_counts_follow_connections_and_sessions(make_worker, server) -> None:
    fleet = server.service.fleet
    first = await make_worker().connect()
    second = await make_worker().connect()
    await first.start("a")
    assert (fleet.connection_count, fleet.session_count) == (2, 1)
    await first.sio.disconnect()
    await second.sio.disconnect()
    await settle(lambda: fleet.connection_count == 0)
    assert fleet.session_count == 0
