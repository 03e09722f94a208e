"""The connection core, driven with plain calls and a virtual clock."""

from __future__ import annotations

import statistics

import pytest

from echosts.protocol import MAX_FRAGMENT_CHARS
from echosts.state import State
from tests.payloads import MEDIA_WORKER_INIT
from tests.unit.driver import Driver, audio, closes, error, fragment, names, of, only

# stream:init


def test_stream_ready_carries_session_and_capabilities() -> None:
    ready = Driver().init("s")
    assert ready == {
        "stream_id": "s",
        "session_id": "id-1",
        "max_inflight": 3,
        "capabilities": {"batch_processing": False, "async_delivery": True},
    }


def test_media_worker_init_payload_is_accepted() -> None:
    driver = Driver()
    (ready,) = driver.send("stream:init", MEDIA_WORKER_INIT)
    assert ready.event == "stream:ready"
    session = driver.connection.session
    assert session.config.chunk_duration_ms == 6000
    assert session.config.channels == 2
    assert session.max_inflight == 3
    assert session.timeout_ms == 8000


def test_stream_init_takes_max_inflight() -> None:
    assert Driver().init("s", max_inflight=7)["max_inflight"] == 7


def test_unknown_init_fields_are_ignored() -> None:
    Driver().init("s", surprise=True, config={"also": "ignored"})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stream_id": None}, "stream_id"),
        ({"stream_id": ""}, "stream_id"),
        ({"stream_id": "x" * 257}, "stream_id"),
        ({"worker_id": 7}, "worker_id"),
        ({"config": "en"}, "config"),
        ({"config": {"sample_rate_hz": "48000"}}, "config.sample_rate_hz"),
        ({"config": {"sample_rate_hz": 48000.0}}, "config.sample_rate_hz"),
        ({"config": {"sample_rate_hz": 7999}}, "config.sample_rate_hz"),
        ({"config": {"channels": True}}, "config.channels"),
        ({"config": {"channels": 3}}, "config.channels"),
        ({"config": {"chunk_duration_ms": 99}}, "config.chunk_duration_ms"),
        ({"config": {"source_language": "x" * 36}}, "config.source_language"),
        ({"config": {"voice_profile": None}}, "config.voice_profile"),
        ({"config": {"format": ""}}, "config.format"),
        ({"max_inflight": 0}, "max_inflight"),
        ({"max_inflight": 11}, "max_inflight"),
        ({"timeout_ms": 999}, "timeout_ms"),
        ({"timeout_ms": 30001}, "timeout_ms"),
    ],
)
def test_invalid_init_is_refused_naming_the_field(change: dict, field: str) -> None:
    driver = Driver()
    body = {"stream_id": "s", "config": {}} | change
    report = error(driver.send("stream:init", body))
    assert report["code"] == "INVALID_CONFIG"
    assert report["metadata"]["field"] == field
    assert report["message"].startswith(f"stream:init: {field}:")
    assert driver.connection.session is None


def test_init_without_config_names_the_missing_field() -> None:
    report = error(Driver().send("stream:init", {"stream_id": "s"}))
    assert report["message"] == "stream:init: config: required field is missing"


@pytest.mark.parametrize("payload", [None, [], "s", 5, True])
def test_init_payload_that_is_not_an_object_is_refused(payload: object) -> None:
    report = error(Driver().send("stream:init", payload))
    assert report["code"] == "INVALID_CONFIG"
    assert "payload must be a JSON object" in report["message"]


def test_init_with_no_argument_is_refused() -> None:
    report = error(Driver().send("stream:init"))
    assert report["message"].endswith("got no payload")


def test_second_init_while_stream_is_active_is_refused() -> None:
    driver = Driver()
    first = driver.init("s")
    report = error(driver.send("stream:init", {"stream_id": "t", "config": {}}))
    assert report["code"] == "INVALID_CONFIG"
    assert report["stream_id"] == "s"
    assert driver.connection.session.session_id == first["session_id"]


def test_init_after_complete_starts_fresh_session_and_cancels_auto_disconnect() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(200)
    driver.fragment(0)
    driver.send("stream:end", {"stream_id": "s"})
    driver.advance(0.2)
    assert driver.connection.session.state is State.COMPLETED
    ready = driver.init("t")
    assert ready["session_id"] == "id-2"
    assert closes(driver.advance(60)) == []
    session = driver.connection.session
    assert session.faults.delay.spec.delay_ms == 0
    assert session.stats.total_fragments == 0


