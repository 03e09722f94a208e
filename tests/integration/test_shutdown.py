"""Graceful drain and the notify protocol, against a real echosts process."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import Iterator

import pytest
import socketio
from tornado.httpclient import AsyncHTTPClient
from tornado.ioloop import IOLoop

from tests.integration.process import EchoProcess
from tests.workers import Worker, fragment

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def processes() -> Iterator[list[EchoProcess]]:
    started: list[EchoProcess] = []
    yield started
    for process in started:
        process.close()


@pytest.fixture
def workers(io_loop) -> Iterator[list[Worker]]:
    made: list[Worker] = []
    yield made
    for worker in made:
        io_loop.run_sync(worker.close, timeout=10)


async def health(url: str) -> tuple[int, dict]:
    response = await AsyncHTTPClient().fetch(f"{url}/health", raise_error=False)
    return response.code, json.loads(response.body)


async def until_draining(url: str) -> dict:
    deadline = IOLoop.current().time() + 5
    while IOLoop.current().time() < deadline:
        code, body = await health(url)
        if code == 503:
            return body
        await asyncio.sleep(0.01)
    pytest.fail("the server never reported draining")


async def streaming(workers: list[Worker], url: str, stream_id: str, delay_ms: int, count: int):
    worker = Worker(url)
    workers.append(worker)
    await worker.connect(headers={"X-Stream-ID": stream_id})
    await worker.start(stream_id, max_inflight=5)
    await worker.configure("config:processing_delay", {"delay_ms": delay_ms})
    for seq in range(count):
        await worker.emit("fragment:data", fragment(stream_id, seq))
    await worker.wait_count("fragment:ack", count)
    return worker


async def test_sigterm_lets_every_inflight_fragment_arrive_then_exits_0(processes, workers):
    process = EchoProcess(env={"ECHO_DRAIN_TIMEOUT_S": "5", "ECHO_LOG_FORMAT": "json"})
    processes.append(process)
    streams = [await streaming(workers, process.url, f"d{i}", 500, 3) for i in range(3)]
    idle = Worker(process.url)
    workers.append(idle)
    await idle.connect()
    process.signal(signal.SIGTERM)

    body = await until_draining(process.url)
    assert body["status"] == "draining"
    await idle.emit("stream:init", {"stream_id": "late", "config": {}})
    assert (await idle.next("error"))["code"] == "RATE_LIMIT"
    latecomer = Worker(process.url)
    workers.append(latecomer)
    refused: list = []
    latecomer.sio.on("connect_error", refused.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await latecomer.connect()
    assert refused[0]["data"]["code"] == "RATE_LIMIT"

    for worker in streams:
        processed = await worker.wait_count("fragment:processed", 3, timeout=10)
        assert [p["status"] for p in processed] == ["success"] * 3
        await asyncio.wait_for(worker.disconnected.wait(), 10)
    assert process.wait() == 0
    lines = [json.loads(line) for line in process.stderr().splitlines() if line.startswith("{")]
    assert any(line.get("stream_id") == "d0" for line in lines)
    assert any("draining" in line["message"] for line in lines)


async def test_fragment_slower_than_the_drain_timeout_arrives_as_timeout(processes, workers):
    process = EchoProcess(env={"ECHO_DRAIN_TIMEOUT_S": "0.5"})
    processes.append(process)
    worker = await streaming(workers, process.url, "slow", 5000, 2)
    began = time.monotonic()
    process.signal(signal.SIGTERM)
    processed = await worker.wait_count("fragment:processed", 2, timeout=10)
    assert time.monotonic() - began < 3
    for item in processed:
        assert item["status"] == "failed"
        assert item["error"]["code"] == "TIMEOUT"
        assert item["error"]["retryable"] is True
        assert "drain timeout" in item["error"]["message"]
    assert process.wait() == 0


async def test_stream_ending_during_drain_still_completes(processes, workers):
    process = EchoProcess(env={"ECHO_DRAIN_TIMEOUT_S": "5"})
    processes.append(process)
    worker = await streaming(workers, process.url, "e", 300, 2)
    await worker.emit("stream:end", {"stream_id": "e"})
    process.signal(signal.SIGTERM)
    complete = await worker.next("stream:complete", timeout=10)
    assert complete["statistics"]["success_count"] == 2
    assert process.wait() == 0


async def test_second_signal_exits_at_once(processes, workers):
    process = EchoProcess(env={"ECHO_DRAIN_TIMEOUT_S": "60"})
    processes.append(process)
    await streaming(workers, process.url, "stuck", 30000, 1)
    process.signal(signal.SIGTERM)
    await until_draining(process.url)
    began = time.monotonic()
    process.signal(signal.SIGTERM)
    assert process.wait(timeout=5) == 128 + signal.SIGTERM
    assert time.monotonic() - began < 3


def test_notify_socket_gets_ready_watchdog_status_and_stopping(tmp_path, processes):
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(5)
        process = EchoProcess(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "300000"})
        processes.append(process)
        ready = sock.recv(4096).decode().split("\n")
        assert ready[0] == "READY=1"
        assert ready[1].startswith("STATUS=serving: 0 connections")
        assert ready[2] == f"MAINPID={process.popen.pid}"
        with socket.create_connection(("127.0.0.1", process.port), timeout=2):
            pass
        began = time.monotonic()
        beats = [sock.recv(4096).decode().split("\n") for _ in range(3)]
        assert all(beat[0] == "WATCHDOG=1" and beat[1].startswith("STATUS=") for beat in beats)
        assert time.monotonic() - began < 1.5
        process.signal(signal.SIGTERM)
        while (message := sock.recv(4096).decode().split("\n"))[0] == "WATCHDOG=1":
            pass
        assert message[0] == "STOPPING=1"
        assert process.wait() == 0
