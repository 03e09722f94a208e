"""A real Prometheus server scrapes a running echosts; its HTTP API shows the right values."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.ioloop import IOLoop
from tornado.testing import bind_unused_port

from tests.integration.test_metrics import run_a_stream_with_faults
from tests.workers import fragment

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "conf" / "prometheus.yml"
ALERTS = ROOT / "conf" / "alerts.yml"
ALERT_TESTS = ROOT / "conf" / "alerts.test.yml"
DASHBOARD = ROOT / "conf" / "grafana-dashboard.json"
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$job": "echosts"}


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package prometheus); .ci/run installs it")
    return path


def test_example_scrape_config_is_valid() -> None:
    result = subprocess.run(
        [binary("promtool"), "check", "config", str(EXAMPLE)], capture_output=True, check=False
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_alerting_rules_are_valid() -> None:
    result = subprocess.run(
        [binary("promtool"), "check", "rules", str(ALERTS)], capture_output=True, check=False
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_alerting_rules_fire_when_and_only_when_their_tests_say() -> None:
    result = subprocess.run(
        [binary("promtool"), "test", "rules", ALERT_TESTS.name],
        capture_output=True,
        cwd=ALERT_TESTS.parent,
        check=False,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_every_alert_has_a_unit_test() -> None:
    alerts = set(re.findall(r"^\s+- alert: (\w+)$", ALERTS.read_text(), re.MULTILINE))
    tested = set(re.findall(r"alertname: (\w+)$", ALERT_TESTS.read_text(), re.MULTILINE))
    assert alerts
    assert alerts == tested


def dashboard_queries() -> list[tuple[str, str]]:
    """Every query of the Grafana dashboard, with its panel, Grafana's variables filled in."""
    queries = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            queries.append((panel["title"], expr))
    return queries


async def query(api: str, promql: str) -> list[dict]:
    url = f"{api}/api/v1/query?query={urllib.parse.quote(promql)}"
    try:
        response = await AsyncHTTPClient().fetch(url, raise_error=False)
    except OSError:
        return []
    if response.code != 200:
        return []
    return json.loads(response.body)["data"]["result"]


async def eventually(api: str, promql: str, timeout: float = 40.0) -> list[dict]:
    deadline = IOLoop.current().time() + timeout
    while IOLoop.current().time() < deadline:
        result = await query(api, promql)
        if result:
            return result
        await asyncio.sleep(0.5)
    pytest.fail(f"Prometheus never returned {promql}")


@pytest.mark.timeout(90)
async def test_prometheus_scrapes_every_series_with_its_value(
    make_worker, server, tmp_path
) -> None:
    prometheus = binary("prometheus")
    await run_a_stream_with_faults(make_worker, server)
    for stream_id in ("p1", "p2"):
        worker = await make_worker().connect()
        await worker.start(stream_id)
        for seq in range(3):
            await worker.emit("fragment:data", fragment(stream_id, seq))
        await worker.emit("stream:end", {"stream_id": stream_id})
        await worker.next("stream:complete")
    config = EXAMPLE.read_text()
    config = config.replace("scrape_interval: 5s", "scrape_interval: 1s")
    config = config.replace("localhost:8000", f"127.0.0.1:{server.port}")
    (tmp_path / "prometheus.yml").write_text(config)
    sock, port = bind_unused_port()
    sock.close()
    process = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    api = f"http://127.0.0.1:{port}"
    try:
        up = await eventually(api, 'up{job="echosts"} == 1')
        assert up[0]["value"][1] == "1"
        processed = await eventually(api, "echosts_fragments_processed_total")
        by_status = {r["metric"]["status"]: r["value"][1] for r in processed}
        assert by_status == {"success": "8", "failed": "1", "dropped": "1", "partial": "0"}
        received = await eventually(api, "echosts_fragments_received_total")
        assert received[0]["value"][1] == "11"
        completed = await eventually(api, "echosts_streams_completed_total")
        assert completed[0]["value"][1] == "3"
        rejected = await eventually(
            api, 'echosts_fragments_rejected_total{code="INVALID_SEQUENCE"}'
        )
        assert rejected[0]["value"][1] == "1"
        build = await eventually(api, "echosts_build_info")
        assert build[0]["metric"]["version"] == "0.1.0"
        histogram = await eventually(api, "echosts_fragment_processing_seconds_count")
        assert histogram[0]["value"][1] == "10"
        labels = await eventually(api, 'count by (__name__) ({__name__=~"echosts_.*"})')
        names = {r["metric"]["__name__"] for r in labels}
        assert "echosts_streams_active" in names
        assert "echosts_fragment_queue_wait_seconds_bucket" in names
        for title, promql in dashboard_queries():
            assert await eventually(api, promql), title
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