def test_init_while_draining_is_refused_with_rate_limit() -> None:
    driver = Driver()
    driver.draining = True
    report = error(driver.send("stream:init", {"stream_id": "s", "config": {}}))
    assert (report["code"], report["severity"], report["retryable"]) == (
        "RATE_LIMIT",
        "warning",
        True,
    )


def test_worker_id_defaults_to_header_then_unknown() -> None:
    with_header = Driver(headers={"X-Worker-ID": "w-7"})
    with_header.init("s")
    assert with_header.connection.session.worker_id == "w-7"
    without = Driver()
    without.init("s")
    assert without.connection.session.worker_id == "unknown"
    explicit = Driver(headers={"X-Worker-ID": "w-7"})
    explicit.init("s", worker_id="w-1")
    assert explicit.connection.session.worker_id == "w-1"


# fragment:data: the checks in their order


def test_fragment_before_init_is_stream_not_found() -> None:
    report = error(Driver().send("fragment:data", fragment(0)))
    assert report["code"] == "STREAM_NOT_FOUND"
    assert report["fragment_id"] == "f0"
    assert report["stream_id"] == "s"


@pytest.mark.parametrize("stream_id", ["other", 5, None, ["s"]])
def test_fragment_for_another_stream_is_stream_not_found(stream_id: object) -> None:
    driver = Driver()
    driver.init("s")
    report = error(driver.send("fragment:data", fragment(0, stream_id=stream_id)))
    assert report["code"] == "STREAM_NOT_FOUND"
    assert report["stream_id"] == "s"


def test_fragment_without_stream_id_is_stream_not_found() -> None:
    driver = Driver()
    driver.init("s")
    body = fragment(0)
    del body["stream_id"]
    assert error(driver.send("fragment:data", body))["code"] == "STREAM_NOT_FOUND"


@pytest.mark.parametrize("payload", [None, [1], "frag", 3])
def test_fragment_payload_that_is_not_an_object_is_invalid_config(payload: object) -> None:
    driver = Driver()
    driver.init("s")
    assert error(driver.send("fragment:data", payload))["code"] == "INVALID_CONFIG"


def test_fragment_while_paused_is_stream_paused_and_keeps_its_number() -> None:
    driver = Driver()
    driver.init("s")
    driver.fragment(0)
    driver.send("stream:pause", {"stream_id": "s"})
    report = error(driver.fragment(1))
    assert (report["code"], report["severity"], report["retryable"]) == (
        "STREAM_PAUSED",
        "warning",
        True,
    )
    driver.send("stream:resume", {"stream_id": "s"})
    assert names(driver.fragment(1))[:1] == ["fragment:ack"]


def test_fragment_after_end_says_the_stream_is_ending() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(1000)
    driver.fragment(0)
    driver.send("stream:end", {"stream_id": "s"})
    report = error(driver.fragment(1))
    assert report["code"] == "STREAM_NOT_FOUND"
    assert "ending" in report["message"]


def test_oversized_fragment_is_too_large_before_any_other_validation() -> None:
    driver = Driver()
    driver.init("s")
    huge = "A" * (MAX_FRAGMENT_CHARS + 4)
    body = fragment(0, audio={"data_base64": huge}, timestamp="not checked")
    report = error(driver.send("fragment:data", body))
    assert report["code"] == "FRAGMENT_TOO_LARGE"
    assert report["fragment_id"] == "f0"
    assert report["metadata"]["size"] == MAX_FRAGMENT_CHARS + 4


