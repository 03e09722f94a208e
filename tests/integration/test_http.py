"""/health over HTTP, and the websocket transport's tuning."""

from __future__ import annotations

import json
import socket

import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.ioloop import IOLoop
from tornado.testing import bind_unused_port
from tornado.websocket import websocket_connect

from echosts import __version__, healthcheck


async def get_health(url: str) -> tuple[int, dict]:
    response = await AsyncHTTPClient().fetch(f"{url}/health", raise_error=False)
    return response.code, json.loads(response.body)


async def test_health_reports_status_counts_uptime_and_version(make_worker, server) -> None:
    worker = await make_worker().connect()
    await worker.start("s")
    code, body = await get_health(server.url)
    assert code == 200
    assert body["status"] == "healthy"
    assert (body["sessions"], body["connections"]) == (1, 1)
    assert body["version"] == __version__
    assert isinstance(body["uptime_seconds"], float)


async def test_health_answers_503_while_draining(server) -> None:
    server.service.fleet.draining = True
    code, body = await get_health(server.url)
    assert (code, body["status"]) == (503, "draining")


async def test_websocket_connections_turn_nagle_off(make_worker, server) -> None:
    await make_worker().connect()
    (eio_sid,) = server.service.sio.eio.sockets
    handler = server.service.sio.environ[eio_sid]["tornado.handler"]
    raw = handler.ws_connection.stream.socket
    assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


async def offered_deflate_is_accepted(url: str) -> bool:
    ws_url = url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    connection = await websocket_connect(ws_url, compression_options={})
    try:
        return "permessage-deflate" in connection.headers.get("Sec-WebSocket-Extensions", "")
    finally:
        connection.close()


async def test_permessage_deflate_is_refused_by_default(server) -> None:
    assert not await offered_deflate_is_accepted(server.url)


async def test_permessage_deflate_is_accepted_when_enabled(start_server) -> None:
    assert await offered_deflate_is_accepted(start_server(compression=True).url)


@pytest.mark.parametrize("size", [11_534_336, 52_428_800])
def test_one_setting_drives_both_message_ceilings(start_server, size: int) -> None:
    service = start_server(max_buffer_size=size).service
    assert service.sio.eio.max_http_buffer_size == size
    assert service.app.settings["websocket_max_message_size"] == size


async def test_healthcheck_command_passes_on_healthy_and_fails_otherwise(server) -> None:
    url = f"{server.url}/health"
    assert await IOLoop.current().run_in_executor(None, healthcheck.main, [url]) == 0
    server.service.fleet.draining = True
    assert await IOLoop.current().run_in_executor(None, healthcheck.main, [url]) == 1
    closed = f"http://127.0.0.1:{bind_unused_port()[1]}/health"
    assert await IOLoop.current().run_in_executor(None, healthcheck.main, [closed]) == 1


def test_healthcheck_reads_the_port_from_the_environment(monkeypatch, capsys) -> None:
    sock, port = bind_unused_port()
    sock.close()
    monkeypatch.setenv("ECHO_PORT", str(port))
    assert healthcheck.main([]) == 1
    assert f"127.0.0.1:{port}/health" in capsys.readouterr().err
