"""The ``echosts`` command as a real process: bad settings, start-up, and a clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from echosts import __version__

ROOT = Path(__file__).resolve().parents[2]


def run_echosts(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "echosts", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--port", "abc"], {}, "--port"),
        ([], {"ECHO_PORT": "abc"}, "ECHO_PORT"),
        ([], {"ECHO_PROCESSING_DELAY_MS": "-5"}, "ECHO_PROCESSING_DELAY_MS"),
        (["--auto-disconnect-s", "-1"], {}, "--auto-disconnect-s"),
    ],
)
def test_bad_setting_exits_2_naming_it(args: list[str], env: dict, named: str) -> None:
    result = run_echosts(*args, env=env)
    assert result.returncode == 2
    assert named in result.stderr


def test_unknown_flag_exits_2() -> None:
    assert run_echosts("--no-such-flag").returncode == 2


def test_version_flag_prints_the_version() -> None:
    result = run_echosts("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"echosts {__version__}")


def test_process_starts_healthy_fast_and_stops_cleanly_on_sigterm() -> None:
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "echosts", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ECHO_API_KEYS": "top-secret-key"},
    )
    try:
        line = process.stdout.readline()
        port = int(line.rsplit(":", 1)[1])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            body = json.loads(response.read())
        assert body["status"] == "healthy"
        assert time.monotonic() - began < 10
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert "top-secret-key" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
