"""The systemd notify protocol, spoken directly: one datagram per message to $NOTIFY_SOCKET.

``Type=notify`` units learn that echosts listens (READY=1), what it is doing (STATUS=), that
its IOLoop still turns (WATCHDOG=1, sent from the loop itself so a wedged loop is restarted),
and that it is stopping (STOPPING=1). Without $NOTIFY_SOCKET every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("echosts.systemd")


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None, pid: int | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_interval_s = _watchdog_interval(environ, os.getpid() if pid is None else pid)
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *assignments: str) -> bool:
        """Sends ``KEY=value`` lines as one datagram; a failure is logged once, never raised."""
        if not self.address:
            return False
        message = "\n".join(assignments).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message, self.address)
        except OSError as problem:
            if not self._warned:
                log.warning("cannot notify systemd at %s: %s", self.address, problem)
                self._warned = True
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, status: str) -> bool:
        return self.send(f"STATUS={status}")

    def watchdog(self, status: str) -> bool:
        return self.send("WATCHDOG=1", f"STATUS={status}")

    def stopping(self, status: str) -> bool:
        return self.send("STOPPING=1", f"STATUS={status}")


def _watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Half of $WATCHDOG_USEC, in seconds, when the watchdog is meant for this process."""
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    target = environ.get("WATCHDOG_PID")
    if usec <= 0 or (target and target != str(pid)):
        return None
    return usec / 2 / 1_000_000
