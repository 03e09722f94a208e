"""``echosts check URL``: one short stream end to end against a deployed echosts.

Health, connect, init, three fragments of which the second fails by a simulated fault, end,
complete, and the session's journal and ``verify`` when the control API is reachable. It
speaks Engine.IO and Socket.IO itself over Tornado's WebSocket client, so it needs nothing
the service does not already install; a smoke test, a CI job or a container healthcheck can
run it. Exit 0 when every step passed, 1 naming the step that failed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import time
import uuid
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.websocket import WebSocketClientConnection, websocket_connect

AUDIO = base64.b64encode(bytes(range(256)) * 4).decode()
LONG_POLL_S = 5
"""How long the journal step waits for the session to show as closed."""
FAILING = 1
"""The sequence number the check asks echosts to fail."""


class StepFailedError(Exception):
    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step


class Worker:
    """The least of a Socket.IO client: one namespace, events in order, pings answered."""

    def __init__(self, connection: WebSocketClientConnection, timeout: float) -> None:
        self.connection = connection
        self.timeout = timeout

    async def read(self) -> str:
        while True:
            message = await asyncio.wait_for(self.connection.read_message(), self.timeout)
            if message is None:
                raise ConnectionError("the server closed the connection")
            text = message if isinstance(message, str) else message.decode()
            if text == "2":
                await self.connection.write_message("3")
                continue
            return text

    async def emit(self, event: str, data: Any) -> None:
        await self.connection.write_message("42" + json.dumps([event, data]))

    async def next_event(self) -> tuple[str, Any]:
        while True:
            text = await self.read()
            if text.startswith("42"):
                event, data = json.loads(text[2:])
                return event, data


class Check:
    def __init__(self, url: str, api_key: str | None, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.lines: list[str] = []
        self.stream_id = f"echosts-check-{uuid.uuid4().hex[:12]}"

    def passed(self, step: str, detail: str) -> None:
        self.lines.append(f"ok    {step}: {detail}")

    async def http(self, path: str, step: str) -> tuple[int, Any]:
        """The status and JSON body of ``GET path``; a failure of ``step`` when it is not JSON."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        request_timeout = self.timeout + LONG_POLL_S
        try:
            response = await AsyncHTTPClient().fetch(
                self.url + path, headers=headers, request_timeout=request_timeout
            )
            code, body = response.code, response.body
        except HTTPClientError as problem:
            code = problem.code
            body = problem.response.body if problem.response is not None else b"{}"
        except (OSError, ValueError) as problem:
            raise StepFailedError(step, f"{self.url} does not answer: {problem}") from None
        try:
            return code, json.loads(body or b"{}")
        except ValueError:
            raise StepFailedError(step, f"{path} answered {code}, not JSON") from None

    async def run(self) -> None:
        await self.health()
        worker = await self.connect()
        try:
            session_id = await self.init(worker)
            await self.fragments(worker)
            await self.complete(worker)
        finally:
            worker.connection.close()
        await self.journal(session_id)

    async def health(self) -> None:
        code, body = await self.http("/health", "health")
        if code != 200 or body.get("status") != "healthy":
            raise StepFailedError("health", f"{code} {body}")
        self.passed("health", f"{body['status']}, version {body.get('version')}")

    async def connect(self) -> Worker:
        ws_url = self.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        try:
            connection = await asyncio.wait_for(websocket_connect(ws_url), self.timeout)
        except (OSError, TimeoutError, HTTPClientError) as problem:
            raise StepFailedError("connect", str(problem) or type(problem).__name__) from None
        worker = Worker(connection, self.timeout)
        opening = await self.packet(worker)
        if not opening.startswith("0"):
            raise StepFailedError("connect", f"no Engine.IO open packet: {opening[:80]!r}")
        auth = json.dumps({"token": self.api_key}) if self.api_key else ""
        await connection.write_message("40" + auth)
        answer = await self.packet(worker)
        if not answer.startswith("40"):
            raise StepFailedError("connect", f"refused: {answer[2:200]}")
        self.passed("connect", "Socket.IO namespace / joined")
        return worker

    async def packet(self, worker: Worker) -> str:
        """The next packet of the handshake; a failure of the connect step when none comes."""
        try:
            return await worker.read()
        except (ConnectionError, TimeoutError) as problem:
            raise StepFailedError("connect", str(problem) or "timed out") from None

    async def expect(self, worker: Worker, step: str, wanted: str) -> Any:
        try:
            event, data = await worker.next_event()
        except (TimeoutError, ConnectionError) as problem:
            raise StepFailedError(step, f"no {wanted}: {problem or 'timed out'}") from None
        if event != wanted:
            raise StepFailedError(step, f"expected {wanted}, got {event} {str(data)[:200]}")
        return data

    async def init(self, worker: Worker) -> str:
        await worker.emit(
            "stream:init",
            {"stream_id": self.stream_id, "worker_id": "echosts-check", "config": {}},
        )
        ready = await self.expect(worker, "init", "stream:ready")
        rule = {"trigger": "sequence_number", "value": FAILING, "error_code": "MODEL_ERROR"}
        await worker.emit("config:error_simulation", {"rules": [rule]})
        ack = await self.expect(worker, "init", "config:error_simulation:ack")
        if ack.get("status") != "accepted":
            raise StepFailedError("init", f"the simulated fault was refused: {ack}")
        self.passed("init", f"stream {self.stream_id}, session {ready['session_id']}")
        session_id: str = ready["session_id"]
        return session_id

    async def fragments(self, worker: Worker) -> None:
        for number in range(3):
            audio = {
                "format": "pcm_s16le",
                "sample_rate_hz": 48000,
                "channels": 1,
                "duration_ms": 100,
                "data_base64": AUDIO,
            }
            fragment_id = f"{self.stream_id}-{number}"
            await worker.emit(
                "fragment:data",
                {
                    "fragment_id": fragment_id,
                    "stream_id": self.stream_id,
                    "sequence_number": number,
                    "timestamp": int(time.time() * 1000),
                    "audio": audio,
                },
            )
            await self.expect(worker, "fragments", "fragment:ack")
            processed = await self.expect(worker, "fragments", "fragment:processed")
            self.check_processed(number, processed)
            await worker.emit(
                "fragment:ack", {"fragment_id": fragment_id, "status": "applied", "timestamp": 1}
            )
        self.passed("fragments", "3 echoed in order, the second failed by the simulated fault")

    def check_processed(self, number: int, processed: dict[str, Any]) -> None:
        if processed.get("sequence_number") != number:
            raise StepFailedError("fragments", f"fragment {number} came back as {processed}")
        if number == FAILING:
            code = (processed.get("error") or {}).get("code")
            if processed.get("status") != "failed" or code != "MODEL_ERROR":
                raise StepFailedError("fragments", f"the simulated fault did not happen: {code}")
        elif (processed.get("dubbed_audio") or {}).get("data_base64") != AUDIO:
            raise StepFailedError("fragments", f"the echo of fragment {number} differs")

    async def complete(self, worker: Worker) -> None:
        await worker.emit("stream:end", {"stream_id": self.stream_id})
        complete = await self.expect(worker, "complete", "stream:complete")
        statistics = complete.get("statistics", {})
        counts = (complete.get("total_fragments"), statistics.get("failed_count"))
        if counts != (3, 1):
            raise StepFailedError("complete", f"statistics do not add up: {complete}")
        self.passed("complete", "3 fragments, 1 failed")

    async def journal(self, session_id: str) -> None:
        query = f"stream_id={self.stream_id}&state=closed&wait_ms={LONG_POLL_S * 1000}"
        code, body = await self.http(f"/admin/sessions?{query}", "journal")
        if code in (401, 404):
            self.lines.append(f"skip  journal: the control API answered {code}")
            return
        if code != 200 or not body.get("sessions"):
            raise StepFailedError("journal", f"the session never showed as closed: {code} {body}")
        code, report = await self.http(f"/admin/sessions/{session_id}/verify", "journal")
        if code != 200 or not report.get("ok"):
            raise StepFailedError("journal", f"verify: {code} {report}")
        counts = body["sessions"][0]["counts"]
        self.passed("journal", f"verify ok, {counts['fragments_accepted']} fragments journaled")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="echosts check", description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the echosts to check, e.g. http://localhost:8000")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("ECHOSTS_API_KEY"),
        help="a key of the server's (default: $ECHOSTS_API_KEY)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per step")
    arguments = parser.parse_args(argv)
    if not arguments.url.startswith(("http://", "https://")):
        parser.error(f"the URL must start with http:// or https://, not {arguments.url!r}")
    check = Check(arguments.url, arguments.api_key, arguments.timeout)
    try:
        asyncio.run(check.run())
    except StepFailedError as failure:
        for line in check.lines:
            print(line)
        print(f"FAIL  {failure}", file=sys.stderr)
        return 1
    for line in check.lines:
        print(line)
    print(f"echosts at {arguments.url} passed every step")
    return 0
