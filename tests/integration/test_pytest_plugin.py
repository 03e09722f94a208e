"""The pytest plugin as a worker's project meets it: a test file of its own, run by pytest in a
subprocess, with echosts installed and nothing else configured."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from echosts.testing import EchostsProcess

WORKER_TESTS = '''
import asyncio
import base64
from pathlib import Path

import socketio


async def stream(url, stream_id, count):
    """A polite worker: init, fragments acknowledged as they come back, end, complete."""
    sio = socketio.AsyncClient()
    done = asyncio.Event()

    @sio.on("fragment:processed")
    async def processed(data):
        await sio.emit("fragment:ack", {"fragment_id": data["fragment_id"],
                                        "status": "applied", "timestamp": 1})

    @sio.on("stream:complete")
    async def complete(data):
        done.set()

    await sio.connect(url, transports=["websocket"])
    await sio.emit("stream:init", {"stream_id": stream_id, "config": {}})
    for number in range(count):
        await sio.emit("fragment:data", {
            "fragment_id": f"{stream_id}-{number}", "stream_id": stream_id,
            "sequence_number": number, "timestamp": 1,
            "audio": {"format": "pcm_s16le", "sample_rate_hz": 48000, "channels": 1,
                      "duration_ms": 100, "data_base64": base64.b64encode(b"abcd").decode()}})
    await asyncio.sleep(0.3)
    await sio.emit("stream:end", {"stream_id": stream_id})
    await asyncio.wait_for(done.wait(), 10)
    await sio.disconnect()


def test_a_polite_worker_passes_verify(echosts):
    echosts.plan("s-1", processing_delay={"delay_ms": 10})
    asyncio.run(stream(echosts.url, "s-1", 3))
    session = echosts.wait_for_session("s-1", state="closed")
    assert session["counts"]["fragments_accepted"] == 3
    assert [e["event"] for e in echosts.events(session["session_id"])][:2] == [
        "stream:init", "stream:ready"]
    assert echosts.verify(session["session_id"])["ok"]
    if hasattr(echosts, "process"):
        Path("server.pid").write_text(str(echosts.process.pid))


def test_the_async_helpers_wait_without_blocking_the_loop(echosts):
    async def both():
        waiting = asyncio.ensure_future(echosts.aio.wait_for_session("s-2", state="closed"))
        await stream(echosts.url, "s-2", 2)
        return await waiting
    session = asyncio.run(both())
    assert session["counts"]["processed_success"] == 2


def test_a_failing_test_shows_what_the_server_logged(echosts):
    echosts.plan("s-on-purpose", drop_processed=[0])
    assert False, "fails on purpose"
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_worker=WORKER_TESTS)
    return pytester


@pytest.mark.timeout(120)
def test_the_fixture_starts_echosts_shows_its_log_on_failure_and_stops_it(project) -> None:
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*echosts log*", "*fault plan stored*s-on-purpose*"])
    pid = int(Path(project.path, "server.pid").read_text())
    assert not os.path.exists(f"/proc/{pid}"), "the echosts the plugin started is still running"


@pytest.mark.timeout(120)
def test_echosts_url_uses_a_running_server_instead(project) -> None:
    running = EchostsProcess()
    try:
        result = project.runpytest_subprocess(
            "-p", "no:cacheprovider", f"--echosts-url={running.url}", "-k", "polite"
        )
        result.assert_outcomes(passed=1)
        assert running.sessions(stream_id="s-1")
    finally:
        running.stop()


@pytest.mark.timeout(120)
def test_server_flags_come_from_the_command_line(project) -> None:
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--echosts-arg=--journal-sessions=0", "-k", "polite"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no session of stream 's-1' in state closed*"])