def test_fragment_at_exactly_the_limit_is_accepted() -> None:
    driver = Driver()
    driver.init("s")
    body = fragment(0, audio=audio(data_base64="A" * MAX_FRAGMENT_CHARS))
    assert names(driver.send("fragment:data", body))[:1] == ["fragment:ack"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sequence_number": "1"}, "sequence_number"),
        ({"sequence_number": -1}, "sequence_number"),
        ({"sequence_number": 1.0}, "sequence_number"),
        ({"fragment_id": ""}, "fragment_id"),
        ({"timestamp": "now"}, "timestamp"),
        ({"audio": "AAAA"}, "audio"),
        ({"audio": audio(data_base64="not base64!")}, "audio.data_base64"),
        ({"audio": audio(data_base64="QUJD=")}, "audio.data_base64"),
        ({"audio": audio(sample_rate_hz=7999)}, "audio.sample_rate_hz"),
        ({"audio": audio(channels=0)}, "audio.channels"),
        ({"audio": audio(duration_ms=60001)}, "audio.duration_ms"),
        ({"audio": audio(format="")}, "audio.format"),
        ({"metadata": "pts"}, "metadata"),
    ],
)
def test_invalid_fragment_is_invalid_config_naming_the_field(change: dict, field: str) -> None:
    driver = Driver()
    driver.init("s")
    report = error(driver.send("fragment:data", fragment(0) | change))
    assert report["code"] == "INVALID_CONFIG"
    assert report["metadata"]["field"] == field
    assert field in report["message"]


def test_fragment_metadata_with_any_keys_is_accepted() -> None:
    driver = Driver()
    driver.init("s")
    out = driver.send("fragment:data", fragment(0, metadata={"pts_ns": 1, "x": [1, {"y": None}]}))
    assert names(out)[0] == "fragment:ack"


def test_first_accepted_fragment_fixes_the_start() -> None:
    driver = Driver()
    driver.init("s")
    assert names(driver.fragment(7))[0] == "fragment:ack"
    assert names(driver.fragment(8))[0] == "fragment:ack"


def test_rejections_before_the_first_accepted_fragment_use_up_nothing() -> None:
    driver = Driver()
    driver.init("s")
    error(driver.fragment(0, timestamp="bad"))
    assert names(driver.fragment(0))[0] == "fragment:ack"


def test_repeated_number_is_invalid_sequence_and_keeps_expectation() -> None:
    driver = Driver()
    driver.init("s")
    driver.fragment(0)
    report = error(driver.fragment(0, fragment_id="again"))
    assert report["code"] == "INVALID_SEQUENCE"
    assert report["message"] == "expected 1, got 0: 0 was already used"
    assert names(driver.fragment(1))[0] == "fragment:ack"


def test_duplicate_fragment_id_is_invalid_sequence() -> None:
    driver = Driver()
    driver.init("s")
    driver.fragment(0)
    report = error(driver.fragment(1, fragment_id="f0"))
    assert report["code"] == "INVALID_SEQUENCE"
    assert "already accepted" in report["message"]
    assert names(driver.fragment(1))[0] == "fragment:ack"


def test_gap_names_the_missing_range_and_moves_expectation_past_it() -> None:
    driver = Driver()
    driver.init("s")
    for seq in range(3):
        driver.fragment(seq)
    report = error(driver.fragment(9))
    assert report["code"] == "INVALID_SEQUENCE"
    assert report["message"] == "expected 3, got 9: 3-8 missing"
    assert report["metadata"].items() >= {"missing_from": 3, "missing_to": 8}.items()
    assert names(driver.fragment(10))[0] == "fragment:ack"


def test_gap_of_one_names_the_single_missing_number() -> None:
    driver = Driver()
    driver.init("s")
    driver.fragment(0)
    assert error(driver.fragment(2))["message"] == "expected 1, got 2: 1 missing"


@pytest.mark.parametrize(
    "bad",
    [
        {"audio": audio(data_base64="A" * (MAX_FRAGMENT_CHARS + 1))},
        {"timestamp": "bad"},
    ],
)
def test_non_retryable_rejection_of_expected_number_uses_it_up(bad: dict) -> None:
    driver = Driver()
    driver.init("s")
    driver.fragment(0)
    error(driver.send("fragment:data", fragment(1) | bad))
    assert names(driver.fragment(2))[0] == "fragment:ack"


def test_non_retryable_rejection_with_unreadable_number_uses_nothing() -> None:
    driver = Driver()
    driver.init("s")
    driver.fragment(0)
    error(driver.fragment(1, sequence_number="1"))
    assert names(driver.fragment(1))[0] == "fragment:ack"


def test_queue_full_refuses_the_fragment_over_the_limit_and_keeps_its_number() -> None:
    driver = Driver(queue_limit=2)
    driver.init("s")
    driver.delay(1000)
    driver.fragment(0)
    driver.fragment(1)
    report = error(driver.fragment(2))
    assert (report["code"], report["severity"], report["retryable"]) == (
        "QUEUE_FULL",
        "warning",
        True,
    )
    driver.advance(1)
    assert names(driver.fragment(2))[0] == "fragment:ack"


