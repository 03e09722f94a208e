"""echosts as a real child process, the way systemd or docker runs it."""

from __future__ import annotations

import os
import subprocess
import sys


class EchoProcess:
    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "echosts", "--host", "127.0.0.1", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        line = self.popen.stdout.readline()
        if not line:
            raise RuntimeError(f"echosts did not start: {self.popen.stderr.read()}")
        self.port = int(line.rsplit(":", 1)[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float = 15) -> int:
        return self.popen.wait(timeout=timeout)

    def stderr(self) -> str:
        return self.popen.stderr.read()

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        self.popen.stdout.close()
        self.popen.stderr.close()
