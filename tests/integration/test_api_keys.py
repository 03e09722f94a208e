"""API keys from a file, read again on SIGHUP, in a real process; no key is ever shown."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
import socketio
from tornado.httpclient import AsyncHTTPClient

from tests.integration.http import call
from tests.integration.process import EchoProcess
from tests.workers import Worker, fragment

KEYS = ("first-secret-key", "second-secret-key")


async def admitted(url: str, token: str) -> bool:
    worker = Worker(url)
    try:
        await worker.connect(auth={"token": token})
    except socketio.exceptions.ConnectionError:
        return False
    finally:
        await worker.close()
    return True


async def until_admitted(url: str, token: str, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not await admitted(url, token):
        assert time.monotonic() < deadline, f"{token[:6]}... never admitted"
        await asyncio.sleep(0.05)


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "api-keys"
    path.write_text(f"# the first team\n{KEYS[0]}\n")
    return path


async def test_sighup_rotates_keys_without_dropping_a_session_and_shows_no_key(
    key_file,
) -> None:
    process = EchoProcess(env={"ECHO_API_KEYS_FILE": str(key_file)})
    streaming = Worker(process.url)
    try:
        await streaming.connect(auth={"token": KEYS[0]})
        await streaming.start("s-1")
        refusal: list[dict] = []
        probe = Worker(process.url)
        probe.sio.on("connect_error", refusal.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await probe.connect(auth={"token": KEYS[1]})
        await probe.close()
        code, body, _ = await call(process.url, "GET", "/admin/connections/refuse", token=KEYS[1])
        assert code == 401

        key_file.write_text(f"{KEYS[1]}\n")
        process.signal(signal.SIGHUP)
        await until_admitted(process.url, KEYS[1])
        assert not await admitted(process.url, KEYS[0])
        await streaming.emit("fragment:data", fragment("s-1", 0))
        assert (await streaming.next("fragment:processed"))["status"] == "success"
        code, _, _ = await call(process.url, "GET", "/admin/connections/refuse", token=KEYS[1])
        assert code == 200

        key_file.unlink()
        process.signal(signal.SIGHUP)
        await asyncio.sleep(0.3)
        assert await admitted(process.url, KEYS[1])

        metrics = (await AsyncHTTPClient().fetch(f"{process.url}/metrics")).body.decode()
        await streaming.close()
        process.signal(signal.SIGTERM)
        assert process.wait() == 0
        log = process.stderr()
        shown = [str(refusal), str(body), metrics, log]
        for key in KEYS:
            assert all(key not in text for text in shown), key
        assert "API keys reloaded" in log
        assert "API keys not reloaded, the 1 in force stay" in log
        assert str(key_file) in log
    finally:
        await streaming.close()
        process.close()


def test_an_unreadable_key_file_exits_2_naming_the_setting(tmp_path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(RuntimeError, match="ECHO_API_KEYS_FILE") as raised:
        EchoProcess(env={"ECHO_API_KEYS_FILE": str(missing)})
    assert str(missing) in str(raised.value)
