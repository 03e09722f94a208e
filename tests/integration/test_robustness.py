"""Any payload shape on any event gets an answer and leaves the connection usable."""

from __future__ import annotations

import pytest

from echosts.connection import Connection
from tests.workers import fragment

SHAPES = [None, [], [1, {"a": None}], "text", 0, 1.5, True, {"nested": {"garbage": [None]}}]
EVENTS = [
    "stream:init",
    "fragment:data",
    "fragment:ack",
    "stream:pause",
    "stream:resume",
    "stream:end",
]


@pytest.mark.parametrize("event", EVENTS)
async def test_every_payload_shape_gets_an_error_and_the_connection_stays_usable(
    make_worker, event: str
) -> None:
    worker = await make_worker().connect()
    await worker.start("s")
    for shape in SHAPES:
        await worker.emit(event, shape)
        report = await worker.next("error")
        assert report["code"] in ("INVALID_CONFIG", "STREAM_NOT_FOUND")
    await worker.emit("fragment:data", fragment("s", 0))
    assert (await worker.next("fragment:processed"))["status"] == "success"


async def test_event_with_no_argument_is_answered(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.emit("stream:init")
    assert "no payload" in (await worker.next("error"))["message"]


async def test_extra_arguments_are_ignored(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.emit("stream:init", {"stream_id": "s", "config": {}}, "extra", 3)
    assert (await worker.next("stream:ready"))["stream_id"] == "s"


async def test_unknown_event_is_named_in_an_invalid_config_error(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.emit("stream:rewind", {"stream_id": "s"})
    report = await worker.next("error")
    assert report["code"] == "INVALID_CONFIG"
    assert "stream:rewind" in report["message"]


@pytest.mark.parametrize("event", ["connect", "disconnect", "message"])
@pytest.mark.parametrize("args", [(), ({"x": 1},), ([1, 2], "extra")])
async def test_client_events_named_like_lifecycle_events_are_refused(
    make_worker, server, event: str, args: tuple
) -> None:
    worker = await make_worker().connect()
    await worker.start("s")
    await worker.emit(event, *args)
    report = await worker.next("error")
    assert report["code"] == "INVALID_CONFIG"
    assert f"'{event}'" in report["message"]
    assert server.service.fleet.session_count == 1
    await worker.emit("fragment:data", fragment("s", 0))
    assert (await worker.next("fragment:processed"))["status"] == "success"


async def test_processing_delay_with_garbage_is_rejected_in_its_ack(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s")
    await worker.emit("config:processing_delay", ["garbage"])
    ack = await worker.next("config:processing_delay:ack")
    assert ack["status"] == "rejected"


async def test_one_clients_garbage_does_not_reach_another(make_worker) -> None:
    noisy = await make_worker().connect()
    quiet = await make_worker().connect()
    await quiet.start("q")
    for shape in SHAPES:
        await noisy.emit("fragment:data", shape)
    await noisy.wait_count("error", len(SHAPES))
    await quiet.emit("fragment:data", fragment("q", 0))
    await quiet.next("fragment:processed")
    assert quiet.received("error") == []


async def test_an_internal_error_is_logged_and_the_connection_stays_usable(
    make_worker, monkeypatch, caplog
) -> None:
    original = Connection.receive

    def explode_on_pause(self, event, args, now):
        if event == "stream:pause":
            raise RuntimeError("bug")
        return original(self, event, args, now)

    monkeypatch.setattr(Connection, "receive", explode_on_pause)
    worker = await make_worker().connect()
    await worker.start("s")
    await worker.emit("stream:pause", {"stream_id": "s"})
    await worker.emit("fragment:data", fragment("s", 0))
    assert (await worker.next("fragment:processed"))["status"] == "success"
    assert "internal error while handling stream:pause" in caplog.text
