"""echosts as a real child process, the way systemd or docker runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile


class EchoProcess:
    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        # The log goes to a file, not a pipe: a pipe nobody reads would stop the server once
        # its buffer is full.
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "echosts", "--host", "127.0.0.1", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, **(env or {})},
        )
        line = self.popen.stdout.readline()
        if not line:
            self.popen.wait()
            raise RuntimeError(f"echosts did not start: {self.stderr()}")
        self.port = int(line.rsplit(":", 1)[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float = 15) -> int:
        return self.popen.wait(timeout=timeout)

    def stderr(self) -> str:
        """Everything the process logged so far."""
        self._log.seek(0)
        return self._log.read()

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        self.popen.stdout.close()
        self._log.close()
