"""The notify protocol against a datagram socket the test owns."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from echosts.systemd import Notifier


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield sock, path
    sock.close()


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready("x")
    assert notifier.watchdog_interval_s is None


def test_ready_carries_status_and_main_pid(listener) -> None:
    sock, path = listener
    assert Notifier({"NOTIFY_SOCKET": path}).ready("serving")
    lines = sock.recv(4096).decode().split("\n")
    assert lines == ["READY=1", "STATUS=serving", f"MAINPID={os.getpid()}"]


@pytest.mark.parametrize(
    ("call", "first"), [("watchdog", "WATCHDOG=1"), ("stopping", "STOPPING=1"), ("status", None)]
)
def test_each_message_is_one_datagram(listener, call: str, first: str | None) -> None:
    sock, path = listener
    getattr(Notifier({"NOTIFY_SOCKET": path}), call)("3 connections")
    lines = sock.recv(4096).decode().split("\n")
    assert lines[-1] == "STATUS=3 connections"
    if first:
        assert lines[0] == first


def test_abstract_socket_names_are_supported() -> None:
    name = f"echosts-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).status("ok")
        assert sock.recv(100) == b"STATUS=ok"


def test_unreachable_socket_is_reported_not_raised(tmp_path: Path, caplog) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert not notifier.status("a")
    assert not notifier.status("b")
    assert caplog.text.count("cannot notify systemd") == 1


@pytest.mark.parametrize(
    ("environ", "interval"),
    [
        ({"WATCHDOG_USEC": "20000000"}, 10.0),
        ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "77"}, 10.0),
        ({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "78"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(environ: dict, interval) -> None:
    assert Notifier(environ, pid=77).watchdog_interval_s == interval
