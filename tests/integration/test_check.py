"""``echosts check URL`` against a running echosts, one with keys, and a closed port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from echosts.testing import EchostsError, EchostsProcess, EchostsServer


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "echosts", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_passes_every_step_against_a_running_server() -> None:
    server = EchostsProcess()
    try:
        result = check(server.url)
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("ok")]
    assert steps == ["health:", "connect:", "init:", "fragments:", "complete:", "journal:"]


def test_check_with_the_servers_key_passes_and_without_it_names_the_connect_step() -> None:
    server = EchostsProcess(env={"ECHO_API_KEYS": "check-key"})
    try:
        with_key = check(server.url, "--api-key", "check-key")
        without = check(server.url)
    finally:
        server.stop()
    assert with_key.returncode == 0, with_key.stdout + with_key.stderr
    assert without.returncode == 1
    assert "FAIL  connect: refused" in without.stderr
    assert "AUTH_FAILED" in without.stderr


def test_check_against_a_closed_port_fails_at_health() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    result = check(f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert "FAIL  health:" in result.stderr
    assert "does not answer" in result.stderr


def test_check_against_something_else_names_the_health_step() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    other = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            with socket.socket() as attempt:
                if attempt.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        result = check(f"http://127.0.0.1:{port}")
    finally:
        other.terminate()
        other.wait()
    assert result.returncode == 1
    assert "FAIL  health: /health answered 404, not JSON" in result.stderr


def test_a_url_without_a_scheme_is_a_usage_error() -> None:
    result = check("localhost:8000")
    assert result.returncode == 2
    assert "must start with http://" in result.stderr


def test_the_test_client_says_when_no_server_answers() -> None:
    with pytest.raises(EchostsError, match="does not answer"):
        EchostsServer("http://127.0.0.1:1").health()
