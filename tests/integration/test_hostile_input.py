"""Hostile clients beside a healthy session, against a real echosts process (section 14).

From several connections at once: a seeded mix of malformed payloads for every event, raw
Socket.IO frames no client library would send (deep nesting, broken JSON, huge numbers,
binary attachments), 1 MB ids and an event flood. Meanwhile one healthy worker streams: it must
get every echo byte for byte and no error, ``/health`` must stay 200, and the server's RSS must
come back near where it was.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient

from echosts.protocol import WORKER_EVENTS
from tests.integration.process import EchoProcess
from tests.integration.raw import joined
from tests.workers import Worker, audio_bytes, fragment, stream_init

SEED = 20261202
MIB = 1024 * 1024
RSS_SETTLED_BOUND = 16 * MIB
"""How far above its warmed-up RSS the server may stay once the hostile clients are gone."""

WRONG_VALUES: list[Any] = [
    None,
    0,
    -1,
    2**70,
    1.5,
    True,
    "",
    "x" * 300,
    [],
    [1, "a", None],
    {},
    {"nested": {"deeper": [None]}},
]


def payload_mutations(valid: dict[str, Any]) -> list[Any]:
    """Every field of ``valid``, in turn, replaced by every wrong value or left out."""
    mutations: list[Any] = []
    for field in valid:
        for value in WRONG_VALUES:
            mutations.append({**valid, field: value})
        mutations.append({key: item for key, item in valid.items() if key != field})
    return mutations


def hostile_events() -> list[tuple[str, list[Any]]]:
    """(event, arguments) pairs a buggy or hostile worker might send, shuffled by SEED."""
    valid_fragment = fragment("h", 0)
    cases: list[tuple[str, list[Any]]] = []
    for event in (*WORKER_EVENTS, "stream:rewind", "", "x" * 1000, "connect", "message"):
        cases.extend((event, [value]) for value in WRONG_VALUES)
        cases.append((event, []))
        cases.append((event, [{"a": 1}, "extra", 3]))
    cases.extend(("fragment:data", [body]) for body in payload_mutations(valid_fragment))
    audio = valid_fragment["audio"]
    cases.extend(
        ("fragment:data", [{**valid_fragment, "audio": body}]) for body in payload_mutations(audio)
    )
    cases.extend(("stream:init", [body]) for body in payload_mutations(stream_init("h")))
    huge = "i" * MIB
    cases.append(("stream:init", [{"stream_id": huge, "config": {}}]))
    cases.append(("fragment:data", [{**valid_fragment, "fragment_id": huge}]))
    for data in ("%%%=", b"\x00"):
        bad_audio = {**audio, "data_base64": data}
        cases.append(("fragment:data", [{**valid_fragment, "audio": bad_audio}]))
    cases.append(("fragment:ack", [{"fragment_id": b"binary", "status": "applied"}]))
    random.Random(SEED).shuffle(cases)
    return cases


RAW_FRAMES = [
    "42" + "[" * 20_000 + "]" * 20_000,
    '42["fragment:data",' + '{"a":' * 5_000 + "1" + "}" * 5_000 + "]",
    '42["stream:init",',
    "42{}",
    "42[]",
    "42[1,2,3]",
    '42["stream:init",{"stream_id":"s","config":{},"max_inflight":1e400}]',
    '42["stream:init",{"stream_id":"s","config":{"channels":NaN}}]',
    '42["stream:init",{"stream_id":"\\ud800","config":{}}]',
    '451-["fragment:data",{"_placeholder":true,"num":0}]',
    '452-["fragment:data",{"_placeholder":true,"num":7}]',
    "43",
    "44",
    "4",
    "41",
    "49",
    "4x",
    "2probe",
    "3",
    "6",
    "bAAAA",
    '42/nowhere,["stream:init",{}]',
    '42999999999999999999999["stream:init",{}]',
]
RAW_BINARY = [b"", b"\x00\xff" * 1000, b"\x04binary"]


async def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def health(url: str) -> int:
    response = await AsyncHTTPClient().fetch(f"{url}/health", raise_error=False)
    return response.code


async def healthy_stream(url: str, count: int, sent: list[bytes], stop: asyncio.Event) -> Worker:
    """A polite worker: one stream, every echo checked against what it sent."""
    worker = Worker(url)
    await worker.connect()
    await worker.start("healthy", max_inflight=5)
    number = 0
    while number < count or not stop.is_set():
        payload = audio_bytes(4096, seed=number)
        sent.append(payload)
        await worker.emit("fragment:data", fragment("healthy", number, payload=payload))
        processed = await worker.next("fragment:processed", timeout=10)
        assert processed["sequence_number"] == number
        echoed = base64.b64decode(processed["dubbed_audio"]["data_base64"])
        assert echoed == payload, f"echo {number} differs"
        number += 1
        await asyncio.sleep(0.005)
    return worker


async def hostile_worker(url: str, cases: list[tuple[str, list[Any]]]) -> None:
    worker = Worker(url)
    await worker.connect()
    try:
        for event, arguments in cases:
            await worker.emit(event, *arguments)
        for _ in range(2_000):
            await worker.emit("fragment:ack", {"fragment_id": "nope", "status": "applied"})
    finally:
        await worker.close()


async def raw_worker(port: int) -> None:
    connection = await joined(port)
    try:
        for frame in [*RAW_FRAMES, *RAW_BINARY]:
            connection.write_message(frame, binary=isinstance(frame, bytes))
            await asyncio.sleep(0.001)
    finally:
        connection.close()


async def test_hostile_clients_do_not_disturb_a_healthy_session_or_grow_the_server() -> None:
    process = EchoProcess(env={"ECHO_LOG_LEVEL": "WARNING", "WS_MAX_CONNECTIONS": "100"})
    try:
        sent: list[bytes] = []
        stop = asyncio.Event()
        warm = asyncio.ensure_future(healthy_stream(process.url, 50, sent, stop))
        cases = hostile_events()
        await hostile_worker(process.url, cases[:50])
        stop.set()
        await (await warm).close()
        await asyncio.sleep(0.5)
        baseline = await rss_bytes(process.popen.pid)

        stop = asyncio.Event()
        healthy_sent: list[bytes] = []
        healthy = asyncio.ensure_future(healthy_stream(process.url, 200, healthy_sent, stop))
        shares = [cases[index::4] for index in range(4)]
        await asyncio.gather(
            *(hostile_worker(process.url, share) for share in shares),
            *(raw_worker(process.port) for _ in range(3)),
        )
        assert await health(process.url) == 200
        stop.set()
        worker = await healthy
        assert worker.received("error") == []
        assert len(worker.received("fragment:processed")) == len(healthy_sent)
        await worker.close()
        await asyncio.sleep(2)
        settled = await rss_bytes(process.popen.pid)
        body = json.loads((await AsyncHTTPClient().fetch(f"{process.url}/health")).body)
        assert body["connections"] == 0, body
        print(f"RSS baseline {baseline / MIB:.1f} MiB, settled {settled / MIB:.1f} MiB")
        assert settled - baseline < RSS_SETTLED_BOUND, (baseline, settled)
        assert len(cases) + len(RAW_FRAMES) + len(RAW_BINARY) >= 400
    finally:
        process.close()