# acceptance and processing


def test_ack_reports_position_and_estimated_completion() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(400)
    first = only(driver.fragment(0), "fragment:ack")
    driver.advance(0.1)
    second = only(driver.fragment(1), "fragment:ack")
    assert first == {
        "fragment_id": "f0",
        "status": "queued",
        "queue_position": 0,
        "estimated_completion_ms": 400,
    }
    assert (second["queue_position"], second["estimated_completion_ms"]) == (1, 400)


def test_processed_echoes_audio_unchanged_with_mock_text() -> None:
    driver = Driver()
    driver.init("s")
    sent = audio(b"\x00\xff" * 100, extra_field="kept")
    out = driver.send("fragment:data", fragment(0, audio=sent))
    processed = only(out, "fragment:processed")
    assert processed["dubbed_audio"] == sent
    assert processed["status"] == "success"
    assert processed["transcript"].startswith("[ECHO]")
    assert processed["translated_text"].startswith("[ECHO]")
    assert processed["metadata"] == {
        "asr_model": "echo",
        "translation_model": "echo",
        "tts_model": "echo",
    }
    assert names(out) == ["fragment:ack", "fragment:processed"]


def test_processing_time_is_measured_from_arrival_to_emit() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(250)
    driver.fragment(0)
    assert driver.advance(0.2) == []
    processed = only(driver.advance(0.1), "fragment:processed")
    assert processed["processing_time_ms"] == 250
    assert processed["stage_timings"] == {"asr_ms": 75, "translation_ms": 75, "tts_ms": 100}


def test_jittered_fragments_are_emitted_in_sequence_order() -> None:
    driver = Driver(queue_limit=50)
    driver.init("s", max_inflight=10)
    driver.delay(0, jitter_ms=2000, seed=3)
    for seq in range(30):
        driver.fragment(seq)
        driver.advance(0.01)
    driver.advance(3)
    processed = of(driver.log, "fragment:processed")
    assert [p["sequence_number"] for p in processed] == list(range(30))
    session = driver.connection.session
    assert len(session.inflight) == 0


def test_fragment_held_back_for_order_counts_its_wait_in_processing_time() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(500)
    driver.fragment(0)
    driver.delay(100)
    driver.fragment(1)
    out = driver.advance(0.5)
    assert [p["processing_time_ms"] for p in of(out, "fragment:processed")] == [500, 500]


def test_delay_over_timeout_fails_with_timeout_at_the_deadline() -> None:
    driver = Driver()
    driver.init("s", timeout_ms=1000)
    driver.delay(5000)
    ack = only(driver.fragment(0), "fragment:ack")
    assert ack["estimated_completion_ms"] == 1000
    processed = only(driver.advance(1.0), "fragment:processed")
    assert processed["status"] == "failed"
    assert processed["processing_time_ms"] == 1000
    assert "dubbed_audio" not in processed
    assert (
        processed["error"].items()
        >= {
            "code": "TIMEOUT",
            "retryable": True,
            "severity": "error",
            "stage": "asr",
        }.items()
    )


def test_service_default_delay_applies_to_every_session() -> None:
    driver = Driver(processing_delay_ms=300)
    driver.init("s")
    assert only(driver.fragment(0), "fragment:ack")["estimated_completion_ms"] == 300


def test_worker_fragment_ack_is_recorded_and_never_answered() -> None:
    driver = Driver()
    driver.init("s")
    driver.fragment(0)
    ack = {"fragment_id": "f0", "status": "applied", "timestamp": 1}
    assert driver.send("fragment:ack", ack) == []
    assert driver.connection.session.worker_acks["applied"] == 1


def test_worker_ack_for_unknown_fragment_is_ignored() -> None:
    driver = Driver()
    assert (
        driver.send("fragment:ack", {"fragment_id": "x", "status": "received", "timestamp": 1})
        == []
    )


@pytest.mark.parametrize(
    "payload",
    [None, {"fragment_id": "f0", "status": "done", "timestamp": 1}, {"fragment_id": "f0"}],
)
def test_malformed_worker_ack_is_invalid_config(payload: object) -> None:
    driver = Driver()
    driver.init("s")
    assert error(driver.send("fragment:ack", payload))["code"] == "INVALID_CONFIG"


