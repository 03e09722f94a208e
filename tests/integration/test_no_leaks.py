"""Many sessions ending every way a worker can end them leave nothing behind."""

from __future__ import annotations

import asyncio

import pytest
import socketio
from tornado.ioloop import IOLoop

from tests.workers import Worker, fragment


async def settle(condition, timeout: float = 5.0) -> None:
    deadline = IOLoop.current().time() + timeout
    while not condition():
        assert IOLoop.current().time() < deadline, "state was not released"
        await asyncio.sleep(0.01)


async def one_session(url: str, index: int) -> None:
    """One stream that ends one of four ways, chosen by ``index``."""
    worker = Worker(url)
    try:
        await worker.connect(headers={"X-Stream-ID": f"leak-{index}"}, auth={"token": "k"})
        await worker.start(f"leak-{index}")
        ending = index % 4
        await worker.configure("config:processing_delay", {"delay_ms": 20 * (ending == 1)})
        await worker.emit("fragment:data", fragment(f"leak-{index}", 0))
        if ending == 0:
            await worker.emit("stream:end", {"stream_id": f"leak-{index}"})
            await worker.next("stream:complete")
            await asyncio.wait_for(worker.disconnected.wait(), 5)
        elif ending == 1:
            await worker.next("fragment:ack")
            await worker.sio.disconnect()
        elif ending == 2:
            await worker.configure("simulate:disconnect", {"delay_ms": 0})
            await asyncio.wait_for(worker.disconnected.wait(), 5)
        else:
            await worker.next("fragment:processed")
            await worker.sio.disconnect()
    finally:
        await worker.close()


SERVICE_TASKS = {"AsyncServer._service_task", "Event.wait"}
"""engine.io's one housekeeping loop, started with the first connection, and its wait."""


def leftover_tasks() -> list[str]:
    current = asyncio.current_task()
    names = [task.get_coro().__qualname__ for task in asyncio.all_tasks() if task is not current]
    return [name for name in names if name not in SERVICE_TASKS]


@pytest.mark.timeout(120)
async def test_sessions_ending_every_way_release_all_their_state(start_server) -> None:
    server = start_server(auto_disconnect_s=0.05, api_keys=("k",), ping_interval=1)
    service = server.service
    for batch in range(5):
        await asyncio.gather(*(one_session(server.url, batch * 20 + index) for index in range(20)))
        refused = Worker(server.url)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await refused.connect(auth={"token": "wrong"})
        await refused.close()
    await settle(lambda: service.fleet.connection_count == 0)
    await settle(lambda: not service.sio.eio.sockets)
    assert service.fleet.session_count == 0
    assert service.gateway._by_sid == {}
    assert service.sio.environ == {}
    assert all(not rooms for rooms in service.sio.manager.rooms.values())
    # engine.io leaves each closed socket's ping task asleep for one ping interval; what must
    # remain after that is the server's one service task and nothing per connection.
    await settle(lambda: leftover_tasks() == [], timeout=5)
    assert service.registry.get_sample_value("echosts_connections_accepted_total") == 100
    assert service.registry.get_sample_value("echosts_streams_started_total") == 100
