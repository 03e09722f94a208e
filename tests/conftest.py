"""Fixtures: a real echosts on a random port in the test's IOLoop, and recording workers."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import tornado.ioloop
from tornado.testing import bind_unused_port

from echosts.app import EchoService
from echosts.config import Settings
from echosts.context import Capabilities
from tests.workers import Worker


@dataclasses.dataclass
class RunningServer:
    service: EchoService
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def io_loop() -> Iterator[tornado.ioloop.IOLoop]:
    """A fresh IOLoop per test that cancels the tasks libraries leave behind before closing."""
    loop = tornado.ioloop.IOLoop()
    loop.make_current()
    yield loop

    async def cancel_leftovers() -> None:
        current = asyncio.current_task()
        leftovers = [task for task in asyncio.all_tasks() if task is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    loop.run_sync(cancel_leftovers)
    loop.clear_current()
    loop.close(all_fds=True)


@pytest.fixture
def settings() -> Settings:
    """Test defaults: a short auto-disconnect so finished connections do not linger."""
    return Settings(host="127.0.0.1", port=0, auto_disconnect_s=5.0)


@pytest.fixture
def start_server(
    io_loop: tornado.ioloop.IOLoop,
) -> Iterator[Callable[..., RunningServer]]:
    """Starts echosts with the given setting overrides; stops everything it started."""
    started: list[RunningServer] = []

    def start(base: Settings | None = None, **overrides: Any) -> RunningServer:
        settings = dataclasses.replace(base or Settings(host="127.0.0.1", port=0), **overrides)
        service = EchoService.create(settings, Capabilities(rng=random.Random(1234)))
        sock, port = bind_unused_port()
        service.listen([sock])
        server = RunningServer(service, port)
        started.append(server)
        return server

    yield start
    for server in started:
        io_loop.run_sync(server.service.stop, timeout=10)


@pytest.fixture
def server(start_server: Callable[..., RunningServer], settings: Settings) -> RunningServer:
    return start_server(settings)


@pytest.fixture
def make_worker(
    io_loop: tornado.ioloop.IOLoop, server: RunningServer
) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def make(path: str = "socket.io", namespace: str = "/", url: str | None = None) -> Worker:
        worker = Worker(url or server.url, path=path, namespace=namespace)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        io_loop.run_sync(worker.close, timeout=10)