# backpressure


def test_exceeding_max_inflight_raises_high_pause_after_the_ack() -> None:
    driver = Driver()
    driver.init("s", max_inflight=2)
    driver.delay(1000)
    driver.fragment(0)
    driver.fragment(1)
    out = driver.fragment(2)
    assert names(out) == ["fragment:ack", "backpressure"]
    assert only(out, "backpressure") == {
        "stream_id": "s",
        "severity": "high",
        "current_inflight": 3,
        "queue_depth": 3,
        "action": "pause",
    }


def test_backpressure_clears_right_after_the_processed_that_drains_it() -> None:
    driver = Driver()
    driver.init("s", max_inflight=1)
    driver.delay(1000)
    driver.fragment(0)
    driver.fragment(1)
    out = driver.advance(1.0)
    assert names(out) == ["fragment:processed", "backpressure", "fragment:processed"]
    assert (
        only(out, "backpressure").items()
        >= {
            "severity": "low",
            "action": "none",
            "current_inflight": 1,
        }.items()
    )


def test_backpressure_is_emitted_once_per_level_change() -> None:
    driver = Driver(queue_limit=10)
    driver.init("s", max_inflight=1)
    driver.delay(1000)
    for seq in range(5):
        driver.fragment(seq)
    assert len(of(driver.log, "backpressure")) == 1


def test_queue_depth_excludes_fragments_done_but_held_back() -> None:
    driver = Driver()
    driver.init("s", max_inflight=2)
    driver.delay(1000)
    driver.fragment(0)
    driver.delay(10)
    driver.fragment(1)
    driver.advance(0.5)
    report = only(driver.fragment(2), "backpressure")
    assert (report["current_inflight"], report["queue_depth"]) == (3, 2)


def test_service_ladder_steps_through_severities() -> None:
    driver = Driver(backpressure_enabled=True)
    driver.init("s", max_inflight=10)
    driver.delay(1000)
    for seq in range(10):
        driver.fragment(seq)
    levels = [
        (b["severity"], b["action"], b["current_inflight"]) for b in of(driver.log, "backpressure")
    ]
    assert levels == [("low", "slow_down", 5), ("medium", "slow_down", 7), ("high", "pause", 9)]
    driver.advance(1.0)
    cleared = of(driver.log, "backpressure")[-1]
    assert (cleared["severity"], cleared["action"], cleared["current_inflight"]) == (
        "low",
        "none",
        4,
    )


# pause, resume, end


def test_pause_lets_inflight_fragments_complete() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(100)
    driver.fragment(0)
    assert driver.send("stream:pause", {"stream_id": "s", "reason": "test"}) == []
    assert driver.connection.session.state is State.PAUSED
    assert len(of(driver.advance(0.1), "fragment:processed")) == 1


def test_pause_when_paused_and_resume_when_active_are_no_ops() -> None:
    driver = Driver()
    driver.init("s")
    assert driver.send("stream:resume", {"stream_id": "s"}) == []
    driver.send("stream:pause", {"stream_id": "s"})
    assert driver.send("stream:pause", {"stream_id": "s"}) == []
    assert driver.connection.session.state is State.PAUSED


@pytest.mark.parametrize("event", ["stream:pause", "stream:resume", "stream:end"])
@pytest.mark.parametrize(
    "payload", [None, [], {"stream_id": 5}, {}, {"stream_id": "s", "reason": 1}]
)
def test_lifecycle_event_with_bad_payload_is_invalid_config(event: str, payload: object) -> None:
    driver = Driver()
    driver.init("s")
    assert error(driver.send(event, payload))["code"] == "INVALID_CONFIG"


@pytest.mark.parametrize("event", ["stream:pause", "stream:resume", "stream:end"])
def test_lifecycle_event_before_init_is_stream_not_found(event: str) -> None:
    assert error(Driver().send(event, {"stream_id": "s"}))["code"] == "STREAM_NOT_FOUND"


@pytest.mark.parametrize("event", ["stream:pause", "stream:resume", "stream:end"])
def test_lifecycle_event_for_another_stream_is_stream_not_found(event: str) -> None:
    driver = Driver()
    driver.init("s")
    report = error(driver.send(event, {"stream_id": "t"}))
    assert (report["code"], report["stream_id"]) == ("STREAM_NOT_FOUND", "s")


