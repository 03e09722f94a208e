"""``make bench``: echosts against the floor, in interleaved rounds, as paired ratios.

Each round starts every server afresh (floor, then echosts, the order alternating from
round to round), pinned to core 0 while this generator runs on core 1, and runs the same
scenarios against it. A ratio is echosts' figure over the floor's in the same round; the
table quotes the median of the rounds' ratios. Any error a check found (a missing ack, an
echo that differs, a fragment out of order) fails the run.

    python bench/run.py [--rounds 3] [--duration 3] [--servers floor,echosts] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.client import PAYLOADS, ClosedLoop, Tally, Worker, audio_base64

HERE = Path(__file__).resolve().parent
SERVERS = {
    "floor": [sys.executable, str(HERE / "floor.py")],
    "floor-fast": [sys.executable, str(HERE / "floor.py"), "--fast"],
    "echosts": [sys.executable, "-m", "echosts"],
}
SERVER_ENV = {"WS_MAX_CONNECTIONS": "5000", "ECHO_LOG_LEVEL": "INFO"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Scenario:
    name: str
    streams: int
    window: int
    payload: str


SCENARIOS = (
    Scenario("S=1 W=1", 1, 1, "pcm96k"),
    Scenario("S=10 W=3", 10, 3, "pcm96k"),
    Scenario("S=100 W=3", 100, 3, "pcm96k"),
    Scenario("m4a S=10 W=3", 10, 3, "m4a98k"),
    Scenario("1 KB S=10 W=10", 10, 10, "pcm1k"),
)


@dataclass
class Figures:
    """One server's figures in one round, by name."""

    values: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pin(pid: int, core: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(pid, {core})


class Server:
    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self.process: subprocess.Popen[bytes] | None = None
        self.spawned = 0.0

    async def start(self, http: aiohttp.ClientSession) -> float:
        """Starts the server; returns the seconds until /health answered 200."""
        env = {**os.environ, **SERVER_ENV, "PYTHONPATH": str(HERE.parent)}
        started = self.spawned = time.perf_counter()
        self.process = subprocess.Popen(
            [*SERVERS[self.name], "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            cwd=HERE.parent,
        )
        pin(self.process.pid, 0)
        while time.perf_counter() - started < 30:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{self.url}/health") as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            if self.process.poll() is not None:
                break
            await asyncio.sleep(0.002)
        self._log.seek(0)
        raise RuntimeError(f"{self.name} did not become healthy: {self._log.read()[-2000:]!r}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


async def connected(http: aiohttp.ClientSession, url: str, names: list[str]) -> list[Worker]:
    workers = [Worker(http, url, name) for name in names]
    for start in range(0, len(workers), 100):
        batch = workers[start : start + 100]
        await asyncio.gather(*(worker.connect() for worker in batch))
    return workers


async def first_ready(http: aiohttp.ClientSession, server: Server) -> float:
    """Seconds from the spawn until a worker that connected at once got its stream:ready."""
    (worker,) = await connected(http, server.url, ["first"])
    await worker.start(3)
    ready = time.perf_counter() - server.spawned
    await worker.end()
    await worker.close()
    return ready


async def run_scenario(
    http: aiohttp.ClientSession, server: Server, scenario: Scenario, duration: float, tag: str
) -> tuple[dict[str, float], list[str]]:
    assert server.process is not None
    names = [f"{tag}-{index}" for index in range(scenario.streams)]
    workers = await connected(http, server.url, names)
    await asyncio.gather(*(worker.start(max(3, scenario.window)) for worker in workers))
    b64 = audio_base64(PAYLOADS[scenario.payload])
    tallies = [Tally() for _ in workers]
    loops = [
        ClosedLoop(worker, b64, scenario.window, tally)
        for worker, tally in zip(workers, tallies, strict=True)
    ]
    await asyncio.gather(*(loop.begin() for loop in loops))
    await asyncio.sleep(min(1.0, duration / 4))
    for loop in loops:
        loop.measuring = True
    cpu_before, own_before, began = (
        process_cpu_s(server.process.pid),
        own_cpu_s(),
        time.perf_counter(),
    )
    await asyncio.sleep(duration)
    for loop in loops:
        loop.measuring = False
    elapsed = time.perf_counter() - began
    server_cpu = process_cpu_s(server.process.pid) - cpu_before
    own_cpu = own_cpu_s() - own_before
    await asyncio.gather(*(loop.stop() for loop in loops))
    await asyncio.gather(*(worker.end() for worker in workers))
    await asyncio.gather(*(worker.close() for worker in workers))
    processed = sum(tally.processed for tally in tallies)
    rtt = [value for tally in tallies for value in tally.rtt_s]
    acks = [value for tally in tallies for value in tally.ack_s]
    errors = [error for tally in tallies for error in tally.errors]
    if processed == 0:
        errors.append(f"{scenario.name}: no fragment came back in {duration} s")
    name = scenario.name
    figures = {
        f"{name} frag/s": processed / elapsed,
        f"{name} RTT p50 ms": percentile(rtt, 0.5) * 1000,
        f"{name} RTT p99 ms": percentile(rtt, 0.99) * 1000,
        f"{name} ack p50 ms": percentile(acks, 0.5) * 1000,
        f"{name} ack p99 ms": percentile(acks, 0.99) * 1000,
        f"{name} server CPU us/frag": server_cpu / max(processed, 1) * 1e6,
        f"{name} generator CPU share": own_cpu / elapsed,
    }
    return figures, errors


async def idle_sessions(
    http: aiohttp.ClientSession, server: Server, count: int, tag: str
) -> dict[str, float]:
    """Resident memory per connection holding an initialised, idle session."""
    assert server.process is not None
    warm = await connected(http, server.url, [f"{tag}-warm"])
    await warm[0].start(3)
    await asyncio.sleep(0.2)
    before = process_rss_bytes(server.process.pid)
    workers = await connected(http, server.url, [f"{tag}-{index}" for index in range(count)])
    for start in range(0, count, 100):
        await asyncio.gather(*(worker.start(3) for worker in workers[start : start + 100]))
    await asyncio.sleep(0.5)
    after = process_rss_bytes(server.process.pid)
    await asyncio.gather(*(worker.close() for worker in [*warm, *workers]))
    return {f"KB per idle session (N={count})": (after - before) / count / 1024}


async def one_round(
    names: list[str], scenarios: tuple[Scenario, ...], duration: float, idle: int, round_: int
) -> dict[str, Figures]:
    results: dict[str, Figures] = {}
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        for name in names:
            server = Server(name)
            figures = Figures()
            try:
                figures.values["start to healthy s"] = await server.start(http)
                figures.values["start to first stream:ready s"] = await first_ready(http, server)
                for index, scenario in enumerate(scenarios):
                    values, errors = await run_scenario(
                        http, server, scenario, duration, f"r{round_}s{index}"
                    )
                    figures.values.update(values)
                    figures.errors.extend(errors)
                if idle:
                    figures.values.update(await idle_sessions(http, server, idle, f"r{round_}i"))
            finally:
                server.stop()
            results[name] = figures
            print(f"  round {round_ + 1}: {name} done, {len(figures.errors)} errors", flush=True)
    return results


def rows(rounds: list[dict[str, Figures]], names: list[str]) -> Iterator[list[str]]:
    baseline = names[0]
    for metric in rounds[0][baseline].values:
        cells = [metric]
        for name in names:
            absolute = statistics.median(result[name].values[metric] for result in rounds)
            if name == baseline:
                cells.append(f"{absolute:,.3g}")
                continue
            ratios = [
                result[name].values[metric] / result[baseline].values[metric]
                for result in rounds
                if result[baseline].values[metric]
            ]
            ratio = statistics.median(ratios) if ratios else float("nan")
            cells.append(f"{ratio:.2f}x ({absolute:,.3g})")
        yield cells


def table(rounds: list[dict[str, Figures]], names: list[str]) -> str:
    header = ["metric", *(f"{name} (median)" if i == 0 else name for i, name in enumerate(names))]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(cells) + " |" for cells in rows(rounds, names))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per scenario")
    parser.add_argument("--servers", default="floor,echosts", help="first one is the baseline")
    parser.add_argument("--scenarios", default="", help="comma-separated names; default all")
    parser.add_argument("--idle", type=int, default=1000, help="idle sessions (0: skip)")
    parser.add_argument("--json", type=Path, help="write every round's figures here")
    arguments = parser.parse_args()
    names = arguments.servers.split(",")
    unknown = [name for name in names if name not in SERVERS]
    if unknown:
        parser.error(f"unknown server {unknown[0]!r}; one of {', '.join(SERVERS)}")
    wanted = set(filter(None, arguments.scenarios.split(",")))
    scenarios = tuple(s for s in SCENARIOS if not wanted or s.name in wanted)
    # Measure echosts as installed: pip compiles a package's bytecode, an editable checkout
    # run with PYTHONDONTWRITEBYTECODE would compile every module again at every start.
    compileall.compile_dir(HERE.parent / "echosts", quiet=1)
    pin(0, 1)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}", flush=True)
    rounds = []
    for round_ in range(arguments.rounds):
        order = names if round_ % 2 == 0 else [*names[1:], names[0]]
        result = asyncio.run(
            one_round(order, scenarios, arguments.duration, arguments.idle, round_)
        )
        rounds.append(result)
    print(table(rounds, names))
    errors = [error for result in rounds for figures in result.values() for error in figures.errors]
    if arguments.json:
        dump = [{name: vars(figures) for name, figures in result.items()} for result in rounds]
        arguments.json.write_text(json.dumps(dump, indent=1))
    print(f"checks: {len(errors)} errors")
    for error in errors[:20]:
        print(f"  {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
