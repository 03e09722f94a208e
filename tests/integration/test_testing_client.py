"""echosts.testing outside pytest's fixture: the client and the child process, in-process."""

from __future__ import annotations

import asyncio

import pytest

from echosts.testing import EchostsError, EchostsProcess
from tests.workers import Worker


@pytest.fixture(scope="module")
def keyed():
    server = EchostsProcess("--api-keys=client-key", api_key="client-key")
    yield server
    server.stop()


def test_the_client_sends_its_key_and_every_helper_answers(keyed: EchostsProcess) -> None:
    assert keyed.health()["status"] == "healthy"
    assert keyed.plan("s-1", drop_processed=[3]) == {"drop_processed": [3]}
    assert keyed.sessions(stream_id="nobody") == []
    assert keyed.reset() == {"plans_removed": 1, "sessions_forgotten": 0}


def test_a_refused_call_raises_with_the_servers_answer(keyed: EchostsProcess) -> None:
    with pytest.raises(EchostsError, match=r"400 .*queue\.limit"):
        keyed.plan("s-1", queue={"limit": 0})
    with pytest.raises(EchostsError, match="404"):
        keyed.session("nope")


def test_waiting_for_a_session_that_never_comes_raises_naming_it(keyed: EchostsProcess) -> None:
    with pytest.raises(EchostsError, match="no session of stream 'ghost' in state closed"):
        keyed.wait_for_session("ghost", state="closed", timeout=0.3)
    with pytest.raises(ValueError, match="state must be one of"):
        keyed.wait_for_session("ghost", state="sleeping")


async def test_the_coroutine_helpers_see_a_live_session(keyed: EchostsProcess) -> None:
    worker = Worker(keyed.url)
    await worker.connect(auth={"token": "client-key"})
    try:
        waiting = asyncio.ensure_future(keyed.aio.wait_for_session("s-aio", timeout=10))
        await worker.start("s-aio")
        session = await waiting
        assert session["state"] == "active"
        assert (await keyed.aio.session(session["session_id"]))["stream_id"] == "s-aio"
        events = await keyed.aio.events(session["session_id"])
        assert [event["event"] for event in events] == ["stream:init", "stream:ready"]
        report = await keyed.aio.verify(session["session_id"], grace_ms=10)
        assert report["checks"]["ended_cleanly"]["detail"] == "still open"
    finally:
        await worker.close()


def test_a_server_that_cannot_start_says_why_and_leaves_nothing() -> None:
    with pytest.raises(RuntimeError, match="--queue-limit"):
        EchostsProcess("--queue-limit=0")


def test_stopping_twice_is_harmless() -> None:
    server = EchostsProcess()
    assert server.stop() == 0
    assert server.stop() == 0