@pytest.mark.parametrize("event", ["stream:pause", "stream:resume", "stream:end"])
def test_lifecycle_event_after_end_is_stream_not_found(event: str) -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(100)
    driver.fragment(0)
    driver.send("stream:end", {"stream_id": "s"})
    assert "ending" in error(driver.send(event, {"stream_id": "s"}))["message"]
    driver.advance(0.1)
    assert "completed" in error(driver.send(event, {"stream_id": "s"}))["message"]


def test_end_with_nothing_in_flight_completes_at_once() -> None:
    driver = Driver()
    driver.init("s")
    out = driver.send("stream:end", {"stream_id": "s"})
    assert only(out, "stream:complete") == {
        "stream_id": "s",
        "total_fragments": 0,
        "total_duration_ms": 0,
        "statistics": {
            "success_count": 0,
            "partial_count": 0,
            "failed_count": 0,
            "dropped_count": 0,
            "avg_processing_time_ms": 0,
            "p95_processing_time_ms": 0,
        },
    }


def test_end_waits_for_every_inflight_fragment_before_complete() -> None:
    driver = Driver()
    driver.init("s")
    for seq, delay in enumerate([100, 300, 200]):
        driver.delay(delay)
        driver.fragment(seq)
    assert driver.send("stream:end", {"stream_id": "s"}) == []
    out = driver.advance(1.0)
    assert names(out) == [
        "fragment:processed",
        "fragment:processed",
        "fragment:processed",
        "stream:complete",
    ]


def test_complete_statistics_add_up() -> None:
    driver = Driver(queue_limit=30)
    driver.init("s", max_inflight=10, timeout_ms=1000)
    driver.delay(0, jitter_ms=900, seed=9)
    for seq in range(20):
        driver.fragment(seq, audio=audio(duration_ms=100 + seq))
    driver.delay(5000)
    driver.fragment(20)
    driver.send("stream:end", {"stream_id": "s"})
    driver.advance(2)
    processed = of(driver.log, "fragment:processed")
    complete = only(driver.log, "stream:complete")
    times = sorted(p["processing_time_ms"] for p in processed)
    assert complete["total_fragments"] == 21
    assert complete["total_duration_ms"] == sum(100 + seq for seq in range(20)) + 500
    stats = complete["statistics"]
    assert (stats["success_count"], stats["failed_count"]) == (20, 1)
    assert stats["avg_processing_time_ms"] == pytest.approx(statistics.fmean(times))
    assert stats["p95_processing_time_ms"] == times[19]


def test_end_from_paused_completes() -> None:
    driver = Driver()
    driver.init("s")
    driver.send("stream:pause", {"stream_id": "s"})
    assert names(driver.send("stream:end", {"stream_id": "s"})) == ["stream:complete"]


def test_auto_disconnect_follows_complete_after_the_configured_time() -> None:
    driver = Driver(auto_disconnect_s=5)
    driver.init("s")
    driver.send("stream:end", {"stream_id": "s"})
    assert driver.connection.next_deadline() == pytest.approx(driver.now + 5)
    assert closes(driver.advance(4.9)) == []
    assert len(closes(driver.advance(0.1))) == 1
    assert driver.connection.next_deadline() is None
    assert driver.send("stream:init", {"stream_id": "t", "config": {}}) == []


def test_zero_auto_disconnect_closes_right_after_complete() -> None:
    driver = Driver(auto_disconnect_s=0)
    driver.init("s")
    assert names(driver.send("stream:end", {"stream_id": "s"})) == ["stream:complete", "<close>"]


def test_expire_inflight_fails_unfinished_fragments_with_timeout() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(5000)
    driver.fragment(0)
    driver.fragment(1)
    out = driver.connection.expire_inflight(driver.now, "drain deadline reached")
    statuses = [(p["status"], p["error"]["code"]) for p in of(out, "fragment:processed")]
    assert statuses == [("failed", "TIMEOUT"), ("failed", "TIMEOUT")]


# config:processing_delay


def test_processing_delay_before_init_is_stream_not_found() -> None:
    assert (
        error(Driver().send("config:processing_delay", {"delay_ms": 1}))["code"]
        == "STREAM_NOT_FOUND"
    )


