"""``make soak DURATION=600``: thousands of short sessions against one echosts, resources sampled.

Each of CONCURRENCY loops runs one short session after another, each ending one of five ways
(normal, the client disconnecting mid-flight, an abrupt TCP close or reset, a pause and a
resume, malformed input first). Every echo is checked byte for byte and in order, and every
``stream:complete``'s statistics against what the session sent. The server's RSS, open file
descriptors and threads are read from ``/proc``, its sessions and connections from ``/health``,
every few seconds. The run fails when a fragment is lost, an answer breaks the protocol, or a
resource does not come back to its warmed-up baseline once the clients are gone.

    python -m bench.soak [--duration 600] [--concurrency 24] [--json soak.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.client import Worker, audio_base64
from bench.run import Server

ENDINGS = ("normal", "client_disconnect", "abrupt_close", "pause_resume", "malformed")
MALFORMED = [
    None,
    [],
    "text",
    {"fragment_id": 5},
    {"stream_id": None},
    {"audio": {"data_base64": "%%%"}},
]
MALFORMED_CODES = {"INVALID_CONFIG", "STREAM_NOT_FOUND"}
"""A payload that names no stream of this connection is STREAM_NOT_FOUND (section 10)."""
SETTLE_S = 15.0
WARM_UP_MIN_S = 20.0
WARM_UP_SHARE = 0.1
"""The warm-up, at full load, lasts this share of the run (at least WARM_UP_MIN_S): Python's
allocator and the libraries' caches grow to their working size before the baseline is read."""
RSS_BOUND_BYTES = 24 * 1024 * 1024
"""How far above its warmed-up RSS the server may settle once every client is gone."""
FD_BOUND = 8
"""Open file descriptors allowed above the warmed-up baseline once settled."""


@dataclass
class Sample:
    at_s: float
    rss_bytes: int
    fds: int
    threads: int
    sessions: int
    connections: int


@dataclass
class Totals:
    sessions: Counter[str] = field(default_factory=Counter)
    fragments_sent: int = 0
    fragments_echoed: int = 0
    violations: list[str] = field(default_factory=list)
    lost: int = 0


def read_proc(pid: int) -> tuple[int, int, int]:
    rss = threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd")), threads


async def sample(http: aiohttp.ClientSession, server: Server, began: float) -> Sample:
    assert server.process is not None
    rss, fds, threads = read_proc(server.process.pid)
    async with http.get(f"{server.url}/health") as response:
        health = await response.json()
    return Sample(
        round(time.monotonic() - began, 1),
        rss,
        fds,
        threads,
        health["sessions"],
        health["connections"],
    )


