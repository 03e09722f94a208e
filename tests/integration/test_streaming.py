"""Fragments over a real Socket.IO connection: echo, order, limits, concurrency."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest

from echosts.protocol import MAX_FRAGMENT_CHARS
from tests.payloads import MEDIA_WORKER_INIT
from tests.workers import Worker, audio_bytes, fragment


async def test_media_worker_init_payload_gets_stream_ready(make_worker) -> None:
    worker = await make_worker().connect(headers={"X-Stream-ID": "s", "X-Worker-ID": "worker-s"})
    await worker.emit("stream:init", MEDIA_WORKER_INIT)
    ready = await worker.next("stream:ready")
    assert ready["stream_id"] == "s"
    assert ready["max_inflight"] == 3


async def test_one_second_of_48k_stereo_audio_round_trips_byte_identical(make_worker) -> None:
    pcm = audio_bytes(48000 * 2 * 2, seed=5)
    worker = await make_worker().connect()
    await worker.start("s")
    await worker.emit("fragment:data", fragment("s", 0, payload=pcm))
    processed = await worker.next("fragment:processed")
    assert processed["status"] == "success"
    assert base64.b64decode(processed["dubbed_audio"]["data_base64"]) == pcm
    assert processed["dubbed_audio"]["sample_rate_hz"] == 48000


async def test_ack_comes_before_processed_for_every_fragment(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s")
    for seq in range(10):
        await worker.emit("fragment:data", fragment("s", seq))
    await worker.wait_count("fragment:processed", 10)
    order = [
        (name, data["fragment_id"])
        for name, data in worker.events
        if name in ("fragment:ack", "fragment:processed")
    ]
    for seq in range(10):
        assert order.index(("fragment:ack", f"s-f{seq}")) < order.index(
            ("fragment:processed", f"s-f{seq}")
        )


async def test_ten_fragment_session_completes_well_under_five_seconds(make_worker) -> None:
    began = time.monotonic()
    worker = await make_worker().connect()
    await worker.start("s")
    for seq in range(10):
        await worker.emit("fragment:data", fragment("s", seq))
    await worker.emit("stream:end", {"stream_id": "s"})
    complete = await worker.next("stream:complete")
    assert complete["total_fragments"] == 10
    assert time.monotonic() - began < 5


async def test_jittered_fragments_arrive_in_sequence_order(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s", max_inflight=10)
    await worker.configure("config:processing_delay", {"delay_ms": 0, "jitter_ms": 150, "seed": 4})
    for seq in range(15):
        await worker.emit("fragment:data", fragment("s", seq))
    processed = await worker.wait_count("fragment:processed", 15)
    assert [p["sequence_number"] for p in processed] == list(range(15))


async def test_ten_concurrent_sessions_of_ten_fragments(make_worker) -> None:
    async def run(index: int) -> dict:
        worker = await make_worker().connect(headers={"X-Stream-ID": f"s{index}"})
        await worker.start(f"s{index}")
        for seq in range(10):
            payload = audio_bytes(2000, seed=index * 10 + seq)
            await worker.emit("fragment:data", fragment(f"s{index}", seq, payload=payload))
        await worker.emit("stream:end", {"stream_id": f"s{index}"})
        complete = await worker.next("stream:complete", timeout=10)
        processed = worker.received("fragment:processed")
        assert [p["sequence_number"] for p in processed] == list(range(10))
        for seq, p in enumerate(processed):
            sent = audio_bytes(2000, seed=index * 10 + seq)
            assert base64.b64decode(p["dubbed_audio"]["data_base64"]) == sent
            assert p["stream_id"] == f"s{index}"
        return complete

    completes = await asyncio.gather(*(run(index) for index in range(10)))
    assert all(c["statistics"]["success_count"] == 10 for c in completes)


async def test_fragment_just_under_the_limit_is_echoed(make_worker) -> None:
    raw = audio_bytes(MAX_FRAGMENT_CHARS // 4 * 3)
    worker = await make_worker().connect()
    await worker.start("s")
    await worker.emit("fragment:data", fragment("s", 0, payload=raw))
    processed = await worker.next("fragment:processed", timeout=20)
    assert len(processed["dubbed_audio"]["data_base64"]) == MAX_FRAGMENT_CHARS
    assert base64.b64decode(processed["dubbed_audio"]["data_base64"]) == raw


async def test_fragment_just_over_the_limit_gets_fragment_too_large(make_worker) -> None:
    raw = audio_bytes(MAX_FRAGMENT_CHARS // 4 * 3 + 3)
    worker = await make_worker().connect()
    await worker.start("s")
    await worker.emit("fragment:data", fragment("s", 0, payload=raw))
    report = await worker.next("error", timeout=20)
    assert report["code"] == "FRAGMENT_TOO_LARGE"
    assert report["fragment_id"] == "s-f0"
    await worker.emit("fragment:data", fragment("s", 1))
    assert (await worker.next("fragment:processed"))["sequence_number"] == 1


@pytest.mark.parametrize(
    ("path", "namespace"),
    [("socket.io", "/"), ("socket.io", "/sts"), ("ws/sts", "/"), ("ws/sts", "/sts")],
)
async def test_both_paths_and_both_namespaces_serve_the_protocol(
    make_worker, path: str, namespace: str
) -> None:
    worker = await make_worker(path=path, namespace=namespace).connect()
    await worker.start("s")
    await worker.emit("fragment:data", fragment("s", 0))
    assert (await worker.next("fragment:processed"))["status"] == "success"
    await worker.emit("stream:end", {"stream_id": "s"})
    assert (await worker.next("stream:complete"))["total_fragments"] == 1


async def test_two_connections_with_one_stream_id_are_separate_sessions(make_worker) -> None:
    first = await make_worker().connect()
    second = await make_worker().connect()
    ready_a = await first.start("same")
    ready_b = await second.start("same")
    assert ready_a["session_id"] != ready_b["session_id"]
    await first.emit("fragment:data", fragment("same", 0))
    await second.emit("fragment:data", fragment("same", 5))
    assert (await first.next("fragment:processed"))["sequence_number"] == 0
    assert (await second.next("fragment:processed"))["sequence_number"] == 5
    assert first.received("error") == second.received("error") == []


async def test_delayed_fragments_keep_their_delay(make_worker) -> None:
    worker: Worker = await make_worker().connect()
    await worker.start("s")
    await worker.configure("config:processing_delay", {"delay_ms": 200})
    await worker.emit("fragment:data", fragment("s", 0))
    ack = await worker.next("fragment:ack")
    processed = await worker.next("fragment:processed")
    assert ack["estimated_completion_ms"] == 200
    assert 200 <= processed["processing_time_ms"] < 400


async def test_an_echoed_field_orjson_cannot_encode_still_comes_back(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s")
    await worker.emit("fragment:data", fragment("s", 0, big=2**70, note="\ud800"))
    processed = await worker.next("fragment:processed")
    assert processed["status"] == "success"
    assert processed["dubbed_audio"]["big"] == 2**70


async def test_a_nan_in_the_workers_own_audio_field_is_echoed_as_null(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s")
    await worker.emit("fragment:data", fragment("s", 0, odd=float("nan")))
    processed = await worker.next("fragment:processed")
    assert processed["dubbed_audio"]["odd"] is None


async def test_a_binary_attachment_in_the_workers_audio_is_echoed_as_binary(make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s")
    await worker.emit("fragment:data", fragment("s", 0, raw=b"\x00\x01\xff"))
    processed = await worker.next("fragment:processed")
    assert processed["status"] == "success"
    assert processed["dubbed_audio"]["raw"] == b"\x00\x01\xff"
