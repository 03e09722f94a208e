"""A client of echosts' control API for tests, and a running echosts in a child process.

``EchostsServer`` is what the pytest fixture ``echosts`` yields (see ``echosts.pytest_plugin``);
it works as well outside pytest. Its helpers are plain blocking calls; ``server.aio`` has the
same ones as coroutines, for a test whose worker runs on the same event loop (a blocking
long poll would stop that worker).
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from functools import partial
from typing import Any

STATES = ("active", "paused", "ending", "completed", "closed")


class EchostsError(AssertionError):
    """The control API answered with an error; the message is its own."""


class EchostsServer:
    """The control API of one echosts, by URL."""

    def __init__(self, url: str, api_key: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.aio = AsyncHelpers(self)

    def request(self, method: str, path: str, body: Any = None, timeout: float = 70) -> Any:
        """One call to the control API; its JSON answer, or EchostsError with its message."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(  # noqa: S310 - the URL is the test's own echosts
            self.url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as problem:
            answer = problem.read().decode(errors="replace")
            raise EchostsError(f"{method} {path}: {problem.code} {answer}") from None
        except (urllib.error.URLError, OSError) as problem:
            raise EchostsError(f"{method} {path}: {self.url} does not answer: {problem}") from None

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/health")
        return result

    def plan(self, stream_id: str, **faults: Any) -> dict[str, Any]:
        """Stores a fault plan for ``stream_id`` (the keys of docs/protocol.md sections 7, 11)."""
        path = f"/admin/streams/{urllib.parse.quote(stream_id, safe='')}/plan"
        result: dict[str, Any] = self.request("PUT", path, faults)
        return result

    def sessions(self, **filters: Any) -> list[dict[str, Any]]:
        """Session summaries, newest first; filters: stream_id, worker_id, state, wait_ms."""
        given = {key: value for key, value in filters.items() if value is not None}
        query = urllib.parse.urlencode(given)
        result: list[dict[str, Any]] = self.request("GET", f"/admin/sessions?{query}")["sessions"]
        return result

    def session(self, session_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/admin/sessions/{session_id}")
        return result

    def events(self, session_id: str) -> list[dict[str, Any]]:
        """Every journal entry the session kept, page after page."""
        events: list[dict[str, Any]] = []
        after: int | None = -1
        while after is not None:
            page = self.request(
                "GET", f"/admin/sessions/{session_id}/events?after={after}&limit=10000"
            )
            events.extend(page["events"])
            after = page["next"]
        return events

    def wait_for_session(
        self, stream_id: str, state: str | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """The newest session of ``stream_id`` (in ``state``, when given), waiting for it;
        EchostsError when none comes within ``timeout`` seconds."""
        if state is not None and state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            wait_ms = int(max(0.0, min(remaining, 60.0)) * 1000)
            found = self.sessions(stream_id=stream_id, state=state, wait_ms=wait_ms)
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                wanted = f" in state {state}" if state else ""
                raise EchostsError(
                    f"no session of stream {stream_id!r}{wanted} within {timeout:g} s"
                )

    def verify(self, session_id: str, grace_ms: float | None = None) -> dict[str, Any]:
        query = "" if grace_ms is None else f"?grace_ms={grace_ms}"
        result: dict[str, Any] = self.request("GET", f"/admin/sessions/{session_id}/verify{query}")
        return result

    def reset(self) -> dict[str, Any]:
        """Removes every plan and pending refusal and forgets every ended session."""
        result: dict[str, Any] = self.request("POST", "/admin/reset")
        return result


class AsyncHelpers:
    """The same helpers as coroutines: each blocking call runs in a thread."""

    def __init__(self, server: EchostsServer) -> None:
        self._server = server

    def __getattr__(self, name: str) -> Any:
        helper = getattr(self._server, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(partial(helper, *args, **kwargs))

        return call


def _end_with_parent() -> None:
    """In the child, before it runs: Linux ends it when the test process dies, however it
    dies; elsewhere the fixture's own stop() is all there is."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


class EchostsProcess(EchostsServer):
    """echosts started as a child process on a free loopback port; ``stop()`` ends it."""

    def __init__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        api_key: str | None = None,
        timeout: float = 30,
    ) -> None:
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open until stop()
            mode="w+", prefix="echosts-", suffix=".log", delete=False
        )
        command = [sys.executable, "-m", "echosts", "--host", "127.0.0.1", "--port", "0", *args]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env={**os.environ, **(env or {})},
            preexec_fn=_end_with_parent,  # noqa: PLW1509 - only sets the death signal
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout)
            text = self.log_text()
            self.stop()
            raise RuntimeError(f"echosts did not start:\n{text}")
        super().__init__(f"http://127.0.0.1:{line.rsplit(':', 1)[1].strip()}", api_key)

    def log_text(self, start: int = 0) -> str:
        """What the server logged, from byte ``start`` of its log on."""
        with open(self.log.name, encoding="utf-8", errors="replace") as log:
            log.seek(start)
            return log.read()

    def log_size(self) -> int:
        return os.path.getsize(self.log.name)

    def stop(self, timeout: float = 15) -> int:
        """A graceful stop (SIGTERM: drain, then exit); killed if it takes longer. Again: a
        no-op."""
        if self.log.closed:
            return self.process.returncode
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.close()
        os.unlink(self.log.name)
        return self.process.returncode