class Session:
    """One short session that checks everything it gets back."""

    def __init__(self, worker: Worker, rng: random.Random, totals: Totals) -> None:
        self.worker = worker
        self.stream_id = worker.stream_id
        self.rng = rng
        self.totals = totals
        self.payload = audio_base64(rng.choice((256, 1024, 4096)))
        self.expected = 0
        self.acked: set[int] = set()
        self.echoed = 0
        self.errors: list[dict[str, Any]] = []
        self.processed = asyncio.Event()
        self.sent = 0
        worker.on_event = self._on_event

    def violation(self, message: str) -> None:
        self.totals.violations.append(f"{self.stream_id}: {message}")

    def _on_event(self, event: str, data: Any) -> None:
        if event == "fragment:ack":
            self.acked.add(int(str(data["fragment_id"]).rsplit("-", 1)[1]))
        elif event == "fragment:processed":
            number = data.get("sequence_number")
            if number != self.expected:
                self.violation(f"processed {number}, expected {self.expected}")
            if number not in self.acked:
                self.violation(f"processed {number} without an ack")
            audio = data.get("dubbed_audio") or {}
            if data.get("status") != "success" or audio.get("data_base64") != self.payload:
                self.violation(f"echo of {number} differs")
            self.expected = (number if isinstance(number, int) else self.expected) + 1
            self.echoed += 1
            self.totals.fragments_echoed += 1
            self.processed.set()
        elif event == "error":
            self.errors.append(data)
        elif event != "backpressure":
            self.violation(f"unexpected {event}")

    def frame(self, number: int) -> dict[str, Any]:
        return {
            "fragment_id": f"{self.stream_id}-{number}",
            "stream_id": self.stream_id,
            "sequence_number": number,
            "timestamp": 1_700_000_000_000 + number,
            "audio": {
                "format": "pcm_s16le",
                "sample_rate_hz": 48000,
                "channels": 1,
                "duration_ms": 100,
                "data_base64": self.payload,
            },
        }

    async def send(self, count: int) -> None:
        for _ in range(count):
            number = self.sent
            self.sent += 1
            self.totals.fragments_sent += 1
            await self.worker.emit("fragment:data", self.frame(number))

    async def until_echoed(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.echoed < self.sent:
            self.processed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.totals.lost += self.sent - self.echoed
                self.violation(f"{self.sent - self.echoed} fragments never came back")
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.processed.wait(), remaining)

    async def complete(self) -> None:
        complete = await self.worker.request(
            "stream:end", {"stream_id": self.stream_id}, "stream:complete"
        )
        stats = complete.get("statistics", {})
        if complete.get("total_fragments") != self.sent:
            self.violation(f"total_fragments {complete.get('total_fragments')} != {self.sent}")
        if stats.get("success_count") != self.sent:
            self.violation(f"success_count {stats.get('success_count')} != {self.sent}")

    async def run(self, ending: str) -> None:
        await self.worker.start(max_inflight=5)
        count = self.rng.randint(1, 12)
        if ending == "malformed":
            for payload in MALFORMED:
                await self.worker.emit("fragment:data", payload)
        if ending == "pause_resume":
            await self.send(count // 2)
            await self.worker.emit("stream:pause", {"stream_id": self.stream_id})
            await self.worker.emit("stream:resume", {"stream_id": self.stream_id})
            await self.send(count - count // 2)
        else:
            await self.send(count)
        if ending in ("client_disconnect", "abrupt_close"):
            await asyncio.sleep(self.rng.random() * 0.01)
            return
        await self.until_echoed()
        await self.complete()
        if ending == "malformed":
            codes = {error.get("code") for error in self.errors}
            if len(self.errors) != len(MALFORMED) or not codes <= MALFORMED_CODES:
                self.violation(f"malformed input answered {len(self.errors)} errors {codes}")
        elif self.errors:
            self.violation(f"errors on a polite session: {self.errors[:2]}")


async def session_loop(
    http: aiohttp.ClientSession, url: str, index: int, until: float, totals: Totals
) -> None:
    rng = random.Random(index)
    number = 0
    while time.monotonic() < until:
        ending = rng.choice(ENDINGS)
        worker = Worker(http, url, f"soak-{index}-{number}")
        session = Session(worker, rng, totals)
        try:
            await worker.connect()
            await session.run(ending)
        except Exception as problem:  # noqa: BLE001 - a soak counts every failure
            totals.violations.append(f"{worker.stream_id} ({ending}): {problem!r}")
        finally:
            if ending == "abrupt_close":
                await worker.abort(reset=rng.random() < 0.5)
            else:
                await worker.close()
        totals.sessions[ending] += 1
        number += 1


async def sampler(
    http: aiohttp.ClientSession, server: Server, began: float, samples: list[Sample]
) -> None:
    while True:
        samples.append(await sample(http, server, began))
        await asyncio.sleep(5)


async def settle(http: aiohttp.ClientSession, server: Server, began: float) -> Sample:
    """The server once every client is gone and its collector has run."""
    deadline = time.monotonic() + SETTLE_S
    latest = await sample(http, server, began)
    while time.monotonic() < deadline and (latest.connections or latest.sessions):
        await asyncio.sleep(0.5)
        latest = await sample(http, server, began)
    await asyncio.sleep(2)
    return await sample(http, server, began)


async def soak(duration: float, concurrency: int) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=0)
    server = Server("echosts")
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        began = time.monotonic()
        await server.start(http)
        try:
            warm = Totals()
            warm_until = time.monotonic() + max(WARM_UP_MIN_S, duration * WARM_UP_SHARE)
            await asyncio.gather(
                *(
                    session_loop(http, server.url, -1 - i, warm_until, warm)
                    for i in range(concurrency)
                )
            )
            baseline = await settle(http, server, began)
            samples: list[Sample] = [baseline]
            totals = Totals()
            watch = asyncio.ensure_future(sampler(http, server, began, samples))
            started = time.monotonic()
            until = started + duration
            await asyncio.gather(
                *(session_loop(http, server.url, i, until, totals) for i in range(concurrency))
            )
            elapsed = time.monotonic() - started
            end = await sample(http, server, began)
            watch.cancel()
            settled = await settle(http, server, began)
        finally:
            server.stop()
    peak = max(samples, key=lambda s: s.rss_bytes)
    checks = {
        "no violations": not totals.violations and not warm.violations,
        "nothing lost": totals.lost == 0,
        "sessions released": settled.sessions == 0 and settled.connections == 0,
        "RSS back near baseline": settled.rss_bytes - baseline.rss_bytes < RSS_BOUND_BYTES,
        "fds back to baseline": settled.fds - baseline.fds <= FD_BOUND,
        "threads back to baseline": settled.threads <= baseline.threads,
    }
    return {
        "duration_s": round(elapsed, 1),
        "concurrency": concurrency,
        "sessions": sum(totals.sessions.values()),
        "sessions_by_ending": dict(totals.sessions),
        "sessions_per_s": round(sum(totals.sessions.values()) / elapsed, 1),
        "fragments_sent": totals.fragments_sent,
        "fragments_echoed": totals.fragments_echoed,
        "lost": totals.lost,
        "violations": len(totals.violations) + len(warm.violations),
        "first_violations": (warm.violations + totals.violations)[:20],
        "baseline": vars(baseline),
        "peak": vars(peak),
        "warm_up": {"sessions": sum(warm.sessions.values()), "peak_rss_bytes": baseline.rss_bytes},
        "end": vars(end),
        "settled": vars(settled),
        "rss_median_mib": round(statistics.median(s.rss_bytes for s in samples) / 2**20, 1),
        "rss_mib_over_time": [round(s.rss_bytes / 2**20, 1) for s in samples],
        "checks": checks,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=24, help="sessions at once")
    parser.add_argument("--json", type=Path, help="write the report here too")
    arguments = parser.parse_args()
    report = asyncio.run(soak(arguments.duration, arguments.concurrency))
    text = json.dumps(report, indent=1)
    print(text)
    if arguments.json:
        arguments.json.write_text(text)
    failed = [name for name, passed in report["checks"].items() if not passed]
    print("soak: " + ("FAILED: " + ", ".join(failed) if failed else "passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
