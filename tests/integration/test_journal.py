"""The journal and verification routes over real HTTP, after real Socket.IO sessions."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.integration.http import call
from tests.workers import Worker, fragment

JOURNAL_KEYS = {"seq", "t_ms", "dir", "event"}


async def polite_session(worker: Worker, stream_id: str, count: int) -> None:
    """A worker that does everything right: acks every result, ends, waits for complete."""
    await worker.start(stream_id)
    for number in range(count):
        await worker.emit("fragment:data", fragment(stream_id, number, payload=b"abcd" * 8))
        processed = await worker.next("fragment:processed")
        await worker.emit(
            "fragment:ack",
            {"fragment_id": processed["fragment_id"], "status": "applied", "timestamp": 1},
        )
    await worker.emit("stream:end", {"stream_id": stream_id})
    await worker.next("stream:complete")


async def get(server, path: str) -> dict:
    code, body, _ = await call(server.url, "GET", path)
    assert code == 200, body
    return body


def session_path(summary: dict, tail: str = "") -> str:
    return f"/admin/sessions/{summary['session_id']}{tail}"


async def only_session(server, **query: str) -> dict:
    query_text = "&".join(f"{key}={value}" for key, value in query.items())
    code, body, _ = await call(server.url, "GET", f"/admin/sessions?{query_text}")
    assert code == 200, body
    (summary,) = body["sessions"]
    return summary


async def test_a_scripted_session_has_exact_counts_and_events_in_order(server, make_worker) -> None:
    worker = await make_worker().connect()
    await polite_session(worker, "s-1", 3)
    await worker.emit("fragment:data", fragment("s-1", 9))
    await worker.next("error")
    await worker.close()
    summary = await only_session(server, stream_id="s-1", wait_ms="2000", state="closed")
    assert summary["counts"] == {
        "fragments_received": 4,
        "fragments_accepted": 3,
        "fragments_rejected": 1,
        "processed_success": 3,
        "processed_partial": 0,
        "processed_failed": 0,
        "dropped": 0,
        "acks_received": 3,
        "errors_sent": 1,
        "backpressure_sent": 0,
    }
    assert summary["worker_id"] == "worker-test"
    assert summary["ended_at"] >= summary["started_at"]
    page = await get(server, session_path(summary, "/events"))
    events = page["events"]
    assert page["next"] is None
    assert [entry["seq"] for entry in events] == list(range(len(events)))
    flow = [(entry["dir"], entry["event"]) for entry in events]
    assert flow[:2] == [("in", "stream:init"), ("out", "stream:ready")]
    assert flow[2:6] == [
        ("in", "fragment:data"),
        ("out", "fragment:ack"),
        ("out", "fragment:processed"),
        ("in", "fragment:ack"),
    ]
    assert flow[-4:] == [
        ("in", "stream:end"),
        ("out", "stream:complete"),
        ("in", "fragment:data"),
        ("out", "error"),
    ]
    first = events[2]
    assert first["fragment_id"] == "s-1-f0"
    assert first["sequence_number"] == 0
    assert first["bytes"] == 44
    assert events[4]["status"] == "success"
    assert events[4]["bytes"] == 44
    assert events[-1]["code"] == "STREAM_NOT_FOUND" or events[-1]["code"] == "INVALID_CONFIG"
    assert all(set(entry) >= JOURNAL_KEYS for entry in events)
    assert all("data_base64" not in str(entry) for entry in events)


async def test_events_come_in_pages(server, make_worker) -> None:
    worker = await make_worker().connect()
    await polite_session(worker, "s-1", 4)
    summary = await only_session(server, stream_id="s-1")
    path = session_path(summary, "/events")
    seen: list[int] = []
    after = -1
    while after is not None:
        code, page, _ = await call(server.url, "GET", f"{path}?after={after}&limit=5")
        assert code == 200
        assert len(page["events"]) <= 5
        seen.extend(entry["seq"] for entry in page["events"])
        after = page["next"]
    assert seen == list(range(len(seen)))
    assert len(seen) == 2 + 4 * 4 + 2


async def test_a_bounded_journal_drops_the_oldest_and_keeps_counts_exact(
    start_server, settings, make_worker
) -> None:
    server = start_server(settings, journal_events=10)
    worker = await make_worker(url=server.url).connect()
    await polite_session(worker, "s-1", 5)
    summary = await only_session(server, stream_id="s-1")
    detail = await get(server, session_path(summary))
    assert detail["journal_dropped"] == 2 + 5 * 4 + 2 - 10
    assert detail["counts"]["fragments_accepted"] == 5
    assert detail["statistics"]["success_count"] == 5
    page = await get(server, session_path(summary, "/events"))
    assert page["events"][0]["seq"] == detail["journal_dropped"]
    assert len(page["events"]) == 10


async def test_the_oldest_ended_sessions_are_forgotten_first(
    start_server, settings, make_worker
) -> None:
    server = start_server(settings, journal_sessions=2)
    ids = []
    for index in range(3):
        worker = await make_worker(url=server.url).connect()
        await polite_session(worker, f"s-{index}", 1)
        ids.append((await only_session(server, stream_id=f"s-{index}"))["session_id"])
        await worker.close()
        await only_session(server, stream_id=f"s-{index}", state="closed", wait_ms="2000")
    assert (await call(server.url, "GET", f"/admin/sessions/{ids[0]}"))[0] == 404
    assert (await call(server.url, "GET", f"/admin/sessions/{ids[2]}"))[0] == 200


async def test_a_long_poll_answers_as_soon_as_a_session_matches(server, make_worker) -> None:
    worker = await make_worker().connect()

    async def start_later() -> None:
        await asyncio.sleep(0.3)
        await worker.start("late")

    began = time.monotonic()
    starting = asyncio.ensure_future(start_later())
    summary = await only_session(server, stream_id="late", wait_ms="5000")
    took = time.monotonic() - began
    await starting
    assert summary["state"] == "active"
    assert 0.25 <= took < 2


async def test_a_long_poll_for_what_never_happens_answers_empty_when_time_is_up(server) -> None:
    began = time.monotonic()
    code, body, _ = await call(server.url, "GET", "/admin/sessions?stream_id=none&wait_ms=400")
    assert (code, body) == (200, {"sessions": []})
    assert time.monotonic() - began >= 0.38


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("wait_ms=-1", "wait_ms"),
        ("wait_ms=60001", "wait_ms"),
        ("wait_ms=soon", "wait_ms"),
        ("state=sleeping", "state"),
    ],
)
async def test_a_bad_query_is_400_naming_it(server, query: str, field: str) -> None:
    code, body, _ = await call(server.url, "GET", f"/admin/sessions?{query}")
    assert (code, body["field"]) == (400, field)


async def test_an_unknown_session_is_404(server) -> None:
    for path in ("", "/events", "/verify"):
        assert (await call(server.url, "GET", f"/admin/sessions/nope{path}"))[0] == 404


async def test_verify_passes_for_a_polite_worker(server, make_worker) -> None:
    worker = await make_worker().connect()
    await polite_session(worker, "s-1", 3)
    await worker.close()
    summary = await only_session(server, stream_id="s-1", state="closed", wait_ms="2000")
    code, report, _ = await call(
        server.url, "GET", f"/admin/sessions/{summary['session_id']}/verify"
    )
    assert code == 200
    assert report["ok"], report
    assert set(report["checks"]) >= {
        "acked_every_processed",
        "respected_backpressure",
        "no_rejected_fragments",
        "ended_cleanly",
    }


async def verify_of(server, stream_id: str) -> dict:
    summary = await only_session(server, stream_id=stream_id)
    code, report, _ = await call(
        server.url, "GET", f"/admin/sessions/{summary['session_id']}/verify"
    )
    assert code == 200
    assert not report["ok"]
    return report["checks"]


async def test_verify_names_the_fragments_a_worker_never_acked(server, make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s-1")
    await worker.emit("fragment:data", fragment("s-1", 0))
    await worker.next("fragment:processed")
    checks = await verify_of(server, "s-1")
    assert not checks["acked_every_processed"]["ok"]
    assert "s-1-f0" in checks["acked_every_processed"]["detail"]
    assert checks["ended_cleanly"] == {"ok": False, "detail": "still open"}


async def test_verify_names_a_fragment_sent_during_a_pause(server, make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s-1")
    pause = {"stream_id": "s-1", "severity": "high", "action": "pause", "current_inflight": 9}
    await call(
        server.url, "POST", "/admin/streams/s-1/emit", {"event": "backpressure", "data": pause}
    )
    await worker.next("backpressure")
    await asyncio.sleep(0.1)
    await worker.emit("fragment:data", fragment("s-1", 0))
    await worker.next("fragment:processed")
    report = await verify_of(server, "s-1")
    backpressure = report["respected_backpressure"]
    summary = await only_session(server, stream_id="s-1")
    strict = (await get(server, session_path(summary, "/verify?grace_ms=50")))["checks"][
        "respected_backpressure"
    ]
    assert backpressure["ok"]
    assert not strict["ok"]
    assert "s-1-f0" in strict["detail"]


async def test_verify_names_a_rejected_fragment(server, make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s-1")
    await worker.emit("fragment:data", fragment("s-1", 0, data_base64="%%%"))
    await worker.next("error")
    checks = await verify_of(server, "s-1")
    assert not checks["no_rejected_fragments"]["ok"]
    assert "s-1-f0" in checks["no_rejected_fragments"]["detail"]


async def test_verify_tells_a_worker_that_left_without_ending(server, make_worker) -> None:
    worker = await make_worker().connect()
    await worker.start("s-1")
    await worker.close()
    await only_session(server, stream_id="s-1", state="closed", wait_ms="2000")
    checks = await verify_of(server, "s-1")
    assert checks["ended_cleanly"] == {"ok": False, "detail": "the worker never sent stream:end"}


async def test_reset_forgets_ended_sessions_only(server, make_worker) -> None:
    ended = await make_worker().connect()
    await ended.start("s-1")
    await ended.close()
    await only_session(server, stream_id="s-1", state="closed", wait_ms="2000")
    live = await make_worker().connect()
    await live.start("s-2")
    _code, body, _ = await call(server.url, "POST", "/admin/reset")
    assert body["sessions_forgotten"] == 1
    _, listing, _ = await call(server.url, "GET", "/admin/sessions")
    assert [summary["stream_id"] for summary in listing["sessions"]] == ["s-2"]


async def test_a_long_poll_for_a_state_answers_when_the_session_reaches_it(
    server, make_worker
) -> None:
    worker = await make_worker().connect()
    await worker.start("s-1")

    async def end_later() -> None:
        await asyncio.sleep(0.3)
        await worker.emit("stream:end", {"stream_id": "s-1"})

    began = time.monotonic()
    ending = asyncio.ensure_future(end_later())
    summary = await only_session(server, stream_id="s-1", state="completed", wait_ms="5000")
    took = time.monotonic() - began
    await ending
    assert summary["state"] == "completed"
    assert 0.25 <= took < 2