def test_processing_delay_is_acknowledged_with_its_values() -> None:
    driver = Driver()
    driver.init("s")
    assert driver.delay(120, jitter_ms=30, distribution="lognormal") == {
        "status": "accepted",
        "delay_ms": 120,
        "jitter_ms": 30,
        "distribution": "lognormal",
        "enforce_timeout": True,
        "mode": "parallel",
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"delay_ms": -1}, "delay_ms"),
        ({"delay_ms": 60001}, "delay_ms"),
        ({"delay_ms": "5"}, "delay_ms"),
        ({}, "delay_ms"),
        ({"delay_ms": 1, "jitter_ms": 1.5}, "jitter_ms"),
        ({"delay_ms": 1, "distribution": "normal"}, "distribution"),
        ({"delay_ms": 1, "seed": "x"}, "seed"),
        (None, "payload"),
    ],
)
def test_invalid_processing_delay_is_rejected_naming_the_field(payload: object, field: str) -> None:
    driver = Driver()
    driver.init("s")
    (ack,) = driver.send("config:processing_delay", payload)
    assert ack.event == "config:processing_delay:ack"
    assert ack.data["status"] == "rejected"
    assert field in ack.data["message"]


def test_seeded_delays_are_reproducible() -> None:
    def delays() -> list[int]:
        driver = Driver(queue_limit=100)
        driver.init("s", max_inflight=10)
        driver.delay(10, jitter_ms=500, seed=77)
        return [
            only(driver.fragment(seq), "fragment:ack")["estimated_completion_ms"]
            for seq in range(5)
        ]

    assert delays() == delays()


def test_lognormal_jitter_has_the_configured_median() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(0, jitter_ms=200, distribution="lognormal", seed=5)
    samples = [driver.connection.session.faults.delay.sample_ms() for _ in range(2001)]
    assert statistics.median(samples) == pytest.approx(200, rel=0.1)
    assert max(samples) > 4 * 200


def test_delays_are_capped_at_sixty_seconds() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(59000, jitter_ms=60000, seed=1)
    assert all(driver.connection.session.faults.delay.sample_ms() <= 60000 for _ in range(100))


def test_processing_delay_after_complete_is_stream_not_found() -> None:
    driver = Driver()
    driver.init("s")
    driver.send("stream:end", {"stream_id": "s"})
    assert (
        error(driver.send("config:processing_delay", {"delay_ms": 1}))["code"] == "STREAM_NOT_FOUND"
    )


# the rest


def test_unknown_event_is_invalid_config_naming_it() -> None:
    report = error(Driver().send("stream:explode", {}))
    assert report["code"] == "INVALID_CONFIG"
    assert "'stream:explode'" in report["message"]


def test_idle_connection_has_no_deadline() -> None:
    driver = Driver()
    assert driver.connection.next_deadline() is None
    driver.init("s")
    assert driver.connection.next_deadline() is None


def test_drain_deadline_without_a_session_sends_nothing() -> None:
    driver = Driver()
    assert driver.connection.expire_inflight(driver.now, "drain deadline reached") == []


def test_a_closing_connection_answers_nothing_more_even_at_the_drain_deadline() -> None:
    driver = Driver()
    driver.init("s")
    driver.delay(5000)
    driver.fragment(0)
    driver.send("simulate:disconnect", {"delay_ms": 0})
    assert driver.connection.closing
    assert driver.connection.on_timer(driver.now + 10) == []
    assert driver.connection.expire_inflight(driver.now, "drain deadline reached") == []


def test_fragment_after_the_stream_completed_says_the_stream_is_ending() -> None:
    driver = Driver()
    driver.init("s")
    assert names(driver.send("stream:end", {"stream_id": "s"})) == ["stream:complete"]
    report = error(driver.fragment(0))
    assert report["code"] == "STREAM_NOT_FOUND"
    assert "is ending" in report["message"]


def test_a_worker_ack_for_an_unknown_fragment_is_logged_at_debug(caplog) -> None:
    driver = Driver()
    driver.init("s")
    with caplog.at_level("DEBUG", logger="echosts.session"):
        driver.send("fragment:ack", {"fragment_id": "zz", "status": "received", "timestamp": 1})
    assert "unknown fragment ignored: fragment_id=zz" in caplog.text
