"""/metrics: what a soak scrapes, with the values the protocol run produced."""

from __future__ import annotations

import platform
import shutil
import subprocess

import pytest
import socketio
from prometheus_client import CollectorRegistry, Counter
from tornado.httpclient import AsyncHTTPClient

from tests.integration.http import call
from tests.workers import Worker, fragment


def sample(server, name: str, **labels: str) -> float | None:
    return server.service.registry.get_sample_value(name, labels)


async def run_a_stream_with_faults(make_worker, server) -> None:
    await call(server.url, "PUT", "/admin/streams/m/plan", {"drop_processed": [3]})
    worker = await make_worker().connect(headers={"X-Stream-ID": "m"})
    await worker.start("m", max_inflight=1)
    await worker.configure(
        "config:error_simulation",
        {"rules": [{"trigger": "sequence_number", "value": 1, "error_code": "GPU_OOM"}]},
    )
    await worker.configure("config:processing_delay", {"delay_ms": 30})
    for seq in range(4):
        await worker.emit("fragment:data", fragment("m", seq, payload=b"x" * 3000))
    await worker.emit("fragment:data", fragment("m", 9))
    await worker.emit("no:such:event", {})
    await worker.emit("stream:end", {"stream_id": "m"})
    await worker.next("stream:complete")


async def test_counters_follow_what_the_protocol_did(make_worker, server) -> None:
    await run_a_stream_with_faults(make_worker, server)
    assert sample(server, "echosts_connections_accepted_total") == 1
    assert sample(server, "echosts_fragments_received_total") == 5
    assert sample(server, "echosts_fragments_accepted_total") == 4
    assert sample(server, "echosts_fragments_rejected_total", code="INVALID_SEQUENCE") == 1
    assert sample(server, "echosts_fragments_processed_total", status="success") == 2
    assert sample(server, "echosts_fragments_processed_total", status="failed") == 1
    assert sample(server, "echosts_fragments_processed_total", status="dropped") == 1
    assert sample(server, "echosts_simulated_faults_total", kind="error") == 1
    assert sample(server, "echosts_simulated_faults_total", kind="drop") == 1
    assert sample(server, "echosts_events_received_total", event="unknown") == 1
    assert (
        sample(server, "echosts_events_rejected_total", event="unknown", code="INVALID_CONFIG") == 1
    )
    assert sample(server, "echosts_streams_started_total") == 1
    assert sample(server, "echosts_streams_completed_total") == 1
    assert sample(server, "echosts_backpressure_events_total", severity="high", action="pause") >= 1
    assert sample(server, "echosts_fragment_processing_seconds_count") == 4
    assert sample(server, "echosts_fragment_processing_seconds_bucket", le="0.025") == 0
    assert sample(server, "echosts_fragment_payload_bytes_sum") == 4 * 3000
    assert sample(server, "echosts_fragment_queue_wait_seconds_count") == 4


async def test_live_gauges_are_read_from_the_state_at_scrape_time(make_worker, server) -> None:
    worker = await make_worker().connect()
    await worker.start("g")
    await worker.configure("config:processing_delay", {"delay_ms": 5000})
    await worker.emit("fragment:data", fragment("g", 0))
    await worker.next("fragment:ack")
    await worker.emit("stream:pause", {"stream_id": "g"})
    await worker.emit("fragment:ack", {"fragment_id": "x", "status": "received", "timestamp": 1})
    await call(server.url, "PUT", "/admin/streams/other/plan", {})
    assert sample(server, "echosts_connections_active") == 1
    assert sample(server, "echosts_streams_active", state="paused") == 1
    assert sample(server, "echosts_streams_active", state="active") == 0
    assert sample(server, "echosts_fragments_inflight") == 1
    assert sample(server, "echosts_fault_plans") == 1
    assert sample(server, "echosts_draining") == 0
    assert (
        sample(
            server,
            "echosts_build_info",
            version="0.1.0",
            python=platform.python_version(),
        )
        == 1
    )


async def test_refusals_are_counted_by_reason(start_server) -> None:
    server = start_server(api_keys=("k",))
    worker = Worker(server.url)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await worker.connect(auth={"token": "bad"})
    finally:
        await worker.close()
    assert sample(server, "echosts_connections_refused_total", reason="auth_failed") == 1
    assert sample(server, "echosts_connections_refused_total", reason="connection_limit") == 0


async def test_no_label_carries_a_stream_id(make_worker, server) -> None:
    await run_a_stream_with_faults(make_worker, server)
    response = await AsyncHTTPClient().fetch(f"{server.url}/metrics")
    text = response.body.decode()
    assert 'echosts_fragments_processed_total{status="success"} 2.0' in text
    assert '"m"' not in text
    assert "stream_id" not in text


async def test_metrics_negotiate_openmetrics(server) -> None:
    response = await AsyncHTTPClient().fetch(
        f"{server.url}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.body.decode().rstrip().endswith("# EOF")
    plain = await AsyncHTTPClient().fetch(f"{server.url}/metrics")
    assert plain.headers["Content-Type"].startswith("text/plain")


async def test_exposition_passes_promtool(make_worker, server) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus); .ci/run installs it")
    await run_a_stream_with_faults(make_worker, server)
    response = await AsyncHTTPClient().fetch(f"{server.url}/metrics")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=response.body, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()


@pytest.mark.parametrize("accept", ["", "application/openmetrics-text; version=1.0.0"])
async def test_scrape_leaves_out_created_series_without_a_process_wide_switch(
    server, accept: str
) -> None:
    response = await AsyncHTTPClient().fetch(f"{server.url}/metrics", headers={"Accept": accept})
    text = response.body.decode()
    assert "echosts_streams_started_total" in text
    assert "_created" not in text
    elsewhere = CollectorRegistry()
    Counter("unrelated_events", "a counter in another registry", registry=elsewhere)
    assert elsewhere.get_sample_value("unrelated_events_created") is not None
