"""Handshake: API keys, the connection limit, and the identifying headers."""

from __future__ import annotations

import pytest
import socketio

from tests.workers import Worker


async def refused(worker: Worker, **connect: object) -> dict:
    """Connects expecting a refusal; returns what the client's connect_error received."""
    seen: list[dict] = []
    worker.sio.on("connect_error", seen.append, namespace=worker.namespace)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await worker.connect(**connect)
    assert seen, "no connect_error event"
    return seen[0]


async def test_auth_is_off_without_keys(make_worker) -> None:
    worker = await make_worker().connect()
    assert (await worker.start("s"))["stream_id"] == "s"


async def test_valid_key_is_accepted(start_server) -> None:
    server = start_server(api_keys=("k1", "k2"))
    worker = Worker(server.url)
    try:
        await worker.connect(auth={"token": "k2"})
        assert (await worker.start("s"))["stream_id"] == "s"
    finally:
        await worker.close()


@pytest.mark.parametrize("auth", [None, {"token": "wrong"}, {"token": 5}, {"key": "k1"}])
async def test_bad_or_missing_token_is_refused_with_auth_failed(start_server, auth) -> None:
    server = start_server(api_keys=("k1",))
    worker = Worker(server.url)
    try:
        error = await refused(worker, auth=auth)
    finally:
        await worker.close()
    assert error["message"] == "AUTH_FAILED"
    assert error["data"]["code"] == "AUTH_FAILED"
    assert error["data"]["severity"] == "fatal"
    assert error["data"]["retryable"] is False
    assert "k1" not in error["data"]["message"]
    assert server.service.fleet.connection_count == 0


async def test_connection_limit_refuses_with_rate_limit(start_server) -> None:
    server = start_server(max_connections=2)
    workers = [Worker(server.url) for _ in range(3)]
    try:
        await workers[0].connect()
        await workers[1].connect()
        error = await refused(workers[2])
        assert error["message"] == "RATE_LIMIT"
        assert (error["data"]["severity"], error["data"]["retryable"]) == ("warning", True)
        await workers[0].sio.disconnect()
        await workers[0].disconnected.wait()
        await Worker.connect(workers[2])
    finally:
        for worker in workers:
            await worker.close()


async def test_auth_is_checked_before_the_connection_limit(start_server) -> None:
    server = start_server(max_connections=1, api_keys=("k",))
    first, second = Worker(server.url), Worker(server.url)
    try:
        await first.connect(auth={"token": "k"})
        assert (await refused(second, auth={"token": "nope"}))["message"] == "AUTH_FAILED"
    finally:
        await first.close()
        await second.close()


async def test_headers_are_recorded_and_worker_id_defaults_to_them(make_worker, server) -> None:
    worker = await make_worker().connect(headers={"X-Stream-ID": "h-1", "X-Worker-ID": "w-9"})
    await worker.emit("stream:init", {"stream_id": "h-1", "config": {}})
    await worker.next("stream:ready")
    (handle,) = server.service.fleet.links()
    assert handle.core.header_stream_id == "h-1"
    assert handle.core.session.worker_id == "w-9"


async def test_one_connection_joining_both_namespaces_counts_once(server) -> None:
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(server.url, transports=["websocket"], namespaces=["/", "/sts"])
        assert server.service.fleet.connection_count == 1
    finally:
        await client.shutdown()
