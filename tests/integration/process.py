"""echosts as a real child process, the way systemd or docker runs it.

``echosts.testing.EchostsProcess`` starts it; tests of signals, exit codes and the log also
want to send a signal, wait for the exit status and read what was logged.
"""

from __future__ import annotations

from echosts.testing import EchostsProcess


class EchoProcess(EchostsProcess):
    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def popen(self):  # type: ignore[no-untyped-def]
        return self.process

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 15) -> int:
        return self.process.wait(timeout=timeout)

    def stderr(self) -> str:
        return self.log_text()

    def close(self) -> None:
        """Kills it if it still runs (a test that failed half-way), then cleans up."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stop()
